"""The support staff's admin: the audit trail (read-only), refunds, replay, CSV export, the catalog.

Admin views and actions stay thin: they check the permission, make one service call
(`refund_payment`, `replay_event`, `set_subscription_cancelled`) and report. Pages never show the
bot token or webhook secret.
"""

import csv
import json
import re

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from entitlements.models import Entitlement
from payments_project.admin_mixins import ReadOnlyAdminMixin

from . import admin_views
from .bot.client import BotApiError
from .models import (
    EVENT_PAYMENT,
    EVENT_REFUND,
    STARS_CURRENCY,
    EventSource,
    EventStatus,
    Invoice,
    PreCheckoutAnswer,
    Product,
    RefundEvent,
    StripeEvent,
)
from .payments.events import payment_event_id, refund_event_id
from .payments.pipeline import replay_event
from .payments.refunds import RefundNotAllowed, refund_payment
from .subscriptions import UnknownSubscription, set_subscription_cancelled

REFUND_PERMISSION = "telegram_payments.refund_payment"
SUBSCRIPTION_PERMISSION = "telegram_payments.manage_subscription"
# Replaying changes an event's status, so it takes the model's change permission (the admin never
# lets anyone edit an event's fields, whatever their permissions).
REPLAY_PERMISSION = "telegram_payments.change_stripeevent"

STATUS_COLOURS = {
    EventStatus.PENDING: "#9a6700",
    EventStatus.PROCESSED: "#1a7f37",
    EventStatus.FAILED: "#cf222e",
}

EVENT_KINDS = {EVENT_PAYMENT: "payment", EVENT_REFUND: "refund"}

REDACTED = "[redacted]"
SECRET_KEY_WORDS = ("token", "secret", "password", "authorization", "api_key", "apikey")
BOT_TOKEN_SHAPE = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}\b")


# --- formatting helpers (no queries) ---------------------------------------------------------------
def format_amount(amount, currency) -> str:
    if amount is None:
        return "—"
    if currency == STARS_CURRENCY:
        return f"{amount} ⭐"
    return f"{amount} {currency}"


def status_label(status) -> str:
    try:
        status = EventStatus(status)
    except ValueError:
        return str(status)
    return format_html(
        '<span class="status-label status-{}" style="background:{};color:#fff;padding:2px 8px;'
        'border-radius:10px;font-size:11px;font-weight:600;white-space:nowrap">{}</span>',
        status.label, STATUS_COLOURS[status], status.label,
    )


def initiator(event: StripeEvent) -> str:
    """Who started this event: Telegram, the relay, ... and for staff actions, which staff user."""
    try:
        label = EventSource(event.source).label
    except ValueError:
        label = event.source
    if event.initiated_by_id:
        return f"{label}: {event.initiated_by.get_username()}"
    return label


def _known_secrets() -> list[str]:
    found = []
    token = settings.TELEGRAM_BOT_TOKEN or ""
    for value in (token, token.partition(":")[2], getattr(settings, "TELEGRAM_WEBHOOK_SECRET", "") or ""):
        if len(value) >= 8:
            found.append(value)
    return sorted(found, key=len, reverse=True)


def scrub_text(text: str) -> str:
    """Replace the bot token, the webhook secret and anything shaped like a bot token."""
    for secret in _known_secrets():
        text = text.replace(secret, REDACTED)
    return BOT_TOKEN_SHAPE.sub(REDACTED, text)


