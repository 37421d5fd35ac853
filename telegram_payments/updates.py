"""Bot API `Update`s: parse one and route it. `process_update` is the one entry point.

The webhook (`POST /webhook/telegram`) and any replay of stored updates call it the same way:

* `pre_checkout_query`: validated against the invoice we issued and answered within the request, in
  the webhook response body (`{"method": "answerPreCheckoutQuery", ...}`); every answer is recorded.
* `message.successful_payment` / `message.refunded_payment`: the same services as the relay
  endpoints (`handle_successful_payment`, `handle_refund`), so one charge is one event whichever
  way it arrives. The buyer of a refund is the chat: Telegram sends it with `from` set to the bot.
  A payment recorded now is answered with a message to the buyer (`TELEGRAM_THANK_BUYERS`): thanks
  and what they have, or that it could not be delivered; a copy gets the status body, no message.
* bot commands (`/buy`, `/buy <type>`, `/start buy_<type>`, `/status`, `/paysupport`, `/terms`) and
  the `buy:<type>` buttons of `/buy`: replies go in the response body or, for invoices, as calls.
* everything else: acknowledged, nothing stored.

A redelivered pre-checkout query costs one lookup by its id; a payment or refund is a duplicate of
its charge's event (an identical copy is answered from memory, `redeliveries`). Commands and
pre-checkout queries only act on live updates (`source=telegram`); a replay from another source
records payments and refunds and ignores the rest.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from telegram import InlineKeyboardMarkup, Message, PreCheckoutQuery, RefundedPayment, SuccessfulPayment, Update

from entitlements.services import active_entitlements
from payments_project.metrics import record_pre_checkout_answer

from .bot import BotApiError, call_bot
from .invoices import create_invoice_link, send_invoice
from .models import STARS_CURRENCY, EventSource, Invoice, InvoiceStatus, PreCheckoutAnswer, Product
from .services import TRANSIENT_ERRORS, EventOutcome, handle_refund, handle_successful_payment
from .validation import is_bigint, is_currency_code

logger = logging.getLogger(__name__)

# What `set_webhook` asks Telegram to deliver: exactly what this module handles.
# (Payments and refunds arrive as `message` updates.)
ALLOWED_UPDATES = ("message", "callback_query", "pre_checkout_query")

BUY_CALLBACK_PREFIX = "buy:"
MAX_CALLBACK_DATA_BYTES = 64


class InvalidUpdate(Exception):
    """The body is not a Bot API Update (not an object, no integer update_id, unparsable)."""

    def __init__(self, message: str, *, field: str = "body"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class UpdateResult:
    """How one update went. `body` is the webhook's HTTP answer (a Bot API method call or a status)."""

    status: str  # processed | duplicate | failed (payments, refunds) | answered | ignored
    kind: str  # pre_checkout_query | successful_payment | refunded_payment | command | callback_query | other
    update_id: int
    body: dict
    outcome: EventOutcome | None = None
    pre_checkout_answer: PreCheckoutAnswer | None = None


