"""The entitlements app's models in the support desk: browse grants, filter by state, revoke one with a
reason (recorded in the audit trail like every staff action); the outbox; the API's service tokens.
Dates are never edited.

They are registered here, not in `entitlements`, because every staff action is an audit event of
this app (`payments.manual`), and `entitlements` knows nothing of Telegram.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from rest_framework.authtoken.admin import TokenAdmin

from entitlements.models import DeliveryAttempt, Entitlement, OutboxMessage, ServiceToken
from telegram_payments.admin import formatting
from telegram_payments.admin.mixins import (
    ReadOnlyAdmin,
    ReadOnlyAdminMixin,
    StarsAdminMixin,
    badge,
    customer_link,
    reason_field,
)
from telegram_payments.models import Bot, Product
from telegram_payments.payments.manual import ManualActionRefused, revoke_manually
from telegram_payments.reads.selectors import subscription_of_grant
from telegram_payments.redaction import redact
from telegram_payments.registry import bots

# Revoking is the only change the admin makes to a grant, so it takes the model's change permission.
REVOKE_PERMISSION = "entitlements.change_entitlement"

STATE_COLOURS = {"active": "#1a7f37", "scheduled": "#0969da", "expired": "#6e7781", "revoked": "#cf222e"}


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "active"), ("scheduled", "scheduled"), ("expired", "expired"), ("revoked", "revoked")]

    def queryset(self, request, queryset):
        now = timezone.now()
        not_expired = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        if self.value() == "active":
            return queryset.active(now)
        if self.value() == "scheduled":
            return queryset.filter(not_expired, revoked_at__isnull=True, starts_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


class RevokeForm(forms.Form):
    reason = reason_field("Why this grant is taken back. Recorded on the grant and in the admin log.")


def bot_id_of_scope(scope: str) -> int | None:
    """The bot whose own scope this is (no query: the registry), None for a shared scope."""
    return next((bot.pk for bot in bots.all() if bot.entitlement_scope == scope), None)


def bot_of_grant(grant: Entitlement, visible: list[Bot]) -> Bot | None:
    """The bot, among `visible`, in whose name a grant is revoked: the bot whose scope it is, or for a
    shared scope a bot whose product of that type shares it. None: the default bot (`revoke_manually`)."""
    for bot in visible:
        if bot.entitlement_scope == grant.scope:
            return bot
    if grant.scope.startswith("shared:"):
        pks = [bot.pk for bot in visible]
        product = (Product.objects.filter(bot__in=pks, entitlement_type=grant.entitlement_type,
                                          shared_access=grant.scope.removeprefix("shared:"))
                   .order_by("bot_id").first())
        if product is not None:
            return next(bot for bot in visible if bot.pk == product.bot_id)
    return None


def payment_event_link(event_id: str):
    try:
        url = reverse("admin:telegram_payments_stripeevent_by_event_id", args=[event_id])
    except NoReverseMatch:
        return event_id
    return format_html('<a href="{}" class="payment-event-link">{}</a>', url, event_id)


@admin.register(Entitlement)
class EntitlementAdmin(ReadOnlyAdmin):
    scope_lookup = "scope"  # a grant knows its bot only by its scope (and a shared scope, several bots)
    list_display = ["user", "entitlement_type", "state_badge", "starts_at", "expires_at", "revoked_at",
                    "payment_event"]
    list_display_links = ["entitlement_type"]
    list_filter = ["entitlement_type", StateFilter]
    search_fields = ["=user_id", "=event_id"]
    search_help_text = "Exact user id or event id."
    ordering = ["-granted_at", "-pk"]
    fields = ["user", "entitlement_type", "state_badge", "granted_at", "starts_at", "expires_at", "revoked_at",
              "revoke_reason", "payment_event", "subscription"]
    readonly_fields = ["user", "state_badge", "payment_event", "subscription"]
    change_form_template = "admin/entitlements/entitlement/change_form.html"

    @admin.display(description="user id", ordering="user_id")
    def user(self, obj):
        return customer_link(obj.user_id, bot_id_of_scope(obj.scope))

    @admin.display(description="state")
    def state_badge(self, obj):
        return badge("state", obj.state, STATE_COLOURS.get(obj.state))

    @admin.display(description="payment event", ordering="event_id")
    def payment_event(self, obj):
        return payment_event_link(obj.event_id)

    @admin.display(description="subscription now")
    def subscription(self, obj):
        """The Star subscription the grant's payment belongs to, as it stands (— for other grants)."""
        return formatting.subscription_state(subscription_of_grant(obj))

    # Grants are written by services only: nobody adds, edits dates or deletes by hand.

    def get_urls(self):
        return [
            path("<int:object_id>/revoke/", self.admin_site.admin_view(self.revoke_view),
                 name="entitlements_entitlement_revoke"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        grant = self.get_object(request, object_id)
        if grant is not None and grant.revoked_at is None and request.user.has_perm(REVOKE_PERMISSION):
            extra_context["revoke_url"] = reverse("admin:entitlements_entitlement_revoke", args=[grant.pk])
        return super().change_view(request, object_id, form_url, extra_context)

    def revoke_view(self, request, object_id):
        """GET: a confirmation with a reason field. POST: revoke now (grants stacked behind move up)."""
        grant = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not (self.has_view_permission(request, grant) and request.user.has_perm(REVOKE_PERMISSION)):
            raise PermissionDenied
        change_url = reverse("admin:entitlements_entitlement_change", args=[grant.pk])
        if grant.revoked_at is not None:
            messages.warning(request, "This grant is already revoked.")
            return redirect(change_url)
        form = RevokeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                outcome = revoke_manually(user_id=grant.user_id, entitlement_type=grant.entitlement_type,
                                          reason=form.cleaned_data["reason"], operator=request.user,
                                          operator_name=request.user.get_username(), only=grant,
                                          bot=bot_of_grant(grant, self.bots(request)))
            except ManualActionRefused as exc:
                messages.warning(request, f"Not revoked: {exc}.")
                return redirect(change_url)
            self.log_change(request, grant, f"Revoked: {form.cleaned_data['reason']}")
            messages.success(request, redact(outcome.event.note))
            return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Revoke this entitlement?",
            "grant": grant,
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/entitlements/entitlement/revoke.html", context)


class DeliveryAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DeliveryAttempt
    fields = ["attempted_at", "delivered", "status_code", "error", "duration_ms"]
    readonly_fields = fields
    extra = 0
    ordering = ["attempted_at"]


class DeliveredFilter(admin.SimpleListFilter):
    title = "delivery"
    parameter_name = "delivered"

    def lookups(self, request, model_admin):
        return [("no", "waiting"), ("yes", "delivered")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(delivered_at__isnull=self.value() == "no")
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    """Grants and revokes sent to ENTITLEMENTS_SERVICE_URL, with every attempt. Read-only."""

    scope_lookup = "scope"

    list_display = ["id", "user", "kind", "created_at", "delivered_at", "attempt_count", "next_attempt_at",
                    "last_error"]
    list_filter = [DeliveredFilter, "kind"]
    search_fields = ["=user_id", "=message_id"]
    fields = ["message_id", "user", "kind", "payload", "created_at", "delivered_at", "attempt_count",
              "next_attempt_at", "last_error"]
    readonly_fields = fields
    inlines = [DeliveryAttemptInline]

    @admin.display(description="user id", ordering="user_id")
    def user(self, obj):
        return customer_link(obj.user_id, bot_id_of_scope(obj.scope))


# API tokens of the services that read the entitlements API (rest_framework.authtoken). DRF's own
# admin lists every full key; ours shows a key once, when it is created, and only its start after.
# (DRF's "Tokens" page is the host project's to keep or unregister: the example project unregisters it.)


@admin.register(ServiceToken)
class ServiceTokenAdmin(StarsAdminMixin, TokenAdmin):
    list_display = ("key_start", "user", "created")

    @admin.display(description="key")
    def key_start(self, obj):
        return f"{obj.key[:4]}…"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            self.message_user(
                request, f"API token for {obj.user}: {obj.key} (copy it now: it is not shown again).",
                level=messages.WARNING,
            )
