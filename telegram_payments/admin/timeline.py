"""The customer page's timeline: events, invoices, pre-checkout answers and staff actions as rows,
newest first, with signed amounts and the actions this staff user may take on each.

Everything shown is redacted where it may carry text we were sent. Stars are written "250 XTR" (a
plain text currency code, no emoji font needed); money going back to the user is negative (−250 XTR).
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.admin.models import LogEntry
from django.urls import reverse

from entitlements import wording
from telegram_payments.admin import formatting
from telegram_payments.admin.mixins import badge
from telegram_payments.models import EventStatus, Invoice, PreCheckoutAnswer, StripeEvent
from telegram_payments.payments.failures import resolution_of
from telegram_payments.payments.manual import EVENT_MANUAL_GRANT, EVENT_MANUAL_REVOKE
from telegram_payments.reads.customer_history import LIMIT, CustomerHistory
from telegram_payments.reads.money import amount_text
from telegram_payments.redaction import redact

ERROR_CHARS = 400


@dataclass
class Action:
    label: str
    url: str
    css: str  # the button's class, e.g. "refund-action"


@dataclass
class Row:
    at: datetime
    kind: str  # CSS class: payment, refund, failed, grant, revoke, invoice, precheckout, staff
    title: str
    amount: str = ""
    amount_sign: str = ""  # "plus", "minus" or "" (not money moved)
    status: str = ""  # a badge (HTML)
    detail: str = ""
    reason: str = ""  # a failure's error or a declined pre-checkout's reason
    who: str = ""
    why: str = ""
    url: str = ""
    actions: list[Action] = field(default_factory=list)


def timeline(history: CustomerHistory, *, actions_for) -> list[Row]:
    """The rows of `history`, newest first (at most `LIMIT`). `actions_for(event)` lists what the staff
    user may do to an event."""
    rows = [event_row(e, history.refunded_charges, actions_for(e)) for e in history.events]
    rows += [invoice_row(i) for i in history.invoices]
    rows += [answer_row(a) for a in history.answers]
    rows += [staff_row(entry) for entry in history.log_entries]
    rows.sort(key=lambda row: row.at, reverse=True)
    return rows[:LIMIT]


def event_row(event: StripeEvent, refunded_charges: set[str], actions: list[Action]) -> Row:
    status = formatting.status_with_refund(event, refunded=event.telegram_payment_charge_id in refunded_charges)
    url = reverse("admin:telegram_payments_stripeevent_change", args=[event.pk])
    who, why = formatting.initiator(event), redact(event.refund_reason or getattr(event, "payload_reason", "") or "")
    product = redact(event.entitlement_type) or "—"
    reason = ""
    if event.status == EventStatus.FAILED:
        reason = redact(event.error)[:ERROR_CHARS] or "failed (no error recorded)"
    if event.is_payment:
        counted = event.status == EventStatus.PROCESSED
        refunded = event.telegram_payment_charge_id in refunded_charges
        detail = f"charge {redact(event.telegram_payment_charge_id)}"
        if event.subscription_expires_at:
            detail += f" · subscription paid {wording.until(event.subscription_expires_at)}"
        if refunded:
            detail += " · refunded"
        if (resolution := resolution_of(event)) is not None:
            detail += f" · {formatting.resolution_text(resolution)}"
        title = f"Payment for {product}" if counted else f"Payment for {product} ({event.get_status_display()})"
        sign = "plus" if counted else ""
        return Row(event.received_at, "payment" if counted else "failed", title,
                   amount_text(event.amount_cents, event.currency, sign=sign), sign,
                   status, detail, reason, who, why, url, actions)
    if event.is_refund:
        return Row(event.received_at, "refund", f"Refund of {product}",
                   amount_text(event.amount_cents, event.currency, sign="minus"), "minus", status,
                   f"charge {redact(event.telegram_payment_charge_id)}", reason, who, why, url, actions)
    if event.event_type in (EVENT_MANUAL_GRANT, EVENT_MANUAL_REVOKE):
        verb = "Granted" if event.event_type == EVENT_MANUAL_GRANT else "Revoked"
        return Row(event.received_at, "grant" if verb == "Granted" else "revoke", f"{verb} {product} by hand", "",
                   "", status, redact(event.note), reason, who, why, url, actions)
    return Row(event.received_at, "failed" if reason else "event", formatting.kind(event).capitalize(),
               amount_text(event.amount_cents, event.currency) if event.amount_cents is not None else "", "", status,
               redact(event.note), reason, who, why, url, actions)


def invoice_row(invoice: Invoice) -> Row:
    return Row(
        invoice.created_at, "invoice", f"Invoice issued for {redact(invoice.product.title)}",
        amount_text(invoice.price_stars), "", badge("invoice", invoice.status, None),
        f"payload {redact(invoice.payload)}" + (" · subscription" if invoice.subscription_period else ""),
        url=reverse("admin:telegram_payments_invoice_change", args=[invoice.pk]),
    )


def answer_row(answer: PreCheckoutAnswer) -> Row:
    status = badge("precheckout", "accepted" if answer.ok else "declined", "#1a7f37" if answer.ok else "#cf222e")
    title = "Pre-checkout accepted" if answer.ok else "Pre-checkout declined"
    reason = "" if answer.ok else f"{redact(answer.reason)}: {redact(answer.error_message)}"
    return Row(
        answer.answered_at, "precheckout", title, amount_text(answer.total_amount, answer.currency), "", status,
        f"invoice {redact(answer.invoice_payload) or '—'}", reason,
        url=reverse("admin:telegram_payments_precheckoutanswer_change", args=[answer.pk]),
    )


def staff_row(entry: LogEntry) -> Row:
    model = entry.content_type.model if entry.content_type_id else ""
    if model in ("stripeevent", "refundevent"):
        url, about = reverse("admin:telegram_payments_stripeevent_change", args=[entry.object_id]), "event"
    else:
        url, about = reverse("admin:entitlements_entitlement_change", args=[entry.object_id]), "entitlement"
    name = entry.user.get_username() if entry.user_id else "?"
    return Row(
        entry.action_time, "staff", f"Staff action on an {about}",
        detail=f"{redact(entry.object_repr)}", why=redact(entry.get_change_message()),
        who=f"Staff (admin): {name}", url=url,
    )

