"""The staff actions on one payment, each behind a confirmation page: refund it, stop or resume its
subscription's renewals. Each checks its permission, makes one service call and reports.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from entitlements.models import Entitlement
from telegram_payments.admin.formatting import subscription_state
from telegram_payments.admin.forms import RefundForm, SubscriptionRenewalsForm
from telegram_payments.admin.mixins import customer_link
from telegram_payments.models import Product, StripeEvent
from telegram_payments.payments.events import Outcome
from telegram_payments.payments.refunds import RefundNotAllowed, refund_payment, refund_problem
from telegram_payments.payments.renewals import UnknownSubscription, set_subscription_cancelled
from telegram_payments.reads.customer_history import REFUND_LOG_PREFIX
from telegram_payments.reads.money import amount_text
from telegram_payments.reads.selectors import subscription_of
from telegram_payments.redaction import redact
from telegram_payments.registry import bots
from telegram_payments.telegram_api.client import BotApiError

REFUND_PERMISSION = "telegram_payments.refund_payment"
SUBSCRIPTION_PERMISSION = "telegram_payments.manage_subscription"


def can_refund(user) -> bool:
    return user.has_perm(REFUND_PERMISSION)


def can_manage_subscription(user) -> bool:
    return user.has_perm(SUBSCRIPTION_PERMISSION)


def subscription_problem(event: StripeEvent) -> str | None:
    """Why this event's subscription renewals cannot be stopped or resumed here, or None if they can."""
    if not (event.is_payment and event.subscription_expires_at is not None):
        return "Only a subscription payment has renewals to stop or resume."
    if not event.customer_id.isdigit():
        return f"This payment's user id {redact(event.customer_id)!r} is not a Telegram user id."
    return None


class ConfirmationPagesMixin:
    """The refund and subscription pages of the audit trail's admin (a ModelAdmin of StripeEvent)."""

    def action_urls(self, request, event) -> dict:
        """The buttons the event's change page offers this user."""
        urls = {}
        if can_refund(request.user) and refund_problem(event) is None:
            urls["refund_url"] = reverse("admin:telegram_payments_stripeevent_refund", args=[event.pk])
        if can_manage_subscription(request.user) and subscription_problem(event) is None:
            urls["subscription_url"] = reverse("admin:telegram_payments_stripeevent_subscription", args=[event.pk])
        return urls

    def refund_view(self, request, object_id):
        """GET: a confirmation with a reason field. POST: refund through the Bot API, then record it."""
        event, change_url, back = self._event_to_act_on(request, object_id, can_refund, refund_problem)
        if back:
            return back
        # From the customer page: Cancel and a done refund lead back there.
        next_url = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
            next_url = ""
        form = RefundForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"]
            try:
                outcome = refund_payment(event=event, staff_user=request.user, reason=reason)
            except RefundNotAllowed as exc:
                messages.warning(request, str(exc))
                return redirect(change_url)
            except BotApiError as exc:
                if exc.transient:
                    messages.error(request, (
                        f"Telegram did not answer the refund ({redact(exc.description)}). Nothing was "
                        "recorded or revoked. Try again in a minute: if Telegram did refund it, it will "
                        "answer 'already refunded' and the refund is recorded then."
                    ))
                else:
                    messages.error(request, (
                        f"Telegram refused the refund: {redact(exc.description)}. Nothing was recorded "
                        "or revoked."
                    ))
            else:
                refund = outcome.event
                self.log_change(request, event, f"{REFUND_LOG_PREFIX} as {refund.event_id}: {reason}")
                if outcome.status == Outcome.DUPLICATE:
                    messages.info(request, f"This charge's refund was already recorded ({redact(refund.event_id)}).")
                else:
                    messages.success(request, (
                        f"Refunded {amount_text(event.amount_cents, event.currency)} to user "
                        f"{redact(event.customer_id)}. {redact(refund.note)}"
                    ))
                if next_url:
                    return redirect(next_url)
                return redirect("admin:telegram_payments_stripeevent_change", refund.pk)
        return self._confirmation_page(request, "refund.html", "Refund this payment?", event, form, change_url,
                                       cancel_url=next_url or change_url,
                                       grant=Entitlement.objects.filter(event_id=event.event_id).first())

    def subscription_view(self, request, object_id):
        """GET: a confirmation with the choice (stop or resume renewals) and a reason. POST: ask Telegram
        (`editUserStarSubscription`), then record it in this payment's history."""
        event, change_url, back = self._event_to_act_on(request, object_id, can_manage_subscription,
                                                         subscription_problem)
        if back:
            return back
        form = SubscriptionRenewalsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            stop = form.cleaned_data["renewals"] == SubscriptionRenewalsForm.STOP
            reason = form.cleaned_data["reason"]
            try:
                set_subscription_cancelled(bot=bots.get(event.bot_id), user_id=int(event.customer_id),
                                           charge_id=event.telegram_payment_charge_id,
                                           cancelled=stop)
            except UnknownSubscription as exc:  # (only if the row changed since the page was shown)
                messages.warning(request, str(exc))
            except BotApiError as exc:
                if exc.transient:
                    messages.error(request, (f"Telegram did not answer ({redact(exc.description)}). Nothing "
                                             "was recorded; try again in a minute."))
                else:
                    messages.error(request, f"Telegram refused: {redact(exc.description)}. Nothing was recorded.")
            else:
                done = "stopped" if stop else "resumed"
                self.log_change(request, event, f"Subscription renewals {done} through the Bot API: {reason}")
                messages.success(request, (
                    f"Renewals of user {event.customer_id}'s subscription are {done}. What is paid for runs to its "
                    "end either way."
                ))
                return redirect(change_url)
        return self._confirmation_page(request, "subscription.html", "Stop or resume this subscription's renewals?",
                                       event, form, change_url, state=subscription_state(subscription_of(event)))

    def _event_to_act_on(self, request, object_id, allowed, problem_of):
        """The event a confirmation page acts on, its change page's URL, and a redirect back there (with
        the reason) if `problem_of(event)` says it cannot be done, else None. 403 unless `allowed(user)`."""
        # Through the admin's queryset: another bot's payment answers 404.
        event = get_object_or_404(self.get_queryset(request).select_related("initiated_by"), pk=object_id)
        if not (self.has_view_permission(request, event) and allowed(request.user)):
            raise PermissionDenied
        change_url = reverse("admin:telegram_payments_stripeevent_change", args=[event.pk])
        problem = problem_of(event)
        if problem:
            messages.warning(request, problem)
            return event, change_url, redirect(change_url)
        return event, change_url, None

    def _confirmation_page(self, request, template, title, event, form, change_url, **extra):
        """A page showing the payment (user, amount, product) and `form`, to confirm an action on it."""
        return TemplateResponse(request, f"admin/telegram_payments/stripeevent/{template}", {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "event": event,
            "amount": amount_text(event.amount_cents, event.currency),
            "product": Product.objects.filter(bot_id=event.bot_id, entitlement_type=event.entitlement_type).first(),
            "form": form,
            "change_url": change_url,
            "customer_link": customer_link(event.customer_id, event.bot_id),
            **extra,
        })
