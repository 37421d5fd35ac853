"""Revenue as the audit trail records it, for the "At a glance" page: Stars in, refunded and net, per
day, per product and for a period beside the one before it, and what is still in Telegram's hold.

What counts (`money_events`, the one rule: At a glance and the customer page both add it up):
* gross (received): every payment in Stars (`XTR`) recorded here, on the day it was received,
  whatever its status: Telegram took the Stars of a failed payment too, and they are shown as
  "of which in failed payments" (`failed_gross`), however the failure ended (its refund, if any, is
  counted under refunded);
* refunded: processed refunds of a payment recorded here, on the day of the refund (a refund without
  an amount: its payment's);
* refunded, payment never seen (`unseen_refunded`): processed refunds of a charge with no payment
  recorded here, counted apart (not in the refund rate), and taken off net: the balance lost them;
* net = gross - refunded - unseen_refunded: what the bot's Star balance gained.

The database does the adding up: a fixed number of queries whatever the number of events.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import BooleanField, Case, Count, Exists, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from entitlements.models import Entitlement
from telegram_payments.models import (
    EVENT_PAYMENT,
    EVENT_REFUND,
    REPLAYABLE_STATUSES,
    STARS_CURRENCY,
    EventStatus,
    Product,
    StripeEvent,
)
from telegram_payments.reads.selectors import ended_failure, failed_waiting

PERIODS = (7, 30, 90)  # days a page may show
DEFAULT_PERIOD = 30
# Telegram holds Stars from a payment for 21 days before they may be withdrawn.
HOLD = timedelta(days=21)


# The kinds of money event (`money_events`' `kind`).
PAYMENT, REFUND, UNSEEN_REFUND = "payment", "refund", "unseen_refund"


@dataclass
class Totals:
    """Stars moved by a set of money events (`money_events`), as `add` sums them."""

    gross: int = 0  # every Stars payment recorded here
    failed_gross: int = 0  # of which in payments not processed (failed, or pending)
    refunded: int = 0  # refunds of payments recorded here
    unseen_refunded: int = 0  # refunds of charges with no payment recorded here
    payments: int = 0
    failed_payments: int = 0
    refunds: int = 0
    unseen_refunds: int = 0

    @property
    def net(self) -> int:
        """What the bot's Star balance gained: received, less every refund."""
        return self.gross - self.refunded - self.unseen_refunded

    @property
    def refund_rate(self) -> float | None:
        """Refunds (of payments recorded here) per 100 payments; None without payments."""
        return 100.0 * self.refunds / self.payments if self.payments else None

    def add(self, kind: str, failed: bool, count: int, stars: int) -> None:
        """Add `count` events of `kind` (PAYMENT, REFUND, UNSEEN_REFUND) worth `stars` in all."""
        if kind == PAYMENT:
            self.payments += count
            self.gross += stars
            if failed:
                self.failed_payments += count
                self.failed_gross += stars
        elif kind == REFUND:
            self.refunds += count
            self.refunded += stars
        else:
            self.unseen_refunds += count
            self.unseen_refunded += stars


@dataclass
class DayFigures(Totals):
    day: date = None

    @property
    def stars(self) -> int:  # what the day brought in
        return self.gross

    @property
    def refunded_stars(self) -> int:
        return self.refunded


@dataclass
class ProductFigures(Totals):
    entitlement_type: str = ""
    title: str = ""


@dataclass
class Revenue:
    first_day: date
    today: date
    days: list[DayFigures]
    current: Totals
    previous: Totals
    products: list[ProductFigures]
    in_hold: int  # net Stars of payments younger than HOLD
    past_hold: int  # net Stars of older payments

    @property
    def unmatched_refunds(self) -> int:
        """Refunds in the period of charges never recorded here."""
        return self.current.unseen_refunds


def _recorded_payment():
    """The Stars payment of the outer row's charge to its bot, whatever its status (Telegram took its
    Stars). Two bots' charges may share an id: the bot is matched too."""
    return StripeEvent.objects.filter(
        event_type=EVENT_PAYMENT, currency=STARS_CURRENCY, bot=OuterRef("bot"),
        telegram_payment_charge_id=OuterRef("telegram_payment_charge_id"),
    )


def money_events(events=None):
    """The one rule of which events moved Stars, and how many: of `events` (default: all), every
    Stars payment (any status) and every processed refund, each annotated with `kind` (PAYMENT,
    REFUND, or UNSEEN_REFUND when no payment of its charge is recorded here), `failed` (a payment not
    processed), `stars` (a refund without an amount: its payment's) and `product` (a refund: its
    payment's). Add them up with `Totals.add` (`money_totals`, `revenue`)."""
    payment = _recorded_payment()
    events = StripeEvent.objects.all() if events is None else events
    return events.filter(
        Q(event_type=EVENT_PAYMENT) | Q(event_type=EVENT_REFUND, status=EventStatus.PROCESSED),
        currency=STARS_CURRENCY,
    ).annotate(
        kind=Case(When(event_type=EVENT_PAYMENT, then=Value(PAYMENT)), When(Exists(payment), then=Value(REFUND)),
                  default=Value(UNSEEN_REFUND)),
        failed=Case(When(Q(event_type=EVENT_PAYMENT) & ~Q(status=EventStatus.PROCESSED), then=Value(True)),
                    default=Value(False), output_field=BooleanField()),
        stars=Coalesce("amount_cents", Subquery(payment.values("amount_cents")[:1]), Value(0)),
        product=Case(When(event_type=EVENT_PAYMENT, then=F("entitlement_type")),
                     default=Coalesce(Subquery(payment.values("entitlement_type")[:1]), F("entitlement_type"))),
    )


