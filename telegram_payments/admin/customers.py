"""The support desk: one page per customer (who, what they have now, a timeline of everything), the
search box in every admin page's header that leads there, and the staff actions on the customer,
each behind its permission and a confirmation page with a required reason.

Views stay thin: the page's reads are `customer_history`, the search is `customer_search`, and each
action is one service call (`grant_manually`, `revoke_manually`, `replay_and_thank`); refunds and
subscription renewals link to the audit trail's own confirmation pages.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode

from entitlements import wording
from entitlements.models import Entitlement
from telegram_payments.admin import formatting
from telegram_payments.admin.confirmations import can_manage_subscription, can_refund, subscription_problem
from telegram_payments.admin.events import REPLAY_PERMISSION
from telegram_payments.admin.forms import DismissForm, GrantForm, ReplayForm, RevokeTypeForm
from telegram_payments.admin.mixins import ReadOnlyAdmin, badge, customer_link
from telegram_payments.admin.timeline import Action, timeline
from telegram_payments.models import REPLAYABLE_STATUSES, Customer, Product, StripeEvent
from telegram_payments.payments.events import Outcome
from telegram_payments.payments.failures import ResolutionRefused, dismiss_failure, resolution_of, resolution_problem
from telegram_payments.payments.manual import ManualActionRefused, grant_manually, revocable_grants, revoke_manually
from telegram_payments.payments.notices import replay_and_thank
from telegram_payments.payments.refunds import refund_problem
from telegram_payments.reads.customer_history import customer_history
from telegram_payments.reads.customer_search import MAX_TERM, bots_knowing, find_customers
from telegram_payments.reads.selectors import bot_scopes
from telegram_payments.redaction import redact
from telegram_payments.telegram_api.limits import user_id_from

VIEW_PERMISSION = "telegram_payments.view_stripeevent"
GRANT_PERMISSION = "telegram_payments.grant_entitlement"
# Revoking is what the entitlements admin's Revoke needs too: the change permission on entitlements.
REVOKE_PERMISSION = "entitlements.change_entitlement"
# Ending a failed payment without a grant or a refund has a permission of its own.
RESOLVE_PERMISSION = "telegram_payments.resolve_failure"


def subscription_state_text(record) -> str:
    """Where a subscription stands, as a badge: its kept state, or for one paid before states were kept,
    what its latest payment says (paid or lapsed)."""
    if record.subscription is not None:
        return formatting.subscription_state(record.subscription)
    if record.refunded:
        return badge("subscription", "refunded", "#cf222e")
    paid = record.paid_until is not None and record.paid_until > timezone.now()
    return badge("subscription", "paid" if paid else "lapsed", "#1a7f37" if paid else None)


def offers_refund(event: StripeEvent, refunded_charges: set[str]) -> bool:
    """Whether the page offers a Refund button for `event`: the one refund rule, with the refunded
    charges the page read at once (the refund page checks again)."""
    already_refunded = event.telegram_payment_charge_id in refunded_charges
    return event.customer_id.isdigit() and refund_problem(event, already_refunded=already_refunded) is None


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    """Customers as last seen in their Updates; each row leads to the customer page."""

    list_display = ["customer_page", "first_name", "last_name", "at_username", "last_seen_at"]
    list_display_links = None
    search_fields = ["=user_id", "username", "first_name", "last_name"]
    search_help_text = "Exact user id, or part of a name or username."
    ordering = ["-last_seen_at", "-pk"]

    @admin.display(description="user id", ordering="user_id")
    def customer_page(self, obj):
        return customer_link(obj.user_id, obj.bot_id)

    @admin.display(description="username", ordering="username")
    def at_username(self, obj):
        return f"@{redact(obj.username)}" if obj.username else "—"

    # Who may look at the audit trail may look at its customers.
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(VIEW_PERMISSION) or super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        return self.has_view_permission(request) or super().has_module_permission(request)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("search/", wrap(self.search_view), name="telegram_payments_customer_search"),
            path("<int:user_id>/", wrap(self.chooser_view), name="telegram_payments_customer"),
            path("bot/<int:bot_id>/<int:user_id>/", wrap(self.customer_view), name="telegram_payments_customer_bot"),
            path("bot/<int:bot_id>/<int:user_id>/grant/", wrap(self.grant_view),
                 name="telegram_payments_customer_grant"),
            path("bot/<int:bot_id>/<int:user_id>/revoke/", wrap(self.revoke_view),
                 name="telegram_payments_customer_revoke"),
            path("bot/<int:bot_id>/<int:user_id>/replay/<int:event_pk>/", wrap(self.replay_view),
                 name="telegram_payments_customer_replay"),
            path("bot/<int:bot_id>/<int:user_id>/dismiss/<int:event_pk>/", wrap(self.dismiss_view),
                 name="telegram_payments_customer_dismiss"),
        ] + super().get_urls()

    # --- the pages ---
    def chooser_view(self, request, user_id):
        """The user's page without a bot: the visible bots that know them (or, if none does, every visible
        bot, to grant them something); one: its page; no visible bot: 404."""
        self._check(request, user_id=user_id)
        visible = self.bots(request)
        if not visible:
            raise Http404("You see no bot's customers.")
        known = bots_knowing(user_id, visible)
        choices = known or visible
        if len(choices) == 1:
            return redirect("admin:telegram_payments_customer_bot", choices[0].pk, user_id)
        return TemplateResponse(request, "admin/telegram_payments/customer/chooser.html", {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"User {user_id}: which bot?",
            "user_id": user_id,
            "known": bool(known),
            "choices": [{"bot": bot, "url": reverse("admin:telegram_payments_customer_bot", args=[bot.pk, user_id])}
                        for bot in choices],
        })

    def customer_view(self, request, bot_id, user_id):
        self._check(request, user_id=user_id)
        bot = self._bot(request, bot_id)
        history = customer_history(user_id, bot=bot)
        user = request.user
        page_url = reverse("admin:telegram_payments_customer_bot", args=[bot.pk, user_id])
        grant_url = reverse("admin:telegram_payments_customer_grant", args=[bot.pk, user_id])

        def actions_for(event: StripeEvent) -> list[Action]:
            actions = []
            refunded = event.telegram_payment_charge_id in history.refunded_charges
            resolved = resolution_of(event) is not None
            if (event.status in REPLAYABLE_STATUSES and not refunded and not resolved
                    and user.has_perm(REPLAY_PERMISSION)):
                actions.append(Action("Replay…", reverse("admin:telegram_payments_customer_replay",
                                                         args=[bot.pk, user_id, event.pk]), "replay-action"))
            if can_refund(user) and offers_refund(event, history.refunded_charges):
                url = reverse("admin:telegram_payments_stripeevent_refund", args=[event.pk])
                actions.append(Action("Refund…", f"{url}?{urlencode({'next': page_url})}", "refund-action"))
            if resolution_problem(event, refunded=refunded) is None:  # an open failed payment
                if user.has_perm(GRANT_PERMISSION):
                    query = urlencode({"fulfils": event.pk, "type": event.entitlement_type})
                    actions.append(Action("Fulfil by a grant…", f"{grant_url}?{query}", "fulfil-action"))
                if user.has_perm(RESOLVE_PERMISSION):
                    actions.append(Action("Dismiss…", reverse("admin:telegram_payments_customer_dismiss",
                                                              args=[bot.pk, user_id, event.pk]), "dismiss-action"))
            return actions

        subscriptions = [{
            "record": record,
            "state": subscription_state_text(record),
            "paid": wording.until(record.paid_until) if record.paid_until else "—",
            "url": (reverse("admin:telegram_payments_stripeevent_subscription", args=[record.payment.pk])
                    if record.payment is not None and can_manage_subscription(user)
                    and subscription_problem(record.payment) is None else ""),
        } for record in history.subscriptions]
        return TemplateResponse(request, "admin/telegram_payments/customer/page.html", {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Customer {user_id}" + (f" of {bot.name}" if len(self.bots(request)) > 1 else ""),
            "user_id": user_id,
            "bot": bot,
            "several_bots": len(self.bots(request)) > 1,
            # The user's pages with the other bots this staff member sees (none to look for with one bot).
            "other_bots": [{"bot": other, "url": reverse("admin:telegram_payments_customer_bot",
                                                         args=[other.pk, user_id])}
                           for other in bots_knowing(user_id, self.bots(request)) if other.pk != bot.pk]
            if len(self.bots(request)) > 1 else [],
            "history": history,
            "customer": history.customer,
            "access": [{"type": a.entitlement_type, "until": wording.until(a.expires_at)} for a in history.access],
            "subscriptions": subscriptions,
            "rows": timeline(history, actions_for=actions_for),
            "money": history.totals["money"],
            "can_grant": user.has_perm(GRANT_PERMISSION),
            "can_revoke": user.has_perm(REVOKE_PERMISSION),
            "grant_url": grant_url,
            "revoke_url": reverse("admin:telegram_payments_customer_revoke", args=[bot.pk, user_id]),
        })

    def search_view(self, request):
        """The header's search box: one match opens its customer page, several are listed."""
        self._check(request)
        term = request.GET.get("q", "").strip()
        if len(term) > MAX_TERM:
            return HttpResponseBadRequest(f"search term too long (at most {MAX_TERM} characters)",
                                          content_type="text/plain")
        visible = self.bots(request)
        matches = find_customers(term, bots=visible) if term else []
        digits = term if term.isdigit() and user_id_from(term) and visible else ""
        if len(matches) == 1:
            return redirect("admin:telegram_payments_customer_bot", matches[0].bot.pk, matches[0].user_id)
        return TemplateResponse(request, "admin/telegram_payments/customer/search.html", {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Find a customer",
            "customer_search_term": term,
            "term": term,
            "matches": matches,
            "several_bots": len(visible) > 1,
            "digits": digits,
            # One bot: its page of that user; several: the chooser (which bot's page to open).
            "open_anyway_url": "" if not digits else (
                reverse("admin:telegram_payments_customer_bot", args=[visible[0].pk, int(digits)]) if len(visible) == 1
                else reverse("admin:telegram_payments_customer", args=[int(digits)])),
        })

    # --- actions ---
    def grant_view(self, request, bot_id, user_id):
        """GET: a confirmation with the entitlement, days and a reason (`?fulfils=<pk>`: for that open
        failed payment, whose product is chosen). POST: grant (stacking after what the user has of that
        type), recorded as a manual audit event; the failed payment it fulfils ends, linked to it."""
        self._check(request, GRANT_PERMISSION, user_id=user_id)
        bot = self._bot(request, bot_id)
        products = list(Product.objects.filter(bot=bot).order_by("entitlement_type"))
        fulfils = self._fulfilled_payment(request, bot, user_id)
        initial_type = fulfils.entitlement_type if fulfils is not None else request.GET.get("type", "")
        form = GrantForm(request.POST or None, products=products,
                         initial={"entitlement_type": initial_type, "fulfils": fulfils.pk if fulfils else None})
        page_url = reverse("admin:telegram_payments_customer_bot", args=[bot.pk, user_id])
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                outcome = grant_manually(user_id=user_id, entitlement_type=data["entitlement_type"],
                                         days=data["days"], reason=data["reason"], operator=request.user,
                                         operator_name=request.user.get_username(), fulfils=fulfils, bot=bot)
            except ManualActionRefused as exc:
                messages.warning(request, f"Not granted: {exc}.")
            else:
                self.log_addition(request, outcome.event, f"Granted from the customer page: {data['reason']}")
                done = f" It fulfils {redact(fulfils.event_id)}." if fulfils is not None else ""
                messages.success(request, f"{wording.granted(outcome.entitlements[0])}.{done}")
                return redirect(page_url)
        return self._confirmation(request, "grant.html", "Grant or extend an entitlement?", bot, user_id, form,
                                  fulfils=fulfils)

    def dismiss_view(self, request, bot_id, user_id, event_pk):
        """GET: a confirmation showing the failed payment and a reason field. POST: end it as dismissed
        (no grant, no refund), with your name and reason; it no longer counts as failing."""
        self._check(request, RESOLVE_PERMISSION, user_id=user_id)
        bot = self._bot(request, bot_id)
        event = self._event(bot, user_id, event_pk)
        page_url = reverse("admin:telegram_payments_customer_bot", args=[bot.pk, user_id])
        if (problem := resolution_problem(event)) is not None:
            messages.warning(request, f"Not dismissed: {problem}.")
            return redirect(page_url)
        form = DismissForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"]
            try:
                dismiss_failure(payment=event, reason=reason, operator=request.user)
            except ResolutionRefused as exc:
                messages.warning(request, f"Not dismissed: {exc}.")
            else:
                self.log_change(request, event, f"Dismissed: {reason}")
                messages.success(request, f"Dismissed {redact(event.event_id)}: it no longer counts as failing.")
            return redirect(page_url)
        return self._confirmation(request, "dismiss.html", "Dismiss this failed payment?", bot, user_id, form,
                                  event=event)

    @classmethod
    def _fulfilled_payment(cls, request, bot, user_id: int) -> StripeEvent | None:
        """The failed payment a grant is to fulfil (`fulfils`, in the query or the form), if it is this
        user's with this bot; 404 for one that is not (an id guessed or from another page)."""
        raw = request.POST.get("fulfils") or request.GET.get("fulfils") or ""
        if not raw:
            return None
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            raise Http404("No such payment.")
        return cls._event(bot, user_id, int(raw))

    @staticmethod
    def _event(bot, user_id: int, event_pk: int) -> StripeEvent:
        """This user's event with this bot (a bot the staff member sees: `_bot`), else 404."""
        return get_object_or_404(StripeEvent.objects.defer("payload"), pk=event_pk, bot=bot, customer_id=str(user_id))

    def revoke_view(self, request, bot_id, user_id):
        """GET: a confirmation with the type and a reason. POST: revoke every running or waiting grant of
        that type, recorded as a manual audit event."""
        self._check(request, REVOKE_PERMISSION, user_id=user_id)
        bot = self._bot(request, bot_id)
        types = self._revocable_types(bot, user_id)
        page_url = reverse("admin:telegram_payments_customer_bot", args=[bot.pk, user_id])
        if not types:
            messages.warning(request, f"User {user_id} holds nothing to revoke.")
            return redirect(page_url)
        form = RevokeTypeForm(request.POST or None, entitlement_types=[(t, t) for t in types],
                              initial={"entitlement_type": request.GET.get("type", "")})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                outcome = revoke_manually(user_id=user_id, entitlement_type=data["entitlement_type"],
                                          reason=data["reason"], operator=request.user,
                                          operator_name=request.user.get_username(), bot=bot)
            except ManualActionRefused as exc:
                messages.warning(request, f"Not revoked: {exc}.")
            else:
                self.log_addition(request, outcome.event, f"Revoked from the customer page: {data['reason']}")
                messages.success(request, redact(outcome.event.note))
                return redirect(page_url)
        return self._confirmation(request, "revoke.html", "Revoke an entitlement?", bot, user_id, form)

    def replay_view(self, request, bot_id, user_id, event_pk):
        """GET: a confirmation showing the failure and a reason field. POST: run the event again."""
        self._check(request, REPLAY_PERMISSION, user_id=user_id)
        bot = self._bot(request, bot_id)
        event = self._event(bot, user_id, event_pk)
        page_url = reverse("admin:telegram_payments_customer_bot", args=[bot.pk, user_id])
        if event.status not in REPLAYABLE_STATUSES:
            messages.warning(request, "This event is already processed: there is nothing to replay.")
            return redirect(page_url)
        if (resolution := resolution_of(event)) is not None:
            messages.warning(request, f"This payment has ended ({resolution.kind}): there is nothing to replay.")
            return redirect(page_url)
        form = ReplayForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            outcome = replay_and_thank(event=event)  # a payment that now grants thanks the buyer, once
            reason = form.cleaned_data["reason"]
            if outcome.status == Outcome.FAILED:
                self.log_change(request, event, f"Replayed: still failing ({redact(outcome.event.error)}): {reason}")
                messages.warning(request, f"Still failing: {redact(outcome.event.error)}")
            else:
                self.log_change(request, event, f"Replayed: {redact(outcome.event.note) or 'processed'}: {reason}")
                messages.success(request, f"Replayed {redact(event.event_id)}: "
                                          f"{redact(outcome.event.note) or 'processed'}")
            return redirect(page_url)
        return self._confirmation(request, "replay.html", "Replay this event?", bot, user_id, form, event=event)

    # --- helpers ---
    def _check(self, request, permission: str | None = None, *, user_id: int = 1) -> None:
        if not self.has_view_permission(request) or not request.user.has_perm(VIEW_PERMISSION):
            raise PermissionDenied
        if permission and not request.user.has_perm(permission):
            raise PermissionDenied
        if user_id_from(user_id) is None:
            raise Http404("No Telegram user has this id.")

    def _bot(self, request, bot_id: int):
        """The bot of a customer page: one the staff member sees, else 404 (another bot's page, actions
        and events do not exist for them)."""
        for bot in self.bots(request):
            if bot.pk == bot_id:
                return bot
        raise Http404("No such bot.")

    @staticmethod
    def _revocable_types(bot, user_id: int) -> list[str]:
        """The types of which the user holds a running or waiting grant with `bot` (in a scope its products
        grant into, what `revoke_manually` takes)."""
        grants = (Entitlement.objects.not_revoked().filter(user_id=user_id, scope__in=bot_scopes(bot))
                  .exclude(expires_at__lte=timezone.now()))
        types = set(grants.values_list("entitlement_type", flat=True))
        return sorted(t for t in types if revocable_grants(user_id=user_id, entitlement_type=t, bot=bot).exists())

    def _confirmation(self, request, template, title, bot, user_id, form, **extra):
        return TemplateResponse(request, f"admin/telegram_payments/customer/{template}", {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "user_id": user_id,
            "bot": bot,
            "customer": Customer.objects.filter(bot=bot, user_id=user_id).first(),
            "form": form,
            "change_url": reverse("admin:telegram_payments_customer_bot", args=[bot.pk, user_id]),
            **extra,
        })
