"""Payment and refund processing: the one place where an event becomes an effect.

Every route (Bot API update, relay endpoint, staff refund, reconciliation, replay) ends here, so a
charge has the same event id whichever way it arrives, and its effect happens once:

* the event row and its effect are written in one transaction;
* the unique `stripe_events.event_id` is the dedupe (a unique violation means "already done");
* a per-charge lock orders a payment and the refund of the same charge;
* a permanent problem is recorded as a failed row (outside the rolled-back transaction) so that
  staff can see and replay it; a transient one (database unavailable) propagates for a 503.
"""

import hashlib
import logging
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from entitlements import outbox
from entitlements.models import Entitlement
from entitlements.services import grant_entitlement, revoke_entitlement
from payments_project.dbinsert import insert
from payments_project.locks import lock_for_transaction
from payments_project.metrics import observe_outcome

from .models import (
    EVENT_PAYMENT,
    EVENT_REFUND,
    PAYMENT_METHOD,
    STARS_CURRENCY,
    EventSource,
    EventStatus,
    Invoice,
    InvoiceStatus,
    Product,
    StripeEvent,
)

logger = logging.getLogger(__name__)

# Errors that mean "try again later" (the database is away); everything else is permanent.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)
MAX_EVENT_ID_LENGTH = 255


class PaymentRejected(Exception):
    """A permanent reason not to apply an event (unknown product, wrong amount, ...)."""


# The note of a payment whose charge's refund was recorded first (it grants nothing). The same words
# are in stars_record_payment() (migration 0005); tests/test_payment_paths.py compares both paths' rows.
REFUNDED_FIRST_NOTE = "This charge was refunded before its payment arrived: nothing granted."


@dataclass(frozen=True)
class EventOutcome:
    status: str  # "processed", "duplicate" or "failed"
    event: StripeEvent
    product: Product | None = None  # what a payment processed now paid for (its catalog entry)

    @property
    def granted(self) -> bool:
        """Whether this call granted what a payment paid for (not a copy, a failure or a refunded charge)."""
        return self.status == "processed" and self.product is not None and self.event.note != REFUNDED_FIRST_NOTE

    @property
    def event_id(self) -> str:
        return self.event.event_id

    def answer(self) -> dict:
        """The webhook's JSON answer, on every route (relay or Bot API Update)."""
        return {
            "ok": True,
            "status": self.status,
            "event_id": self.event.event_id,
            "event_status": self.event.get_status_display(),
        }


# The catalog entry of an entitlement type (unique), in raw SQL: the ORM's filter() and compiler took
# half of this lookup's 0.8 ms CPU, and Product.objects.raw()'s column mapping half the rest (bench/).
_PRODUCT_FIELDS = [f.attname for f in Product._meta.concrete_fields if f.attname in {
    "id", "entitlement_type", "title", "price_stars", "duration_days", "is_active"}]
_PRODUCT_SQL = f"SELECT {', '.join(_PRODUCT_FIELDS)} FROM {Product._meta.db_table} WHERE entitlement_type = %s"


_INVOICE_FIELDS = [f.attname for f in Invoice._meta.concrete_fields]
_INVOICE_SQL = (
    f"SELECT {', '.join(f'i.{name}' for name in _INVOICE_FIELDS)}, "
    f"{', '.join(f'p.{name}' for name in _PRODUCT_FIELDS)} "
    f"FROM {Invoice._meta.db_table} i JOIN {Product._meta.db_table} p ON p.id = i.product_id "
    "WHERE i.payload = %s"
)


def _invoice_with_product(payload: str) -> Invoice | None:
    """Our invoice with this payload and its product, in one query (`select_related` without the
    ORM's query building, which was a fifth of a payment Update's CPU, bench/)."""
    with connection.cursor() as cursor:
        cursor.execute(_INVOICE_SQL, [payload])
        row = cursor.fetchone()
    if row is None:
        return None
    n = len(_INVOICE_FIELDS)
    invoice = Invoice.from_db(connection.alias, _INVOICE_FIELDS, row[:n])
    invoice.product = Product.from_db(connection.alias, _PRODUCT_FIELDS, row[n:])
    return invoice


def _product_by_type(entitlement_type: str) -> Product | None:
    with connection.cursor() as cursor:
        cursor.execute(_PRODUCT_SQL, [entitlement_type])
        row = cursor.fetchone()
    return None if row is None else Product.from_db(connection.alias, _PRODUCT_FIELDS, row)