def process_update(data: dict, *, source: str = EventSource.TELEGRAM) -> UpdateResult:
    """Route one Bot API Update (the JSON object Telegram posts) and say how it went.

    Raises `InvalidUpdate` for a body that is not an Update (nothing stored); a database outage
    propagates (the webhook answers 503 and Telegram retries). Every other problem is recorded or
    answered and returned, so Telegram is answered 200 and the user's later updates do not stall.
    """
    if not isinstance(data, dict):
        raise InvalidUpdate("The body must be one JSON object (a Bot API Update).")
    update_id = data.get("update_id")
    if not is_bigint(update_id):
        raise InvalidUpdate("An integer update_id (signed 64-bit) is required.", field="update_id")

    known = _redelivered(data, update_id)
    if known is not None:
        return known
    # Only the fields we route on are parsed, so content PTB cannot parse (a poll or sticker shaped by
    # a newer Bot API) cannot turn an ordinary message into a 400 that Telegram would redeliver forever.
    essentials = {kind: _essential_fields(kind, data[kind]) for kind in ALLOWED_UPDATES if kind in data}
    if not essentials:
        return _ignored(update_id, "other")
    _check_field_types(essentials)
    if (payment := _plain_payment_message(essentials)) is not None:
        return _payment_message(payment, update_id=update_id, data=data, source=source)
    try:
        update = Update.de_json({"update_id": update_id, **essentials}, None)
    except Exception as exc:  # PTB raises KeyError/TypeError/ValueError on missing or mistyped fields
        raise InvalidUpdate(f"Not a Bot API Update: {type(exc).__name__}: {exc}") from None

    if update.pre_checkout_query is not None:
        if source != EventSource.TELEGRAM:
            return _ignored(update_id, "pre_checkout_query")
        return _answer_pre_checkout(update.pre_checkout_query, update_id=update_id, raw=data["pre_checkout_query"])
    message = update.message
    if message is not None:
        if (payment := PaymentMessage.of(message)) is not None:
            return _payment_message(payment, update_id=update_id, data=data, source=source)
        if message.text and message.text.startswith("/") and source == EventSource.TELEGRAM:
            return _guarded(_command, message, update_id=update_id, kind="command")
    query = update.callback_query
    if query is not None and (query.data or "").startswith(BUY_CALLBACK_PREFIX) and source == EventSource.TELEGRAM:
        return _guarded(_buy_button, query, update_id=update_id, kind="callback_query")
    return _ignored(update_id, "other")


# Of each update kind we handle, the fields routing reads (pre-checkout queries are read whole).
MESSAGE_FIELDS = ("message_id", "date", "chat", "from", "text", "successful_payment", "refunded_payment")
CALLBACK_QUERY_FIELDS = ("id", "from", "chat_instance", "data", "message")
CALLBACK_MESSAGE_FIELDS = ("message_id", "date", "chat")


def _essential_fields(kind: str, value):
    if not isinstance(value, dict) or kind == "pre_checkout_query":
        return value
    if kind == "message":
        return {key: value[key] for key in MESSAGE_FIELDS if key in value}
    essential = {key: value[key] for key in CALLBACK_QUERY_FIELDS if key in value}
    if isinstance(essential.get("message"), dict):
        essential["message"] = {key: essential["message"][key] for key in CALLBACK_MESSAGE_FIELDS
                                if key in essential["message"]}
    return essential


# PTB builds objects from whatever JSON it is given; what we store or act on is checked here first, so
# a body that is not what Telegram sends (a list for a user id, a 300-character currency) is a 400.
MAX_ID = 2**63 - 1
PAYMENT_FIELDS = {  # successful_payment / refunded_payment: field -> (check, what it must be)
    "currency": (is_currency_code, "a 3-letter currency code"),
    "total_amount": (lambda v: _is_int(v, 1, 2**31 - 1), "a positive integer"),
    "invoice_payload": (lambda v: isinstance(v, str) and len(v) <= 255, "a string of at most 255 characters"),
    "telegram_payment_charge_id": (lambda v: isinstance(v, str) and 1 <= len(v) <= 255,
                                   "a string of 1 to 255 characters"),
    "provider_payment_charge_id": (lambda v: v is None or (isinstance(v, str) and len(v) <= 255),
                                   "a string of at most 255 characters"),
    "subscription_expiration_date": (lambda v: _is_int(v, 0, 2**40), "a Unix time"),
}
PRE_CHECKOUT_FIELDS = {
    "id": (lambda v: isinstance(v, str) and 1 <= len(v) <= 255, "a string of 1 to 255 characters"),
    **{k: PAYMENT_FIELDS[k] for k in ("currency", "total_amount", "invoice_payload")},
}


