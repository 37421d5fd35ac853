"""The bots this deployment serves: add one from its @BotFather token, rename or deactivate it, choose
its staff, replace its token, rotate its webhook secret, register its webhook.

Every change of a token or secret goes through `registry.services` (the token is checked with `getMe`
first). No token or secret is ever shown: the token fields render empty, the sealed columns are in no
form, list or log entry, and a refusal names the problem, never the token. The webhook URL holds the
bot's unguessable path, so only staff who may change bots see it, on the change page. Bots are never
deleted (every row of their data points at them): deactivate one instead.

Who may do what: superusers, and staff with the change permission of bots and `view_all_bots`, add and
change bots. Others with the view permission see the bots they are members of (`BotMembership`).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_value
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from telegram_payments.admin.mixins import StarsAdminMixin, reason_field, refuse_unstorable_input
from telegram_payments.models import Bot
from telegram_payments.redaction import REDACTED, redact
from telegram_payments.registry import services
from telegram_payments.registry.access import VIEW_ALL_BOTS, sees_every_bot, visible_bots
from telegram_payments.registry.credentials import CredentialError
from telegram_payments.telegram_api.client import BotApiError

CHANGE_BOT = "telegram_payments.change_bot"
FROM_SETTINGS = "from TELEGRAM_BOT_TOKEN (the environment)"


def can_manage_bots(user) -> bool:
    """Whether `user` may add and change bots (their tokens, secrets, webhooks and staff)."""
    return user.is_active and (user.is_superuser or (user.has_perm(CHANGE_BOT) and user.has_perm(VIEW_ALL_BOTS)))


def without_token(message: str, token: str) -> str:
    """A refusal's text with the typed token (and its secret half) taken out, then redacted."""
    token = (token or "").strip()
    for part in (token, token.partition(":")[2]):
        if len(part) >= 8:
            message = message.replace(part, REDACTED)
    return redact(message)


def token_field(label: str, help_text: str, *, required: bool) -> forms.CharField:
    # render_value=False: a page shown again (a form error) never carries the token back; "new-password":
    # no browser fills in the staff member's own saved password.
    return forms.CharField(label=label, required=required, strip=True, max_length=200, help_text=help_text,
                           widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))


def staff_field() -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.none(), required=False, label="Staff",
        widget=FilteredSelectMultiple("staff", is_stacked=False),
        help_text="Staff who see this bot's data (superusers and holders of “Can see the data of every bot” "
                  "see every bot's).")


class BotFormMixin:
    """The staff choice (`BotMembership` rows): active staff users, and whoever is a member already."""

    def _set_staff_choices(self):
        if "staff_members" not in self.fields:
            return
        users = get_user_model().objects.filter(is_staff=True)
        if self.instance.pk:
            users = get_user_model().objects.filter(Q(is_staff=True) | Q(bot_memberships__bot=self.instance))
            self.fields["staff_members"].initial = list(
                self.instance.memberships.values_list("user_id", flat=True))
        self.fields["staff_members"].queryset = users.distinct().order_by(get_user_model().USERNAME_FIELD)


