"""Admin building blocks shared by the apps (neither app imports the other's admin)."""

import functools

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.utils import display_for_field
from django.db import models
from django.http import HttpResponseBadRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext

from telegram_payments.redaction import redact
from telegram_payments.registry import access

GREY = "#6e7781"


def reason_field(help_text: str) -> forms.CharField:
    """The required reason of a staff action's confirmation page (refund, revoke, grant, replay...)."""
    return forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), help_text=help_text)


def badge(kind: str, value: str, colour: str | None) -> str:
    """A coloured pill for a status or state: `<span class="<kind>-label <kind>-<value>">value</span>`."""
    return format_html(
        '<span class="{}-label {}-{}" style="background:{};color:#fff;padding:2px 8px;'
        'border-radius:10px;font-size:11px;font-weight:600;white-space:nowrap">{}</span>',
        kind, kind, value, colour or GREY, value,
    )


def unstorable_parameter(request) -> str | None:
    """The name of the first query or form parameter (name or value) holding a NUL character, else None.

    No database column takes NUL (PostgreSQL refuses it in any text), so such a search, filter or
    form would end in a 500 on PostgreSQL and behave differently on SQLite: it is refused first.
    """
    for parameters in (request.GET, request.POST):
        for name, values in parameters.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return name
    return None


def refuse_unstorable_input(view):
    """Wrap an admin view: a request with a NUL anywhere in its parameters gets a 400 naming the
    parameter (reason `nul_character`), and the view never runs, so nothing is read or changed."""

    @functools.wraps(view)
    def guarded(request, *args, **kwargs):
        name = unstorable_parameter(request)
        if name is not None:
            shown = redact(name.replace("\x00", "\\x00"))[:100]
            return HttpResponseBadRequest(
                f"nul_character: the parameter {shown!r} contains a NUL character (\\x00), which no search, "
                "filter or form takes. Nothing was read or changed.", content_type="text/plain; charset=utf-8")
        return view(request, *args, **kwargs)

    return guarded


def check_admin_input(site: admin.AdminSite) -> None:
    """Make every view `site` serves through `admin_view` (the index, each model's list, change,
    history and action pages, and the pages an admin adds in `get_urls`) refuse unstorable input.

    For a project that wants it on its whole admin (the example project does); the apps' own pages
    refuse it whatever the project does (`StarsAdminMixin`)."""
    wrap = site.admin_view

    def admin_view(view, cacheable=False):
        return wrap(refuse_unstorable_input(view), cacheable)

    site.admin_view = admin_view


# The support desk's page of one customer, named here so that every app links to it without importing
# the app that serves it (telegram_payments): per (bot, user), and a chooser of the user's bots.
CUSTOMER_PAGE = "admin:telegram_payments_customer"
CUSTOMER_BOT_PAGE = "admin:telegram_payments_customer_bot"


def customer_link(user_id, bot_id=None) -> str:
    """A user id as a link to its customer page with bot `bot_id` (without one: the chooser of the
    user's bots); plain text where there is no such page, or no id."""
    text = redact(str(user_id)) if user_id not in (None, "") else "—"
    if text.isdigit():
        try:
            url = (reverse(CUSTOMER_BOT_PAGE, args=[bot_id, int(text)]) if bot_id is not None
                   else reverse(CUSTOMER_PAGE, args=[int(text)]))
        except NoReverseMatch:
            return text
        return format_html('<a href="{}" class="customer-link">{}</a>', url, text)
    return text


def visible_bots(request) -> list:
    """The bots whose data the request's user may see (`registry.access.visible_bots`), read once per request."""
    if not hasattr(request, "_stars_visible_bots"):
        request._stars_visible_bots = access.visible_bots(getattr(request, "user", None))
    return request._stars_visible_bots


def visible_scopes(request) -> list[str]:
    """The entitlement scopes whose grants the request's user may see, read once per request."""
    if not hasattr(request, "_stars_visible_scopes"):
        request._stars_visible_scopes = access.scopes_of(visible_bots(request))
    return request._stars_visible_scopes