def _is_int(value, low: int = -MAX_ID, high: int = MAX_ID) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _check_field_types(essentials: dict) -> None:
    """Raise InvalidUpdate naming the first field that is not of the type Telegram sends."""

    def check(obj, path: str, fields: dict) -> None:
        if not isinstance(obj, dict):
            return  # PTB reports what is not an object
        for name, (is_valid, expected) in fields.items():
            if name in obj and not is_valid(obj[name]):
                raise InvalidUpdate(f"{path}.{name} must be {expected}.", field=f"{path}.{name}")

    def check_id(obj, path: str, *, required: bool = False) -> None:
        if obj is None and not required:
            return
        if not (isinstance(obj, dict) and _is_int(obj.get("id"))):
            raise InvalidUpdate(f"{path} must be an object with an integer id.", field=f"{path}.id")

    message = essentials.get("message")
    if isinstance(message, dict):
        # Telegram always sends the chat; a payment's buyer and a refund's owner are read from it.
        check_id(message.get("chat"), "message.chat", required=True)
        check_id(message.get("from"), "message.from")
        for kind in ("successful_payment", "refunded_payment"):
            check(message.get(kind), f"message.{kind}", PAYMENT_FIELDS)
    query = essentials.get("pre_checkout_query")
    if isinstance(query, dict):
        check(query, "pre_checkout_query", PRE_CHECKOUT_FIELDS)
        check_id(query.get("from"), "pre_checkout_query.from", required=True)
    callback = essentials.get("callback_query")
    if isinstance(callback, dict):
        check_id(callback.get("from"), "callback_query.from", required=True)
        if isinstance(callback.get("message"), dict):
            check_id(callback["message"].get("chat"), "callback_query.message.chat", required=True)


# --- redelivery --------------------------------------------------------------------------------

def _redelivered(data: dict, update_id: int) -> UpdateResult | None:
    """The recorded answer to a redelivered pre-checkout query. (A redelivered payment or refund is
    found by the services, under its charge's event id; an identical copy by `redeliveries`.)"""
    query = data.get("pre_checkout_query")
    if isinstance(query, dict) and query.get("id") is not None:
        answer = PreCheckoutAnswer.objects.filter(query_id=str(query["id"])).first()
        if answer is not None:
            return UpdateResult("duplicate", "pre_checkout_query", update_id, _pre_checkout_body(answer),
                                pre_checkout_answer=answer)
    return None


# --- payments and refunds ----------------------------------------------------------------------

@dataclass(frozen=True)
class PaymentMessage:
    """What a message carrying a payment or a refund is routed on: the payment and two ids."""

    kind: str  # successful_payment | refunded_payment
    payment: SuccessfulPayment | RefundedPayment
    chat_id: int
    from_id: int | None

    @classmethod
    def of(cls, message: Message) -> "PaymentMessage | None":
        for kind in PAYMENT_KINDS:
            if (payment := getattr(message, kind)) is not None:
                return cls(kind, payment, message.chat.id, message.from_user.id if message.from_user else None)
        return None


PAYMENT_KINDS = ("successful_payment", "refunded_payment")  # in this order, should a message carry both
_PAYMENT_CLASSES = {"successful_payment": SuccessfulPayment, "refunded_payment": RefundedPayment}


def _plain_payment_message(essentials: dict) -> PaymentMessage | None:
    """An update that is plainly one well-formed payment or refund message, read without building
    PTB's whole Message; None for anything else, which the full parse then routes or rejects.

    Message.de_json visits every field a Message may have: ~75 µs, most of the Python time of a
    Telegram payment (bench/), where the payment object (PTB's, parsed as usual) and two ids (of
    types `_check_field_types` checked) are all that is needed. What it must agree with the full
    parse on is tested (tests/test_updates_payment_fast_path.py).
    """
    message = essentials.get("message")
    if len(essentials) != 1 or not isinstance(message, dict):
        return None
    chat, sender = message["chat"], message.get("from")  # ids checked; present if required
    if not (_is_int(message.get("message_id")) and _is_int(message.get("date"))
            and isinstance(chat.get("type"), str)
            and (sender is None or (isinstance(sender.get("is_bot"), bool)
                                    and isinstance(sender.get("first_name"), str)))):
        return None
    for kind in PAYMENT_KINDS:
        if message.get(kind) is not None:
            try:
                payment = _PAYMENT_CLASSES[kind].de_json(message[kind], None)
            except Exception:  # the full parse says what is wrong
                return None
            return PaymentMessage(kind, payment, chat["id"], sender["id"] if sender else None)
    return None


def _payment_message(message: PaymentMessage, *, update_id: int, data: dict, source: str) -> UpdateResult:
    handle = _successful_payment if message.kind == "successful_payment" else _refunded_payment
    return handle(message, update_id=update_id, data=data, source=source)


