from django.contrib import admin

from .models import Entitlement


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
