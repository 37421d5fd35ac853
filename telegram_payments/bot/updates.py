"""Bot API `Update`s: check one and route it. `process_update` is the one entry point.

The webhook (`POST /webhook/telegram`) and any replay of stored updates call it the same way:

* `pre_checkout_query`: answered within the request (`precheckout`);
* `message.successful_payment` / `message.refunded_payment`: the payment pipeline (`payments`);
* `subscription` (renewals cancelled, re-enabled or failed): the payment pipeline (`subscriptions`);
* bot commands and the buy buttons (`commands`);
* everything else: acknowledged, nothing stored;
* the sender of a live update, if it has one, is remembered for the support desk (`customers`).

The fields we store or act on are checked first, then python-telegram-bot's `Update.de_json` reads
the update: it is the one reader of an Update (a `subscription`, which it does not know yet, is read
by `subscriptions.BotSubscriptionUpdated`). Commands and pre-checkout queries only act on live
updates (`source=telegram`); a replay from another source records payments, refunds and subscription
updates and ignores the rest.
"""

import logging

from telegram import Update

from telegram_payments.bot.commands import BUY_CALLBACK_PREFIX, buy_button, command, guarded
from telegram_payments.bot.payments import PAYMENT_KINDS, PaymentMessage, payment_message
from telegram_payments.bot.precheckout import answer_pre_checkout, recorded_answer
from telegram_payments.bot.results import UpdateResult, ignored
from telegram_payments.bot.subscription_updates import SUBSCRIPTION_FIELDS, BotSubscriptionUpdated, subscription_update
from telegram_payments.models import EventSource
from telegram_payments.payments.customers import remember
from telegram_payments.payments.events import Outcome
from telegram_payments.registry import bots
from telegram_payments.telegram_api.limits import (
    CHARGE_ID_LENGTH,
    INVOICE_PAYLOAD_LENGTH,
    MAX_AMOUNT,
    MAX_BIGINT,
    QUERY_ID_LENGTH,
    SUBSCRIPTION_STATE_LENGTH,
    is_bigint,
    is_currency_code,
    is_user_id,
)

logger = logging.getLogger(__name__)

# What `set_webhook` asks Telegram to deliver: exactly what this module handles.
# (Payments and refunds arrive as `message` updates.)
ALLOWED_UPDATES = ("message", "callback_query", "pre_checkout_query", "subscription")
LIBRARY_KINDS = ("message", "callback_query", "pre_checkout_query")  # what Update.de_json reads


UNREADABLE_UPDATE = ("Not a Bot API Update: a field the Bot API requires is missing, or one is not of the type "
                     "it defines (see https://core.telegram.org/bots/api#update).")


class InvalidUpdate(Exception):
    """The body is not a Bot API Update (not an object, no integer update_id, unparsable)."""

    def __init__(self, message: str, *, field: str = "body"):
        super().__init__(message)
        self.field = field


def process_update(data: dict, *, bot=None, source: str = EventSource.TELEGRAM) -> UpdateResult:
    """Route one Bot API Update (the JSON object Telegram posts to `bot`) and say how it went.

    `bot`: the `Bot` it was sent to (the webhook's, from its URL; None, for a host's code: the default bot).

    Raises `InvalidUpdate` for a body that is not an Update (nothing stored); a database outage
    propagates (the webhook answers 503 and Telegram retries). Every other problem is recorded or
    answered and returned, so Telegram is answered 200 and the user's later updates do not stall.
    """
    if not isinstance(data, dict):
        raise InvalidUpdate("The body must be one JSON object (a Bot API Update).")
    update_id = data.get("update_id")
    if not is_bigint(update_id):
        raise InvalidUpdate("An integer update_id (signed 64-bit) is required.", field="update_id")

    bot = bot or bots.default()
    known = recorded_answer(data, update_id, bot=bot)
    if known is not None:
        return known
    # Only the fields we route on are parsed, so content PTB cannot parse (a poll or sticker shaped by
    # a newer Bot API) cannot turn an ordinary message into a 400 that Telegram would redeliver forever.
    essentials = {kind: _essential_fields(kind, data[kind]) for kind in ALLOWED_UPDATES if kind in data}
    if not essentials:
        return ignored(update_id, "other")
    _check_field_types(essentials)
    try:
        update = Update.de_json({"update_id": update_id, **{kind: essentials[kind] for kind in LIBRARY_KINDS
                                                            if kind in essentials}}, None)
        subscription = BotSubscriptionUpdated.de_json(essentials["subscription"]) \
            if "subscription" in essentials else None
    except Exception as exc:  # PTB raises KeyError/TypeError/ValueError on missing or mistyped fields
        # The library's words name its classes and arguments: they go to the log, ours to the sender.
        logger.info("update %s not readable as a Bot API Update: %s: %s", update_id, type(exc).__name__, exc)
        raise InvalidUpdate(UNREADABLE_UPDATE) from None
    # Who sent it, as they are now: not from a replay (old news) nor a redelivery (seen already). A payment
    # or a refund writes it in its own transaction (unless it is a copy); anything else here.
    sender = (lambda: remember(update, bot=bot)) if source == EventSource.TELEGRAM else None
    result = _route(update, subscription, data, source, sender, bot=bot)
    if sender is not None and result.status != Outcome.DUPLICATE and result.kind not in PAYMENT_KINDS:
        sender()
    return result


