"""System checks of the `TELEGRAM_STARS` settings (`manage.py check`, and every command that runs
checks): each problem is named by its own id, the key and what is wrong, never the value.

| id | what |
| --- | --- |
| telegram_stars.E001 | `TELEGRAM_STARS` is not a dict |
| telegram_stars.W001 | a key this version does not know (a typo?) |
| telegram_stars.E002 | `WEBHOOK_SECRET` missing (without DEBUG), or not what Telegram accepts |
| telegram_stars.E003 | `BOT_TOKEN` not shaped `<bot id>:<30+ of A-Z a-z 0-9 _ ->` |
| telegram_stars.E004 | `WEBHOOK_URL` not an https:// URL, `API_BASE_URL` not an http(s):// URL |
| telegram_stars.E005 | `ENTITLEMENTS_SERVICE_URL` set without `ENTITLEMENTS_SERVICE_SECRET` (without DEBUG) |
| telegram_stars.E006 | a number out of its range, a flag that is not True/False, a text that is not text |
| telegram_stars.E007 | `IP_RANGES` or `METRICS_ALLOWED_NETWORKS` not a list of networks (CIDR) |
| telegram_stars.E008 | `STARS_USD_RATE` not a finite decimal of 0 or more |
| telegram_stars.E009 | `CREDENTIAL_KEYS` not a list of Fernet keys (the message names the position, not the key) |
"""

import ipaddress
import re
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from entitlements.conf import SETTING_NAME
from telegram_payments.conf import ALL_KEYS, stars_settings
from telegram_payments.registry.credentials import key_problems

# What Telegram accepts as a webhook's secret_token; without DEBUG also at least 32 characters,
# the length that makes guessing it hopeless (the failure limiter only slows guessing down).
WEBHOOK_SECRET_FORMAT = re.compile(r"[A-Za-z0-9_-]{1,256}")
MIN_PRODUCTION_SECRET_LENGTH = 32
BOT_TOKEN_FORMAT = re.compile(r"\d+:[A-Za-z0-9_-]{30,}")

# key -> (smallest, largest) for the whole numbers
NUMBER_RANGES = {
    "WEBHOOK_MAX_BODY_BYTES": (1024, 16 * 1024 * 1024),
    "WEBHOOK_REDELIVERY_MEMORY": (0, 10_000_000),
    "WEBHOOK_AUTH_FAILURE_LIMIT": (1, 1_000_000),
    "WEBHOOK_AUTH_FAILURE_WINDOW": (1, 86_400),
    "TRUSTED_PROXY_COUNT": (0, 10),
    "EVENT_RETENTION_DAYS": (1, 36_500),
    "BOT_REGISTRY_SECONDS": (0, 86_400),
}
FLAGS = ("THANK_BUYERS", "AUTO_REFUND_UNFULFILLABLE", "IP_ALLOWLIST")
TEXTS = ("BOT_TOKEN", "WEBHOOK_SECRET", "WEBHOOK_URL", "API_BASE_URL", "PAYSUPPORT_TEXT", "TERMS_TEXT",
         "METRICS_TOKEN", "ENTITLEMENTS_SERVICE_URL", "ENTITLEMENTS_SERVICE_SECRET")
NETWORK_LISTS = ("IP_RANGES", "METRICS_ALLOWED_NETWORKS")


def webhook_secret_problem(secret: str, *, debug: bool) -> str:
    """Why `secret` cannot be the webhook secret ("" when it can)."""
    if not secret:
        return "" if debug else "is not set (required without DEBUG)"
    if not WEBHOOK_SECRET_FORMAT.fullmatch(secret):
        return "must be 1-256 characters of A-Z a-z 0-9 _ - (what Telegram accepts)"
    if not debug and len(secret) < MIN_PRODUCTION_SECRET_LENGTH:
        return f"must be at least {MIN_PRODUCTION_SECRET_LENGTH} characters without DEBUG"
    return ""


def bot_token_problem(token: str) -> str:
    if token and not BOT_TOKEN_FORMAT.fullmatch(token):
        return "does not look like <bot id>:<30+ letters, digits, _ or ->"
    return ""


def _key(name: str) -> str:
    return f'{SETTING_NAME}["{name}"]'