def charge_event_id(kind: str, telegram_payment_charge_id: str) -> str:
    """`tg_stars:<kind>:<charge id>`, hashing the charge id in the rare case it would not fit."""
    event_id = f"tg_stars:{kind}:{telegram_payment_charge_id}"
    if len(event_id) <= MAX_EVENT_ID_LENGTH:
        return event_id
    digest = hashlib.sha256(telegram_payment_charge_id.encode()).hexdigest()
    return f"tg_stars:{kind}:sha256:{digest}"


def payment_event_id(telegram_payment_charge_id: str) -> str:
    return charge_event_id("payment", telegram_payment_charge_id)


def refund_event_id(telegram_payment_charge_id: str) -> str:
    return charge_event_id("refund", telegram_payment_charge_id)


@observe_outcome
def handle_successful_payment(
    *,
    user_id: int,
    telegram_payment_charge_id: str,
    total_amount: int,
    currency: str,
    source: str,
    payload: dict,
    entitlement_type: str = "",
    invoice_payload: str = "",
    provider_payment_charge_id: str = "",
    subscription_expires_at: datetime | None = None,
    update_id: int | None = None,
) -> EventOutcome:
    """Record a successful payment and grant what was bought, once per charge id."""
    return _record_and_apply(
        StripeEvent(
            event_id=payment_event_id(telegram_payment_charge_id),
            event_type=EVENT_PAYMENT,
            payment_method=PAYMENT_METHOD,
            customer_id=str(user_id),
            amount_cents=total_amount,
            currency=currency.upper(),
            source=source,
            update_id=update_id,
            telegram_payment_charge_id=telegram_payment_charge_id,
            provider_payment_charge_id=provider_payment_charge_id or "",
            invoice_payload=invoice_payload or "",
            entitlement_type=entitlement_type or "",
            subscription_expires_at=subscription_expires_at,
            payload=payload,
        ),
    )


@observe_outcome
def handle_refund(
    *,
    user_id: int,
    telegram_payment_charge_id: str,
    source: str,
    payload: dict,
    entitlement_type: str = "",
    refund_reason: str = "",
    total_amount: int | None = None,
    currency: str = STARS_CURRENCY,
    invoice_payload: str = "",
    provider_payment_charge_id: str = "",
    initiated_by=None,
    update_id: int | None = None,
) -> EventOutcome:
    """Record a refund and revoke the grant of that charge at once, once per charge id.

    A refund of a charge we never saw is still recorded; if its payment arrives later, the payment
    is recorded but grants nothing.
    """
    return _record_and_apply(
        StripeEvent(
            event_id=refund_event_id(telegram_payment_charge_id),
            event_type=EVENT_REFUND,
            payment_method=PAYMENT_METHOD,
            customer_id=str(user_id),
            amount_cents=total_amount,
            currency=(currency or STARS_CURRENCY).upper(),
            source=source,
            update_id=update_id,
            telegram_payment_charge_id=telegram_payment_charge_id,
            provider_payment_charge_id=provider_payment_charge_id or "",
            invoice_payload=invoice_payload or "",
            entitlement_type=entitlement_type or "",
            refund_reason=refund_reason or "",
            initiated_by=initiated_by,
            payload=payload,
        ),
    )


@observe_outcome
def replay_event(*, event: StripeEvent) -> EventOutcome:
    """Run a stored event's effect again (failed or stuck pending). A processed event is left alone.

    This is exactly the code a webhook runs; the attempt and its error are recorded either way.
    """
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event.pk)
        if event.status == EventStatus.PROCESSED:
            return EventOutcome("duplicate", event)
        lock_for_transaction(f"charge:{event.telegram_payment_charge_id}")
        event.attempts += 1
        try:
            with transaction.atomic():
                _apply(event)
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:  # recorded on the row; the effect was rolled back with the savepoint
            event.status = EventStatus.FAILED
            event.error = _describe(exc)
            event.save(update_fields=["status", "error", "attempts"])
            return EventOutcome("failed", event)
        _mark_processed(event)
        event.save()
        return EventOutcome("processed", event)


