"""Our sales and refunds against Telegram's: what we lack, what only we have, what we recorded differently.

A payment is a transaction whose `source` is a user paying an invoice; its `id` is the
`telegram_payment_charge_id`. The refund of that payment is a transaction with the same `id` whose
`receiver` is the user. So a charge is matched on id and direction, which is exactly our event id
(`tg_stars:payment:<id>`, `tg_stars:refund:<id>`).

Missing payments and refunds are recorded through the payment pipeline (`handle_successful_payment`,
`handle_refund`) with source `reconciliation`, so entitlements are granted or revoked as a webhook
would, and a second run finds nothing. Rows only we have are reported for a human; never changed here.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime

from telegram_payments.models import EVENT_PAYMENT, EVENT_REFUND, STARS_CURRENCY, EventSource, EventStatus, StripeEvent
from telegram_payments.payments.events import EventOutcome, payment_event_id, refund_event_id
from telegram_payments.payments.pipeline import handle_refund, handle_successful_payment
from telegram_payments.reconcile.transactions import DEBIT_WITHOUT_CHARGE, REFUND, SALE, StarTransaction, stars_text

MISSING_PAYMENT, MISSING_REFUND, ONLY_HERE = "missing payment", "missing refund", "only here"
CHARGE_KINDS = {SALE, REFUND}
IDS_PER_QUERY = 500


def charge_event_id(transaction: StarTransaction, *, bot) -> str:
    """Our event id for a sale or refund listed by Telegram for `bot`."""
    return (payment_event_id if transaction.kind == SALE else refund_event_id)(
        transaction.id, namespace=bot.event_namespace)


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
    charge: StarTransaction | None = None
    result: str = ""  # after --apply: processed / duplicate / failed: <error>


@dataclass
class Comparison:
    payments: int = 0  # invoice payments in the window
    refunds: int = 0
    ours: int = 0  # our payment and refund rows in the window
    differences: list[Difference] = field(default_factory=list)
    failed_here: list[StripeEvent] = field(default_factory=list)  # Telegram has them; ours failed
    # Matched by id, but the user or amount we recorded is not Telegram's: for a human to look at.
    mismatches: list[tuple[StripeEvent, str]] = field(default_factory=list)


def without_charge_behind(transactions: list[StarTransaction], *, bot) -> list[StarTransaction]:
    """`transactions` with each refund that no charge explains reclassified as a debit without a charge.

    A refund is ours when its charge was paid (listed by Telegram, or recorded here) or its refund
    is recorded here; otherwise Telegram took the Stars back for something we never sold.
    """
    sold = {t.id for t in transactions if t.kind == SALE}
    orphans = [t for t in transactions if t.kind == REFUND and t.id not in sold]
    if not orphans:
        return transactions
    namespace = bot.event_namespace
    ids = [event_id for t in orphans
           for event_id in (payment_event_id(t.id, namespace=namespace), refund_event_id(t.id, namespace=namespace))]
    known = set()
    for start in range(0, len(ids), IDS_PER_QUERY):
        known.update(StripeEvent.objects.filter(event_id__in=ids[start:start + IDS_PER_QUERY])
                     .values_list("telegram_payment_charge_id", flat=True))
    unexplained = {t.id for t in orphans if t.id not in known}
    return [replace(t, kind=DEBIT_WITHOUT_CHARGE) if t.kind == REFUND and t.id in unexplained else t
            for t in transactions]


def compare(*, bot, transactions: list[StarTransaction], since: datetime | None, until: datetime) -> Comparison:
    """What Telegram has for `bot` that we lack (in the window), and what we have of `bot` that Telegram lacks."""
    charges = [t for t in transactions if t.kind in CHARGE_KINDS]
    in_window = [c for c in charges if (since is None or c.date >= since) and c.date < until]
    result = Comparison(
        payments=sum(c.kind == SALE for c in in_window),
        refunds=sum(c.kind == REFUND for c in in_window),
    )
    wanted = {charge_event_id(c, bot=bot): c for c in in_window}
    ours = {}
    ids = list(wanted)
    for start in range(0, len(ids), IDS_PER_QUERY):
        ours.update(StripeEvent.objects.defer("payload").in_bulk(ids[start:start + IDS_PER_QUERY],
                                                                  field_name="event_id"))
    for event_id, charge in sorted(wanted.items(), key=lambda item: (item[1].date, item[1].kind != SALE)):
        event = ours.get(event_id)
        if event is None:
            result.differences.append(Difference(
                kind=MISSING_PAYMENT if charge.kind == SALE else MISSING_REFUND,
                event_id=event_id,
                charge_id=charge.id,
                user_id=str(charge.user_id),
                amount=charge.charged_stars,
                date=charge.date,
                invoice_payload=charge.invoice_payload,
                charge=charge,
            ))
            continue
        if event.status == EventStatus.FAILED:
            result.failed_here.append(event)
        if event.customer_id != str(charge.user_id):
            result.mismatches.append((event, f"user {event.customer_id} here, {charge.user_id} at Telegram"))
        elif event.amount_cents is not None and not charge.matches_recorded_amount(event.amount_cents):
            result.mismatches.append((event, f"{event.amount_cents} XTR here, {stars_text(charge.nanostars)} XTR "
                                             "at Telegram"))

    # Ours, against everything Telegram listed (not only the window): a webhook may arrive after
    # `since` for a payment made just before it.
    known = {charge_event_id(c, bot=bot) for c in charges}
    here = StripeEvent.objects.filter(bot=bot, event_type__in=[EVENT_PAYMENT, EVENT_REFUND], received_at__lt=until)
    if since is not None:
        here = here.filter(received_at__gte=since)
    result.ours = here.count()
    # Compared in Python: `known` can hold more ids than a query may carry as parameters.
    for event in here.defer("payload").order_by("received_at", "pk").iterator(chunk_size=2000):
        if event.event_id in known:
            continue
        result.differences.append(Difference(
            kind=ONLY_HERE,
            event_id=event.event_id,
            charge_id=event.telegram_payment_charge_id,
            user_id=event.customer_id,
            amount=event.amount_cents,
            date=event.received_at,
            invoice_payload=event.invoice_payload,
            detail=f"{event.get_source_display()}, {event.get_status_display()}",
        ))
    return result


def record_charge(charge: StarTransaction, *, bot) -> EventOutcome:
    """Record a payment or refund of `bot` Telegram has and we lack, as the webhook would, marked as
    reconciliation."""
    if charge.kind == SALE:
        expires_at = charge.date + charge.subscription_period if charge.subscription_period else None
        return handle_successful_payment(
            bot=bot,
            user_id=charge.user_id,
            telegram_payment_charge_id=charge.id,
            total_amount=charge.charged_stars,
            currency=STARS_CURRENCY,
            source=EventSource.RECONCILIATION,
            payload=charge.raw,
            invoice_payload=charge.invoice_payload,
            subscription_expires_at=expires_at,
        )
    return handle_refund(
        bot=bot,
        user_id=charge.user_id,
        telegram_payment_charge_id=charge.id,
        source=EventSource.RECONCILIATION,
        payload=charge.raw,
        total_amount=charge.charged_stars,
        invoice_payload=charge.invoice_payload,
        refund_reason="listed by Telegram (getStarTransactions), missing here",
    )