@register(Tags.security, "telegram_stars")
def check_settings(app_configs=None, **kwargs):
    value = getattr(settings, SETTING_NAME, {})
    if not isinstance(value, dict):
        return [Error(f"{SETTING_NAME} must be a dict of settings.", id="telegram_stars.E001")]
    problems = [
        Warning(f"{_key(name)} is not a setting of this version.", hint=f"Known keys: {', '.join(sorted(ALL_KEYS))}.",
                id="telegram_stars.W001")
        for name in sorted(set(value) - ALL_KEYS, key=str)
    ]
    read = {name: value.get(name, _default(name)) for name in ALL_KEYS}

    for name in TEXTS:
        if not isinstance(read[name], str):
            problems.append(Error(f"{_key(name)} must be a string.", id="telegram_stars.E006"))
    for name in FLAGS:
        if not isinstance(read[name], bool):
            problems.append(Error(f"{_key(name)} must be True or False.", id="telegram_stars.E006"))
    for name, (low, high) in NUMBER_RANGES.items():
        number = read[name]
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
            problems.append(Error(f"{_key(name)} must be a whole number from {low} to {high}.",
                                  id="telegram_stars.E006"))
    if any(p.id == "telegram_stars.E006" and any(_key(n) in p.msg for n in TEXTS) for p in problems):
        return problems  # the checks below read the texts

    secret_problem = webhook_secret_problem(read["WEBHOOK_SECRET"], debug=settings.DEBUG)
    if secret_problem:
        problems.append(Error(f"{_key('WEBHOOK_SECRET')} {secret_problem}.",
                              hint="`manage.py set_webhook --generate-secret` prints one.", id="telegram_stars.E002"))
    token_problem = bot_token_problem(read["BOT_TOKEN"])
    if token_problem:
        problems.append(Error(f"{_key('BOT_TOKEN')} {token_problem}.", hint="The token @BotFather gave.",
                              id="telegram_stars.E003"))
    if read["WEBHOOK_URL"] and not _is_url(read["WEBHOOK_URL"], ("https",)):
        problems.append(Error(f"{_key('WEBHOOK_URL')} must be an https:// URL (Telegram only calls https).",
                              id="telegram_stars.E004"))
    if not _is_url(read["API_BASE_URL"], ("http", "https")):
        problems.append(Error(f"{_key('API_BASE_URL')} must be an http:// or https:// URL.", id="telegram_stars.E004"))
    if read["ENTITLEMENTS_SERVICE_URL"]:
        if not _is_url(read["ENTITLEMENTS_SERVICE_URL"], ("http", "https")):
            problems.append(Error(f"{_key('ENTITLEMENTS_SERVICE_URL')} must be an http:// or https:// URL.",
                                  id="telegram_stars.E004"))
        if not read["ENTITLEMENTS_SERVICE_SECRET"] and not settings.DEBUG:
            problems.append(Error(f"{_key('ENTITLEMENTS_SERVICE_SECRET')} must be set when "
                                  f"{_key('ENTITLEMENTS_SERVICE_URL')} is (it signs every delivery).",
                                  id="telegram_stars.E005"))
    for name in NETWORK_LISTS:
        if not _is_network_list(read[name]):
            problems.append(Error(f"{_key(name)} must be a list of networks such as \"149.154.160.0/20\".",
                                  id="telegram_stars.E007"))
    rate = read["STARS_USD_RATE"]
    if not isinstance(rate, Decimal | int) or isinstance(rate, bool) or not Decimal(rate).is_finite() or rate < 0:
        problems.append(Error(f"{_key('STARS_USD_RATE')} must be a decimal number of 0 or more, "
                              'e.g. Decimal("0.013").', id="telegram_stars.E008"))
    problems.extend(
        Error(problem, hint='python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())" '
              "makes a key.", id="telegram_stars.E009")
        for problem in key_problems(read["CREDENTIAL_KEYS"])
    )
    return problems


def _default(name: str):
    from entitlements.conf import ENTITLEMENTS_DEFAULTS

    return stars_settings.defaults[name] if name in stars_settings.defaults else ENTITLEMENTS_DEFAULTS[name]


def _is_url(url: str, schemes: tuple[str, ...]) -> bool:
    parts = urlsplit(url)
    return parts.scheme in schemes and bool(parts.netloc)


def _is_network_list(value) -> bool:
    if not isinstance(value, list | tuple):
        return False
    try:
        for network in value:
            ipaddress.ip_network(network, strict=False)
    except (TypeError, ValueError):
        return False
    return True