def _record_and_apply(new_event: StripeEvent) -> EventOutcome:
    in_sql = new_event.is_payment and records_payments_in_sql()
    if not in_sql:  # (stars_record_payment() looks for a stored copy itself, under the charge's lock)
        existing = _find_event(new_event.event_id)
        if existing is not None:
            return EventOutcome("duplicate", existing)
    try:
        if in_sql:
            return _record_payment_in_sql(new_event)
        with transaction.atomic():
            lock_for_transaction(f"charge:{new_event.telegram_payment_charge_id}")
            new_event.attempts = 1
            product = _apply(new_event)
            _mark_processed(new_event)
            # One INSERT, after the effect (bench/: one UPDATE less per event). Nobody could see the
            # row before the commit anyway; a concurrent copy that passed the check above waits on
            # the lock, then fails on a unique event_id (the event's or its grant's): a duplicate.
            insert(new_event)  # = save(force_insert=True), without the ORM's query building
        return EventOutcome("processed", new_event, product)
    except IntegrityError:
        return _existing_duplicate(new_event.event_id)
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:
        if in_sql and (existing := _find_event(new_event.event_id)) is not None:
            # The SQL path checks before it looks for a stored copy: this is a copy of an event
            # stored before (say) the product went off sale, not a new failure.
            return EventOutcome("duplicate", existing)
        logger.warning("event %s failed: %s", new_event.event_id, _describe(exc))
        return _record_failure(new_event, exc)


def _record_failure(event: StripeEvent, exc: Exception) -> EventOutcome:
    event.pk = None
    event.status = EventStatus.FAILED
    event.error = _describe(exc)
    event.note = ""
    event.processed_at = None
    try:
        with transaction.atomic():
            event.save(force_insert=True)
    except IntegrityError:
        return _existing_duplicate(event.event_id)
    return EventOutcome("failed", event)


# What callers of a duplicate read (the answer, the metrics, the log line): loaded in the one query.
# In the model's field order: Model.from_db maps a partial row onto the fields in that order.
_FOUND_EVENT_FIELDS = [
    f.attname for f in StripeEvent._meta.concrete_fields
    if f.attname in {"id", "event_id", "event_type", "status", "customer_id", "telegram_payment_charge_id",
                     "entitlement_type", "amount_cents", "currency", "source", "update_id"}
]


def answer_values(event: StripeEvent) -> tuple:
    """What an answer, the metrics and the log line read of `event`, as plain values (`answer_event`)."""
    return tuple(getattr(event, name) for name in _FOUND_EVENT_FIELDS)


def answer_event(values: tuple) -> StripeEvent:
    return StripeEvent.from_db(connection.alias, _FOUND_EVENT_FIELDS, values)


_FIND_EVENT_SQL = f"SELECT {', '.join(_FOUND_EVENT_FIELDS)} FROM stripe_events WHERE event_id = %s"


_PAYLOAD_FIELD = StripeEvent._meta.get_field("payload")


@observe_outcome
def redelivered(event: StripeEvent) -> EventOutcome:
    """The answer to an identical redelivery of `event` (counted like any duplicate)."""
    return EventOutcome("duplicate", event)


def _find_event(event_id: str) -> StripeEvent | None:
    """The stored event with `event_id`, or None. The check every delivery makes first.

    Raw SQL because it is the whole cost of a duplicate delivery: the ORM's query building took
    about 1 ms of the ~3 ms (bench/). The instance is a normal one; its other fields load on access.
    """
    with connection.cursor() as cursor:
        cursor.execute(_FIND_EVENT_SQL, [event_id])
        row = cursor.fetchone()
    return None if row is None else StripeEvent.from_db(connection.alias, _FOUND_EVENT_FIELDS, row)


def _one(queryset):
    """The row of a filter on a unique column, or None: `first()` without its ORDER BY, whose
    query building alone cost ~0.5 ms per lookup (bench/)."""
    return next(iter(queryset.order_by()[:1]), None)


def _existing_duplicate(event_id: str) -> EventOutcome:
    """The stored event a unique violation (or stars_record_payment) said exists, as a duplicate."""
    existing = _find_event(event_id)
    if existing is None:
        # Inside `except IntegrityError`: the violation was not on event_id, a real integrity
        # problem, re-raised. Otherwise the event was reported stored and is gone (pruned?).
        if sys.exc_info()[0] is not None:
            raise
        raise RuntimeError(f"{event_id} was reported stored but cannot be found")
    return EventOutcome("duplicate", existing)


def _mark_processed(event: StripeEvent) -> None:
    event.status = EventStatus.PROCESSED
    event.error = ""
    event.processed_at = timezone.now()