def sees_every_bot(request) -> bool:
    return access.sees_every_bot(getattr(request, "user", None))


class BotFilter(admin.SimpleListFilter):
    """The bot a list shows (`?bot=<slug>`), among the bots the staff member may see."""

    title = "bot"
    parameter_name = "bot"

    def __init__(self, request, params, model, model_admin):
        self.model_admin = model_admin
        self.visible = visible_bots(request)
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [(bot.slug, bot.name) for bot in self.visible]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        chosen = [bot for bot in self.visible if bot.slug == self.value()]
        return self.model_admin.rows_of_bots(queryset, chosen)


class BotScopedMixin:
    """The one place an admin keeps to the bots the staff member may see (`registry.access`).

    `bot_lookup` is the path from a row to its bot ("bot", "payment__bot"); an admin over grants or
    outbox messages, which know a bot only by its scope, sets `scope_lookup` ("scope") instead.
    `get_queryset` keeps the visible bots' rows only, so another bot's change, history and action pages
    answer 404 (every view that reads by pk goes through `self.get_queryset(request)`); every list has
    a `BotFilter` first (hidden when one bot is visible); a `bot` foreign key offers the visible bots only.
    """

    bot_lookup = "bot"
    scope_lookup = None

    def bots(self, request) -> list:
        return visible_bots(request)

    def rows_of_bots(self, queryset, bots):
        """`queryset`'s rows belonging to `bots`."""
        if self.scope_lookup:
            return queryset.filter(**{f"{self.scope_lookup}__in": access.scopes_of(bots)})
        return queryset.filter(**{f"{self.bot_lookup}__in": [bot.pk for bot in bots]})

    def visible_rows(self, request, queryset):
        """`queryset`'s rows the request's user may see (all of them for who sees every bot)."""
        if sees_every_bot(request):
            return queryset
        if self.scope_lookup:
            return queryset.filter(**{f"{self.scope_lookup}__in": visible_scopes(request)})
        return queryset.filter(**{f"{self.bot_lookup}__in": [bot.pk for bot in visible_bots(request)]})

    def get_queryset(self, request):
        return self.visible_rows(request, super().get_queryset(request))

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if len(visible_bots(request)) > 1:
            filters.insert(0, BotFilter)
        return filters

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "bot":
            from telegram_payments.models import Bot

            kwargs["queryset"] = Bot.objects.filter(pk__in=[bot.pk for bot in visible_bots(request)])
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdminMixin:
    """Rows written by services only: staff may look, never add, change or delete, superusers included.

    Mix into a ModelAdmin or an inline, before it: `class XAdmin(ReadOnlyAdminMixin, admin.ModelAdmin)`.
    """

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Fields that can hold text, and so a secret someone sent us.
TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


