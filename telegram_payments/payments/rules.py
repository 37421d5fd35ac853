"""The money rules: what a payment grants, and what a refund takes back (and which event does what).

This is where a payment becomes a grant. Every route reaches these functions through `pipeline`,
inside the transaction that records the event and under its charge's lock, so a payment and the
refund of the same charge are ordered. A rule broken here raises `PaymentRejected`: the pipeline
records the event as failed (Telegram took the Stars: staff can refund or replay it).

How grants of one type stack, and how a revoke moves the grants stacked behind it, is the
entitlements app's business (`entitlements.services`).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from entitlements import wording
from entitlements.models import Entitlement
from entitlements.services import grant_entitlement, revoke_entitlement
from telegram_payments.models import (
    EVENT_PAYMENT,
    EVENT_REFUND,
    EVENT_SUBSCRIPTION,
    STARS_CURRENCY,
    EventSource,
    Invoice,
    InvoiceStatus,
    Product,
    StripeEvent,
)
from telegram_payments.payments.events import PaymentRejected, payment_id_of, refund_id_of
from telegram_payments.payments.failures import fulfilling_grant
from telegram_payments.payments.subscriptions import apply_subscription_update, note_subscription_payment
from telegram_payments.registry import bots
from telegram_payments.telegram_api.limits import SUBSCRIPTION_PERIOD, is_stars_currency

REFUNDED_FIRST_NOTE = "This charge was refunded before its payment arrived: nothing granted."
NOT_OUR_INVOICE = "we could not match it to anything we sell"
# How far past one period from now Telegram's end of a subscription period may lie (clock skew, delays).
SUBSCRIPTION_END_SLACK = timedelta(days=2)


@dataclass(frozen=True)
class Applied:
    """What applying an event did: the product a payment paid for and the grant it made, if any."""

    product: Product | None = None
    grant: Entitlement | None = None


def recorded_events(event: StripeEvent) -> dict[str, StripeEvent]:
    """{event id: event} of what is recorded for this event's charge (its payment and its refund, the
    event itself included if stored), or for the event alone when it has no charge. One query, made
    by the pipeline under the event's lock: it answers "a copy?" and "refunded first?" at once."""
    if event.event_type in (EVENT_PAYMENT, EVENT_REFUND):
        ids = [payment_id_of(event), refund_id_of(event)]
    else:
        ids = [event.event_id]
    return {found.event_id: found for found in StripeEvent.objects.filter(event_id__in=ids).defer("payload")}


def apply_event(event: StripeEvent, recorded: dict[str, StripeEvent]) -> Applied:
    """Apply a payment's or a refund's effect, filling in the event's derived fields and note.

    `recorded`: `recorded_events(event)`, read under the event's locks (`pipeline.event_locks`)."""
    if event.event_type == EVENT_PAYMENT:
        return apply_payment(event, recorded)
    if event.event_type == EVENT_REFUND:
        apply_refund(event, recorded)
        return Applied()
    if event.event_type == EVENT_SUBSCRIPTION:
        return Applied(apply_subscription_update(event))
    raise PaymentRejected(f"unknown event type {event.event_type!r}")


def apply_payment(event: StripeEvent, recorded: dict[str, StripeEvent]) -> Applied:
    """Check the payment against its bot's invoice and catalog, mark the invoice paid and grant the product.

    A payment whose charge was refunded first (the refund arrived earlier) grants nothing.
    """
    invoice = None
    if event.invoice_payload:
        invoice = Invoice.objects.select_related("product").filter(
            payload=event.invoice_payload, bot_id=event.bot_id).first()
    product = _product_paid_for(event, invoice)
    event.entitlement_type = product.entitlement_type
    _check_payment(event, invoice, product)

    if invoice is not None and invoice.status != InvoiceStatus.PAID:
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = timezone.now()
        invoice.save(update_fields=["status", "paid_at"])
    if refund_id_of(event) in recorded:
        event.note = REFUNDED_FIRST_NOTE
        return Applied(product)

    duration, expires_at = _term(event, product)
    scope = product.entitlement_scope
    # savepoint=False: a failed grant fails the pipeline's whole transaction, which it rolls back.
    # locked: the pipeline took the buyer's stack lock in the bot's scope with the charge's
    # (`pipeline.event_locks`); a product whose access is shared takes its shared scope's lock here.
    grant = grant_entitlement(
        user_id=int(event.customer_id),
        entitlement_type=product.entitlement_type,
        event_id=event.event_id,
        scope=scope,
        duration=duration,
        expires_at=expires_at,
        savepoint=False,
        locked=scope == bots.get(event.bot_id).entitlement_scope,
    )
    event.note = f"{wording.granted(grant)}."
    if invoice is not None and event.subscription_expires_at is not None:
        note_subscription_payment(event, invoice=invoice, product=product)
    return Applied(product, grant)


