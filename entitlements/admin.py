from django.contrib import admin, messages
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from .models import DeliveryAttempt, Entitlement, OutboxMessage, ServiceToken


@admin.register(Entitlement)
class EntitlementAdmin(admin.ModelAdmin):
    list_display = ["user_id", "entitlement_type", "starts_at", "expires_at", "revoked_at", "event_id"]
    list_filter = ["entitlement_type"]
    search_fields = ["=user_id", "event_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ["attempted_at", "delivered", "status_code", "error", "duration_ms"]
    readonly_fields = fields
    extra = 0
    ordering = ["attempted_at"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
class OutboxMessageAdmin(admin.ModelAdmin):
    """Grants and revokes sent to ENTITLEMENTS_SERVICE_URL, with every attempt. Read-only."""

    list_display = ["id", "user_id", "kind", "created_at", "delivered_at", "attempt_count", "next_attempt_at",
                    "last_error"]
    list_filter = [DeliveredFilter, "kind"]
    search_fields = ["=user_id", "=message_id"]
    fields = ["message_id", "user_id", "kind", "payload", "created_at", "delivered_at", "attempt_count",
              "next_attempt_at", "last_error"]
    readonly_fields = fields
    inlines = [DeliveryAttemptInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# API tokens of the services that read the entitlements API (rest_framework.authtoken). DRF's own
# admin lists every full key; ours shows a key once, when it is created, and only its start after.
admin.site.unregister(TokenProxy)


@admin.register(ServiceToken)
class ServiceTokenAdmin(TokenAdmin):
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