class RedactedValuesFilter(admin.AllValuesFieldListFilter):
    """Filter by a text field's values, leaving out any value that carries a secret (its link would show it)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lookup_choices = [value for value in self.lookup_choices if value is None or redact(value) == value]


class RedactedFieldsMixin:
    """Every text field a read-only admin shows (list columns, detail and read-only fields) goes through
    `redact()`: a bot token sent in any field of an update never reaches a page.

    Model field names in `list_display`, `list_display_links`, `fieldsets`/`fields` and `readonly_fields`
    are swapped for a callable of the same name that shows the field as Django would, redacted. Same
    labels, CSS classes, help texts and sort order. For read-only admins only: the field is no longer
    a form field. Display methods of the admin redact what they show themselves. A list filter on a
    text field without choices leaves out the values that carry a secret. The object's name (its str())
    is redacted where the admin shows it: page titles, breadcrumbs, row checkboxes, log entries.
    """

    def get_list_filter(self, request):
        return [self._redacted_filter(item) for item in super().get_list_filter(request)]

    def get_list_display(self, request):
        return self._redacted_names(super().get_list_display(request))

    def get_list_display_links(self, request, list_display):
        links = super().get_list_display_links(request, list_display)
        return self._redacted_names(links) if links else links

    def get_fieldsets(self, request, obj=None):
        return [(name, {**options, "fields": self._redacted_names(options["fields"])})
                for name, options in super().get_fieldsets(request, obj)]

    def get_fields(self, request, obj=None):
        return self._redacted_names(super().get_fields(request, obj))

    def get_readonly_fields(self, request, obj=None):
        return self._redacted_names(super().get_readonly_fields(request, obj))

    # The change and history pages name the object by its str(), in the title and breadcrumbs.
    object_history_template = "telegram_payments/admin/redacted_object_history.html"

    def render_change_form(self, request, context, *args, **kwargs):
        if context.get("subtitle"):
            context["subtitle"] = redact(str(context["subtitle"]))
        return super().render_change_form(request, context, *args, **kwargs)

    def action_checkbox(self, obj):
        # Django labels each row's checkbox with str(obj) (for screen readers).
        attrs = {"class": "action-select", "aria-label": format_html(
            gettext("Select this object for an action - {}"), redact(str(obj)))}
        return forms.CheckboxInput(attrs, lambda value: False).render(helpers.ACTION_CHECKBOX_NAME, str(obj.pk))

    def log_change(self, request, obj, message):
        # The admin's history and "Recent actions" show a log entry's object name and message.
        entry = super().log_change(request, obj, redact(message) if isinstance(message, str) else message)
        if entry is not None and redact(entry.object_repr) != entry.object_repr:
            entry.object_repr = redact(entry.object_repr)
            entry.save(update_fields=["object_repr"])
        return entry

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        context = getattr(response, "context_data", None)
        if context and context.get("title"):
            context["title"] = redact(str(context["title"]))
        return response

    def _redacted_filter(self, item):
        if isinstance(item, str) and "__" not in item:
            field = self.model._meta.get_field(item)
            if isinstance(field, TEXT_FIELDS) and not field.choices and not field.is_relation:
                return (item, RedactedValuesFilter)
        return item

    def _redacted_names(self, names):
        return [self._redacted(name) for name in names]

    def _redacted(self, name):
        if isinstance(name, (list, tuple)):  # a row of fields in a fieldset
            return type(name)(self._redacted(item) for item in name)
        if not isinstance(name, str):
            return name
        try:
            field = self.model._meta.get_field(name)
        except Exception:  # a method, a property, a lookup: not a model field
            return name
        if field.is_relation or not isinstance(field, TEXT_FIELDS):
            return name
        # One callable per field and admin: Django matches fields and read-only fields by identity.
        cache = self.__dict__.setdefault("_redacted_fields", {})
        if name not in cache:
            cache[name] = self._redacted_display(field)
        return cache[name]

    def _redacted_display(self, field):
        def show(obj):
            return display_for_field(redact(getattr(obj, field.attname)), field, self.get_empty_value_display())

        show.__name__ = field.name
        show.short_description = field.verbose_name
        show.admin_order_field = field.name
        return show


class StarsAdminMixin:
    """What every admin page of the apps shares, on the host's own admin site: a request with a NUL
    in any parameter is refused before the view runs (`refuse_unstorable_input`, on every URL the
    ModelAdmin serves, its own pages included), empty values read "—", and lists carry the support
    desk's search box in the header."""

    empty_value_display = "—"  # as money.thousands and amount_text write an empty value
    change_list_template = "telegram_payments/admin/change_list.html"

    def get_urls(self):
        patterns = super().get_urls()
        for pattern in patterns:
            pattern.callback = refuse_unstorable_input(pattern.callback)
        return patterns


class ReadOnlyAdmin(StarsAdminMixin, BotScopedMixin, ReadOnlyAdminMixin, RedactedFieldsMixin, admin.ModelAdmin):
    """An admin over rows written by services only: look, never add, change or delete; secrets redacted;
    the rows of the bots the staff member may see only (`BotScopedMixin`)."""

    # Its breadcrumbs name the object redacted too. An admin with its own change form extends this one
    # (admin/redacted_change_form.html).
    change_form_template = "telegram_payments/admin/redacted_change_form.html"
