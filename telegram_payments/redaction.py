"""The one way secrets are taken out of what people see: log lines, Bot API error texts, admin pages, CSV.

`redact(value)` replaces the configured secrets (the bot token and its secret half, the webhook
secret, the entitlements service secret, the metrics token) and anything shaped like a bot token
with `REDACTED`. Dicts and lists are copied with every string redacted and the value of every key
that looks secret ("token", "password", ...) replaced whole. Other values come back unchanged.
"""

import re

from django.conf import settings

REDACTED = "[redacted]"

# Keys of the TELEGRAM_STARS settings that hold secrets.
SECRET_SETTINGS = ("BOT_TOKEN", "WEBHOOK_SECRET", "ENTITLEMENTS_SERVICE_SECRET", "METRICS_TOKEN")
SECRET_KEY_WORDS = ("token", "secret", "password", "authorization", "api_key", "apikey")
# `<bot id>:<35 characters>`, also inside a URL such as `/bot<token>/getMe`.
BOT_TOKEN_SHAPE = re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}")
# Very short values would redact ordinary words; real secrets are long.
MIN_SECRET_LENGTH = 8


def known_secrets() -> list[str]:
    """The configured secrets worth looking for, longest first (a token before its own secret half)."""
    if not settings.configured:
        return []
    from entitlements.conf import entitlements_settings
    from telegram_payments.conf import DEFAULTS, stars_settings  # not at import: the log formatter loads first

    found = set()
    for name in SECRET_SETTINGS:
        value = getattr(stars_settings if name in DEFAULTS else entitlements_settings, name) or ""
        if not isinstance(value, str):
            continue
        parts = (value, value.partition(":")[2]) if name == "BOT_TOKEN" else (value,)
        found.update(part for part in parts if len(part) >= MIN_SECRET_LENGTH)
    from telegram_payments.registry import bots

    found.update(bots.loaded_secrets())  # the stored bots' tokens and secrets, if this process read them
    return sorted(found, key=len, reverse=True)


def redact(value):
    """`value` with secrets replaced by `REDACTED`: a str, or a dict/list copied recursively."""
    if isinstance(value, str):
        return _redact_text(value, known_secrets())
    if isinstance(value, (dict, list)):
        return _redact_json(value, known_secrets())
    return value


def _redact_text(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return BOT_TOKEN_SHAPE.sub(REDACTED, text) if ":" in text else text


def _redact_json(value, secrets: list[str]):
    if isinstance(value, dict):
        return {
            key: REDACTED if _looks_secret(key) else _redact_json(item, secrets)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(item, secrets) for item in value]
    if isinstance(value, str):
        return _redact_text(value, secrets)
    return value


def _looks_secret(key) -> bool:
    key = str(key).lower()
    return any(word in key for word in SECRET_KEY_WORDS)
