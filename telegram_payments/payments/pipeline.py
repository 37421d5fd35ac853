"""The intake every route calls: record an event once and apply its effect in the same transaction.

Webhooks (relay and Bot API Update), replays, reconciliation and staff refunds all end here, on
every database, so a charge has the same event id whichever way it arrives and its effect happens
once:

* the event row and its effect are written in one transaction;
* the unique `stripe_events.event_id` is the dedupe (a unique violation means "already done");
* a per-charge lock orders a payment and the refund of the same charge (a subscription update,
  which has no charge, locks its subscription);
* a permanent problem is recorded as a failed row (outside the rolled-back transaction) so that
  staff can see it and replay or refund it; a transient one (database away) propagates for a 503;
* with `AUTO_REFUND_UNFULFILLABLE`, a payment failed for a reason nobody can fix is queued, with
  its failed row, for `manage.py refund_unfulfillable` (the Bot API is never called from here).
"""

import logging
import sys
from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from entitlements.locks import lock_for_transaction
from entitlements.services import stack_lock
from telegram_payments.conf import stars_settings
from telegram_payments.metrics import observe_outcome, record_subscription_update
from telegram_payments.models import (
    EVENT_PAYMENT,
    EVENT_REFUND,
    EVENT_SUBSCRIPTION,
    PAYMENT_METHOD,
    STARS_CURRENCY,
    AutoRefund,
    EventStatus,
    StripeEvent,
)
from telegram_payments.payments.customers import note_event_user
from telegram_payments.payments.events import (
    TRANSIENT_ERRORS,
    EventOutcome,
    Outcome,
    PaymentRejected,
    describe,
    namespace_of,
    payment_event_id,
    refund_event_id,
    subscription_event_id,
)
from telegram_payments.payments.failures import has_ended
from telegram_payments.payments.rules import apply_event, recorded_events
from telegram_payments.payments.subscriptions import telegram_state
from telegram_payments.registry import bots
from telegram_payments.signals import payment_recorded, refund_recorded, send_on_commit

logger = logging.getLogger(__name__)


@observe_outcome
def handle_successful_payment(
    *,
    user_id: int,
    telegram_payment_charge_id: str,
    total_amount: int,
    currency: str,
    source: str,
    payload: dict,
    bot=None,
    entitlement_type: str = "",
    invoice_payload: str = "",
    provider_payment_charge_id: str = "",
    subscription_expires_at: datetime | None = None,
    update_id: int | None = None,
    alongside: Callable[[], object] | None = None,
) -> EventOutcome:
    """Record a successful payment to `bot` and grant what was bought, once per charge id of that bot.

    `bot`: the `Bot` paid (the app's routes always pass it; None, for a host's code: the default bot).
    `alongside`: the caller's own write, committed with the event unless it is a copy (the Update
    route remembers the buyer: `payments.customers`)."""
    bot = bot or bots.default()
    return _record_and_apply(alongside, StripeEvent(
        bot=bot,
        event_id=payment_event_id(telegram_payment_charge_id, namespace=bot.event_namespace),
        event_type=EVENT_PAYMENT,
        payment_method=PAYMENT_METHOD,
        customer_id=str(user_id),
        amount_cents=total_amount,
        currency=currency,  # as sent: the rules check it (limits.is_stars_currency)
        source=source,
        update_id=update_id,
        telegram_payment_charge_id=telegram_payment_charge_id,
        provider_payment_charge_id=provider_payment_charge_id or "",
        invoice_payload=invoice_payload or "",
        entitlement_type=entitlement_type or "",
        subscription_expires_at=subscription_expires_at,
        payload=payload,
    ))


@observe_outcome
def handle_refund(
    *,
    user_id: int,
    telegram_payment_charge_id: str,
    source: str,
    payload: dict,
    bot=None,
    entitlement_type: str = "",
    refund_reason: str = "",
    total_amount: int | None = None,
    currency: str = STARS_CURRENCY,
    invoice_payload: str = "",
    provider_payment_charge_id: str = "",
    initiated_by=None,
    update_id: int | None = None,
    alongside: Callable[[], object] | None = None,
) -> EventOutcome:
    """Record a refund and revoke the grant of that charge at once, once per charge id of `bot`
    (`bot`, `alongside`: as for a payment)."""
    bot = bot or bots.default()
    return _record_and_apply(alongside, StripeEvent(
        bot=bot,
        event_id=refund_event_id(telegram_payment_charge_id, namespace=bot.event_namespace),
        event_type=EVENT_REFUND,
        payment_method=PAYMENT_METHOD,
        customer_id=str(user_id),
        amount_cents=total_amount,
        currency=currency or STARS_CURRENCY,
        source=source,
        update_id=update_id,
        telegram_payment_charge_id=telegram_payment_charge_id,
        provider_payment_charge_id=provider_payment_charge_id or "",
        invoice_payload=invoice_payload or "",
        entitlement_type=entitlement_type or "",
        refund_reason=refund_reason or "",
        initiated_by=initiated_by,
        payload=payload,
    ))