def _product_paid_for(event: StripeEvent, invoice: Invoice | None) -> Product:
    """The invoice's product, or (relay route, no invoice of ours) the one of the event's type."""
    if invoice is not None:
        product = invoice.product
        # Kept on the event even if a check below fails: staff see what a failed payment was for.
        event.entitlement_type = product.entitlement_type
    elif not event.entitlement_type:
        raise PaymentRejected(f"unknown invoice {event.invoice_payload!r} and no entitlement_type given",
                              unfulfillable=True, buyer_reason=NOT_OUR_INVOICE)
    else:
        product = Product.objects.filter(bot_id=event.bot_id, entitlement_type=event.entitlement_type).first()
        if product is None:
            raise PaymentRejected(f"unknown product {event.entitlement_type!r}",
                                  unfulfillable=True, buyer_reason=NOT_OUR_INVOICE)
    # A renewal of a subscription we issued is honoured after its product went off sale: Telegram
    # keeps charging subscribers until they cancel, and they must get what they paid for.
    renewal = invoice is not None and event.subscription_expires_at is not None and product.is_subscription
    if not product.is_active and not renewal:
        raise PaymentRejected(f"product {product.entitlement_type!r} is not on sale",
                              unfulfillable=True, buyer_reason=f"{product.title} is no longer on sale")
    return product


def _check_payment(event: StripeEvent, invoice: Invoice | None, product: Product) -> None:
    if not is_stars_currency(event.currency):
        raise PaymentRejected(f"currency {event.currency} is not {STARS_CURRENCY} (Telegram Stars)")
    price = invoice.price_stars if invoice else product.price_stars
    if event.amount_cents is None or event.amount_cents < price:
        raise PaymentRejected(f"amount {event.amount_cents} XTR is below the price of {price} XTR",
                              unfulfillable=True, buyer_reason=f"the amount paid was below the price of {price} Stars")
    if invoice is not None and invoice.user_id is not None and invoice.user_id != int(event.customer_id):
        raise PaymentRejected(
            f"paid by user {event.customer_id}, but the invoice was issued to user {invoice.user_id}")
    if event.subscription_expires_at is not None:
        if not product.is_subscription:
            raise PaymentRejected(
                f"a subscription period was paid for {product.entitlement_type!r}, which is not a subscription")
        period = timedelta(seconds=invoice.subscription_period) if invoice and invoice.subscription_period \
            else SUBSCRIPTION_PERIOD
        if event.subscription_expires_at > timezone.now() + period + SUBSCRIPTION_END_SLACK:
            raise PaymentRejected(
                f"the subscription period would end {event.subscription_expires_at:%Y-%m-%d %H:%M} UTC, "
                "more than one period from now")


def _term(event: StripeEvent, product: Product) -> tuple[timedelta | None, datetime | None]:
    """(duration, expires_at) of the grant: a subscription period ends when Telegram says; a product
    with a duration stacks after the user's current end; neither: for life."""
    if event.subscription_expires_at is not None:
        return None, event.subscription_expires_at
    return (timedelta(days=product.duration_days) if product.duration_days else None), None


def apply_refund(event: StripeEvent, recorded: dict[str, StripeEvent]) -> None:
    """Revoke the grant of the refunded charge, and complete the refund's record from its payment.

    A refund of a charge we never saw is still recorded; its payment, if it arrives, grants nothing.
    The refund is recorded under the payment's user whatever user the refund named.
    """
    payment_id = payment_id_of(event)
    payment = recorded.get(payment_id)
    mismatch = ""
    if payment is not None:
        if payment.customer_id != event.customer_id:
            mismatch = f" The refund named user {event.customer_id}; the payment was made by {payment.customer_id}."
            event.customer_id = payment.customer_id
        event.amount_cents = event.amount_cents or payment.amount_cents
        event.entitlement_type = event.entitlement_type or payment.entitlement_type
        event.invoice_payload = event.invoice_payload or payment.invoice_payload
    # The pipeline holds the stack lock of the user the refund named in the bot's scope: a grant there is
    # read once, locked, and the revoke reads it no more. A grant of another user's, or in a shared scope,
    # is read plainly and revoked under its own scope's lock (`revoke_entitlement`, locked=False).
    scope = bots.get(event.bot_id).entitlement_scope
    grant = None
    if not mismatch:
        grant = Entitlement.objects.select_for_update().filter(event_id=payment_id, scope=scope).first()
    locked = grant is not None
    if grant is None:
        grant = Entitlement.objects.filter(event_id=payment_id).first()
    if grant is None and payment is not None:  # a failed payment a staff grant fulfilled: that grant
        grant = fulfilling_grant(payment, locked=not mismatch)
        locked = grant is not None and not mismatch and grant.scope == scope
    if grant is None:
        event.note = (
            "No payment recorded for this charge yet: nothing to revoke; a later payment grants nothing."
            if payment is None
            else "The payment granted nothing: nothing to revoke."
        ) + mismatch
        return
    reason = f"refund ({EventSource(event.source).label})" + (f": {event.refund_reason}" if event.refund_reason else "")
    revoke_entitlement(entitlement=grant, reason=reason, savepoint=False, locked=locked)
    event.note = f"Revoked {grant.entitlement_type} of {grant.user_id}.{mismatch}"
