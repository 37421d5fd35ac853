"""Refunds through the Bot API, then recorded like any refund: started by staff from the admin, or by
the `AUTO_REFUND_UNFULFILLABLE` policy's worker (`autorefunds`). One rule says what may be refunded."""

from telegram_payments.models import EventSource, EventStatus, StripeEvent
from telegram_payments.payments.events import EventOutcome, Outcome, refund_id_of
from telegram_payments.payments.pipeline import handle_refund
from telegram_payments.registry import bots
from telegram_payments.telegram_api.client import BotApiError, call_bot

ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"


class RefundNotAllowed(Exception):
    """The event is not a payment that may be refunded."""


def refund_problem(event: StripeEvent, *, already_refunded: bool | None = None) -> str | None:
    """Why this event cannot be refunded, or None if it can. The one refund rule the admin shows too.

    A payment recorded as failed was still paid (Telegram took the Stars): it may be refunded like a
    processed one. A pending one may not (it is being handled, or stuck: replay it first).
    `already_refunded`: whether its charge's refund is recorded, when the caller has read it for
    many events at once (a page's fixed number of queries); None: looked up here.
    """
    if not event.is_payment:
        return "Only payments can be refunded."
    if event.status not in (EventStatus.PROCESSED, EventStatus.FAILED):
        return f"This payment is {event.get_status_display()}: replay it before refunding it."
    if already_refunded is None:
        already_refunded = StripeEvent.objects.filter(
            event_id=refund_id_of(event)).exists()
    if already_refunded:
        return "This payment is already refunded."
    return None


def refund_payment(*, event: StripeEvent, staff_user, reason: str) -> EventOutcome:
    """Refund a Stars payment through the Bot API, then record it like any refund of that charge.

    The refund event gets the usual id (`tg_stars:refund:<charge>`), so Telegram's own
    `refunded_payment` update that follows is a duplicate. Telegram's `CHARGE_ALREADY_REFUNDED`
    counts as success (a second click, or a refund made elsewhere). Any other `BotApiError`
    propagates and nothing is recorded: the staff user sees Telegram's words and may try again.
    A charge whose refund is already recorded returns that refund ("duplicate") without calling Telegram.
    """
    return refund_through_bot(event=event, source=EventSource.STAFF, reason=reason, initiated_by=staff_user,
                              by=staff_user.get_username())


def refund_through_bot(
    *, event: StripeEvent, source: str, reason: str, initiated_by=None, by: str = "",
) -> EventOutcome:
    """Check `refund_problem`, call `refundStarPayment`, then record the refund (`handle_refund`)."""
    event = StripeEvent.objects.get(pk=event.pk)
    existing = StripeEvent.objects.filter(event_id=refund_id_of(event)).first()
    if existing is not None and event.is_payment:
        return EventOutcome(Outcome.DUPLICATE, existing)
    if (problem := refund_problem(event)) is not None:
        raise RefundNotAllowed(f"{event.event_id}: {problem}")

    user_id = int(event.customer_id)
    charge_id = event.telegram_payment_charge_id
    try:
        call_bot("refundStarPayment", lambda api: api.refund_star_payment(user_id, charge_id),
                 bot=bots.get(event.bot_id))
        telegram_answer = "ok"
    except BotApiError as exc:
        if ALREADY_REFUNDED not in exc.description.upper():
            raise
        telegram_answer = ALREADY_REFUNDED
    return handle_refund(
        bot=bots.get(event.bot_id),
        user_id=user_id,
        telegram_payment_charge_id=charge_id,
        source=source,
        payload={
            "bot_api_method": "refundStarPayment",
            "user_id": user_id,
            "telegram_payment_charge_id": charge_id,
            "telegram_answer": telegram_answer,
            "staff_user" if initiated_by is not None else "refunded_by": by,
            "refund_reason": reason,
        },
        entitlement_type=event.entitlement_type,
        refund_reason=reason,
        total_amount=event.amount_cents,
        currency=event.currency,
        invoice_payload=event.invoice_payload,
        provider_payment_charge_id=event.provider_payment_charge_id,
        initiated_by=initiated_by,
    )
