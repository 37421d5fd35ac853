"""Where the Stars went: Telegram-side movements by kind, and the balance Telegram reports beside
what the audit trail implies, the difference explained kind by kind.

The audit trail knows our sales and refunds only. Everything else Telegram moves (withdrawals, ads,
paid broadcasts, affiliate commissions, gifts, debits without a charge of ours...) explains why the
balance is not simply "payments minus refunds recorded here". Net figures cover the whole history,
whatever window the comparison used, because the balance does.
"""

from collections import Counter
from dataclasses import dataclass, field

from telegram_payments.models import EVENT_PAYMENT, EVENT_REFUND, StripeEvent
from telegram_payments.payments.events import payment_event_id, refund_event_id
from telegram_payments.reconcile.transactions import (
    AFFILIATE_COMMISSION,
    BUSINESS_TRANSFER,
    CHAT,
    DEBIT_WITHOUT_CHARGE,
    GIFT,
    NANOSTARS_PER_STAR,
    OTHER,
    PAID_BROADCAST,
    PAID_MEDIA,
    PREMIUM,
    REFUND,
    SALE,
    TELEGRAM_ADS,
    UNKNOWN,
    WITHDRAWAL,
    StarTransaction,
)

# Report order: the money of our own sales first, then Telegram-side movements, the unknown last.
KIND_ORDER = [SALE, REFUND, WITHDRAWAL, TELEGRAM_ADS, PAID_BROADCAST, AFFILIATE_COMMISSION, PAID_MEDIA,
              GIFT, PREMIUM, BUSINESS_TRANSFER, CHAT, OTHER, DEBIT_WITHOUT_CHARGE, UNKNOWN]
MISSING_SALES, MISSING_REFUNDS = "sales missing here", "refunds missing here"
ONLY_HERE = "recorded here only"
AFFILIATE_SHARES = "affiliate shares of our sales"
RECORDED_DIFFERENTLY = "amounts recorded differently"
NOT_LISTED = "not in the readable listed transactions"
# How the net figures group Telegram's list.
GROUPS = [("in from sales", {SALE}), ("out in refunds", {REFUND}),
          ("fees and commissions", {TELEGRAM_ADS, PAID_BROADCAST, AFFILIATE_COMMISSION}),
          ("withdrawals", {WITHDRAWAL})]
OTHER_MOVEMENTS = "other movements"


@dataclass
class KindTotal:
    """All transactions of one kind and direction: how many, and the Stars they moved (signed)."""

    kind: str
    direction: str
    count: int = 0
    nanostars: int = 0
    states: Counter = field(default_factory=Counter)  # withdrawals: pending / succeeded / failed
    requests: int = 0  # paid broadcasts

    @property
    def notes(self) -> str:
        parts = [f"{n} {state}" for state, n in sorted(self.states.items())]
        if self.requests:
            parts.append(f"{self.requests} requests")
        return ", ".join(parts)


def movements(transactions: list[StarTransaction]) -> list[KindTotal]:
    """Transactions that are not our sales or refunds, by kind and direction, in report order."""
    totals: dict[tuple[str, str], KindTotal] = {}
    for t in transactions:
        if t.kind in {SALE, REFUND}:
            continue
        total = totals.setdefault((t.kind, t.direction), KindTotal(t.kind, t.direction))
        total.count += 1
        total.nanostars += t.signed_nanostars
        total.requests += t.request_count
        if t.kind == WITHDRAWAL and t.detail:
            total.states[t.detail] += 1
    return sorted(totals.values(), key=lambda k: (_order(k.kind), k.direction))


@dataclass
class NetFigures:
    """Telegram's whole list by kind, its balance, and the audit trail's, with the gap explained."""

    by_kind: list[tuple[str, int]]  # kind, signed nanostars over the whole list
    listed_total: int
    reported_balance: int | None  # getMyStarBalance; None when Telegram did not answer
    balance_error: str
    recorded_here: int  # payments minus refunds in the audit trail
    explained: list[tuple[str, int]]  # why the balance is not `recorded_here`, by kind

    @property
    def groups(self) -> list[tuple[str, int, list[tuple[str, int]]]]:
        """Telegram's list as sales, refunds, fees and commissions, withdrawals and the rest, each with its kinds."""
        grouped = [(label, [(k, n) for k, n in self.by_kind if k in kinds]) for label, kinds in GROUPS]
        placed = {k for _, kinds in GROUPS for k in kinds}
        grouped.append((OTHER_MOVEMENTS, [(k, n) for k, n in self.by_kind if k not in placed]))
        return [(label, sum(n for _, n in parts), parts) for label, parts in grouped]

    @property
    def balance(self) -> int:
        """Telegram's reported balance, or the sum of its list when it reported none."""
        return self.listed_total if self.reported_balance is None else self.reported_balance

    @property
    def difference(self) -> int:
        return self.balance - self.recorded_here

    @property
    def unexplained(self) -> int:
        return self.difference - sum(n for _, n in self.explained)


def net_figures(*, bot, transactions: list[StarTransaction], reported_balance: int | None,
                balance_error: str = "") -> NetFigures:
    """Net figures for `bot`'s whole history: Telegram's list and balance against its audit trail."""
    by_kind: Counter = Counter()
    for t in transactions:
        by_kind[t.kind] += t.signed_nanostars
    listed_total = sum(by_kind.values())
    explained: Counter = Counter()

    charges = {(payment_event_id if t.kind == SALE else refund_event_id)(t.id, namespace=bot.event_namespace): t
               for t in transactions if t.kind in {SALE, REFUND}}
    matched = set()
    recorded_here = 0
    rows = (StripeEvent.objects.filter(bot=bot, event_type__in=[EVENT_PAYMENT, EVENT_REFUND])
            .values_list("event_id", "event_type", "amount_cents"))
    for event_id, event_type, amount in rows.iterator(chunk_size=5000):
        charge = charges.get(event_id)
        if amount is None:  # a refund whose amount nobody told us: Telegram's, if listed
            amount = charge.nanostars // NANOSTARS_PER_STAR if charge else 0
        signed = amount * NANOSTARS_PER_STAR * (1 if event_type == EVENT_PAYMENT else -1)
        recorded_here += signed
        if charge is None:
            explained[ONLY_HERE] -= signed
            continue
        matched.add(event_id)
        if gap := charge.signed_nanostars - signed:
            explained[AFFILIATE_SHARES if charge.affiliate_nanostars else RECORDED_DIFFERENTLY] += gap
    for event_id, charge in charges.items():
        if event_id not in matched:
            explained[MISSING_SALES if charge.kind == SALE else MISSING_REFUNDS] += charge.signed_nanostars
    for kind, nanostars in by_kind.items():
        if kind not in {SALE, REFUND}:
            explained[kind] += nanostars
    if reported_balance is not None:
        explained[NOT_LISTED] += reported_balance - listed_total

    order = [MISSING_SALES, MISSING_REFUNDS, ONLY_HERE, AFFILIATE_SHARES, RECORDED_DIFFERENTLY, *KIND_ORDER, NOT_LISTED]
    return NetFigures(
        by_kind=sorted(by_kind.items(), key=lambda item: _order(item[0])),
        listed_total=listed_total,
        reported_balance=reported_balance,
        balance_error=balance_error,
        recorded_here=recorded_here,
        explained=sorted(((k, n) for k, n in explained.items() if n), key=lambda item: order.index(item[0])),
    )


def _order(kind: str) -> int:
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
