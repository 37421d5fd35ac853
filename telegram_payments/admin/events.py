"""The audit trail in the admin (read-only): list, search, detail, replay, CSV export, the refunds list.

Admin views and actions stay thin: they check the permission, make one service call and report.
Every field shown goes through `redact()` (`RedactedFieldsMixin`, the formatting helpers, the CSV).
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from payments_project.admin_mixins import ReadOnlyAdmin
from payments_project.redaction import redact

from ..models import EVENT_REFUND, EventStatus, RefundEvent, StripeEvent
from ..payments.pipeline import replay_event
from ..selectors import subscription_of
from . import formatting, glance
from .confirmations import ConfirmationPagesMixin
from .export import csv_response

# Replaying changes an event's status, so it takes the model's change permission (the admin never
# lets anyone edit an event's fields, whatever their permissions).
REPLAY_PERMISSION = "telegram_payments.change_stripeevent"


@admin.register(StripeEvent)
class StripeEventAdmin(ConfirmationPagesMixin, ReadOnlyAdmin):
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
                       "entitlement_link", "related_event_link", "subscription_column"]
    fieldsets = [
        (None, {"fields": ["event_id", "event_type", "status_badge", "received_at", "processed_at", "attempts",
                           "note", "error_text"]}),
        ("Payment", {"fields": ["customer_id", "amount", "telegram_payment_charge_id",
                                "provider_payment_charge_id", "invoice_payload", "entitlement_type",
                                "subscription_expires_at", "payment_method"]}),
        ("Origin", {"fields": ["initiator_column", "update_id", "refund_reason"]}),
        ("Effect", {"fields": ["entitlement_link", "related_event_link"]}),
        ("Subscription", {"fields": ["subscription_column"]}),
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

    # --- columns and detail fields (model fields are redacted by ReadOnlyAdmin) ---
    @admin.display(description="received", ordering="received_at")
    def received(self, obj):
        return formatting.received(obj)

    @admin.display(description="event", ordering="event_type")
    def kind(self, obj):
        return formatting.kind(obj)

    @admin.display(description="user id", ordering="customer_id")
    def user_id(self, obj):
        return redact(obj.customer_id)

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, obj):
        return format_html('<span style="white-space:nowrap">{}</span>',
                           formatting.format_amount(obj.amount_cents, obj.currency))

    @admin.display(description="charge id", ordering="telegram_payment_charge_id")
    def charge_id(self, obj):
        return redact(obj.telegram_payment_charge_id)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return formatting.status_label(obj.status)

    @admin.display(description="initiated by", ordering="source")
    def initiator_column(self, obj):
        return formatting.initiator(obj)

    @admin.display(description="error")
    def error_text(self, obj):
        return formatting.error_block(obj)

    @admin.display(description="payload")
    def pretty_payload(self, obj):
        return formatting.payload_block(obj)

    @admin.display(description="entitlement")
    def entitlement_link(self, obj):
        return formatting.entitlement_link(obj)

    @admin.display(description="related event")
    def related_event_link(self, obj):
        return formatting.related_event_link(obj)

    @admin.display(description="subscription now")
    def subscription_column(self, obj):
        if not (obj.subscription_expires_at or obj.is_subscription_update):
            return "— (not a subscription)"
        return formatting.subscription_state(subscription_of(obj))

    # --- pages ---
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("at-a-glance/", wrap(self.glance_view), name="telegram_payments_glance"),
            path("at-a-glance/refresh-balance/", wrap(self.refresh_balance_view),
                 name="telegram_payments_refresh_balance"),
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
        if event is not None:
            extra_context.update(self.action_urls(request, event))
        return super().change_view(request, object_id, form_url, extra_context)

    def by_event_id_view(self, request, event_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        event = get_object_or_404(StripeEvent, event_id=event_id)
        return redirect("admin:telegram_payments_stripeevent_change", event.pk)

    def glance_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return glance.glance(request, admin_context=self.admin_site.each_context(request), opts=self.opts)

    @method_decorator(require_POST)
    def refresh_balance_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return glance.refresh_balance(request)

    def export_view(self, request):
        """The rows the change list shows with the same filters and search, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        return csv_response(changelist.get_queryset(request))

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
                self.log_change(request, event, f"Replayed: still failing ({redact(outcome.event.error)})")
            else:
                replayed += 1
                self.log_change(request, event, f"Replayed: {redact(outcome.event.note) or 'processed'}")
        message = f"Replayed {replayed}, still failing {still_failing}"
        if skipped:
            message += f" ({skipped} already processed, left alone)"
        self.message_user(request, message, messages.WARNING if still_failing else messages.SUCCESS)

    @admin.action(description="Export selected rows as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        return csv_response(queryset)


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
        return formatting.payment_link(obj)

    # One permission for the whole audit trail: who may view events may view refunds.
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("telegram_payments.view_stripeevent") or super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        return self.has_view_permission(request) or super().has_module_permission(request)


# The admin's index links to the "At a glance" page this admin serves.
admin.site.index_template = "admin/telegram_payments/index.html"