def _describe(exc: Exception) -> str:
    if isinstance(exc, PaymentRejected):
        return str(exc)
    if isinstance(exc, DatabaseError):  # PostgreSQL's first line; the rest is CONTEXT (the SQL it ran)
        return f"{type(exc).__name__}: {str(exc).partition(chr(10))[0]}"
    return f"{type(exc).__name__}: {exc}"


def _apply(event: StripeEvent) -> Product | None:
    """Apply the event's effect; for a payment, return the product paid for."""
    if event.event_type == EVENT_PAYMENT:
        return _apply_payment(event)
    elif event.event_type == EVENT_REFUND:
        _apply_refund(event)
        return None
    else:
        raise PaymentRejected(f"unknown event type {event.event_type!r}")


@dataclass(frozen=True)
class PaymentPlan:
    """What a payment grants, decided without locks (catalog and invoice reads): the checks passed."""

    product: Product
    invoice: Invoice | None
    duration: timedelta | None  # stacks after the user's current end
    expires_at: datetime | None  # or ends then (a subscription period); both None: for life


def _plan_payment(event: StripeEvent, product: Product | None = None) -> PaymentPlan:
    """The invoice, product, currency and price checks. Raises PaymentRejected (recorded as failed)."""
    invoice = None
    if event.invoice_payload:
        invoice = _invoice_with_product(event.invoice_payload)
    product = _product_for(event, invoice, product)
    event.entitlement_type = product.entitlement_type
    if event.currency != STARS_CURRENCY:
        raise PaymentRejected(f"currency {event.currency} is not {STARS_CURRENCY} (Telegram Stars)")
    price = invoice.price_stars if invoice else product.price_stars
    if event.amount_cents is None or event.amount_cents < price:
        raise PaymentRejected(f"amount {event.amount_cents} XTR is below the price of {price} XTR")
    if event.subscription_expires_at:
        return PaymentPlan(product, invoice, None, event.subscription_expires_at)
    duration = timedelta(days=product.duration_days) if product.duration_days else None
    return PaymentPlan(product, invoice, duration, None)


def _apply_payment(event: StripeEvent) -> Product:
    plan = _plan_payment(event)
    _grant_planned(event, plan)
    return plan.product


def _grant_planned(event: StripeEvent, plan: PaymentPlan) -> None:
    """The locked half of a payment, in Python (SQLite, and replays). On PostgreSQL a new payment runs
    the same steps in the `stars_record_payment` function instead (migration 0005): keep both alike."""
    invoice = plan.invoice
    if invoice and invoice.status != InvoiceStatus.PAID:
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = timezone.now()
        invoice.save(update_fields=["status", "paid_at"])
    if _find_event(refund_event_id(event.telegram_payment_charge_id)) is not None:
        event.note = REFUNDED_FIRST_NOTE
        return
    user_id = int(event.customer_id)
    # savepoint=False: a failed grant fails this whole transaction, which _record_and_apply rolls back
    # (and records the failure outside it); replay_event wraps _apply in its own savepoint.
    grant = grant_entitlement(
        user_id=user_id,
        entitlement_type=plan.product.entitlement_type,
        event_id=event.event_id,
        duration=plan.duration,
        expires_at=plan.expires_at,
        savepoint=False,
    )
    until = f"until {grant.expires_at:%Y-%m-%d %H:%M} UTC" if grant.expires_at else "for life"
    event.note = f"Granted {plan.product.entitlement_type} to {user_id} {until}."


_function_seen = False


def records_payments_in_sql() -> bool:
    """Whether new payments go through `stars_record_payment` (PostgreSQL) rather than `_grant_planned`.

    Only once the function exists: code deployed before `migrate` ran keeps taking payments through
    the Python path instead of recording each as failed. Once seen, it stays (migrations only add).
    """
    global _function_seen
    if connection.vendor != "postgresql":
        return False
    if not _function_seen:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regproc('stars_record_payment') IS NOT NULL")
            _function_seen = cursor.fetchone()[0]
    return _function_seen


_RECORD_PAYMENT_SQL = (
    "SELECT outcome, event_pk, event_note FROM stars_record_payment("
    + ", ".join(f"p_{name} => %s" for name in (
        "event_id", "event_type", "payment_method", "refund_event_id", "user_id", "entitlement_type", "amount",
        "currency", "source", "update_id", "charge_id", "provider_charge_id", "invoice_payload",
        "subscription_expires_at", "payload", "now", "invoice_id", "duration_seconds", "expires_at", "product_id",
        "product_version"))
    + ")"
)


