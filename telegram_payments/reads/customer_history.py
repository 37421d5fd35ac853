"""Reads of one customer for the support desk: who they are, what they have now, and their history.

A fixed number of queries whatever the history's length: each list is one query for its newest rows
(at most `LIMIT`), and the counts are one aggregate.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.admin.models import ADDITION, LogEntry
from django.db.models import CharField, Count, Q
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from entitlements.models import Entitlement
from entitlements.selectors import ActiveEntitlement, current_access
from telegram_payments.models import (
    EVENT_PAYMENT,
    EVENT_REFUND,
    Bot,
    Customer,
    EventStatus,
    Invoice,
    PreCheckoutAnswer,
    StripeEvent,
    Subscription,
)
from telegram_payments.reads.revenue import money_totals
from telegram_payments.reads.selectors import bot_scopes, ended_failure
from telegram_payments.registry import bots

LIMIT = 200  # newest rows of each kind on the page; the lists in the admin hold the rest

# A staff refund is shown by its refund event (who, why); the admin log's line about it would repeat it.
REFUND_LOG_PREFIX = "Refunded through the Bot API"


@dataclass(frozen=True)
class SubscriptionRecord:
    """A Star subscription: where it stands (`subscription`, None for one paid before states were kept)
    and its latest payment (None if it is not in the newest `LIMIT`)."""

    subscription: Subscription | None
    payment: StripeEvent | None
    refunded: bool  # its latest payment was refunded

    @property
    def entitlement_type(self) -> str:
        if self.payment is not None:
            return self.payment.entitlement_type
        product = self.subscription.product if self.subscription else None
        return product.entitlement_type if product else ""

    @property
    def paid_until(self) -> datetime | None:
        if self.subscription is not None and self.subscription.paid_until:
            return self.subscription.paid_until
        return self.payment.subscription_expires_at if self.payment else None


@dataclass(frozen=True)
class CustomerHistory:
    user_id: int
    bot: Bot
    customer: Customer | None
    access: list[ActiveEntitlement]
    subscriptions: list[SubscriptionRecord]
    events: list[StripeEvent]
    refunded_charges: set[str]
    invoices: list[Invoice]
    answers: list[PreCheckoutAnswer]
    log_entries: list[LogEntry]
    totals: dict

    @property
    def is_known(self) -> bool:
        return bool(self.customer or self.events or self.invoices or self.answers or self.access)

    @property
    def truncated(self) -> bool:
        return any(len(rows) >= LIMIT for rows in (self.events, self.invoices, self.answers, self.log_entries))


def customer_history(user_id: int, *, bot: Bot | None = None, now: datetime | None = None) -> CustomerHistory:
    """Everything the customer page shows about `user_id` as a customer of `bot` (default: the default
    bot): that bot's rows, and the grants in its scopes (its own, and those its products share). About
    ten queries, whatever the history."""
    now = now or timezone.now()
    bot = bot or bots.default()
    scopes = bot_scopes(bot)
    events_of_user = StripeEvent.objects.filter(bot=bot, customer_id=str(user_id))
    events = list(
        events_of_user.select_related("initiated_by", "resolution", "resolution__grant_event",
                                      "resolution__resolved_by").defer("payload", "resolution__grant_event__payload")
        .annotate(payload_reason=KT("payload__reason"))
        .order_by("-received_at", "-pk")[:LIMIT]
    )
    refunded_charges = set(
        events_of_user.filter(event_type=EVENT_REFUND).values_list("telegram_payment_charge_id", flat=True)[:LIMIT * 5]
    )
    subscription_payments = list(
        events_of_user.filter(event_type=EVENT_PAYMENT, subscription_expires_at__isnull=False).defer("payload")
        .order_by("-subscription_expires_at", "-pk")[:LIMIT]
    )
    latest: dict[str, StripeEvent] = {}
    for payment in subscription_payments:  # newest period first: the first of each invoice is its latest
        latest.setdefault(payment.invoice_payload, payment)
    states = list(Subscription.objects.filter(bot=bot, user_id=user_id).select_related("product")
                  .order_by("-updated_at", "-pk")[:LIMIT])
    subscriptions = [_subscription(s, latest.pop(s.invoice_payload, None), refunded_charges) for s in states]
    subscriptions += [_subscription(None, p, refunded_charges) for p in latest.values()]
    access = [item for scope in scopes for item in current_access(user_id, scope=scope, at=now)]
    return CustomerHistory(
        user_id=user_id,
        bot=bot,
        customer=Customer.objects.filter(bot=bot, user_id=user_id).first(),
        access=sorted(access, key=lambda item: item.entitlement_type),
        subscriptions=subscriptions,
        events=events,
        refunded_charges=refunded_charges,
        invoices=list(Invoice.objects.filter(bot=bot, user_id=user_id).select_related("product")
                      .order_by("-created_at", "-pk")[:LIMIT]),
        answers=list(PreCheckoutAnswer.objects.filter(bot=bot, user_id=user_id).defer("payload")
                     .order_by("-answered_at", "-pk")[:LIMIT]),
        log_entries=staff_log(user_id, bot=bot, scopes=scopes),
        totals=totals(events_of_user),
    )


def _subscription(subscription, payment, refunded_charges) -> SubscriptionRecord:
    refunded = payment is not None and payment.telegram_payment_charge_id in refunded_charges
    return SubscriptionRecord(subscription, payment, refunded)


def totals(events) -> dict:
    """A customer's events counted (`events`, `failed`: failing ones) and their Stars (`money`, the
    `revenue.Totals` of the one rule At a glance adds up too), in two queries."""
    figures = events.aggregate(events=Count("pk"),
                               failed=Count("pk", filter=Q(status=EventStatus.FAILED) & ~ended_failure()))
    figures["money"] = money_totals(events)
    return figures


def staff_log(user_id: int, *, bot: Bot | None = None, scopes: list[str] | None = None) -> list[LogEntry]:
    """The admin log's entries about this customer's events with `bot` (default: the default bot) and
    their grants in `scopes` (default: the bot's: `bot_scopes`) (replays, renewals stopped or resumed,
    grants revoked in the entitlements admin), newest first. One query.

    Left out: additions (an audit event a staff action created is on the page itself) and the log line of
    a staff refund (its refund event says who and why)."""
    bot = bot or bots.default()
    scopes = bot_scopes(bot) if scopes is None else scopes
    event_pks = StripeEvent.objects.filter(bot=bot, customer_id=str(user_id)).annotate(
        pk_text=Cast("pk", CharField())).values("pk_text")
    grant_pks = Entitlement.objects.filter(user_id=user_id, scope__in=scopes).annotate(
        pk_text=Cast("pk", CharField())).values("pk_text")
    about_events = Q(content_type__app_label="telegram_payments",
                     content_type__model__in=["stripeevent", "refundevent"], object_id__in=event_pks)
    about_grants = Q(content_type__app_label="entitlements", content_type__model="entitlement",
                     object_id__in=grant_pks)
    return list(
        LogEntry.objects.filter(about_events | about_grants)
        .exclude(action_flag=ADDITION).exclude(change_message__startswith=REFUND_LOG_PREFIX)
        .select_related("user", "content_type").order_by("-action_time", "-pk")[:LIMIT]
    )
