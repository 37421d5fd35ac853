"""Reads shared by commands and the admin: which events to replay, what a user holds and why."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from entitlements.models import Entitlement
from telegram_payments.models import (
    EVENT_PAYMENT,
    EVENT_REFUND,
    EVENT_SUBSCRIPTION,
    EventStatus,
    FailureResolution,
    Product,
    StripeEvent,
    Subscription,
)
from telegram_payments.payments.events import refund_id_of

# Short names accepted wherever an event type is asked for (`--type payment`).
EVENT_TYPE_ALIASES = {"payment": EVENT_PAYMENT, "refund": EVENT_REFUND, "subscription": EVENT_SUBSCRIPTION}
DEFAULT_STUCK_AFTER = timedelta(minutes=5)


def resolve_event_type(name: str) -> str:
    return EVENT_TYPE_ALIASES.get(name, name)


def events_to_replay(
    *,
    failed: bool = False,
    pending: bool = False,
    stuck_after: timedelta = DEFAULT_STUCK_AFTER,
    event_ids: list[str] | None = None,
    event_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    bots=None,
) -> QuerySet[StripeEvent]:
    """Events a replay should run, oldest first.

    `failed`, `pending` (older than `stuck_after`, so a webhook still in flight is left alone) and
    `event_ids` are alternatives (any of them selects); `event_type`, `since` and `until` narrow the
    result, and so does `bots` (None: every bot's events). With none of the three alternatives nothing is
    selected, never "everything".
    Processed events may be selected by id; `replay_event` leaves them alone.
    """
    now = now or timezone.now()
    which = Q(pk__in=[])
    if failed:  # a failed payment that ended (refunded, fulfilled, dismissed) is never replayed
        which |= Q(status=EventStatus.FAILED) & ~ended_failure()
    if pending:
        which |= Q(status=EventStatus.PENDING, received_at__lt=now - stuck_after)
    if event_ids:
        which |= Q(event_id__in=list(event_ids))
    events = StripeEvent.objects.filter(which)
    if bots is not None:
        events = events.filter(bot__in=list(bots))
    if event_type:
        events = events.filter(event_type=resolve_event_type(event_type))
    if since is not None:
        events = events.filter(received_at__gte=since)
    if until is not None:
        events = events.filter(received_at__lt=until)
    return events.order_by("received_at", "pk")


def waiting_events(*, stuck_after: timedelta = DEFAULT_STUCK_AFTER, now: datetime | None = None) -> QuerySet:
    """Failed events and events stuck in pending: what staff should look at. A failed payment that has
    ended (`ended_failure`) is not waiting."""
    return events_to_replay(failed=True, pending=True, stuck_after=stuck_after, now=now)


def failed_waiting() -> QuerySet[StripeEvent]:
    """The failing events: failed, and not ended (`ended_failure`). What the admin index, At a glance,
    the customer page and /metrics count."""
    return StripeEvent.objects.filter(status=EventStatus.FAILED).exclude(ended_failure())


def ended_failure() -> Q:
    """A failed payment that has ended: refunded (its refund recorded), or fulfilled by a staff grant
    or dismissed (`failures`)."""
    return refunded_failure() | resolved_failure()


def resolved_failure() -> Q:
    """A failed event staff fulfilled or dismissed (it has a FailureResolution)."""
    return Q(Exists(FailureResolution.objects.filter(payment=OuterRef("pk"))))


def refunded_failure() -> Q:
    """A failed payment whose charge's refund is recorded."""
    refund = StripeEvent.objects.filter(event_type=EVENT_REFUND, bot=OuterRef("bot"),
                                        telegram_payment_charge_id=OuterRef("telegram_payment_charge_id"))
    return Q(status=EventStatus.FAILED, event_type=EVENT_PAYMENT) & Q(Exists(refund))


@dataclass(frozen=True)
class EntitlementRecord:
    entitlement: Entitlement
    event: StripeEvent | None  # the event that granted it (a payment, or a manual grant)
    revoking_event: StripeEvent | None  # the refund of that payment, if one is recorded

    @property
    def state(self) -> str:
        return self.entitlement.state


def user_entitlements(user_id: int, *, scopes: list[str] | None = None) -> list[EntitlementRecord]:
    """Every grant `user_id` ever had (active, scheduled, expired, revoked) with the events behind it;
    `scopes`: only those (a bot's scope and the scopes it shares: `bot_scopes`)."""
    grants = Entitlement.objects.filter(user_id=user_id)
    if scopes is not None:
        grants = grants.filter(scope__in=scopes)
    grants = list(grants.order_by("entitlement_type", "starts_at", "pk"))
    events = StripeEvent.objects.in_bulk([g.event_id for g in grants], field_name="event_id")
    refund_ids = {
        g.event_id: refund_id_of(events[g.event_id])
        for g in grants
        if g.event_id in events and events[g.event_id].is_payment
    }
    refunds = StripeEvent.objects.in_bulk(list(refund_ids.values()), field_name="event_id")
    return [
        EntitlementRecord(g, events.get(g.event_id), refunds.get(refund_ids.get(g.event_id, "")))
        for g in grants
    ]


def subscription_of(event: StripeEvent) -> Subscription | None:
    """The subscription a subscription payment or update belongs to (its user and invoice), or None."""
    if not (event.invoice_payload and event.customer_id.isdigit()):
        return None
    return (Subscription.objects.select_related("product")
            .filter(bot_id=event.bot_id, user_id=int(event.customer_id), invoice_payload=event.invoice_payload)
            .first())


def subscription_of_grant(entitlement: Entitlement) -> Subscription | None:
    """The subscription whose payment made this grant, or None (not a subscription's, or no such payment)."""
    payment = StripeEvent.objects.filter(event_id=entitlement.event_id).only(
        "bot_id", "customer_id", "invoice_payload").first()
    return subscription_of(payment) if payment is not None else None


def shared_scopes(bot) -> list[str]:
    """The shared scopes `bot`'s products grant into (`Product.shared_access`), one query."""
    names = Product.objects.filter(bot=bot).exclude(shared_access="").values_list("shared_access", flat=True)
    return sorted({f"shared:{name}" for name in names})


def bot_scopes(bot) -> list[str]:
    """Every scope whose grants a customer of `bot` may hold: the bot's own, then those it shares."""
    return [bot.entitlement_scope, *shared_scopes(bot)]