def _route(update: Update, subscription: "BotSubscriptionUpdated | None", data: dict, source: str,
           sender=None, *, bot) -> UpdateResult:
    update_id = update.update_id
    if subscription is not None:
        return subscription_update(subscription, bot=bot, update_id=update_id, data=data, source=source)
    if update.pre_checkout_query is not None:
        if source != EventSource.TELEGRAM:
            return ignored(update_id, "pre_checkout_query")
        return answer_pre_checkout(update.pre_checkout_query, bot=bot, update_id=update_id,
                                   raw=data["pre_checkout_query"])
    message = update.message
    if message is not None:
        if (payment := PaymentMessage.of(message)) is not None:
            return payment_message(payment, bot=bot, update_id=update_id, data=data, source=source, remember=sender)
        if message.text and message.text.startswith("/") and source == EventSource.TELEGRAM:
            return guarded(command, message, bot=bot, update_id=update_id, kind="command")
    query = update.callback_query
    if query is not None and (query.data or "").startswith(BUY_CALLBACK_PREFIX) and source == EventSource.TELEGRAM:
        return guarded(buy_button, query, bot=bot, update_id=update_id, kind="callback_query")
    return ignored(update_id, "other")


# Of each update kind we handle, the fields routing reads (pre-checkout queries are read whole).
MESSAGE_FIELDS = ("message_id", "date", "chat", "from", "text", "successful_payment", "refunded_payment")
CALLBACK_QUERY_FIELDS = ("id", "from", "chat_instance", "data", "message")
CALLBACK_MESSAGE_FIELDS = ("message_id", "date", "chat")


def _essential_fields(kind: str, value):
    if not isinstance(value, dict) or kind == "pre_checkout_query":
        return value
    if kind == "message":
        return {key: value[key] for key in MESSAGE_FIELDS if key in value}
    if kind == "subscription":
        return {key: value[key] for key in SUBSCRIPTION_FIELDS if key in value}
    essential = {key: value[key] for key in CALLBACK_QUERY_FIELDS if key in value}
    if isinstance(essential.get("message"), dict):
        essential["message"] = {key: essential["message"][key] for key in CALLBACK_MESSAGE_FIELDS
                                if key in essential["message"]}
    return essential


