from django.contrib import admin

from .models import Invoice, PreCheckoutAnswer, Product, StripeEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by services only: staff may look, never add, change or delete."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "event_type", "customer_id", "amount_cents", "currency", "status",
                    "telegram_payment_charge_id", "entitlement_type"]
    list_filter = ["status", "event_type", "source", "currency"]
    search_fields = ["customer_id", "event_id", "telegram_payment_charge_id", "invoice_payload"]
    date_hierarchy = "received_at"


@admin.register(Product)
class ProductAdmin(ReadOnlyAdmin):
    list_display = ["entitlement_type", "title", "price_stars", "duration_days", "is_subscription", "is_active"]


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["payload", "user_id", "product", "price_stars", "status", "created_at", "paid_at"]
    list_filter = ["status"]


@admin.register(PreCheckoutAnswer)
class PreCheckoutAnswerAdmin(ReadOnlyAdmin):
    list_display = ["answered_at", "user_id", "invoice_payload", "total_amount", "currency", "ok", "reason"]
    list_filter = ["ok", "reason"]
    search_fields = ["user_id", "query_id", "invoice_payload"]
    date_hierarchy = "answered_at"