def _successful_payment(
    message: PaymentMessage, *, update_id: int, data: dict, source: str
) -> UpdateResult:
    payment = message.payment
    buyer = message.from_id if message.from_id is not None else message.chat_id
    outcome = handle_successful_payment(
        user_id=buyer,
        telegram_payment_charge_id=payment.telegram_payment_charge_id,
        provider_payment_charge_id=payment.provider_payment_charge_id or "",
        total_amount=payment.total_amount,
        currency=payment.currency,
        invoice_payload=payment.invoice_payload,
        subscription_expires_at=payment.subscription_expiration_date,
        source=source,
        payload=data,
        update_id=update_id,
    )
    reply = None
    if source == EventSource.TELEGRAM and settings.TELEGRAM_THANK_BUYERS:
        reply = _payment_reply(outcome, chat_id=message.chat_id, renewal=_is_renewal(payment))
    return UpdateResult(outcome.status, "successful_payment", update_id, reply or outcome.answer(), outcome=outcome)


THANKS_TEXT = "Thank you! {title} is yours. Send /status to see what you have and until when."
RENEWED_TEXT = "Thank you! {title} is renewed. Send /status to see until when."
NOT_DELIVERED_TEXT = (
    "Your payment arrived, but we could not deliver what you bought automatically. It is recorded and "
    "we will sort it out; send /paysupport if you need help."
)


def _payment_reply(outcome: EventOutcome, *, chat_id: int, renewal: bool) -> dict | None:
    """The message for the buyer of a payment recorded now (as a `sendMessage` answer), or None."""
    if outcome.granted:
        return _text(chat_id, (RENEWED_TEXT if renewal else THANKS_TEXT).format(title=outcome.product.title))
    if outcome.status == "failed":
        return _text(chat_id, NOT_DELIVERED_TEXT)
    return None  # a copy of a stored payment, or a charge refunded before its payment arrived


def _is_renewal(payment: SuccessfulPayment) -> bool:
    return bool(payment.is_recurring) and not payment.is_first_recurring


def _refunded_payment(
    message: PaymentMessage, *, update_id: int, data: dict, source: str
) -> UpdateResult:
    refund = message.payment
    outcome = handle_refund(
        user_id=message.chat_id,  # `from` is the bot itself
        telegram_payment_charge_id=refund.telegram_payment_charge_id,
        provider_payment_charge_id=refund.provider_payment_charge_id or "",
        total_amount=refund.total_amount,
        currency=refund.currency,
        invoice_payload=refund.invoice_payload,
        source=source,
        payload=data,
        update_id=update_id,
    )
    return UpdateResult(outcome.status, "refunded_payment", update_id, outcome.answer(), outcome=outcome)


# --- pre-checkout ------------------------------------------------------------------------------

DECLINE_MESSAGES = {
    "unknown_invoice": "This invoice is no longer valid. Send /buy to get a new one.",
    "invoice_expired": "This invoice is no longer valid. Send /buy to get a new one.",
    "product_inactive": "Sorry, this product is no longer on sale. Send /buy to see what is.",
    "wrong_currency": "This invoice can only be paid in Telegram Stars.",
    "wrong_amount": "The price of this invoice is out of date. Send /buy to get a new invoice.",
    "wrong_buyer": "This invoice was issued to someone else. Send /buy to get your own.",
    "already_paid": "This invoice has already been paid. Send /status to see your purchases or /buy to buy again.",
}


def _decline_reason(*, invoice: Invoice | None, user_id: int, currency: str, total_amount: int) -> str | None:
    """Why a pre-checkout query for `invoice` must be declined (a `DECLINE_MESSAGES` key), or None."""
    if invoice is None:
        return "unknown_invoice"
    if invoice.status == InvoiceStatus.EXPIRED:
        return "invoice_expired"
    if not invoice.product.is_active:
        return "product_inactive"
    if currency != STARS_CURRENCY:
        return "wrong_currency"
    if total_amount != invoice.price_stars:
        return "wrong_amount"
    if invoice.user_id is not None and invoice.user_id != user_id:
        return "wrong_buyer"
    if invoice.status == InvoiceStatus.PAID:
        return "already_paid"
    return None


