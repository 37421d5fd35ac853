"""The entitlements app's page of a grant, with the Star subscription its payment belongs to.

The entitlements app knows nothing of Telegram, so the subscription is added from this side: its
admin is registered again as a subclass showing one more read-only field.
"""

from django.contrib import admin

from entitlements.models import Entitlement
from telegram_payments.admin import formatting
from telegram_payments.admin.entitlements import EntitlementAdmin
from telegram_payments.reads.selectors import subscription_of_grant


class EntitlementWithSubscriptionAdmin(EntitlementAdmin):
    fields = [*EntitlementAdmin.fields, "subscription"]
    readonly_fields = [*EntitlementAdmin.readonly_fields, "subscription"]

    @admin.display(description="subscription now")
    def subscription(self, obj):
        return formatting.subscription_state(subscription_of_grant(obj))


if admin.site.is_registered(Entitlement):
    admin.site.unregister(Entitlement)
admin.site.register(Entitlement, EntitlementWithSubscriptionAdmin)
