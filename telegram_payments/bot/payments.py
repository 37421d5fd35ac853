"""Payment and refund messages: handed to the payment pipeline; a buyer paid now is thanked.

The same pipeline serves the relay endpoints, so one charge is one event whichever way it arrives.
The buyer of a refund is the chat: Telegram sends it with `from` set to the bot. A payment recorded
now is answered with a message to the buyer (`TELEGRAM_STARS["THANK_BUYERS"]`): thanks and what they have,
or that it could not be delivered; a copy gets the status body, no message.
"""

from dataclasses import dataclass

from telegram import Message, RefundedPayment, SuccessfulPayment

from telegram_payments.bot.results import UpdateResult
from telegram_payments.conf import stars_settings
from telegram_payments.models import EventSource
from telegram_payments.payments.events import EventOutcome, Outcome
from telegram_payments.payments.pipeline import handle_refund, handle_successful_payment
from telegram_payments.telegram_api.replies import text

PAYMENT_KINDS = ("successful_payment", "refunded_payment")  # in this order, should a message carry both

THANKS_TEXT = "Thank you! {title} is yours. Send /status to see what you have and until when."
RENEWED_TEXT = "Thank you! {title} is renewed. Send /status to see until when."
NOT_DELIVERED_TEXT = (
    "Your payment arrived, but we could not deliver what you bought automatically. It is recorded and "
    "we will sort it out; send /paysupport if you need help."
)


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


def payment_message(message: PaymentMessage, *, bot, update_id: int, data: dict, source: str,
                    remember=None) -> UpdateResult:
    """Hand the payment or refund to `bot` to the pipeline; `remember` (the sender's upsert) is written in
    its transaction."""
    handle = _successful_payment if message.kind == "successful_payment" else _refunded_payment
    return handle(message, bot=bot, update_id=update_id, data=data, source=source, remember=remember)


def _successful_payment(message: PaymentMessage, *, bot, update_id: int, data: dict, source: str,
                        remember=None) -> UpdateResult:
    payment = message.payment
    buyer = message.from_id if message.from_id is not None else message.chat_id
    outcome = handle_successful_payment(
        bot=bot,
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
        alongside=remember,
    )
    reply = None
    if source == EventSource.TELEGRAM and stars_settings.THANK_BUYERS:
        reply = _payment_reply(outcome, chat_id=message.chat_id, renewal=_is_renewal(payment))
    return UpdateResult(outcome.status, "successful_payment", update_id, reply or outcome.answer(), outcome=outcome)


def _payment_reply(outcome: EventOutcome, *, chat_id: int, renewal: bool) -> dict | None:
    """The message for the buyer of a payment recorded now (as a `sendMessage` answer), or None."""
    if outcome.granted:
        return text(chat_id, (RENEWED_TEXT if renewal else THANKS_TEXT).format(title=outcome.product.title))
    if outcome.status == Outcome.FAILED:
        return text(chat_id, NOT_DELIVERED_TEXT)
    return None  # a copy of a stored payment, or a charge refunded before its payment arrived


def _is_renewal(payment: SuccessfulPayment) -> bool:
    return bool(payment.is_recurring) and not payment.is_first_recurring


def _refunded_payment(message: PaymentMessage, *, bot, update_id: int, data: dict, source: str,
                      remember=None) -> UpdateResult:
    refund = message.payment
    outcome = handle_refund(
        bot=bot,
        user_id=message.chat_id,  # `from` is the bot itself
        telegram_payment_charge_id=refund.telegram_payment_charge_id,
        provider_payment_charge_id=refund.provider_payment_charge_id or "",
        total_amount=refund.total_amount,
        currency=refund.currency,
        invoice_payload=refund.invoice_payload,
        source=source,
        payload=data,
        update_id=update_id,
        alongside=remember,
    )
    return UpdateResult(outcome.status, "refunded_payment", update_id, outcome.answer(), outcome=outcome)