# PTB builds objects from whatever JSON it is given; what we store or act on is checked here first, so
# a body that is not what Telegram sends (a list for a user id, a 300-character currency) is a 400.
PAYMENT_FIELDS = {  # successful_payment / refunded_payment: field -> (check, what it must be)
    "currency": (is_currency_code, "a 3-letter currency code"),
    "total_amount": (lambda v: _is_int(v, 1, MAX_AMOUNT), "a positive integer"),
    "invoice_payload": (lambda v: isinstance(v, str) and len(v) <= INVOICE_PAYLOAD_LENGTH,
                        f"a string of at most {INVOICE_PAYLOAD_LENGTH} characters"),
    "telegram_payment_charge_id": (lambda v: isinstance(v, str) and 1 <= len(v) <= CHARGE_ID_LENGTH,
                                   f"a string of 1 to {CHARGE_ID_LENGTH} characters"),
    "provider_payment_charge_id": (lambda v: v is None or (isinstance(v, str) and len(v) <= CHARGE_ID_LENGTH),
                                   f"a string of at most {CHARGE_ID_LENGTH} characters"),
    "subscription_expiration_date": (lambda v: _is_int(v, 0, 2**40), "a Unix time"),
}
SUBSCRIPTION_UPDATE_FIELDS = {  # a state we do not know is recorded as failed, not refused: Telegram would resend it
    "invoice_payload": (lambda v: isinstance(v, str) and 1 <= len(v) <= INVOICE_PAYLOAD_LENGTH,
                        f"a string of 1 to {INVOICE_PAYLOAD_LENGTH} characters"),
    "state": (lambda v: isinstance(v, str) and 1 <= len(v) <= SUBSCRIPTION_STATE_LENGTH,
              f"a string of 1 to {SUBSCRIPTION_STATE_LENGTH} characters"),
}
PRE_CHECKOUT_FIELDS = {
    "id": (lambda v: isinstance(v, str) and 1 <= len(v) <= QUERY_ID_LENGTH,
           f"a string of 1 to {QUERY_ID_LENGTH} characters"),
    **{k: PAYMENT_FIELDS[k] for k in ("currency", "total_amount", "invoice_payload")},
}


def _is_int(value, low: int = -MAX_BIGINT, high: int = MAX_BIGINT) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _check_field_types(essentials: dict) -> None:
    """Raise InvalidUpdate naming the first field that is not of the type Telegram sends."""

    def check(obj, path: str, fields: dict) -> None:
        if not isinstance(obj, dict):
            return  # PTB reports what is not an object
        for name, (is_valid, expected) in fields.items():
            if name in obj and not is_valid(obj[name]):
                raise InvalidUpdate(f"{path}.{name} must be {expected}.", field=f"{path}.{name}")

    def check_id(obj, path: str, *, required: bool = False, user: bool = False) -> None:
        """An object with an integer id; a user's (`user`: a sender, a buyer) within the user-id range."""
        if obj is None and not required:
            return
        if not (isinstance(obj, dict) and _is_int(obj.get("id"))):
            raise InvalidUpdate(f"{path} must be an object with an integer id.", field=f"{path}.id")
        if user and not is_user_id(obj["id"]):
            raise InvalidUpdate(f"{path}.id must be a Telegram user id (1 to 2^63-1).", field=f"{path}.id")

    def check_text(obj: dict, path: str, name: str) -> None:  # routing calls str methods on these
        if obj.get(name) is not None and not isinstance(obj[name], str):
            raise InvalidUpdate(f"{path}.{name} must be a string.", field=f"{path}.{name}")

    message = essentials.get("message")
    if isinstance(message, dict):
        # Telegram always sends the chat; a payment's buyer and a refund's owner are read from it.
        # A group's chat id is negative, but a payment's chat is its buyer's private chat.
        pays = any(message.get(kind) is not None for kind in ("successful_payment", "refunded_payment"))
        check_id(message.get("chat"), "message.chat", required=True, user=pays)
        check_id(message.get("from"), "message.from", user=True)
        check_text(message, "message", "text")
        for kind in ("successful_payment", "refunded_payment"):
            check(message.get(kind), f"message.{kind}", PAYMENT_FIELDS)
    query = essentials.get("pre_checkout_query")
    if isinstance(query, dict):
        check(query, "pre_checkout_query", PRE_CHECKOUT_FIELDS)
        check_id(query.get("from"), "pre_checkout_query.from", required=True, user=True)
    subscription = essentials.get("subscription")
    if isinstance(subscription, dict):
        check(subscription, "subscription", SUBSCRIPTION_UPDATE_FIELDS)
        check_id(subscription.get("user"), "subscription.user", required=True, user=True)
    callback = essentials.get("callback_query")
    if isinstance(callback, dict):
        check_id(callback.get("from"), "callback_query.from", required=True, user=True)
        check_text(callback, "callback_query", "data")
        if isinstance(callback.get("message"), dict):
            check_id(callback["message"].get("chat"), "callback_query.message.chat", required=True)