@observe_outcome
def handle_subscription_update(
    *,
    update_id: int,
    user_id: int,
    invoice_payload: str,
    source: str,
    payload: dict,
    bot=None,
) -> EventOutcome:
    """Record a subscription's change Telegram reports (`canceled`, `active`, `failed`) and set its
    state, once per update (a subscription update has no charge: its update is its identity).

    `payload` is the whole Update: its `subscription.state` is read from it, here and in a replay,
    by the one reader (`subscriptions.telegram_state`). `bot`: as for a payment.
    """
    bot = bot or bots.default()
    outcome = _record_and_apply(None, StripeEvent(
        bot=bot,
        event_id=subscription_event_id(update_id, namespace=bot.event_namespace),
        event_type=EVENT_SUBSCRIPTION,
        payment_method=PAYMENT_METHOD,
        customer_id=str(user_id),
        source=source,
        update_id=update_id,
        invoice_payload=invoice_payload,
        payload=payload,
    ))
    if outcome.status == Outcome.PROCESSED:
        record_subscription_update(telegram_state(outcome.event), bot=bot)
    return outcome


@observe_outcome
def replay_event(*, event: StripeEvent) -> EventOutcome:
    """Run a stored event's effect again (failed, or stuck pending). A processed event is left alone.

    The same rules as a webhook's, under the same lock; the attempt and its error are recorded either way.
    """
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event.pk)
        # Processed, or a failed payment that ended (refunded, fulfilled by a grant, dismissed): left alone.
        if event.status == EventStatus.PROCESSED or has_ended(event):
            return EventOutcome(Outcome.DUPLICATE, event)
        lock_for_transaction(*event_locks(event))
        event.attempts += 1
        try:
            with transaction.atomic():
                applied = apply_event(event, recorded_events(event))
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:  # recorded on the row; the effect was rolled back with the savepoint
            event.status = EventStatus.FAILED
            event.error = describe(exc)
            event.save(update_fields=["status", "error", "attempts"])
            return EventOutcome(Outcome.FAILED, event)
        _mark_processed(event)
        event.save()
        outcome = EventOutcome(Outcome.PROCESSED, event, applied.product, granted=applied.grant is not None)
        _announce_outcome(outcome)  # a replay that completes an event is its recording, for receivers
        return outcome


@observe_outcome
def redelivered(event: StripeEvent) -> EventOutcome:
    """The answer to an identical redelivery of a processed `event` (counted like any duplicate)."""
    return EventOutcome(Outcome.DUPLICATE, event)


def charge_lock(telegram_payment_charge_id: str, *, namespace: str = "") -> str:
    """The lock that orders every event of one charge of one bot (its payment and its refund)."""
    return f"charge:{namespace}{telegram_payment_charge_id}"


def event_lock(event: StripeEvent) -> str:
    """The lock an event is applied under: its charge's, or (a subscription update) its subscription's."""
    namespace = namespace_of(event)
    if event.event_type == EVENT_SUBSCRIPTION:
        return f"subscription:{namespace}{event.customer_id}:{event.invoice_payload}"
    return charge_lock(event.telegram_payment_charge_id, namespace=namespace)


def event_locks(event: StripeEvent) -> tuple[str, ...]:
    """The locks an event is applied under, taken in one statement: `event_lock`, then for a payment
    or a refund the stack lock of its user in its bot's scope (`entitlements.services.stack_lock`),
    which its grant or revoke would otherwise take later on its own."""
    if event.event_type in (EVENT_PAYMENT, EVENT_REFUND):
        try:
            return event_lock(event), stack_lock(int(event.customer_id), bots.get(event.bot_id).entitlement_scope)
        except ValueError:  # not a user id: the payment fails before any grant (there is nothing to revoke)
            pass
    return (event_lock(event),)