def _answer_pre_checkout(query: PreCheckoutQuery, *, update_id: int, raw: dict) -> UpdateResult:
    invoice = Invoice.objects.select_related("product").filter(payload=query.invoice_payload).first()
    reason = _decline_reason(
        invoice=invoice, user_id=query.from_user.id, currency=query.currency, total_amount=query.total_amount
    )
    answer = PreCheckoutAnswer(
        query_id=query.id,
        update_id=update_id,
        user_id=query.from_user.id,
        invoice_payload=query.invoice_payload[:255],
        invoice=invoice,
        currency=query.currency[:3],
        total_amount=query.total_amount,
        ok=reason is None,
        reason=reason or "",
        error_message=DECLINE_MESSAGES[reason] if reason else "",
        payload=raw,
    )
    try:
        with transaction.atomic():
            answer.save(force_insert=True)
    except IntegrityError:  # the same query delivered twice at once: answer as the first time
        existing = PreCheckoutAnswer.objects.filter(query_id=query.id).first()
        if existing is None:
            raise
        return UpdateResult("duplicate", "pre_checkout_query", update_id, _pre_checkout_body(existing),
                            pre_checkout_answer=existing)
    record_pre_checkout_answer(reason or "ok")
    if reason:
        logger.info("pre-checkout %s declined: %s", query.id, reason)
    return UpdateResult("answered", "pre_checkout_query", update_id, _pre_checkout_body(answer),
                        pre_checkout_answer=answer)


def _pre_checkout_body(answer: PreCheckoutAnswer) -> dict:
    body = {"method": "answerPreCheckoutQuery", "pre_checkout_query_id": answer.query_id, "ok": answer.ok}
    if not answer.ok:
        body["error_message"] = answer.error_message
    return body


# --- bot commands and buttons ------------------------------------------------------------------

HELP_TEXT = (
    "/buy: what is on sale\n"
    "/status: what you have and until when\n"
    "/paysupport: help with a payment\n"
    "/terms: terms of sale"
)
INVOICE_FAILED_TEXT = "Sorry, we could not create your invoice just now. Please try again in a minute."


def _guarded(handler, item, *, update_id: int, kind: str) -> UpdateResult:
    """Run a chat interaction; anything but a database outage is logged and answered 200, since
    Telegram would otherwise redeliver it and hold back the user's later updates."""
    try:
        return handler(item, update_id=update_id)
    except TRANSIENT_ERRORS:
        raise
    except Exception:
        logger.exception("%s of update %s failed", kind, update_id)
        return UpdateResult("failed", kind, update_id, {"ok": True, "status": "failed"})


def _command(message: Message, *, update_id: int) -> UpdateResult:
    command, _, argument = message.text.strip().partition(" ")
    command = command.split("@", 1)[0].lower()
    argument = argument.strip()
    user_id = message.from_user.id if message.from_user else message.chat.id
    chat_id = message.chat.id

    def answered(reply: dict | None, status: str = "answered", **extra) -> UpdateResult:
        body = reply or {"ok": True, "status": status, **extra}
        return UpdateResult(status, "command", update_id, body)

    if command == "/buy" and argument:
        status, reply, payload = _offer(argument, user_id=user_id, chat_id=chat_id)
        return answered(reply, status, invoice_payload=payload)
    if command == "/buy":
        return answered(_catalog_message(chat_id))
    if command == "/start" and argument.startswith("buy_"):
        status, reply, payload = _offer(argument[len("buy_"):], user_id=user_id, chat_id=chat_id)
        return answered(reply, status, invoice_payload=payload)
    if command in ("/start", "/help"):
        return answered(_text(chat_id, HELP_TEXT))
    if command == "/status":
        return answered(_text(chat_id, _status_text(user_id)))
    if command == "/paysupport":
        return answered(_text(chat_id, settings.TELEGRAM_PAYSUPPORT_TEXT))
    if command == "/terms":
        return answered(_text(chat_id, settings.TELEGRAM_TERMS_TEXT))
    return _ignored(update_id, "command")


