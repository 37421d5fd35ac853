"""Where each Star subscription stands: renewing, cancelled by the user, renewal failed, stopped by staff.

Three things move a subscription (one user's subscription to one invoice link we issued):

* Telegram's `subscription` updates (the user cancelled or re-enabled renewals, or a renewal's payment
  failed), recorded as `telegram_stars.subscription_updated` events by `pipeline.handle_subscription_update`;
* a subscription payment (the first or a renewal): it renews, so the subscription is renewing;
* staff stopping or resuming renewals through the Bot API (`telegram_payments.payments.renewals`).

Each sets the one `Subscription` row of the user and the invoice under its row lock, inside the
transaction that records the event. Telegram numbers its updates in order (`update_id`): an update
older than the one that set the state arrived late and changes nothing, so concurrent and reordered
deliveries end in the state of the newest. A failed renewal ends nothing early: what is paid for
runs to its end.
"""

from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from telegram_payments.models import Invoice, Product, StripeEvent, Subscription, SubscriptionState
from telegram_payments.payments.events import PaymentRejected
from telegram_payments.registry import bots
from telegram_payments.signals import send_on_commit, subscription_state_changed

# Telegram's `BotSubscriptionUpdated.state` -> our state.
TELEGRAM_STATES = {
    "canceled": SubscriptionState.CANCELLED,
    "active": SubscriptionState.RENEWING,
    "failed": SubscriptionState.RENEWAL_FAILED,
}


def telegram_state(event: StripeEvent) -> str:
    """The state Telegram sent in a recorded subscription update (its stored body)."""
    part = event.payload.get("subscription") if isinstance(event.payload, dict) else None
    state = part.get("state") if isinstance(part, dict) else None
    if state not in TELEGRAM_STATES:
        raise PaymentRejected(f"unknown subscription state {state!r}")
    return state


def apply_subscription_update(event: StripeEvent) -> Product:
    """Set the state a `subscription` update reports, completing the event's product and note.

    The invoice must be a subscription we issued (to this user, if to anyone in particular).
    """
    state = telegram_state(event)
    invoice = Invoice.objects.select_related("product").filter(
        payload=event.invoice_payload, bot_id=event.bot_id).first()
    if invoice is None:
        raise PaymentRejected(f"unknown invoice {event.invoice_payload!r}: not a subscription we issued")
    product = invoice.product
    if not product.is_subscription:
        raise PaymentRejected(
            f"invoice {event.invoice_payload!r} is for {product.entitlement_type!r}, which is not a subscription")
    user_id = int(event.customer_id)
    if invoice.user_id is not None and invoice.user_id != user_id:
        raise PaymentRejected(f"update for user {user_id}, but the invoice was issued to user {invoice.user_id}")
    event.entitlement_type = product.entitlement_type

    subscription, created = _locked(bot_id=event.bot_id, user_id=user_id, invoice_payload=invoice.payload,
                                    product=product)
    new_state = TELEGRAM_STATES[state]
    told = f"Telegram: {state}."
    if not created and _is_older(event.update_id, subscription):
        event.note = (f"{told} Not applied: the state ({subscription.get_state_display()}) comes from a later "
                      f"update ({subscription.last_update_id}).")
        return product
    _set(subscription, state=new_state, source=event.source, event=event, created=created)
    event.note = f"{told} Subscription of user {user_id} to {product.entitlement_type}: {new_state.label}."
    return product


def note_subscription_payment(event: StripeEvent, *, invoice: Invoice, product: Product) -> None:
    """A subscription period was paid (the first or a renewal): the subscription is renewing until its end.

    A payment with no update id (found by reconciliation) only fills in a subscription not yet known.
    """
    subscription, created = _locked(bot_id=event.bot_id, user_id=int(event.customer_id),
                                    invoice_payload=invoice.payload, product=product)
    if event.subscription_expires_at and (subscription.paid_until is None
                                          or event.subscription_expires_at > subscription.paid_until):
        subscription.paid_until = event.subscription_expires_at
    if created or (event.update_id is not None and not _is_older(event.update_id, subscription)):
        _set(subscription, state=SubscriptionState.RENEWING, source=event.source, event=event, created=created)
    else:
        subscription.save()


def record_staff_change(*, bot, user_id: int, invoice_payload: str, entitlement_type: str, stopped: bool,
                        source: str) -> Subscription:
    """Staff stopped (`stopped=True`) or resumed renewals through the Bot API: record it, whatever came before."""
    with transaction.atomic():
        product = Product.objects.filter(bot=bot, entitlement_type=entitlement_type).first() \
            if entitlement_type else None
        subscription, created = _locked(bot_id=bot.pk, user_id=user_id, invoice_payload=invoice_payload,
                                        product=product)
        _set(subscription, state=SubscriptionState.STOPPED if stopped else SubscriptionState.RENEWING,
             source=source, event=None, created=created)
        return subscription


def _is_older(update_id: int | None, subscription: Subscription) -> bool:
    last = subscription.last_update_id
    return update_id is not None and last is not None and update_id <= last


def _set(subscription: Subscription, *, state: str, source: str, event: StripeEvent | None,
         created: bool = False) -> None:
    """Set the state; a new subscription, or a change of state, is told to receivers once this commits."""
    if created or subscription.state != state:
        send_on_commit(subscription_state_changed, sender=Subscription, subscription=subscription,
                       user_id=subscription.user_id, invoice_payload=subscription.invoice_payload, state=state,
                       source=source, bot=bots.get(subscription.bot_id))
    subscription.state = state
    subscription.source = source
    subscription.updated_at = timezone.now()
    subscription.last_event_id = event.event_id if event is not None else ""
    if event is not None and event.update_id is not None:
        subscription.last_update_id = event.update_id
    subscription.save()


def _locked(*, bot_id: int, user_id: int, invoice_payload: str, product: Product | None
            ) -> tuple[Subscription, bool]:
    """The subscription's row, locked until the transaction ends (created if new), and whether it is new."""
    rows = Subscription.objects.select_for_update()
    subscription = rows.filter(bot_id=bot_id, user_id=user_id, invoice_payload=invoice_payload).first()
    created = False
    if subscription is None:
        try:
            with transaction.atomic():
                subscription = Subscription.objects.create(bot_id=bot_id, user_id=user_id,
                                                           invoice_payload=invoice_payload, product=product)
                created = True
        except IntegrityError:  # created meanwhile by a concurrent update: wait for it and take it
            subscription = rows.get(bot_id=bot_id, user_id=user_id, invoice_payload=invoice_payload)
    if product is not None and subscription.product_id is None:
        subscription.product = product
    return subscription, created


def paid_until_text(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if moment else "the end of the period paid for"