def _record_and_apply(alongside: Callable[[], object] | None, new_event: StripeEvent) -> EventOutcome:
    outcome = _store_and_apply(alongside, new_event)
    _announce_outcome(outcome)  # payment_recorded / refund_recorded, once this commits
    return outcome


def _store_and_apply(alongside: Callable[[], object] | None, new_event: StripeEvent) -> EventOutcome:
    try:
        with transaction.atomic():
            lock_for_transaction(*event_locks(new_event))
            # Under the lock, so a copy racing this one finds it stored once it commits.
            recorded = recorded_events(new_event)
            if (existing := recorded.get(new_event.event_id)) is not None:
                return EventOutcome(Outcome.DUPLICATE, existing)
            new_event.attempts = 1
            applied = apply_event(new_event, recorded)
            _mark_processed(new_event)
            # The unique event id stays the guard: a failed row recorded meanwhile outside this lock
            # (a failure is recorded after its rollback) makes this insert a duplicate.
            new_event.save(force_insert=True)
            _record_event_user(new_event, alongside)
        return EventOutcome(Outcome.PROCESSED, new_event, applied.product, granted=applied.grant is not None)
    except IntegrityError:
        return _existing_duplicate(new_event.event_id)
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:
        logger.warning("event %s failed: %s", new_event.event_id, describe(exc))
        return _record_failure(new_event, exc, alongside)


def _record_failure(event: StripeEvent, exc: Exception, alongside: Callable[[], object] | None = None
                    ) -> EventOutcome:
    event.pk = None
    event.status = EventStatus.FAILED
    event.error = describe(exc)
    event.note = ""
    event.processed_at = None
    try:
        with transaction.atomic():
            event.save(force_insert=True)
            _record_event_user(event, alongside)  # rolled back with the effect: written again with the failed row
            if _to_refund_automatically(event, exc):
                AutoRefund.objects.create(payment=event, reason=event.error, buyer_reason=exc.buyer_reason)
    except IntegrityError:
        return _existing_duplicate(event.event_id)
    return EventOutcome(Outcome.FAILED, event)


def _record_event_user(event: StripeEvent, alongside: Callable[[], object] | None) -> None:
    """Every user with an event is a customer: the caller's own upsert of the sender (the Update route,
    with the name it carries), else one insert that leaves a known customer as it is."""
    if alongside is not None:
        alongside()
    else:
        note_event_user(event)


def _to_refund_automatically(event: StripeEvent, exc: Exception) -> bool:
    """The `AUTO_REFUND_UNFULFILLABLE` policy: a payment failed for a reason a replay cannot fix."""
    return (stars_settings.AUTO_REFUND_UNFULFILLABLE and event.event_type == EVENT_PAYMENT
            and isinstance(exc, PaymentRejected) and exc.unfulfillable)


def find_event(event_id: str) -> StripeEvent | None:
    """The stored event with `event_id`, or None (its payload, a JSON document, loads on access)."""
    return StripeEvent.objects.filter(event_id=event_id).defer("payload").first()


def _existing_duplicate(event_id: str) -> EventOutcome:
    """The stored event a unique violation said exists, as a duplicate."""
    existing = find_event(event_id)
    if existing is None:
        # Inside `except IntegrityError`: the violation was not on event_id, a real integrity
        # problem, re-raised. Otherwise the event was reported stored and is gone (pruned?).
        if sys.exc_info()[0] is not None:
            raise
        raise RuntimeError(f"{event_id} was reported stored but cannot be found")
    return EventOutcome(Outcome.DUPLICATE, existing)


def _mark_processed(event: StripeEvent) -> None:
    event.status = EventStatus.PROCESSED
    event.error = ""
    event.processed_at = timezone.now()


def _announce_outcome(outcome) -> None:
    """Send `payment_recorded` or `refund_recorded` for an event recorded (processed or failed) now."""
    event = outcome.event
    if outcome.status == Outcome.DUPLICATE or not (event.is_payment or event.is_refund):
        return
    send_on_commit(
        payment_recorded if event.is_payment else refund_recorded,
        sender=type(event),
        event=event,
        status=outcome.status.value,
        user_id=int(event.customer_id) if str(event.customer_id).isdigit() else None,
        entitlement_type=event.entitlement_type,
        amount=event.amount_cents,
        currency=event.currency,
        charge_id=event.telegram_payment_charge_id,
        source=event.source,
        bot=bots.get(event.bot_id),
    )