def _record_payment_in_sql(event: StripeEvent) -> EventOutcome:
    """A new payment on PostgreSQL: the checks in Python, then one statement for the rest.

    The product comes from this process's memory of the catalog (`_catalog_entry`) when it can: the
    statement first checks that the row is still at the version the checks used, and says 'stale'
    if not; the checks then run again on a fresh read. A rejection is only ever made on a fresh read.
    No lookup precedes the statement: it finds a stored copy of the event itself (a duplicate).

    Outside a transaction the statement is its own (one round trip, bench/). Inside a caller's
    transaction it runs in a savepoint, so that a failure leaves the caller's usable; with an
    outbox configured, the grant's outbox message joins it in one transaction.
    """
    event.attempts = 1
    for attempt in range(3):
        fresh = attempt > 0
        product, version = _catalog_entry(event.entitlement_type, fresh=fresh)
        try:
            plan = _plan_payment(event, product)
        except PaymentRejected:
            if fresh or version is None:
                raise
            continue  # decided on a remembered catalog entry: decide again on a fresh one
        checked = plan.product is product and version is not None  # else read in this request
        _mark_processed(event)
        row = _call_record_payment(event, plan, product.pk if checked else None, version if checked else None)
        if row[0] == "stale":
            continue
        if row[0] == "duplicate":
            return _existing_duplicate(event.event_id)
        event.pk, event.note = row[1], row[2]
        event.received_at = event.processed_at
        event._state.adding, event._state.db = False, connection.alias
        return EventOutcome("processed", event, plan.product)
    raise PaymentRejected("the product changed three times while this payment was checked: replay it")


def _call_record_payment(event: StripeEvent, plan: PaymentPlan, product_id, product_version) -> tuple:
    charge = event.telegram_payment_charge_id
    params = [
        event.event_id, event.event_type, event.payment_method, refund_event_id(charge), int(event.customer_id),
        event.entitlement_type, event.amount_cents, event.currency, event.source, event.update_id, charge,
        event.provider_payment_charge_id, event.invoice_payload, event.subscription_expires_at,
        _PAYLOAD_FIELD.get_db_prep_save(event.payload, connection), event.processed_at,
        plan.invoice.pk if plan.invoice else None,
        int(plan.duration.total_seconds()) if plan.duration else None,  # seconds: no calendar arithmetic
        plan.expires_at, product_id, product_version,
    ]
    own_transaction = outbox.enabled() or connection.in_atomic_block
    with transaction.atomic() if own_transaction else nullcontext(), connection.cursor() as cursor:
        cursor.execute(_RECORD_PAYMENT_SQL, params)
        row = cursor.fetchone()
        if row[0] == "processed" and outbox.enabled():
            grant = Entitlement.objects.filter(event_id=event.event_id).first()
            if grant is not None:
                outbox.enqueue_change(entitlement=grant, kind=outbox.GRANTED, now=event.processed_at)
    return row


# PostgreSQL: the catalog entries this process has read, with their row versions (xmin), which
# stars_record_payment() checks before it acts on a plan made with one. {entitlement_type: (product, xmin)}
_catalog: dict[str, tuple[Product, str]] = {}
_VERSIONED_PRODUCT_SQL = (
    f"SELECT {', '.join(_PRODUCT_FIELDS)}, xmin::text FROM {Product._meta.db_table} WHERE entitlement_type = %s"
)


def _catalog_entry(entitlement_type: str, *, fresh: bool) -> tuple[Product | None, str | None]:
    if not entitlement_type:
        return None, None
    if not fresh and (entry := _catalog.get(entitlement_type)) is not None:
        return entry
    with connection.cursor() as cursor:
        cursor.execute(_VERSIONED_PRODUCT_SQL, [entitlement_type])
        row = cursor.fetchone()
    if row is None:  # unknown types are not remembered: one may be added any time
        _catalog.pop(entitlement_type, None)
        return None, None
    entry = (Product.from_db(connection.alias, _PRODUCT_FIELDS, row[:-1]), row[-1])
    if len(_catalog) >= 1000:  # a catalog is small; this only bounds what odd bodies could fill
        _catalog.clear()
    _catalog[entitlement_type] = entry
    return entry


def forget_catalog() -> None:
    _catalog.clear()