def _buy_button(query, *, update_id: int) -> UpdateResult:
    user_id = query.from_user.id
    chat_id = query.message.chat.id if query.message is not None else user_id
    status, reply, _ = _offer(query.data[len(BUY_CALLBACK_PREFIX):], user_id=user_id, chat_id=chat_id)
    if reply is not None:  # the response body answers the button, so the reply goes as a call
        try:
            _send(reply)
        except BotApiError as exc:
            logger.warning("reply to button of update %s failed: %s", update_id, exc)
            status = "failed"
    body = {"method": "answerCallbackQuery", "callback_query_id": query.id}
    return UpdateResult(status, "callback_query", update_id, body)


def _offer(entitlement_type: str, *, user_id: int, chat_id: int) -> tuple[str, dict | None, str]:
    """Offer one product: an invoice message (sent by a call), or for a subscription a message with
    an invoice link button. Returns (status, reply to send or None, invoice payload or "")."""
    product = Product.objects.filter(entitlement_type=entitlement_type, is_active=True).first()
    if product is None:
        text = f"Nothing called {entitlement_type!r} is on sale. Send /buy to see what is."
        return "answered", _text(chat_id, text), ""
    try:
        if not product.is_subscription:
            issued = send_invoice(product=product, user_id=user_id, chat_id=chat_id)
            return "answered", None, issued.invoice.payload
        issued = create_invoice_link(product=product, user_id=user_id)
    except BotApiError as exc:
        logger.warning("invoice for %s to %s failed: %s", product.entitlement_type, user_id, exc)
        return "failed", _text(chat_id, INVOICE_FAILED_TEXT), ""
    text = f"{product.title}: {product.description}\n{product.price_stars} ⭐ every 30 days, cancel any time."
    button = {"text": f"Subscribe for {product.price_stars} ⭐/month", "url": issued.link}
    return "answered", _text(chat_id, text, buttons=[[button]]), issued.invoice.payload


def _catalog_message(chat_id: int) -> dict:
    products = list(Product.objects.filter(is_active=True).order_by("price_stars", "pk"))
    if not products:
        return _text(chat_id, "Nothing is on sale right now.")
    lines = ["What is on sale:"]
    buttons = []
    for product in products:
        lines.append(f"• {product.title}: {product.price_stars} ⭐ {_period(product)}. {product.description}")
        data = f"{BUY_CALLBACK_PREFIX}{product.entitlement_type}"
        if len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            buttons.append([{"text": f"{product.title}: {product.price_stars} ⭐", "callback_data": data}])
    return _text(chat_id, "\n".join(lines), buttons=buttons)


def _period(product: Product) -> str:
    if product.is_subscription:
        return "every 30 days"
    if product.duration_days:
        return f"for {product.duration_days} days"
    return "for life"


def _status_text(user_id: int) -> str:
    active = active_entitlements(user_id)
    if not active:
        return "You have no active purchases. Send /buy to see what is on sale."
    titles = dict(
        Product.objects.filter(entitlement_type__in=[a.entitlement_type for a in active]).values_list(
            "entitlement_type", "title"
        )
    )
    lines = ["Your purchases:"]
    for item in active:
        until = f"until {item.expires_at:%Y-%m-%d %H:%M} UTC" if item.expires_at else "for life"
        lines.append(f"• {titles.get(item.entitlement_type, item.entitlement_type)}: {until}")
    return "\n".join(lines)


def _text(chat_id: int, text: str, *, buttons: list | None = None) -> dict:
    """A `sendMessage` call, as a webhook response body or for `_send`."""
    reply = {"method": "sendMessage", "chat_id": chat_id, "text": text}
    if buttons:
        reply["reply_markup"] = {"inline_keyboard": buttons}
    return reply


def _send(reply: dict) -> None:
    """Send a `_text` reply as a call (when the response body is taken by another answer)."""
    markup = InlineKeyboardMarkup.de_json(reply["reply_markup"], None) if "reply_markup" in reply else None
    call_bot("sendMessage", lambda bot: bot.send_message(reply["chat_id"], reply["text"], reply_markup=markup))


def _ignored(update_id: int, kind: str) -> UpdateResult:
    return UpdateResult("ignored", kind, update_id, {"ok": True, "status": "ignored"})
