"""How the audit trail looks in the admin: amounts, status badges, who started an event, links between
a payment, its refund and its grant. Everything shown here is redacted where it may carry text we were sent.
"""

import json

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from entitlements.models import Entitlement
from payments_project.admin_mixins import badge
from payments_project.redaction import redact

from ..models import (
    EVENT_PAYMENT,
    EVENT_REFUND,
    EVENT_SUBSCRIPTION,
    STARS_CURRENCY,
    EventSource,
    EventStatus,
    StripeEvent,
    Subscription,
    SubscriptionState,
)
from ..payments.events import payment_event_id, refund_event_id
from ..payments.subscriptions import paid_until_text

STATUS_COLOURS = {
    EventStatus.PENDING: "#9a6700",
    EventStatus.PROCESSED: "#1a7f37",
    EventStatus.FAILED: "#cf222e",
}

EVENT_KINDS = {EVENT_PAYMENT: "payment", EVENT_REFUND: "refund", EVENT_SUBSCRIPTION: "subscription update"}

SUBSCRIPTION_COLOURS = {
    SubscriptionState.RENEWING: "#1a7f37",
    SubscriptionState.CANCELLED: "#9a6700",
    SubscriptionState.RENEWAL_FAILED: "#cf222e",
    SubscriptionState.STOPPED: "#6e7781",
}


def format_amount(amount, currency) -> str:
    if amount is None:
        return "—"
    if currency == STARS_CURRENCY:
        return f"{amount} ⭐"
    return f"{amount} {redact(currency)}"


def status_label(status) -> str:
    try:
        status = EventStatus(status)
    except ValueError:
        return str(status)
    return badge("status", status.label, STATUS_COLOURS[status])


def received(event: StripeEvent) -> str:
    return timezone.localtime(event.received_at).strftime("%Y-%m-%d %H:%M:%S")


def kind(event: StripeEvent) -> str:
    return EVENT_KINDS.get(event.event_type, redact(event.event_type))


def initiator(event: StripeEvent) -> str:
    """Who started this event: Telegram, the relay, ... and for staff actions, which staff user."""
    try:
        label = EventSource(event.source).label
    except ValueError:
        label = redact(event.source)
    if event.initiated_by_id:
        return f"{label}: {event.initiated_by.get_username()}"
    return label


def error_block(event: StripeEvent) -> str:
    if not event.error:
        return "—"
    return format_html('<pre class="event-error" style="white-space:pre-wrap;margin:0">{}</pre>', redact(event.error))


def payload_block(event: StripeEvent) -> str:
    text = json.dumps(redact(event.payload), indent=2, sort_keys=True, ensure_ascii=False)
    return format_html('<pre class="event-payload" style="white-space:pre-wrap;margin:0">{}</pre>', text)


# --- links (one query each) ------------------------------------------------------------------------
def event_url_by_id(event_id: str) -> str:
    return reverse("admin:telegram_payments_stripeevent_by_event_id", args=[event_id])


def entitlement_link(event: StripeEvent) -> str:
    """The grant this payment made (or this refund revoked), with its state now."""
    grant = Entitlement.objects.filter(event_id=payment_event_id(event.telegram_payment_charge_id)).first()
    if grant is None:
        return "— (none granted)"
    how = "revoked by this refund" if event.is_refund else "granted by this payment"
    url = reverse("admin:entitlements_entitlement_change", args=[grant.pk])
    return format_html('<a href="{}" class="entitlement-link">{} for user {} ({}; now {})</a>',
                       url, redact(grant.entitlement_type), redact(grant.user_id), how, grant.state)


def related_event_link(event: StripeEvent) -> str:
    """A payment's refund, or a refund's payment."""
    if event.is_payment:
        other_id, label = refund_event_id(event.telegram_payment_charge_id), "refund"
    elif event.is_refund:
        other_id, label = payment_event_id(event.telegram_payment_charge_id), "payment"
    else:
        return "—"
    other = StripeEvent.objects.filter(event_id=other_id).only("pk", "event_id").first()
    if other is None:
        return f"— (no {label} recorded)"
    url = reverse("admin:telegram_payments_stripeevent_change", args=[other.pk])
    return format_html('<a href="{}" class="related-event-link">{}: {}</a>', url, label, redact(other.event_id))


def payment_link(refund: StripeEvent) -> str:
    url = event_url_by_id(payment_event_id(refund.telegram_payment_charge_id))
    return format_html('<a href="{}">payment</a>', url)


def subscription_state(subscription: Subscription | None) -> str:
    """Where a subscription stands: its state, until when it is paid, and what set the state (and when)."""
    if subscription is None:
        return "—"
    try:
        state = SubscriptionState(subscription.state)
    except ValueError:
        return redact(subscription.state)
    if subscription.last_event_id:
        set_by = format_html('<a href="{}">{}</a>', event_url_by_id(subscription.last_event_id),
                             redact(subscription.last_event_id))
    else:
        set_by = _source_label(subscription.source)
    return format_html(
        '<div class="subscription-state subscription-{}">{} paid until {}; set by {} at {} '
        '(user {}, invoice {})</div>',
        state.value, badge("subscription", state.label, SUBSCRIPTION_COLOURS[state]),
        paid_until_text(subscription.paid_until) if subscription.paid_until else "(not known)", set_by,
        timezone.localtime(subscription.updated_at).strftime("%Y-%m-%d %H:%M:%S"),
        subscription.user_id, redact(subscription.invoice_payload),
    )


def _source_label(source: str) -> str:
    try:
        return EventSource(source).label
    except ValueError:
        return redact(source)
