"""The one way this service calls the Telegram Bot API.

python-telegram-bot's `Bot` is async and cannot be reused across `asyncio.run` calls ("Event loop
is closed"), so each call builds a fresh `Bot` on its own HTTP client and closes it afterwards.
`TELEGRAM_API_BASE_URL` points it at Telegram, a self-hosted Bot API server, or a fake one in tests.
Bot API errors become `BotApiError`, which keeps Telegram's description and never the token.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import Bot as TelegramApi
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from telegram_payments.conf import stars_settings
from telegram_payments.metrics import record_bot_api_call
from telegram_payments.redaction import redact

logger = logging.getLogger(__name__)
T = TypeVar("T")

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0


class BotApiError(Exception):
    """The Bot API refused or failed a call. `description` is Telegram's own words."""

    def __init__(self, method: str, description: str, *, retry_after: float | None = None,
                 transient: bool = False):
        self.method = method
        self.description = redact(description)
        self.retry_after = retry_after
        self.transient = transient
        super().__init__(f"{method}: {self.description}")


class BotNotConfigured(BotApiError):
    def __init__(self, method: str):
        super().__init__(method, "TELEGRAM_BOT_TOKEN is not set")


class _RecordingRequest(HTTPXRequest):
    """Keeps the last raw answer: PTB rewrites descriptions ("Charge_already_refunded"), we want
    Telegram's own words ("Bad Request: CHARGE_ALREADY_REFUNDED")."""

    last_payload: bytes = b""

    async def do_request(self, *args, **kwargs):
        code, payload = await super().do_request(*args, **kwargs)
        self.last_payload = payload
        return code, payload

    def telegram_description(self) -> str | None:
        try:
            return json.loads(self.last_payload)["description"]
        except (ValueError, KeyError, TypeError):
            return None


def call_bot(method: str, action: Callable[[TelegramApi], Awaitable[T]], *, bot, timeout: float | None = None) -> T:
    """Run `action(api)` on a fresh python-telegram-bot client for `bot` (a `Bot` row: its token) and
    return its result, synchronously. `bot` is required: this is where the wrong bot would spend money.

    `timeout` (seconds) shortens the connect and read timeouts, for a call a person waits on.

    `method` names the Bot API method for errors and metrics, e.g.
    `call_bot("refundStarPayment", lambda api: api.refund_star_payment(user_id, charge_id), bot=event_bot)`.
    """
    try:
        result = _call_bot(method, action, timeout, bot.token())
    except BotNotConfigured:
        record_bot_api_call(method, "not_configured", bot=bot)
        raise
    except BotApiError as exc:
        record_bot_api_call(method, "transient_error" if exc.transient else "error", bot=bot)
        raise
    except Exception:
        record_bot_api_call(method, "error", bot=bot)
        raise
    record_bot_api_call(method, "ok", bot=bot)
    return result


def _call_bot(method: str, action: Callable[[TelegramApi], Awaitable[T]], timeout: float | None, token: str) -> T:
    if not token:
        raise BotNotConfigured(method)

    request = _RecordingRequest(connect_timeout=min(CONNECT_TIMEOUT, timeout or CONNECT_TIMEOUT),
                                read_timeout=min(READ_TIMEOUT, timeout or READ_TIMEOUT))

    async def run() -> T:
        api = TelegramApi(
            token,
            base_url=f"{stars_settings.API_BASE_URL.rstrip('/')}/bot",
            base_file_url=f"{stars_settings.API_BASE_URL.rstrip('/')}/file/bot",
            request=request,
        )
        try:
            return await action(api)
        finally:
            await request.shutdown()

    try:
        return asyncio.run(run())
    except RetryAfter as exc:
        seconds = exc.retry_after.total_seconds() if hasattr(exc.retry_after, "total_seconds") else exc.retry_after
        raise BotApiError(method, f"retry after {int(seconds)}", retry_after=seconds, transient=True) from None
    except BadRequest as exc:  # a subclass of NetworkError in PTB, but permanent
        raise BotApiError(method, request.telegram_description() or exc.message) from None
    except NetworkError as exc:  # timeouts, connection failures, Telegram's 5xx
        raise BotApiError(method, request.telegram_description() or exc.message, transient=True) from None
    except TelegramError as exc:
        raise BotApiError(method, request.telegram_description() or exc.message) from None
