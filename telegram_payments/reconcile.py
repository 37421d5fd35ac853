"""Reconciliation with Telegram: what `getStarTransactions` says against our audit trail.

Telegram's list is the truth about money. A payment is a transaction whose `source` is a user
(`TransactionPartnerUser`, with our `invoice_payload`); its `id` is the `telegram_payment_charge_id`.
The refund of that payment is a transaction with the same `id` whose `receiver` is the user. So a
charge is matched on id and direction, which is exactly our event id (`tg_stars:payment:<id>`,
`tg_stars:refund:<id>`).

Missing payments and refunds are recorded through the normal services (`handle_successful_payment`,
`handle_refund`) with source `reconciliation`, so entitlements are granted or revoked as a webhook
would, and a second run finds nothing. Rows only we have are reported for a human to look at; they
are never changed here.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from .bot.client import call_bot
from .models import EVENT_PAYMENT, EVENT_REFUND, STARS_CURRENCY, EventSource, EventStatus, StripeEvent
from .payments.events import EventOutcome, payment_event_id, refund_event_id
from .payments.pipeline import handle_refund, handle_successful_payment

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100  # the Bot API's limit for getStarTransactions
PAYMENT, REFUND = "payment", "refund"
MISSING_PAYMENT, MISSING_REFUND, ONLY_HERE = "missing payment", "missing refund", "only here"
# Transactions with a user that are not invoice payments (paid media, gifts, ...) are not ours to match.
INVOICE_TRANSACTION_TYPES = {None, "", "invoice_payment"}


@dataclass(frozen=True)
class TelegramCharge:
    """One invoice payment or refund as Telegram lists it."""

    kind: str  # PAYMENT or REFUND
    charge_id: str
    user_id: int
    amount: int
    date: datetime
    invoice_payload: str
    subscription_period: timedelta | None
    raw: dict

    @property
    def event_id(self) -> str:
        return payment_event_id(self.charge_id) if self.kind == PAYMENT else refund_event_id(self.charge_id)


@dataclass
class Difference:
    kind: str  # MISSING_PAYMENT, MISSING_REFUND or ONLY_HERE
    event_id: str
    charge_id: str
    user_id: str
    amount: int | None
    date: datetime | None
    invoice_payload: str = ""
    detail: str = ""
    charge: TelegramCharge | None = None
    result: str = ""  # after --apply: processed / duplicate / failed: <error>


@dataclass
class Reconciliation:
    fetched: int = 0  # transactions read from Telegram, all pages
    payments: int = 0  # invoice payments in the window
    refunds: int = 0
    ignored: int = 0  # transactions with other partners or kinds (withdrawals, ads, paid media...)
    ours: int = 0  # our payment and refund rows in the window
    differences: list[Difference] = field(default_factory=list)
    failed_here: list[StripeEvent] = field(default_factory=list)  # Telegram has them; ours failed
    # Matched by id, but the user or amount we recorded is not Telegram's: for a human to look at.
    mismatches: list[tuple[StripeEvent, str]] = field(default_factory=list)
    applied: bool = False


def fetch_star_transactions(*, page_size: int = MAX_PAGE_SIZE, on_page: Callable[[int], None] | None = None) -> list:
    """Every Star transaction of the bot, paging by offset/limit until a short page."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1-{MAX_PAGE_SIZE}")
    transactions: list = []
    while True:
        offset = len(transactions)
        page = call_bot(
            "getStarTransactions",
            lambda bot, offset=offset: bot.get_star_transactions(offset=offset, limit=page_size),
        ).transactions
        transactions.extend(page)
        if on_page:
            on_page(len(transactions))
        if len(page) < page_size:
            return transactions


def telegram_charges(transactions) -> tuple[list[TelegramCharge], int]:
    """The invoice payments and refunds among `transactions`, and how many others were ignored."""
    charges, ignored = [], 0
    for tx in transactions:
        partner, kind = (tx.source, PAYMENT) if tx.source is not None else (tx.receiver, REFUND)
        if (
            partner is None
            or getattr(partner, "type", None) != "user"
            or getattr(partner, "transaction_type", None) not in INVOICE_TRANSACTION_TYPES
        ):
            ignored += 1
            continue
        charges.append(
            TelegramCharge(
                kind=kind,
                charge_id=tx.id,
                user_id=partner.user.id,
                amount=tx.amount,
                date=tx.date,
                invoice_payload=partner.invoice_payload or "",
                subscription_period=getattr(partner, "subscription_period", None),
                raw=tx.to_dict(),
            )
        )
    return charges, ignored


