"""Log formatting: one JSON object per line (`LOG_FORMAT=json`) or plain text (`LOG_FORMAT=text`).

Both formatters pass the finished line, tracebacks included, through `telegram_payments.redaction`:
the bot token (and anything shaped like one), the webhook secret, the entitlements service secret
and the metrics token are replaced by its marker whatever code logged them. (Code should not log
them in the first place; this is the net under it.)

`log_webhook` writes the one line per webhook request that operators read: the bot, update id, event
id, user id, outcome, HTTP status and duration. A stored bot's webhook path is as good as a credential
(with its secret, it is what Telegram posts to), so lines show `/webhook/bot/<slug>/...` instead
(`shown_url`), and `redaction` takes out any path that still gets through (Django's own request lines).
"""

import json
import logging
import time
from datetime import UTC, datetime

from telegram_payments.redaction import redact

webhook_logger = logging.getLogger("telegram_payments.webhook")

# Attributes every LogRecord has; anything else on a record came from `extra=` and is a field.
_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class TextFormatter(logging.Formatter):
    def __init__(self, fmt="%(asctime)s %(levelname)s %(name)s: %(message)s", **kwargs):
        super().__init__(fmt, **kwargs)

    def format(self, record):
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """`{"time": ..., "level": ..., "logger": ..., "message": ..., <extra fields>, "exception": ...}`"""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                # Django passes the request itself (django.request): keep its path, not its repr.
                entry[key] = getattr(value, "path", value) if key == "request" else value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


def shown_url(url: str, bot=None) -> str:
    """`url` (or a path) with a stored bot's webhook path replaced by its slug: `bot`'s, or any bot this
    process has loaded (never a query)."""
    from telegram_payments.registry import bots

    for candidate in [bot] if bot is not None else bots.loaded():
        if not candidate.is_default and candidate.webhook_path and candidate.webhook_path in url:
            url = url.replace(candidate.webhook_path, candidate.slug)
    return url


def log_webhook(request, response, started: float, *, bot=None) -> None:
    """One line per webhook request, for `bot` (None: no bot has the path). `started` is
    `time.monotonic()` when the request came in."""
    outcome = getattr(response, "outcome", None)
    data = response.data if isinstance(getattr(response, "data", None), dict) else {}
    body = _parsed_body(request, response)
    update_id = body.get("update_id") if isinstance(body.get("update_id"), int) else None
    event = getattr(outcome, "event", None)
    fields = {
        "path": shown_url(request.path, bot),
        "bot": bot.slug if bot is not None else None,
        "http_status": response.status_code,
        "outcome": getattr(outcome, "status", None) or data.get("status") or data.get("error")
        or ("invalid" if "errors" in data else "ok" if response.status_code < 400 else f"http_{response.status_code}"),
        "update_id": update_id,
        "event_id": event.event_id if event is not None else data.get("event_id"),
        "user_id": _user_id(event, body),
        "duration_ms": round((time.monotonic() - started) * 1000, 1),
    }
    webhook_logger.info(
        "webhook %s %s %s bot=%s event=%s user=%s update=%s %.1fms", fields["path"], fields["http_status"],
        fields["outcome"], fields["bot"], fields["event_id"], fields["user_id"], fields["update_id"],
        fields["duration_ms"],
        extra=fields,
    )


def _parsed_body(request, response) -> dict:
    # Only a body that was authenticated and parsed already: never parse on a 401/413/415.
    if response.status_code in (401, 413, 415):
        return {}
    full_data = getattr(request, "_full_data", None)
    return full_data if isinstance(full_data, dict) else {}


def _user_id(event, body: dict):
    if event is not None and event.customer_id:
        return int(event.customer_id) if str(event.customer_id).isdigit() else event.customer_id
    if isinstance(body.get("user_id"), (int, str)):
        return str(body["user_id"])[:32]
    for kind in ("message", "pre_checkout_query", "callback_query"):
        sender = (body.get(kind) or {}).get("from") if isinstance(body.get(kind), dict) else None
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return sender["id"]
    return None
