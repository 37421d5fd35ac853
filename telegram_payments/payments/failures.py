"""How a failed payment ends, when it is not refunded: fulfilled by a staff grant, or dismissed with a
reason. The one place these rules live; the customer page's buttons, the audit trail's pages and
`manage.py grant_entitlement --fulfils` / `dismiss_failure` all call it.

A failed payment (Telegram took the Stars; we granted nothing) is *open* until it ends: refunded (its
refund is recorded), fulfilled (a staff grant linked to it) or dismissed (with who and why). Only open
ones count as failing (`selectors.failed_waiting`: the admin index, At a glance, /metrics), and only
open ones are replayed.
"""

from django.db import transaction

from entitlements.models import Entitlement
from telegram_payments.models import (
    EVENT_PAYMENT,
    EVENT_REFUND,
    EventStatus,
    FailureResolution,
    ResolutionKind,
    StripeEvent,
)
from telegram_payments.payments.events import refund_id_of


class ResolutionRefused(Exception):
    """The payment cannot be resolved as asked (not a failed payment, already ended, no reason)."""


def failure_state(event: StripeEvent, *, refunded: bool | None = None) -> str:
    """"open", "refunded", "fulfilled" or "dismissed" for a failed payment; "" for any other event.
    `refunded`: whether its charge's refund is recorded, if the caller knows (else one query)."""
    if not (event.event_type == EVENT_PAYMENT and event.status == EventStatus.FAILED):
        return ""
    resolution = resolution_of(event)
    if resolution is not None:
        return resolution.kind
    if refunded is None:
        refunded = StripeEvent.objects.filter(event_id=refund_id_of(event),
                                              event_type=EVENT_REFUND).exists()
    return "refunded" if refunded else "open"


def has_ended(event: StripeEvent) -> bool:
    """A failed payment that ended (refunded, fulfilled or dismissed): never replayed, by any route."""
    return failure_state(event) not in ("", "open")


def resolution_of(event: StripeEvent) -> FailureResolution | None:
    """The event's resolution, if it has one (cached on the event by `select_related("resolution")`)."""
    try:
        return event.resolution
    except FailureResolution.DoesNotExist:
        return None


def fulfilling_grant(payment: StripeEvent, *, locked: bool = False):
    """The entitlement (not revoked) of the staff grant that fulfilled this failed payment, or None: what
    a refund of the payment takes back (`rules.apply_refund`), as it would the payment's own grant
    (`locked`: read FOR UPDATE, as the refund reads a payment's own grant)."""
    grant_event_id = (FailureResolution.objects.filter(payment_id=payment.pk, kind=ResolutionKind.FULFILLED)
                      .values_list("grant_event__event_id", flat=True).first())
    if grant_event_id is None:
        return None
    grants = Entitlement.objects.select_for_update() if locked else Entitlement.objects
    return grants.filter(event_id=grant_event_id, revoked_at__isnull=True).first()


def resolution_problem(event: StripeEvent, *, refunded: bool | None = None) -> str | None:
    """Why `event` cannot be fulfilled or dismissed now, in words, or None: only an open failed payment can."""
    state = failure_state(event, refunded=refunded)
    if state == "":
        return "only a failed payment can be fulfilled or dismissed"
    if state != "open":
        return f"this payment has ended already ({state})"
    return None


def dismiss_failure(*, payment: StripeEvent, reason: str, operator=None) -> FailureResolution:
    """End an open failed payment without granting or refunding (e.g. settled outside the bot), with
    who and why. Raises ResolutionRefused when it is not open or no reason is given."""
    return _resolve(payment, ResolutionKind.DISMISSED, reason=reason, operator=operator)


def fulfil_failure(*, payment: StripeEvent, grant_event: StripeEvent, reason: str, operator=None) -> FailureResolution:
    """Link an open failed payment to the staff grant that delivered what it paid for (`manual.grant_manually`,
    inside its transaction). Raises ResolutionRefused when it is not open or not the grant's user's."""
    if payment.customer_id != grant_event.customer_id:
        raise ResolutionRefused(
            f"the payment is user {payment.customer_id}'s, the grant user {grant_event.customer_id}'s")
    return _resolve(payment, ResolutionKind.FULFILLED, reason=reason, operator=operator, grant_event=grant_event)


def _resolve(payment: StripeEvent, kind: str, *, reason: str, operator, grant_event=None) -> FailureResolution:
    reason = (reason or "").strip()
    if not reason:
        raise ResolutionRefused("a reason is required")
    with transaction.atomic():
        # Under the row's lock, so a replay or a second click cannot end it twice (one-to-one, too).
        locked = StripeEvent.objects.select_for_update().defer("payload").get(pk=payment.pk)
        if (problem := resolution_problem(locked)) is not None:
            raise ResolutionRefused(problem)
        return FailureResolution.objects.create(payment=locked, kind=kind, grant_event=grant_event, reason=reason,
                                                resolved_by=operator)