def compare(*, charges: list[TelegramCharge], since: datetime | None = None,
            until: datetime | None = None) -> Reconciliation:
    """What Telegram has that we lack (in the window), and what we have that Telegram lacks."""
    until = until or timezone.now()
    in_window = [c for c in charges if (since is None or c.date >= since) and c.date < until]
    result = Reconciliation(
        payments=sum(c.kind == PAYMENT for c in in_window),
        refunds=sum(c.kind == REFUND for c in in_window),
    )
    wanted = {c.event_id: c for c in in_window}
    ours = StripeEvent.objects.in_bulk(list(wanted), field_name="event_id")
    for event_id, charge in sorted(wanted.items(), key=lambda item: (item[1].date, item[1].kind != PAYMENT)):
        event = ours.get(event_id)
        if event is None:
            result.differences.append(
                Difference(
                    kind=MISSING_PAYMENT if charge.kind == PAYMENT else MISSING_REFUND,
                    event_id=event_id,
                    charge_id=charge.charge_id,
                    user_id=str(charge.user_id),
                    amount=charge.amount,
                    date=charge.date,
                    invoice_payload=charge.invoice_payload,
                    charge=charge,
                )
            )
            continue
        if event.status == EventStatus.FAILED:
            result.failed_here.append(event)
        if event.customer_id != str(charge.user_id):
            result.mismatches.append((event, f"user {event.customer_id} here, {charge.user_id} at Telegram"))
        elif event.amount_cents is not None and event.amount_cents != charge.amount:
            result.mismatches.append((event, f"{event.amount_cents} XTR here, {charge.amount} XTR at Telegram"))

    # Ours, against everything Telegram listed (not only the window): a webhook may arrive after
    # `since` for a payment made just before it.
    known = {c.event_id for c in charges}
    here = StripeEvent.objects.filter(event_type__in=[EVENT_PAYMENT, EVENT_REFUND], received_at__lt=until)
    if since is not None:
        here = here.filter(received_at__gte=since)
    result.ours = here.count()
    # Compared in Python: `known` can hold more ids than a query may carry as parameters.
    for event in here.defer("payload").order_by("received_at", "pk").iterator(chunk_size=2000):
        if event.event_id in known:
            continue
        result.differences.append(
            Difference(
                kind=ONLY_HERE,
                event_id=event.event_id,
                charge_id=event.telegram_payment_charge_id,
                user_id=event.customer_id,
                amount=event.amount_cents,
                date=event.received_at,
                invoice_payload=event.invoice_payload,
                detail=f"{event.get_source_display()}, {event.get_status_display()}",
            )
        )
    return result


def record_charge(charge: TelegramCharge) -> EventOutcome:
    """Record a payment or refund Telegram has and we lack, as the webhook would, marked as reconciliation."""
    if charge.kind == PAYMENT:
        expires_at = charge.date + charge.subscription_period if charge.subscription_period else None
        return handle_successful_payment(
            user_id=charge.user_id,
            telegram_payment_charge_id=charge.charge_id,
            total_amount=charge.amount,
            currency=STARS_CURRENCY,
            source=EventSource.RECONCILIATION,
            payload=charge.raw,
            invoice_payload=charge.invoice_payload,
            subscription_expires_at=expires_at,
        )
    return handle_refund(
        user_id=charge.user_id,
        telegram_payment_charge_id=charge.charge_id,
        source=EventSource.RECONCILIATION,
        payload=charge.raw,
        total_amount=charge.amount,
        invoice_payload=charge.invoice_payload,
        refund_reason="listed by Telegram (getStarTransactions), missing here",
    )


def reconcile_stars(
    *,
    since: datetime | None = None,
    apply: bool = False,
    page_size: int = MAX_PAGE_SIZE,
    on_page: Callable[[int], None] | None = None,
    on_applied: Callable[[int, int], None] | None = None,
) -> Reconciliation:
    """Compare Telegram's Star transactions with our audit trail; with `apply`, record what we lack.

    Payments are recorded before the refunds of the same charge (oldest first), so a refund finds
    its grant to revoke. Rows only we have are reported, never changed.
    """
    started_at = timezone.now()
    transactions = fetch_star_transactions(page_size=page_size, on_page=on_page)
    charges, ignored = telegram_charges(transactions)
    result = compare(charges=charges, since=since, until=started_at)
    result.fetched, result.ignored = len(transactions), ignored
    if apply:
        result.applied = True
        missing = [d for d in result.differences if d.charge is not None]
        for done, difference in enumerate(missing, start=1):
            outcome = record_charge(difference.charge)
            difference.result = outcome.status
            if outcome.status == "failed":
                difference.result = f"failed: {outcome.event.error}"
            logger.info("reconciliation recorded %s: %s", difference.event_id, difference.result)
            if on_applied:
                on_applied(done, len(missing))
    return result
