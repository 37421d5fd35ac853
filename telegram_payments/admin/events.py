"""The audit trail in the admin (read-only): list, search, detail, replay, CSV export, the refunds list.

Admin views and actions stay thin: they check the permission, make one service call and report.
Every field shown goes through `redact()` (`RedactedFieldsMixin`, the formatting helpers, the CSV).
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, Subquery
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from telegram_payments.admin import formatting, glance
from telegram_payments.admin.confirmations import ConfirmationPagesMixin
from telegram_payments.admin.export import csv_response
from telegram_payments.admin.mixins import ReadOnlyAdmin, customer_link
from telegram_payments.models import (
    EVENT_PAYMENT,
    EVENT_REFUND,
    REPLAYABLE_STATUSES,
    EventStatus,
    RefundEvent,
    StripeEvent,
)
from telegram_payments.payments.events import Outcome
from telegram_payments.payments.failures import failure_state, has_ended, resolution_of, resolution_problem
from telegram_payments.payments.notices import replay_and_thank
from telegram_payments.reads.selectors import ended_failure, subscription_of
from telegram_payments.redaction import redact

# Replaying changes an event's status, so it takes the model's change permission (the admin never
# lets anyone edit an event's fields, whatever their permissions).
REPLAY_PERMISSION = "telegram_payments.change_stripeevent"
NAMED_FAILURES = 10  # the replay action's message names this many events still failing, then counts the rest


def refund_of_charge():
    """`Exists` of a recorded refund of the outer row's charge to its bot (one subquery, on the charge
    id's index): two bots' charges may share an id."""
    return Exists(StripeEvent.objects.filter(event_type=EVENT_REFUND, bot=OuterRef("bot"),
                                             telegram_payment_charge_id=OuterRef("telegram_payment_charge_id")))


class RefundedFilter(admin.SimpleListFilter):
    """Payments whose refund is recorded, or not (the list's `is_refunded` annotation)."""

    title = "refunded"
    parameter_name = "refunded"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(event_type=EVENT_PAYMENT, is_refunded=self.value() == "yes")
        return queryset


class FailingFilter(admin.SimpleListFilter):
    """Failed events still failing (open: what the index and At a glance count), or ended since
    (refunded, fulfilled by a staff grant, dismissed: `selectors.ended_failure`)."""

    title = "failing"
    parameter_name = "failing"

    def lookups(self, request, model_admin):
        return [("yes", "Yes (open)"), ("ended", "No longer (refunded, fulfilled or dismissed)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status=EventStatus.FAILED).exclude(ended_failure())
        if self.value() == "ended":
            return queryset.filter(ended_failure())
        return queryset


@admin.register(StripeEvent)
class StripeEventAdmin(ConfirmationPagesMixin, ReadOnlyAdmin):
    """The audit trail. Superusers cannot edit it either: an audit trail is never edited by hand."""

    # Status, amount, product, user and date first: what support reads; long ids shortened last.
    list_display = ["status_column", "amount", "product", "user_id", "received", "kind", "failure_reason",
                    "charge_id"]
    list_display_links = ["received", "kind"]
    list_filter = ["status", FailingFilter, RefundedFilter, "event_type", "payment_method", "currency",
                   "entitlement_type", "source"]
    search_fields = ["=customer_id", "=event_id", "=telegram_payment_charge_id", "=provider_payment_charge_id",
                     "invoice_payload"]
    search_help_text = "Exact user id, event id or charge id; otherwise part of an invoice payload."
    date_hierarchy = "received_at"
    list_select_related = ["initiated_by", "resolution"]
    list_per_page = 100
    ordering = ["-received_at", "-pk"]
    actions = ["replay_failed", "export_csv"]
    change_list_template = "admin/telegram_payments/stripeevent/change_list.html"
    change_form_template = "admin/telegram_payments/stripeevent/change_form.html"
    readonly_fields = ["customer", "status_badge", "amount", "initiator_column", "error_text", "pretty_payload",
                       "entitlement_link", "related_event_link", "auto_refund_status",
                       "subscription_column", "resolution_column"]

    class Media:
        css = {"all": ["telegram_payments/admin/events.css"]}
        js = ["telegram_payments/admin/events.js"]  # the copy buttons of shortened ids (no inline script)

    fieldsets = [
        (None, {"fields": ["event_id", "event_type", "status_badge", "received_at", "processed_at", "attempts",
                           "note", "error_text"]}),
        ("Payment", {"fields": ["customer", "amount", "telegram_payment_charge_id",
                                "provider_payment_charge_id", "invoice_payload", "entitlement_type",
                                "subscription_expires_at", "payment_method"]}),
        ("Origin", {"fields": ["initiator_column", "update_id", "refund_reason"]}),
        ("Effect", {"fields": ["entitlement_link", "related_event_link", "auto_refund_status", "resolution_column"]}),
        ("Subscription", {"fields": ["subscription_column"]}),
        ("Payload as received", {"fields": ["pretty_payload"]}),
    ]

    def get_queryset(self, request):
        # Whether each row's charge has a recorded refund, in the list's one query (no query per row).
        return super().get_queryset(request).annotate(is_refunded=refund_of_charge())

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
        return customer_link(obj.customer_id, obj.bot_id)

    @admin.display(description="customer id")
    def customer(self, obj):
        return customer_link(obj.customer_id, obj.bot_id)

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, obj):
        return formatting.signed_amount(obj)

    @admin.display(description="product", ordering="entitlement_type")
    def product(self, obj):
        return formatting.product_name(obj.entitlement_type)

    @admin.display(description="charge id", ordering="telegram_payment_charge_id")
    def charge_id(self, obj):
        return formatting.short_id(obj.telegram_payment_charge_id)

    @admin.display(description="status", ordering="status")
    def status_column(self, obj):
        return formatting.status_with_refund(obj, refunded=getattr(obj, "is_refunded", False))

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return formatting.status_label(obj.status)

    @admin.display(description="failure reason")
    def failure_reason(self, obj):
        return formatting.failure_reason(obj)

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

    @admin.display(description="automatic refund")
    def auto_refund_status(self, obj):
        return formatting.auto_refund_state(obj)

    @admin.display(description="ended")
    def resolution_column(self, obj):
        resolution = resolution_of(obj)
        return formatting.resolution_text(resolution) if resolution is not None else "—"

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
            path("at-a-glance/figures.csv", wrap(self.glance_csv_view), name="telegram_payments_glance_csv"),
            path("at-a-glance/refresh-balance/", wrap(self.refresh_balance_view),
                 name="telegram_payments_refresh_balance"),
            path("export/", wrap(self.export_view), name="telegram_payments_stripeevent_export"),
            path("by-event-id/<path:event_id>/", wrap(self.by_event_id_view),
                 name="telegram_payments_stripeevent_by_event_id"),
            path("<int:object_id>/refund/", wrap(self.refund_view), name="telegram_payments_stripeevent_refund"),
            path("<int:object_id>/subscription/", wrap(self.subscription_view),
                 name="telegram_payments_stripeevent_subscription"),
            path("<int:object_id>/replay/", wrap(self.replay_view), name="telegram_payments_stripeevent_replay"),
        ] + super().get_urls()

    # The page titles say what the rows are (Django's would read "Select audit event to view").
    list_title = "Payments & refunds"

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": self.list_title, **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        event = self.get_object(request, object_id)
        if event is not None:
            extra_context.setdefault("title", formatting.kind(event).capitalize())
            extra_context.update(self.action_urls(request, event))
            if (event.status == EventStatus.FAILED and self.has_replay_permission(request)
                    and not has_ended(event)):
                extra_context["replay_url"] = reverse("admin:telegram_payments_stripeevent_replay", args=[event.pk])
            if (request.user.has_perm("telegram_payments.resolve_failure") and event.customer_id.isdigit()
                    and resolution_problem(event) is None):
                extra_context["dismiss_url"] = reverse("admin:telegram_payments_customer_dismiss",
                                                       args=[event.bot_id, int(event.customer_id), event.pk])
        return super().change_view(request, object_id, form_url, extra_context)

    def by_event_id_view(self, request, event_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        event = get_object_or_404(self.get_queryset(request), event_id=event_id)
        return redirect("admin:telegram_payments_stripeevent_change", event.pk)

    def glance_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return glance.glance(request, admin_context=self.admin_site.each_context(request), opts=self.opts,
                             bots=self.bots(request))

    def glance_csv_view(self, request):
        """The figures At a glance shows, for the same span, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return glance.glance_csv(request, bots=self.bots(request))

    @method_decorator(require_POST)
    def refresh_balance_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return glance.refresh_balance(request, bots=self.bots(request))

    def export_view(self, request):
        """The rows the change list shows with the same filters and search, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        return csv_response(changelist.get_queryset(request))

    def replay_view(self, request, object_id):
        """POST (CSRF-checked by the admin site): replay this failed event, thank the buyer if that granted
        what they paid for, and say what happened on its page."""
        return require_POST(self._replay_one)(request, object_id)

    def _replay_one(self, request, object_id):
        event = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not (self.has_view_permission(request, event) and self.has_replay_permission(request)):
            raise PermissionDenied
        if event.status != EventStatus.FAILED:
            messages.warning(request,
                             f"This event is {event.get_status_display()}: only a failed event is replayed here.")
        elif has_ended(event):
            messages.warning(request, f"This payment has ended ({failure_state(event)}): there is nothing to replay.")
        else:
            outcome = self._replay(request, event)
            if outcome.status == Outcome.FAILED:
                messages.warning(request, f"Still failing: {redact(outcome.event.error)}")
            else:
                messages.success(request, f"Replayed: {redact(outcome.event.note) or 'processed'}")
        return redirect("admin:telegram_payments_stripeevent_change", event.pk)

    def _replay(self, request, event):
        outcome = replay_and_thank(event=event)
        if outcome.status == Outcome.FAILED:
            self.log_change(request, event, f"Replayed: still failing ({redact(outcome.event.error)})")
        else:
            self.log_change(request, event, f"Replayed: {redact(outcome.event.note) or 'processed'}")
        return outcome

    # --- actions ---
    def has_replay_permission(self, request):
        return request.user.has_perm(REPLAY_PERMISSION)

    @admin.action(description="Replay selected failed events", permissions=["replay"])
    def replay_failed(self, request, queryset):
        replayed = 0
        failing = []
        skipped = queryset.exclude(status__in=REPLAYABLE_STATUSES).count()
        replayable = queryset.filter(status__in=REPLAYABLE_STATUSES)
        ended = replayable.filter(ended_failure()).count()  # refunded, fulfilled or dismissed: never replayed
        for event in replayable.exclude(ended_failure()).order_by("received_at"):
            outcome = self._replay(request, event)
            if outcome.status == Outcome.FAILED:
                failing.append(outcome.event)
            else:
                replayed += 1
        message = f"Replayed {replayed}, still failing {len(failing)}"
        if skipped:
            message += f" ({skipped} already processed, left alone)"
        if ended:
            message += f" ({ended} fulfilled or dismissed, left alone)"
        if failing:
            named = "; ".join(f"{redact(e.event_id)}: {redact(e.error)}" for e in failing[:NAMED_FAILURES])
            more = f"; and {len(failing) - NAMED_FAILURES} more" if len(failing) > NAMED_FAILURES else ""
            message += f". Still failing: {named}{more}."
        self.message_user(request, message, messages.WARNING if failing else messages.SUCCESS)

    @admin.action(description="Export selected rows as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        return csv_response(queryset)


@admin.register(RefundEvent)
class RefundEventAdmin(StripeEventAdmin):
    """Refunds only, with their reason and who initiated them. Same rows, same permissions."""

    list_display = ["status_badge", "amount", "product", "user_id", "received", "refund_reason", "initiator_column",
                    "charge_id", "payment_link"]
    list_display_links = ["received"]
    list_filter = ["source", "status", "entitlement_type"]
    list_title = "Refunds"
    actions = ["export_csv"]
    change_list_template = None

    def get_queryset(self, request):
        # Each refund's payment, if one was recorded, in the list's one query: its link goes straight there.
        payment = StripeEvent.objects.filter(event_type=EVENT_PAYMENT, bot=OuterRef("bot"),
                                             telegram_payment_charge_id=OuterRef("telegram_payment_charge_id"))
        return (super().get_queryset(request).filter(event_type=EVENT_REFUND)
                .annotate(payment_pk=Subquery(payment.values("pk")[:1])))

    def get_urls(self):  # the pages live on the audit trail's admin
        return admin.ModelAdmin.get_urls(self)

    @admin.display(description="payment")
    def payment_link(self, obj):
        return formatting.payment_link(obj, getattr(obj, "payment_pk", None))

    # One permission for the whole audit trail: who may view events may view refunds.
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("telegram_payments.view_stripeevent") or super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        return self.has_view_permission(request) or super().has_module_permission(request)