def money_totals(events=None) -> Totals:
    """`Totals` of `events` (default: all) by the one rule (`money_events`), in one query."""
    totals = Totals()
    for row in money_events(events).values("kind", "failed").annotate(count=Count("id"), total=Sum("stars")).order_by():
        totals.add(row["kind"], row["failed"], row["count"], row["total"] or 0)
    return totals


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def events_of(bots=None):
    """The audit trail of `bots` (None: every bot's)."""
    events = StripeEvent.objects.all()
    return events if bots is None else events.filter(bot__in=[bot.pk for bot in bots])


def revenue(*, days: int = DEFAULT_PERIOD, now: datetime | None = None, first_day: date | None = None,
            last_day: date | None = None, previous_first_day: date | None = None, bots=None) -> Revenue:
    """The last `days` days (today included, in the current time zone) and the `days` before them; or
    `first_day` to `last_day` (both included) beside the span from `previous_first_day` (default: as
    many days just before) up to `first_day`. `bots`: those bots' figures together (None: every bot's)."""
    now = now or timezone.now()
    if first_day is None or last_day is None:
        last_day = timezone.localdate(now)
        first_day = last_day - timedelta(days=days - 1)
    days = (last_day - first_day).days + 1
    today = last_day  # the last day shown
    if previous_first_day is None:
        previous_first_day = first_day - timedelta(days=days)

    rows = (
        money_events(events_of(bots))
        .filter(received_at__gte=_start_of(previous_first_day), received_at__lt=_start_of(today + timedelta(days=1)))
        .annotate(day=TruncDate("received_at"))
        .values("day", "kind", "failed", "product")
        .annotate(count=Count("id"), total=Sum("stars"))
        .order_by()
    )
    per_day = {first_day + timedelta(days=n): DayFigures(day=first_day + timedelta(days=n)) for n in range(days)}
    current, previous = Totals(), Totals()
    products: dict[str, ProductFigures] = {}
    for row in rows:  # one row per day, kind and product: a bounded number whatever the events
        day, figures = row["day"], (row["kind"], row["failed"], row["count"], row["total"] or 0)
        if isinstance(day, datetime):  # some backends give the day as a datetime
            day = day.date()
        in_period = day >= first_day
        (current if in_period else previous).add(*figures)
        if in_period:
            per_day[day].add(*figures)
            if row["kind"] != UNSEEN_REFUND:  # no product lost Stars it had been counted for
                product = products.setdefault(row["product"], ProductFigures(entitlement_type=row["product"]))
                product.add(*figures)

    catalog = Product.objects.all() if bots is None else Product.objects.filter(bot__in=[bot.pk for bot in bots])
    titles = {}
    for entitlement_type, title in catalog.order_by("-bot_id").values_list("entitlement_type", "title"):
        titles[entitlement_type] = title  # the catalog is short; two bots' products of one type: either title
    for product in products.values():
        product.title = titles.get(product.entitlement_type, "")

    hold_start = now - HOLD
    payment = _recorded_payment()
    held = (
        money_events(events_of(bots))
        .annotate(  # a refund counts with its payment; one of a charge never seen here, when it was made
            paid_at=Case(When(event_type=EVENT_PAYMENT, then=F("received_at")),
                         default=Coalesce(Subquery(payment.values("received_at")[:1]), F("received_at"))),
            signed=Case(When(event_type=EVENT_PAYMENT, then=F("stars")), default=-F("stars")),
        )
        .aggregate(in_hold=Sum("signed", filter=Q(paid_at__gte=hold_start)),
                   past_hold=Sum("signed", filter=Q(paid_at__lt=hold_start)))
    )
    return Revenue(
        first_day=first_day, today=today, days=[per_day[d] for d in sorted(per_day)],
        current=current, previous=previous,
        products=sorted(products.values(), key=lambda p: (-p.net, p.entitlement_type)),
        in_hold=held["in_hold"] or 0, past_hold=held["past_hold"] or 0,
    )


def waiting_counts(*, bots=None) -> dict:
    """Events of `bots` (None: every bot's) waiting for staff: failing (failed, not ended:
    `selectors.ended_failure`), and pending (maybe stuck)."""
    return events_of(bots).filter(status__in=REPLAYABLE_STATUSES).aggregate(
        failed=Count("pk", filter=Q(status=EventStatus.FAILED) & ~ended_failure()),
        pending=Count("pk", filter=Q(status=EventStatus.PENDING)),
    )


def failing_event_count(*, bots=None) -> int:
    failing = failed_waiting()
    if bots is not None:
        failing = failing.filter(bot__in=[bot.pk for bot in bots])
    return failing.count()


def active_entitlements(*, now: datetime | None = None, scopes: list[str] | None = None) -> list[dict]:
    """Active grants and distinct users per entitlement type, in `scopes` (None: every scope)."""
    grants = Entitlement.objects.active(now or timezone.now())
    if scopes is not None:
        grants = grants.filter(scope__in=scopes)
    return list(
        grants.values("entitlement_type")
        .annotate(count=Count("id"), users=Count("user_id", distinct=True)).order_by("entitlement_type")
    )