def _product_for(event: StripeEvent, invoice: Invoice | None, product: Product | None) -> Product:
    """The product paid for: the invoice's, or the one of the event's entitlement type (`product`, if
    already looked up)."""
    if invoice is not None:
        product = invoice.product
    elif product is None or product.entitlement_type != event.entitlement_type:
        if not event.entitlement_type:
            raise PaymentRejected(f"unknown invoice {event.invoice_payload!r} and no entitlement_type given")
        product = _product_by_type(event.entitlement_type)
        if product is None:
            raise PaymentRejected(f"unknown product {event.entitlement_type!r}")
    # A subscription renewal of an invoice we issued is honoured after its product went off sale:
    # Telegram keeps charging subscribers until they cancel, and they must get what they paid for.
    renewal = invoice is not None and event.subscription_expires_at is not None
    if not product.is_active and not renewal:
        raise PaymentRejected(f"product {product.entitlement_type!r} is not on sale")
    return product


def _apply_refund(event: StripeEvent) -> None:
    payment = _one(StripeEvent.objects.filter(event_id=payment_event_id(event.telegram_payment_charge_id)).only(
        "amount_cents", "entitlement_type", "invoice_payload"))  # not the payload: a JSON document to decode
    if payment is not None:
        event.amount_cents = event.amount_cents or payment.amount_cents
        event.entitlement_type = event.entitlement_type or payment.entitlement_type
        event.invoice_payload = event.invoice_payload or payment.invoice_payload
    grant = _one(Entitlement.objects.filter(event_id=payment_event_id(event.telegram_payment_charge_id)))
    if grant is None:
        event.note = (
            "No payment recorded for this charge yet: nothing to revoke; a later payment grants nothing."
            if payment is None
            else "The payment granted nothing: nothing to revoke."
        )
        return
    reason = f"refund ({EventSource(event.source).label})" + (
        f": {event.refund_reason}" if event.refund_reason else ""
    )
    revoke_entitlement(entitlement=grant, reason=reason, savepoint=False)
    event.note = f"Revoked {grant.entitlement_type} of {grant.user_id}."


class RefundNotAllowed(Exception):
    """The event is not a processed payment that may be refunded."""


ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"


def refund_payment(*, event: StripeEvent, staff_user, reason: str) -> EventOutcome:
    """Refund a processed Stars payment through the Bot API, then record it like any refund of that charge.

    The refund event gets the usual id (`tg_stars:refund:<charge>`), so Telegram's own
    `refunded_payment` update that follows is a duplicate. Telegram's `CHARGE_ALREADY_REFUNDED`
    counts as success (a second click, or a refund made elsewhere). Any other `BotApiError`
    propagates and nothing is recorded: the staff user sees Telegram's words and may try again.
    A charge whose refund is already recorded returns that refund ("duplicate") without calling Telegram.
    """
    from .bot import BotApiError, call_bot  # imported here: the bot client loads python-telegram-bot

    event = StripeEvent.objects.get(pk=event.pk)
    if not event.is_payment or event.status != EventStatus.PROCESSED:
        raise RefundNotAllowed(f"{event.event_id} is not a processed payment")
    existing = StripeEvent.objects.filter(event_id=refund_event_id(event.telegram_payment_charge_id)).first()
    if existing is not None:
        return EventOutcome("duplicate", existing)

    user_id = int(event.customer_id)
    charge_id = event.telegram_payment_charge_id
    try:
        call_bot("refundStarPayment", lambda bot: bot.refund_star_payment(user_id, charge_id))
        telegram_answer = "ok"
    except BotApiError as exc:
        if ALREADY_REFUNDED not in exc.description.upper():
            raise
        telegram_answer = ALREADY_REFUNDED
    return handle_refund(
        user_id=user_id,
        telegram_payment_charge_id=charge_id,
        source=EventSource.STAFF,
        payload={
            "bot_api_method": "refundStarPayment",
            "user_id": user_id,
            "telegram_payment_charge_id": charge_id,
            "telegram_answer": telegram_answer,
            "staff_user": staff_user.get_username(),
            "refund_reason": reason,
        },
        entitlement_type=event.entitlement_type,
        refund_reason=reason,
        total_amount=event.amount_cents,
        currency=event.currency,
        invoice_payload=event.invoice_payload,
        provider_payment_charge_id=event.provider_payment_charge_id,
        initiated_by=staff_user,
    )
