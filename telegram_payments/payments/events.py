"""What an event is called and how handling it ended: event ids, outcomes, rejections."""

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from django.db import DatabaseError

from entitlements.api_errors import TRANSIENT_ERRORS  # noqa: F401 - where the pipeline's callers find it
from telegram_payments.models import Product, StripeEvent

MAX_EVENT_ID_LENGTH = 255


class Outcome(StrEnum):
    """How handling one event ended."""

    PROCESSED = "processed"  # recorded now, effect applied
    DUPLICATE = "duplicate"  # recorded before: nothing done now
    FAILED = "failed"  # recorded as failed (a permanent reason), for staff to replay or refund


class PaymentRejected(Exception):
    """A permanent reason not to apply an event (unknown product, wrong amount, ...).

    `unfulfillable` marks the reasons nobody can fix by replaying it (the product is off sale, the
    amount is below its price, the invoice is not ours): such a payment may be refunded automatically
    (`AUTO_REFUND_UNFULFILLABLE`). `buyer_reason` says why to the buyer, in their words.
    """

    def __init__(self, message: str, *, unfulfillable: bool = False, buyer_reason: str = ""):
        super().__init__(message)
        self.unfulfillable = unfulfillable
        self.buyer_reason = buyer_reason


def charge_event_id(kind: str, telegram_payment_charge_id: str, *, namespace: str = "") -> str:
    """`tg_stars:<namespace><kind>:<charge id>`, hashing the charge id in the rare case it would not fit.

    Keyed on the charge, so one payment arriving by any route is one event, and its refund another.
    `namespace` is the bot's (`Bot.event_namespace`: "" for the default bot, `bot<telegram id>:` for
    another), so two bots' charges never share an id; `namespace_of(event)` gives a stored event's.
    """
    event_id = f"tg_stars:{namespace}{kind}:{telegram_payment_charge_id}"
    if len(event_id) <= MAX_EVENT_ID_LENGTH:
        return event_id
    digest = hashlib.sha256(telegram_payment_charge_id.encode()).hexdigest()
    return f"tg_stars:{namespace}{kind}:sha256:{digest}"


def payment_event_id(telegram_payment_charge_id: str, *, namespace: str = "") -> str:
    return charge_event_id("payment", telegram_payment_charge_id, namespace=namespace)


def refund_event_id(telegram_payment_charge_id: str, *, namespace: str = "") -> str:
    return charge_event_id("refund", telegram_payment_charge_id, namespace=namespace)


def subscription_event_id(update_id: int, *, namespace: str = "") -> str:
    """A subscription update has no charge: the Bot API update carrying it is its identity (per bot)."""
    return f"tg_stars:{namespace}subscription:{update_id}"


def namespace_of(event: StripeEvent) -> str:
    """The event ids' namespace of a stored event's bot (no query: `registry.bots`)."""
    from telegram_payments.registry import bots

    return bots.get(event.bot_id).event_namespace


def payment_id_of(event: StripeEvent) -> str:
    """The payment event id of the charge of `event` (a payment or its refund), in its bot's namespace."""
    return payment_event_id(event.telegram_payment_charge_id, namespace=namespace_of(event))


def refund_id_of(event: StripeEvent) -> str:
    """The refund event id of the charge of `event`, in its bot's namespace."""
    return refund_event_id(event.telegram_payment_charge_id, namespace=namespace_of(event))


@dataclass(frozen=True)
class EventOutcome:
    status: Outcome
    event: StripeEvent
    product: Product | None = None  # what a payment processed now paid for (its catalog entry)
    granted: bool = False  # this call granted what a payment paid for

    @property
    def event_id(self) -> str:
        return self.event.event_id

    def answer(self) -> dict:
        """The webhook's JSON answer, on every route (relay or Bot API Update)."""
        return {
            "ok": True,
            "status": self.status.value,
            "event_id": self.event.event_id,
            "event_status": self.event.get_status_display(),
        }


def describe(exc: Exception) -> str:
    """The error text recorded on a failed event."""
    if isinstance(exc, PaymentRejected):
        return str(exc)
    if isinstance(exc, DatabaseError):  # PostgreSQL's first line; the rest is CONTEXT
        return f"{type(exc).__name__}: {str(exc).partition(chr(10))[0]}"
    return f"{type(exc).__name__}: {exc}"