class BotAddForm(BotFormMixin, forms.ModelForm):
    """Name, slug, token and staff. Valid only once `registry.services.add_bot` has stored the bot
    (getMe answered for that token), so a refusal is an error on the token field and stores nothing."""

    token = token_field("Token", "The bot's token from @BotFather. Checked with Telegram (getMe), then stored "
                                 "sealed: it is never shown again.", required=True)
    staff_members = staff_field()

    class Meta:
        model = Bot
        fields = ["name", "slug"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_staff_choices()

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        token = self.cleaned_data["token"]
        try:
            self.instance = services.add_bot(name=self.cleaned_data["name"], slug=self.cleaned_data["slug"],
                                             token=token, staff=self.cleaned_data.get("staff_members") or ())
        except (services.BotRefused, CredentialError, BotApiError) as exc:
            self.add_error("token", without_token(str(exc), token))


class BotChangeForm(BotFormMixin, forms.ModelForm):
    """Name, active, staff, and a new token (optional; not for the default bot, whose token is the
    environment's). A new token must be the same bot's (`registry.services.replace_token`)."""

    replace_token = token_field(
        "Replace token", "Only after @BotFather's /revoke or /token: the new token of this same bot, checked "
                         "with Telegram (getMe). Leave empty to keep the current one.", required=False)
    staff_members = staff_field()

    class Meta:
        model = Bot
        fields = ["name", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.is_default:
            self.fields.pop("replace_token", None)
        self._set_staff_choices()

    def _post_clean(self):
        super()._post_clean()
        token = self.cleaned_data.get("replace_token") if not self.errors else None
        if not token:
            return
        try:
            services.replace_token(bot=self.instance, token=token)
        except (services.BotRefused, CredentialError, BotApiError) as exc:
            self.add_error("replace_token", without_token(str(exc), token))


class BotActionForm(forms.Form):
    reason = reason_field("Why (kept in this bot's history).")


@admin.register(Bot)
class BotAdmin(StarsAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "at_username", "telegram_id", "is_default", "is_active", "token_set"]
    list_display_links = ["name"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug", "username"]
    actions = None  # no delete, no export: the list offers nothing to select
    change_form_template = "admin/telegram_payments/bot/change_form.html"

    # --- who sees and changes which bots ---
    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if sees_every_bot(request.user):
            return queryset
        return queryset.filter(pk__in=[bot.pk for bot in visible_bots(request.user)])

    def has_add_permission(self, request):
        return can_manage_bots(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return can_manage_bots(request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # every row of a bot's data points at it: deactivate it instead

    # --- the forms ---
    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "slug", "token", "staff_members"]
        fields = ["name", "slug", "at_username", "telegram_id", "is_default", "is_active", "credentials"]
        if can_manage_bots(request.user):
            fields += ["webhook", "staff_members"]
            if not obj.is_default:
                fields.append("replace_token")
        else:
            fields.append("staff_list")
        return [*fields, "created_at", "token_set"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fixed = ["slug", "at_username", "telegram_id", "is_default", "credentials", "webhook", "staff_list",
                 "created_at", "token_set"]
        # The default bot is always served (the registry loads it whatever is_active says).
        return [*fixed, "is_active"] if obj.is_default else fixed

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = BotChangeForm if obj is not None else BotAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:  # an added bot was stored by add_bot when its form was validated
            obj.save()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change and "staff_members" in form.cleaned_data and "staff_members" in form.changed_data:
            form.instance.staff.set(form.cleaned_data["staff_members"])

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, format_html(
            "@{} answered getMe; its token and a new webhook secret are stored sealed. Next: “Register "
            "webhook” on its page, so that Telegram delivers its Updates here.", obj.username or obj.slug),
            messages.INFO)
        return super().response_add(request, obj, post_url_continue)

    # --- what the pages show ---
    @admin.display(description="username", ordering="username")
    def at_username(self, obj):
        return f"@{obj.username}" if obj.username else self.get_empty_value_display()

    @admin.display(description="token set at", ordering="token_set_at")
    def token_set(self, obj):
        if obj.is_default:
            return FROM_SETTINGS
        return display_for_value(obj.token_set_at, self.get_empty_value_display())

    @admin.display(description="token and webhook secret")
    def credentials(self, obj):
        if obj.is_default:
            return ("From the environment: TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET (change them there, "
                    "then run manage.py set_webhook).")
        return "Stored sealed (never shown). Replace the token below; rotate the secret with “Rotate webhook secret”."

    @admin.display(description="webhook URL")
    def webhook(self, obj):
        url = services.webhook_url(obj)
        if not url:
            return "— (set TELEGRAM_WEBHOOK_URL: this bot's URL is on its origin)"
        return format_html("<code>{}</code>", url)

    @admin.display(description="staff")
    def staff_list(self, obj):
        names = [user.get_username() for user in obj.staff.order_by(get_user_model().USERNAME_FIELD)]
        return ", ".join(names) or self.get_empty_value_display()

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and can_manage_bots(request.user) and self.get_queryset(request).filter(pk=obj.pk).exists():
            context["register_webhook_url"] = reverse("admin:telegram_payments_bot_register_webhook", args=[obj.pk])
            if not obj.is_default:
                context["rotate_secret_url"] = reverse("admin:telegram_payments_bot_rotate_secret", args=[obj.pk])
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    # --- the actions, each behind a confirmation page ---
    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(refuse_unstorable_input(view))

        return [
            path("<int:object_id>/rotate-secret/", wrap(self.rotate_secret_view),
                 name="telegram_payments_bot_rotate_secret"),
            path("<int:object_id>/register-webhook/", wrap(self.register_webhook_view),
                 name="telegram_payments_bot_register_webhook"),
        ] + super().get_urls()

    def rotate_secret_view(self, request, object_id):
        """GET: what rotating does, and a reason. POST: a new secret, registered with setWebhook first
        and stored only if Telegram took it."""
        bot = self._bot_to_act_on(request, object_id)
        change_url = reverse("admin:telegram_payments_bot_change", args=[bot.pk])
        if bot.is_default:
            messages.warning(request, "The default bot's secret is TELEGRAM_WEBHOOK_SECRET: change it in the "
                                      "environment, then run manage.py set_webhook.")
            return redirect(change_url)
        form = BotActionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            if self._call(request, bot, "rotating the webhook secret", lambda: services.rotate_secret(bot=bot)):
                self.log_change(request, bot, f"Webhook secret rotated (setWebhook took the new one): "
                                              f"{form.cleaned_data['reason']}")
                messages.success(request, f"A new webhook secret for @{bot.username} is registered with Telegram "
                                          "and stored sealed; Updates signed with the old one are refused from now on.")
            return redirect(change_url)
        return self._confirmation_page(request, bot, form, change_url, action="rotate", title="Rotate webhook secret?",
                                       crumb="Rotate webhook secret", button="Rotate webhook secret")

    def register_webhook_view(self, request, object_id):
        """GET: where the webhook will point, and a reason. POST: setWebhook with the bot's URL and secret."""
        bot = self._bot_to_act_on(request, object_id)
        change_url = reverse("admin:telegram_payments_bot_change", args=[bot.pk])
        form = BotActionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            registered = self._call(request, bot, "registering the webhook",
                                    lambda: services.register_webhook(bot=bot))
            if registered:
                self.log_change(request, bot, f"Webhook registered (setWebhook): {form.cleaned_data['reason']}")
                messages.success(request, f"Telegram now delivers @{bot.username or bot.slug}'s Updates to this "
                                          "deployment (setWebhook answered ok).")
            return redirect(change_url)
        return self._confirmation_page(request, bot, form, change_url, action="register", title="Register webhook?",
                                       crumb="Register webhook", button="Register webhook")

    def _bot_to_act_on(self, request, object_id) -> Bot:
        if not can_manage_bots(request.user):
            raise PermissionDenied
        return get_object_or_404(self.get_queryset(request), pk=object_id)

    def _call(self, request, bot, doing, call):
        """Run `call` (a service call); a refusal or failure becomes an error message, never a 500."""
        try:
            return call() or True
        except BotApiError as exc:
            if exc.transient:
                messages.error(request, f"Telegram did not answer ({redact(exc.description)}) while {doing}. "
                                        "Nothing changed; try again in a minute.")
            else:
                messages.error(request, f"Telegram refused: {redact(exc.description)}. Nothing changed.")
        except (services.BotRefused, CredentialError) as exc:
            messages.error(request, f"{redact(str(exc))} Nothing changed.")
        return None

    def _confirmation_page(self, request, bot, form, change_url, **extra):
        return TemplateResponse(request, "admin/telegram_payments/bot/confirm.html", {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "bot": bot,
            "form": form,
            "change_url": change_url,
            "webhook": self.webhook(bot),
            **extra,
        })

