"""Revenue as the audit trail records it, for the "At a glance" page: Stars in, refunded and net, per
day, per product and for a period beside the one before it, and what is still in Telegram's hold.

What counts:
* gross: processed payments in Stars (`XTR`), on the day they were received;
* refunded: processed refunds of a payment recorded here (processed), on the day of the refund. A
  refund of a charge never seen here is counted apart (`unmatched_refunds`), never in the figures or
  the refund rate: it took back Stars that the gross never included;
* net = gross - refunded.

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
from telegram_payments.reads.selectors import failed_waiting, refunded_failure

PERIODS = (7, 30, 90)  # days a page may show
DEFAULT_PERIOD = 30
# Telegram holds Stars from a payment for 21 days before they may be withdrawn.
HOLD = timedelta(days=21)


@dataclass
class Totals:
    gross: int = 0
    refunded: int = 0
    payments: int = 0
    refunds: int = 0

    @property
    def net(self) -> int:
        return self.gross - self.refunded

    @property
    def refund_rate(self) -> float | None:
        """Refunds made in the period per 100 payments received in it; None without payments."""
        return 100.0 * self.refunds / self.payments if self.payments else None

    def add(self, event_type: str, count: int, stars: int) -> None:
        if event_type == EVENT_PAYMENT:
            self.payments += count
            self.gross += stars
        else:
            self.refunds += count
            self.refunded += stars


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
    unmatched_refunds: int  # refunds in the period of charges never recorded here
    in_hold: int  # net Stars of payments younger than HOLD
    past_hold: int  # net Stars of older payments


def _recorded_payment():
    return StripeEvent.objects.filter(
        event_type=EVENT_PAYMENT, status=EventStatus.PROCESSED, currency=STARS_CURRENCY,
        telegram_payment_charge_id=OuterRef("telegram_payment_charge_id"),
    )


def _money_events():
    """Processed Stars payments and refunds, each with `recorded` (a payment, or the refund of one we
    have), `stars` (a refund without an amount: its payment's) and `product` (a refund: its payment's)."""
    payment = _recorded_payment()
    return StripeEvent.objects.filter(
        status=EventStatus.PROCESSED, currency=STARS_CURRENCY, event_type__in=[EVENT_PAYMENT, EVENT_REFUND],
    ).annotate(
        recorded=Case(When(event_type=EVENT_PAYMENT, then=Value(True)), default=Exists(payment),
                      output_field=BooleanField()),
        stars=Coalesce("amount_cents", Subquery(payment.values("amount_cents")[:1]), Value(0)),
        product=Case(When(event_type=EVENT_PAYMENT, then=F("entitlement_type")),
                     default=Coalesce(Subquery(payment.values("entitlement_type")[:1]), F("entitlement_type"))),
    )


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def revenue(*, days: int = DEFAULT_PERIOD, now: datetime | None = None) -> Revenue:
    """The last `days` days (today included, in the current time zone) and the `days` before them."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    first_day = today - timedelta(days=days - 1)
    previous_first_day = first_day - timedelta(days=days)

    rows = (
        _money_events()
        .filter(received_at__gte=_start_of(previous_first_day), received_at__lt=_start_of(today + timedelta(days=1)))
        .annotate(day=TruncDate("received_at"))
        .values("day", "event_type", "recorded", "product")
        .annotate(count=Count("id"), total=Sum("stars"))
        .order_by()
    )
    per_day = {first_day + timedelta(days=n): DayFigures(day=first_day + timedelta(days=n)) for n in range(days)}
    current, previous, unmatched = Totals(), Totals(), 0
    products: dict[str, ProductFigures] = {}
    for row in rows:  # one row per day, kind and product: a bounded number whatever the events
        day, count, stars = row["day"], row["count"], row["total"] or 0
        if isinstance(day, datetime):  # some backends give the day as a datetime
            day = day.date()
        in_period = day >= first_day
        if not row["recorded"]:
            unmatched += count if in_period else 0
            continue
        (current if in_period else previous).add(row["event_type"], count, stars)
        if in_period:
            per_day[day].add(row["event_type"], count, stars)
            product = products.setdefault(row["product"], ProductFigures(entitlement_type=row["product"]))
            product.add(row["event_type"], count, stars)

    titles = dict(Product.objects.values_list("entitlement_type", "title"))  # the catalog is short
    for product in products.values():
        product.title = titles.get(product.entitlement_type, "")

    hold_start = now - HOLD
    payment = _recorded_payment()
    held = (
        _money_events().filter(recorded=True)
        .annotate(
            paid_at=Case(When(event_type=EVENT_PAYMENT, then=F("received_at")),
                         default=Subquery(payment.values("received_at")[:1])),
            signed=Case(When(event_type=EVENT_PAYMENT, then=F("stars")), default=-F("stars")),
        )
        .aggregate(in_hold=Sum("signed", filter=Q(paid_at__gte=hold_start)),
                   past_hold=Sum("signed", filter=Q(paid_at__lt=hold_start)))
    )
    return Revenue(
        first_day=first_day, today=today, days=[per_day[d] for d in sorted(per_day)],
        current=current, previous=previous,
        products=sorted(products.values(), key=lambda p: (-p.net, p.entitlement_type)),
        unmatched_refunds=unmatched, in_hold=held["in_hold"] or 0, past_hold=held["past_hold"] or 0,
    )


def waiting_counts() -> dict:
    """Events waiting for staff: failed (a failed payment whose refund is recorded has ended), and
    pending (maybe stuck)."""
    return StripeEvent.objects.filter(status__in=REPLAYABLE_STATUSES).aggregate(
        failed=Count("pk", filter=Q(status=EventStatus.FAILED) & ~refunded_failure()),
        pending=Count("pk", filter=Q(status=EventStatus.PENDING)),
    )


def failing_event_count() -> int:
    return failed_waiting().count()


def active_entitlements(*, now: datetime | None = None) -> list[dict]:
    """Active grants and distinct users per entitlement type."""
    return list(
        Entitlement.objects.active(now or timezone.now()).values("entitlement_type")
        .annotate(count=Count("id"), users=Count("user_id", distinct=True)).order_by("entitlement_type")
    )