def scrub_secrets(value):
    """A copy of a JSON value with secrets removed: values of secret-looking keys, and known secrets."""
    if isinstance(value, dict):
        return {
            key: REDACTED if any(word in str(key).lower() for word in SECRET_KEY_WORDS) else scrub_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [scrub_secrets(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def event_url_by_id(event_id: str) -> str:
    return reverse("admin:telegram_payments_stripeevent_by_event_id", args=[event_id])


def can_refund(user) -> bool:
    return user.has_perm(REFUND_PERMISSION)


def refund_problem(event: StripeEvent) -> str | None:
    """Why this event cannot be refunded from the admin, or None if it can."""
    if not event.is_payment:
        return "Only payments can be refunded."
    if event.status != EventStatus.PROCESSED:
        return f"This payment is {event.get_status_display()}, not processed: there is nothing to refund."
    if StripeEvent.objects.filter(event_id=refund_event_id(event.telegram_payment_charge_id)).exists():
        return "This payment is already refunded."
    return None


def can_manage_subscription(user) -> bool:
    return user.has_perm(SUBSCRIPTION_PERMISSION)


def subscription_problem(event: StripeEvent) -> str | None:
    """Why this event's subscription renewals cannot be stopped or resumed here, or None if they can."""
    if not (event.is_payment and event.subscription_expires_at is not None):
        return "Only a subscription payment has renewals to stop or resume."
    if not event.customer_id.isdigit():
        return f"This payment's user id {event.customer_id!r} is not a Telegram user id."
    return None


CSV_COLUMNS = [
    "event_id", "received_at", "event_type", "status", "source", "initiated_by", "customer_id", "amount",
    "currency", "telegram_payment_charge_id", "provider_payment_charge_id", "invoice_payload",
    "entitlement_type", "refund_reason", "error", "note", "attempts", "processed_at",
]


class _Echo:
    def write(self, value):
        return value


def _csv_cell(value) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ is a formula to a spreadsheet: quote it so it stays text.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def csv_response(queryset, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(CSV_COLUMNS)
        for event in queryset.select_related("initiated_by").order_by("received_at", "pk").iterator(
            chunk_size=2000
        ):
            yield writer.writerow([_csv_cell(value) for value in (
                event.event_id, event.received_at.isoformat(), event.event_type, event.get_status_display(),
                event.source, event.initiated_by.get_username() if event.initiated_by_id else "",
                event.customer_id, event.amount_cents, event.currency, event.telegram_payment_charge_id,
                event.provider_payment_charge_id, event.invoice_payload, event.entitlement_type,
                event.refund_reason, scrub_text(event.error), event.note, event.attempts,
                event.processed_at.isoformat() if event.processed_at else "",
            )])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- forms ---------------------------------------------------------------------------------------
class SubscriptionRenewalsForm(forms.Form):
    STOP, RESUME = "stop", "resume"
    renewals = forms.ChoiceField(
        choices=[
            (STOP, "Stop renewals: the user keeps what is paid for until the period ends, then it lapses"),
            (RESUME, "Resume renewals (only a subscription this bot stopped can be resumed)"),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why. Recorded in this payment's history (admin log) with your name.",
    )


class RefundForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why this payment is refunded. Recorded on the refund and in the admin log.",
    )


# --- the audit trail -----------------------------------------------------------------------------
class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Rows written by services only: staff may look, never add, change or delete."""


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    """The audit trail. Superusers cannot edit it either: an audit trail is never edited by hand."""

    list_display = ["received", "kind", "user_id", "amount", "status_badge", "charge_id", "entitlement_type"]
    list_display_links = ["received", "kind"]
    list_filter = ["status", "event_type", "payment_method", "currency", "entitlement_type", "source"]
    search_fields = ["=customer_id", "=event_id", "=telegram_payment_charge_id", "=provider_payment_charge_id",
                     "invoice_payload"]
    search_help_text = "Exact user id, event id or charge id; otherwise part of an invoice payload."
    date_hierarchy = "received_at"
    list_select_related = ["initiated_by"]
    list_per_page = 100
    ordering = ["-received_at", "-pk"]
    actions = ["replay_failed", "export_csv"]
    change_list_template = "admin/telegram_payments/stripeevent/change_list.html"
    change_form_template = "admin/telegram_payments/stripeevent/change_form.html"
    readonly_fields = ["status_badge", "amount", "initiator_column", "error_text", "pretty_payload",
                       "entitlement_link", "related_event_link"]
    fieldsets = [
        (None, {"fields": ["event_id", "event_type", "status_badge", "received_at", "processed_at", "attempts",
                           "note", "error_text"]}),
        ("Payment", {"fields": ["customer_id", "amount", "telegram_payment_charge_id",
                                "provider_payment_charge_id", "invoice_payload", "entitlement_type",
                                "subscription_expires_at", "payment_method"]}),
        ("Origin", {"fields": ["initiator_column", "update_id", "refund_reason"]}),
        ("Effect", {"fields": ["entitlement_link", "related_event_link"]}),
        ("Payload as received", {"fields": ["pretty_payload"]}),
    ]

    def get_search_results(self, request, queryset, search_term):
        """An exact user, event or charge id, when one matches, is the answer, found through their
        indexes. Only a term that matches no id is searched across every search field, which scans
        the table (no index can find part of an invoice payload)."""
        term = search_term.strip()
        if term:
            by_id = queryset.filter(Q(customer_id=term) | Q(event_id=term) | Q(telegram_payment_charge_id=term))
            if by_id.exists():
                return by_id, False
        return super().get_search_results(request, queryset, search_term)

    # --- columns and detail fields ---
    @admin.display(description="received", ordering="received_at")
    def received(self, obj):
        return timezone.localtime(obj.received_at).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="event", ordering="event_type")
    def kind(self, obj):
        return EVENT_KINDS.get(obj.event_type, obj.event_type)

    @admin.display(description="user id", ordering="customer_id")
    def user_id(self, obj):
        return obj.customer_id

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, obj):
        return format_html('<span style="white-space:nowrap">{}</span>', format_amount(obj.amount_cents, obj.currency))

    @admin.display(description="charge id", ordering="telegram_payment_charge_id")
    def charge_id(self, obj):
        return obj.telegram_payment_charge_id

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return status_label(obj.status)

    @admin.display(description="initiated by", ordering="source")
    def initiator_column(self, obj):
        return initiator(obj)

    @admin.display(description="error")
    def error_text(self, obj):
        if not obj.error:
            return "—"
        return format_html('<pre class="event-error" style="white-space:pre-wrap;margin:0">{}</pre>',
                           scrub_text(obj.error))

    @admin.display(description="payload")
    def pretty_payload(self, obj):
        text = json.dumps(scrub_secrets(obj.payload), indent=2, sort_keys=True, ensure_ascii=False)
        return format_html('<pre class="event-payload" style="white-space:pre-wrap;margin:0">{}</pre>', text)

    @admin.display(description="entitlement")
    def entitlement_link(self, obj):
        grant = Entitlement.objects.filter(event_id=payment_event_id(obj.telegram_payment_charge_id)).first()
        if grant is None:
            return "— (none granted)"
        how = "revoked by this refund" if obj.is_refund else "granted by this payment"
        url = reverse("admin:entitlements_entitlement_change", args=[grant.pk])
        return format_html('<a href="{}" class="entitlement-link">{} for user {} ({}; now {})</a>',
                           url, grant.entitlement_type, grant.user_id, how, grant.state)

    @admin.display(description="related event")
    def related_event_link(self, obj):
        if obj.is_payment:
            other_id, label = refund_event_id(obj.telegram_payment_charge_id), "refund"
        elif obj.is_refund:
            other_id, label = payment_event_id(obj.telegram_payment_charge_id), "payment"
        else:
            return "—"
        other = StripeEvent.objects.filter(event_id=other_id).only("pk", "event_id").first()
        if other is None:
            return f"— (no {label} recorded)"
        url = reverse("admin:telegram_payments_stripeevent_change", args=[other.pk])
        return format_html('<a href="{}" class="related-event-link">{}: {}</a>', url, label, other.event_id)

    # --- pages ---
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("at-a-glance/", wrap(self.glance_view), name="telegram_payments_glance"),
            path("export/", wrap(self.export_view), name="telegram_payments_stripeevent_export"),
            path("by-event-id/<path:event_id>/", wrap(self.by_event_id_view),
                 name="telegram_payments_stripeevent_by_event_id"),
            path("<int:object_id>/refund/", wrap(self.refund_view), name="telegram_payments_stripeevent_refund"),
            path("<int:object_id>/subscription/", wrap(self.subscription_view),
                 name="telegram_payments_stripeevent_subscription"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        event = self.get_object(request, object_id)
        if event is not None and can_refund(request.user) and refund_problem(event) is None:
            extra_context["refund_url"] = reverse("admin:telegram_payments_stripeevent_refund", args=[event.pk])
        if event is not None and can_manage_subscription(request.user) and subscription_problem(event) is None:
            extra_context["subscription_url"] = reverse(
                "admin:telegram_payments_stripeevent_subscription", args=[event.pk])
        return super().change_view(request, object_id, form_url, extra_context)

    def by_event_id_view(self, request, event_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        event = get_object_or_404(StripeEvent, event_id=event_id)
        return redirect("admin:telegram_payments_stripeevent_change", event.pk)

    def glance_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return admin_views.glance(request, admin_context=self.admin_site.each_context(request), opts=self.opts)

    def export_view(self, request):
        """The rows the change list shows with the same filters and search, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        return csv_response(changelist.get_queryset(request), _csv_filename())

    def _event_to_act_on(self, request, object_id, allowed, problem_of):
        """The event a confirmation page acts on, its change page's URL, and a redirect back there (with
        the reason) if `problem_of(event)` says it cannot be done, else None. 403 unless `allowed(user)`."""
        event = get_object_or_404(StripeEvent.objects.select_related("initiated_by"), pk=object_id)
        if not (self.has_view_permission(request, event) and allowed(request.user)):
            raise PermissionDenied
        change_url = reverse("admin:telegram_payments_stripeevent_change", args=[event.pk])
        problem = problem_of(event)
        if problem:
            messages.warning(request, problem)
            return event, change_url, redirect(change_url)
        return event, change_url, None

    def _confirmation_page(self, request, template, title, event, form, change_url, **extra):
        """A page showing the payment (user, amount, product) and `form`, to confirm an action on it."""
        return TemplateResponse(request, f"admin/telegram_payments/stripeevent/{template}", {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "event": event,
            "amount": format_amount(event.amount_cents, event.currency),
            "product": Product.objects.filter(entitlement_type=event.entitlement_type).first(),
            "form": form,
            "change_url": change_url,
            **extra,
        })

    def refund_view(self, request, object_id):
        """GET: a confirmation with a reason field. POST: refund through the Bot API, then record it."""
        event, change_url, back = self._event_to_act_on(request, object_id, can_refund, refund_problem)
        if back:
            return back
        form = RefundForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"]
            try:
                outcome = refund_payment(event=event, staff_user=request.user, reason=reason)
            except RefundNotAllowed as exc:
                messages.warning(request, str(exc))
                return redirect(change_url)
            except BotApiError as exc:
                if exc.transient:
                    messages.error(request, (
                        f"Telegram did not answer the refund ({scrub_text(exc.description)}). Nothing was "
                        "recorded or revoked. Try again in a minute: if Telegram did refund it, it will "
                        "answer 'already refunded' and the refund is recorded then."
                    ))
                else:
                    messages.error(request, (
                        f"Telegram refused the refund: {scrub_text(exc.description)}. Nothing was recorded "
                        "or revoked."
                    ))
            else:
                refund = outcome.event
                self.log_change(request, event, f"Refunded through the Bot API as {refund.event_id}: {reason}")
                if outcome.status == "duplicate":
                    messages.info(request, f"This charge's refund was already recorded ({refund.event_id}).")
                else:
                    messages.success(request, (
                        f"Refunded {format_amount(event.amount_cents, event.currency)} to user "
                        f"{event.customer_id}. {refund.note}"
                    ))
                return redirect("admin:telegram_payments_stripeevent_change", refund.pk)
        return self._confirmation_page(request, "refund.html", "Refund this payment?", event, form, change_url,
                                       grant=Entitlement.objects.filter(event_id=event.event_id).first())

    def subscription_view(self, request, object_id):
        """GET: a confirmation with the choice (stop or resume renewals) and a reason. POST: ask Telegram
        (`editUserStarSubscription`), then record it in this payment's history."""
        event, change_url, back = self._event_to_act_on(request, object_id, can_manage_subscription,
                                                         subscription_problem)
        if back:
            return back
        form = SubscriptionRenewalsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            stop = form.cleaned_data["renewals"] == SubscriptionRenewalsForm.STOP
            reason = form.cleaned_data["reason"]
            try:
                set_subscription_cancelled(user_id=int(event.customer_id), charge_id=event.telegram_payment_charge_id,
                                           cancelled=stop)
            except UnknownSubscription as exc:  # (only if the row changed since the page was shown)
                messages.warning(request, str(exc))
            except BotApiError as exc:
                if exc.transient:
                    messages.error(request, (f"Telegram did not answer ({scrub_text(exc.description)}). Nothing "
                                             "was recorded; try again in a minute."))
                else:
                    messages.error(request, f"Telegram refused: {scrub_text(exc.description)}. Nothing was recorded.")
            else:
                done = "stopped" if stop else "resumed"
                self.log_change(request, event, f"Subscription renewals {done} through the Bot API: {reason}")
                messages.success(request, (
                    f"Renewals of user {event.customer_id}'s subscription are {done}. What is paid for runs to its "
                    "end either way."
                ))
                return redirect(change_url)
        return self._confirmation_page(request, "subscription.html", "Stop or resume this subscription's renewals?",
                                       event, form, change_url)

    # --- actions ---
    def has_replay_permission(self, request):
        return request.user.has_perm(REPLAY_PERMISSION)

    @admin.action(description="Replay selected failed events", permissions=["replay"])
    def replay_failed(self, request, queryset):
        replayed = still_failing = 0
        skipped = queryset.exclude(status__in=[EventStatus.FAILED, EventStatus.PENDING]).count()
        for event in queryset.filter(status__in=[EventStatus.FAILED, EventStatus.PENDING]).order_by("received_at"):
            outcome = replay_event(event=event)
            if outcome.status == "failed":
                still_failing += 1
                self.log_change(request, event, f"Replayed: still failing ({scrub_text(outcome.event.error)})")
            else:
                replayed += 1
                self.log_change(request, event, f"Replayed: {outcome.event.note or 'processed'}")
        message = f"Replayed {replayed}, still failing {still_failing}"
        if skipped:
            message += f" ({skipped} already processed, left alone)"
        self.message_user(request, message, messages.WARNING if still_failing else messages.SUCCESS)

    @admin.action(description="Export selected rows as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        return csv_response(queryset, _csv_filename())


def _csv_filename() -> str:
    return f"audit-events-{timezone.now():%Y%m%d-%H%M%S}.csv"


@admin.register(RefundEvent)
class RefundEventAdmin(StripeEventAdmin):
    """Refunds only, with their reason and who initiated them. Same rows, same permissions."""

    list_display = ["received", "user_id", "amount", "refund_reason", "initiator_column", "status_badge",
                    "charge_id", "payment_link"]
    list_display_links = ["received"]
    list_filter = ["source", "status", "entitlement_type"]
    actions = ["export_csv"]
    change_list_template = None

    def get_queryset(self, request):
        return super().get_queryset(request).filter(event_type=EVENT_REFUND)

    def get_urls(self):  # the pages live on the audit trail's admin
        return admin.ModelAdmin.get_urls(self)

    @admin.display(description="payment")
    def payment_link(self, obj):
        url = event_url_by_id(payment_event_id(obj.telegram_payment_charge_id))
        return format_html('<a href="{}">payment</a>', url)

    # One permission for the whole audit trail: who may view events may view refunds.
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("telegram_payments.view_stripeevent") or super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        return self.has_view_permission(request) or super().has_module_permission(request)


# --- the catalog ---------------------------------------------------------------------------------
@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    """Editable with the usual add/change permissions. Past events and invoices keep the price they had:
    events store the amount paid and invoices the price at issue, never a reference to this row's price."""

    list_display = ["entitlement_type", "title", "price", "duration_days", "is_subscription", "is_active",
                    "updated_at"]
    list_filter = ["is_active", "is_subscription"]
    search_fields = ["entitlement_type", "title"]
    fields = ["entitlement_type", "title", "description", "price_stars", "duration_days", "is_subscription",
              "is_active", "created_at", "updated_at"]
    readonly_fields = ["created_at", "updated_at"]

    def get_form(self, request, obj=None, **kwargs):
        kwargs.setdefault("help_texts", {
            "price_stars": "In Stars (XTR). A new price applies to new invoices only: past payments keep what "
                           "was paid and open invoices keep the price they were issued with.",
            "is_active": "Untick to take it off sale (payments for it are then recorded as failed).",
        })
        return super().get_form(request, obj, **kwargs)

    @admin.display(description="price", ordering="price_stars")
    def price(self, obj):
        return format_amount(obj.price_stars, STARS_CURRENCY)

    def get_readonly_fields(self, request, obj=None):
        # The entitlement type names what past events granted: fixed once the product exists.
        if obj is not None:
            return [*self.readonly_fields, "entitlement_type"]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # past events and invoices refer to it: take it off sale (is_active) instead


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["payload", "user_id", "product", "price_stars", "status", "created_at", "paid_at"]
    list_filter = ["status"]
    list_select_related = ["product"]
    search_fields = ["=payload", "=user_id"]


@admin.register(PreCheckoutAnswer)
class PreCheckoutAnswerAdmin(ReadOnlyAdmin):
    list_display = ["answered_at", "user_id", "invoice_payload", "total_amount", "currency", "ok", "reason"]
    list_filter = ["ok", "reason"]
    search_fields = ["user_id", "query_id", "invoice_payload"]
    date_hierarchy = "answered_at"


admin.site.index_template = "admin/telegram_payments/index.html"
