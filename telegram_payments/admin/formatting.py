"""How the audit trail looks in the admin: amounts, status badges, who started an event, links between
a payment, its refund and its grant. Everything shown here is redacted where it may carry text we were sent.
"""

import json

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from entitlements.models import Entitlement
from telegram_payments.admin.mixins import badge
from telegram_payments.models import (
    EVENT_PAYMENT,
    EVENT_REFUND,
    EVENT_SUBSCRIPTION,
    AutoRefund,
    EventSource,
    EventStatus,
    ResolutionKind,
    StripeEvent,
    Subscription,
    SubscriptionState,
)
from telegram_payments.payments.events import payment_id_of, refund_id_of
from telegram_payments.payments.failures import resolution_of
from telegram_payments.payments.subscriptions import paid_until_text
from telegram_payments.reads.money import amount_text
from telegram_payments.redaction import redact

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


SHORT_ID_HEAD, SHORT_ID_TAIL = 8, 5
REASON_LENGTH = 90


def signed_amount(event: StripeEvent) -> str:
    """The event's amount, negative for a refund."""
    return format_html('<span class="amount{}">{}</span>', " amount-refund" if event.is_refund else "",
                       amount_text(event.amount_cents, event.currency, sign="minus" if event.is_refund else ""))


def when(value) -> str:
    """A datetime as every admin page shows it: `2026-11-30 14:05 UTC` (DATETIME_FORMAT, current time zone)."""
    if value is None:
        return "—"
    return date_format(timezone.localtime(value), "DATETIME_FORMAT")


def short_id(value: str) -> str:
    """A long id shortened to its head and tail, whole in its title, with a button copying it whole
    (telegram_payments/admin/events.js). Short ids are shown as they are."""
    value = redact(value or "")
    if not value:
        return "—"
    if len(value) <= SHORT_ID_HEAD + SHORT_ID_TAIL + 1:
        return format_html('<code class="event-id">{}</code>', value)
    return format_html(
        '<span class="short-id"><code class="event-id" title="{}">{}…{}</code>'
        '<button type="button" class="copy-id" data-copy="{}" title="Copy the whole id" '
        'aria-label="Copy the whole id">copy</button></span>',
        value, value[:SHORT_ID_HEAD], value[-SHORT_ID_TAIL:], value,
    )


def product_name(entitlement_type: str) -> str:
    """An entitlement type for a narrow column: it may wrap after each underscore."""
    value = redact(entitlement_type or "")
    if not value:
        return "—"
    parts = value.split("_")
    return format_html_join(format_html("_<wbr>"), "{}", ((part,) for part in parts))


def failure_reason(event: StripeEvent) -> str:
    """A failed event's error, shortened for a list (whole in its title); empty for other events."""
    if event.status != EventStatus.FAILED or not event.error:
        return ""
    error = redact(event.error)
    return format_html('<span class="failure-reason" title="{}">{}</span>', error,
                       Truncator(error).chars(REASON_LENGTH))


def status_with_refund(event: StripeEvent, *, refunded: bool) -> str:
    """The status badge, and how a payment ended since: a "refunded" badge when its refund is recorded,
    "fulfilled" or "dismissed" when staff ended its failure (`failures`)."""
    label = status_label(event.status)
    if refunded and event.is_payment:
        label = format_html("{} {}", label, badge("refund", "refunded", "#6639ba"))
    resolution = resolution_of(event)
    if resolution is not None:
        label = format_html("{} {}", label, badge("resolution", resolution.kind,
                                                  "#1a7f37" if resolution.kind == ResolutionKind.FULFILLED else None))
    return label


def resolution_text(resolution) -> str:
    """How staff ended a failed payment, in words: "fulfilled by a staff grant (manual:grant:...) by
    sam: goodwill" or "dismissed by sam: settled by hand"."""
    who = resolution.resolved_by.get_username() if resolution.resolved_by_id else "an operator"
    what = resolution.get_kind_display()
    if resolution.grant_event_id:
        what += f" ({redact(resolution.grant_event.event_id)})"
    return f"{what} by {redact(who)}, {when(resolution.resolved_at)}: {redact(resolution.reason)}"


def status_label(status) -> str:
    try:
        status = EventStatus(status)
    except ValueError:
        return str(status)
    return badge("status", status.label, STATUS_COLOURS[status])


def received(event: StripeEvent) -> str:
    return format_html('<span style="white-space:nowrap">{}</span>', when(event.received_at))


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
    grant = Entitlement.objects.filter(event_id=payment_id_of(event)).first()
    if grant is None:
        return "— (none granted)"
    how = "revoked by this refund" if event.is_refund else "granted by this payment"
    url = reverse("admin:entitlements_entitlement_change", args=[grant.pk])
    return format_html('<a href="{}" class="entitlement-link">{} for user {} ({}; now {})</a>',
                       url, redact(grant.entitlement_type), redact(grant.user_id), how, grant.state)


def related_event_link(event: StripeEvent) -> str:
    """A payment's refund, or a refund's payment."""
    if event.is_payment:
        other_id, label = refund_id_of(event), "refund"
    elif event.is_refund:
        other_id, label = payment_id_of(event), "payment"
    else:
        return "—"
    other = StripeEvent.objects.filter(event_id=other_id).only("pk", "event_id").first()
    if other is None:
        return f"— (no {label} recorded)"
    url = reverse("admin:telegram_payments_stripeevent_change", args=[other.pk])
    return format_html('<a href="{}" class="related-event-link">{}: {}</a>', url, label, redact(other.event_id))


def payment_link(refund: StripeEvent, payment_pk: int | None) -> str:
    """A link to the refund's payment (its pk annotated on the list), or a note if it was never seen."""
    if payment_pk is None:
        return format_html('<span class="no-payment" title="{}">— (payment never seen)</span>',
                           "No payment of this charge is recorded: the refund was recorded on its own.")
    url = reverse("admin:telegram_payments_stripeevent_change", args=[payment_pk])
    return format_html('<a href="{}" class="payment-link">payment</a>', url)


def auto_refund_state(event: StripeEvent) -> str:
    """Where the AUTO_REFUND_UNFULFILLABLE policy stands with this payment, if it queued it."""
    job = AutoRefund.objects.filter(payment_id=event.pk).first()
    if job is None:
        return "—"
    if job.done_at is not None:
        return f"{redact(job.outcome)} ({when(job.done_at)}, attempt {job.attempt_count})"
    if job.attempt_count == 0:
        return "Queued for the refund_unfulfillable worker."
    return (f"Attempt {job.attempt_count} failed: {redact(job.last_error)}; "
            f"next try {when(job.next_attempt_at)} (refund_unfulfillable).")


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
        when(subscription.updated_at),
        subscription.user_id, redact(subscription.invoice_payload),
    )


def _source_label(source: str) -> str:
    try:
        return EventSource(source).label
    except ValueError:
        return redact(source)
