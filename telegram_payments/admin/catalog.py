"""What is sold and what was offered: products (editable), invoices and pre-checkout answers (read-only)."""

from django import forms
from django.contrib import admin

from telegram_payments.admin.mixins import BotScopedMixin, ReadOnlyAdmin, StarsAdminMixin, customer_link, visible_bots
from telegram_payments.models import Invoice, PreCheckoutAnswer, Product
from telegram_payments.reads.money import amount_text


class ProductForm(forms.ModelForm):
    """A product of a bot the staff member sees; its shared access may not name a scope that a bot they
    cannot see uses (they would grant into, and read, that bot's customers' access)."""

    visible_bot_pks: frozenset = frozenset()
    only_bot_pk: int | None = None  # the one bot the staff member sees: a new product is its (no choice shown)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "bot" not in self.fields and self.instance.pk is None and self.only_bot_pk is not None:
            self.instance.bot_id = self.only_bot_pk

    def clean_entitlement_type(self):
        value = self.cleaned_data.get("entitlement_type")
        # With the bot not in the form, Django leaves the unique (bot, entitlement_type) to the database.
        if ("bot" not in self.fields and self.instance.pk is None and value
                and Product.objects.filter(bot_id=self.instance.bot_id, entitlement_type=value).exists()):
            raise forms.ValidationError("This bot already sells a product of this entitlement type.")
        return value

    def clean_shared_access(self):
        name = self.cleaned_data.get("shared_access", "")
        if name and Product.objects.filter(shared_access=name).exclude(bot__in=self.visible_bot_pks).exists():
            raise forms.ValidationError("This name is used by a bot you do not see: choose another.")
        return name


@admin.register(Product)
class ProductAdmin(StarsAdminMixin, BotScopedMixin, admin.ModelAdmin):
    """Editable with the usual add/change permissions. Past events and invoices keep the price they had:
    events store the amount paid and invoices the price at issue, never a reference to this row's price."""

    list_display = ["entitlement_type", "title", "price", "duration_days", "is_subscription", "is_active",
                    "updated_at"]
    list_filter = ["is_active", "is_subscription"]
    search_fields = ["entitlement_type", "title"]
    fields = ["bot", "entitlement_type", "title", "description", "price_stars", "duration_days", "is_subscription",
              "shared_access", "is_active", "created_at", "updated_at"]
    readonly_fields = ["created_at", "updated_at"]
    form = ProductForm

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is None and len(visible_bots(request)) == 1:
            fields.remove("bot")  # one bot: it is the new product's
        return fields

    def has_add_permission(self, request):
        return bool(visible_bots(request)) and super().has_add_permission(request)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        bots = visible_bots(request)
        if bots and "bot" not in initial:
            initial["bot"] = bots[0].pk
        return initial

    def get_form(self, request, obj=None, **kwargs):
        kwargs.setdefault("help_texts", {
            "price_stars": "In Stars (XTR). A new price applies to new invoices only: past payments keep what "
                           "was paid and open invoices keep the price they were issued with.",
            "is_active": "Untick to take it off sale (payments for it are then recorded as failed).",
        })
        form = super().get_form(request, obj, **kwargs)
        bots = visible_bots(request)
        form.visible_bot_pks = frozenset(bot.pk for bot in bots)
        form.only_bot_pk = bots[0].pk if len(bots) == 1 else None
        return form

    @admin.display(description="price", ordering="price_stars")
    def price(self, obj):
        return amount_text(obj.price_stars)

    def get_readonly_fields(self, request, obj=None):
        # The entitlement type names what past events granted, for its bot: fixed once the product exists.
        if obj is not None:
            return [*self.readonly_fields, "bot", "entitlement_type"]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # past events and invoices refer to it: take it off sale (is_active) instead


class UserLinkMixin:
    """A `user` column and field: the row's user id as a link to the customer page."""

    @admin.display(description="user id", ordering="user_id")
    def user(self, obj):
        return customer_link(obj.user_id, obj.bot_id)


@admin.register(Invoice)
class InvoiceAdmin(UserLinkMixin, ReadOnlyAdmin):
    list_display = ["payload", "user", "product", "price_stars", "status", "created_at", "paid_at"]
    list_filter = ["status"]
    list_select_related = ["product"]
    search_fields = ["=payload", "=user_id"]
    fields = ["payload", "user", "product", "price_stars", "subscription_period", "status", "created_at", "paid_at"]
    readonly_fields = ["user"]


@admin.register(PreCheckoutAnswer)
class PreCheckoutAnswerAdmin(UserLinkMixin, ReadOnlyAdmin):
    list_display = ["answered_at", "user", "invoice_payload", "total_amount", "currency", "ok", "reason"]
    list_filter = ["ok", "reason"]
    search_fields = ["user_id", "query_id", "invoice_payload"]
    date_hierarchy = "answered_at"
    fields = ["query_id", "update_id", "user", "invoice_payload", "invoice", "currency", "total_amount", "ok", "reason",
              "error_message", "payload", "answered_at"]
    readonly_fields = ["user"]
