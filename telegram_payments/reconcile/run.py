"""One reconciliation run: read Telegram's list and balance, compare, summarise, and with `apply`
record what we lack. What the run found decides its outcome (clean, missing here, attention)."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from telegram_payments.payments.events import Outcome
from telegram_payments.reconcile.compare import ONLY_HERE, Difference, compare, record_charge, without_charge_behind
from telegram_payments.reconcile.ledger import KindTotal, NetFigures, movements, net_figures
from telegram_payments.reconcile.transactions import (
    DEBIT_WITHOUT_CHARGE,
    MAX_PAGE_SIZE,
    UNKNOWN,
    StarTransaction,
    Unreadable,
    fetch_star_balance,
    fetch_star_transactions,
    read_transactions,
)
from telegram_payments.registry import bots
from telegram_payments.telegram_api.client import BotApiError

logger = logging.getLogger(__name__)

CLEAN, MISSING, ATTENTION = "clean", "missing", "attention"


@dataclass
class Reconciliation:
    fetched: int = 0  # transactions read from Telegram, all pages
    payments: int = 0  # invoice payments in the window
    refunds: int = 0
    ours: int = 0  # our payment and refund rows in the window
    differences: list[Difference] = field(default_factory=list)
    failed_here: list = field(default_factory=list)  # StripeEvents: Telegram has them; ours failed
    mismatches: list = field(default_factory=list)  # (StripeEvent, what differs)
    movements: list[KindTotal] = field(default_factory=list)  # not our sales, in the window
    debits_without_charge: list[StarTransaction] = field(default_factory=list)  # in the window
    unknown: list[StarTransaction] = field(default_factory=list)  # in the window
    unreadable: list[Unreadable] = field(default_factory=list)  # in the window, or undated
    net: NetFigures | None = None
    applied: bool = False

    @property
    def missing_here(self) -> list[Difference]:
        """Sales and refunds Telegram lists that are still not recorded here."""
        return [d for d in self.differences if d.kind != ONLY_HERE and not d.result]

    @property
    def only_here(self) -> list[Difference]:
        return [d for d in self.differences if d.kind == ONLY_HERE]

    @property
    def recorded_as_failed(self) -> list[Difference]:
        """Recorded by this run's --apply, as failed (unknown invoice, amount below the price...)."""
        return [d for d in self.differences if d.result.startswith("failed")]

    @property
    def attention(self) -> int:
        """Findings for a human: nothing to record, but not what Telegram says either."""
        return (len(self.only_here) + len(self.recorded_as_failed) + len(self.failed_here) + len(self.mismatches)
                + len(self.debits_without_charge) + len(self.unknown) + len(self.unreadable))

    @property
    def outcome(self) -> str:
        if self.missing_here:
            return MISSING
        return ATTENTION if self.attention else CLEAN


def reconcile_stars(
    *,
    bot=None,
    since: datetime | None = None,
    apply: bool = False,
    page_size: int = MAX_PAGE_SIZE,
    on_page: Callable[[int], None] | None = None,
    on_applied: Callable[[int, int], None] | None = None,
) -> Reconciliation:
    """Compare `bot`'s Star transactions at Telegram (None: the default bot's) with its audit trail; with
    `apply`, record what we lack.

    Payments are recorded before the refunds of the same charge (oldest first), so a refund finds
    its grant to revoke. Rows only we have, and Telegram's other movements, are reported, never changed.
    """
    bot = bot or bots.default()
    started_at = timezone.now()
    raw = fetch_star_transactions(bot=bot, page_size=page_size, on_page=on_page)
    try:
        balance, balance_error = fetch_star_balance(bot=bot), ""
    except BotApiError as exc:  # the list is what matters; a server without getMyStarBalance still reconciles
        balance, balance_error = None, exc.description
    transactions, unreadable = read_transactions(raw)
    transactions = without_charge_behind(transactions, bot=bot)

    def in_window(date):
        return date is None or ((since is None or date >= since) and date < started_at)

    compared = compare(bot=bot, transactions=transactions, since=since, until=started_at)
    window = [t for t in transactions if in_window(t.date)]
    result = Reconciliation(
        fetched=len(raw),
        payments=compared.payments,
        refunds=compared.refunds,
        ours=compared.ours,
        differences=compared.differences,
        failed_here=compared.failed_here,
        mismatches=compared.mismatches,
        movements=movements(window),
        debits_without_charge=[t for t in window if t.kind == DEBIT_WITHOUT_CHARGE],
        unknown=[t for t in window if t.kind == UNKNOWN],
        unreadable=[u for u in unreadable if in_window(u.date)],
    )
    if apply:
        result.applied = True
        missing = [d for d in result.differences if d.charge is not None]
        for done, difference in enumerate(missing, start=1):
            outcome = record_charge(difference.charge, bot=bot)
            difference.result = outcome.status
            if outcome.status == Outcome.FAILED:
                difference.result = f"failed: {outcome.event.error}"
            logger.info("reconciliation recorded %s: %s", difference.event_id, difference.result)
            if on_applied:
                on_applied(done, len(missing))
    # After --apply, so the audit trail's side includes what this run recorded.
    result.net = net_figures(bot=bot, transactions=transactions, reported_balance=balance,
                             balance_error=balance_error)
    return result
