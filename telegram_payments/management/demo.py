"""A small demo history for a development database, so the admin is not empty on first look: a few
customers' payments, a refund and a failed payment, recorded through the same services as webhooks.

Each demo event is recorded "now" by the pipeline and then moved back to its place in the story
(with its grant), so the charts show days. Charges have fixed ids, so loading twice adds nothing.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from entitlements.models import Entitlement
from telegram_payments.models import EventSource, Product, StripeEvent
from telegram_payments.payments.events import Outcome, payment_id_of
from telegram_payments.payments.pipeline import handle_refund, handle_successful_payment

CUSTOMERS = {
    1001: {"first_name": "Ana", "last_name": "Souza", "username": "ana_demo"},
    1002: {"first_name": "Ben", "last_name": "Okafor", "username": "ben_demo"},
    1003: {"first_name": "Chen", "last_name": "Wei", "username": "chen_demo"},
    1004: {"first_name": "Dana", "last_name": "Levi", "username": "dana_demo"},
}


@dataclass(frozen=True)
class DemoEvent:
    days_ago: float
    user_id: int
    charge: str
    product: str
    stars: int
    refund_reason: str | None = None  # set: a refund of `charge`


# In the order they happened. "premium_weekly" is not in the catalog: that payment fails.
HISTORY = [
    DemoEvent(40, 1003, "demo_charge_chen_lifetime", "lifetime", 10000),
    DemoEvent(35, 1001, "demo_charge_ana_1", "premium_monthly", 250),
    DemoEvent(12, 1002, "demo_charge_ben_yearly", "premium_yearly", 2500),
    DemoEvent(5, 1001, "demo_charge_ana_2", "premium_monthly", 250),
    DemoEvent(3, 1004, "demo_charge_dana", "premium_monthly", 250),
    DemoEvent(2.5, 1004, "demo_charge_dana", "premium_monthly", 250, refund_reason="Bought by mistake"),
    DemoEvent(0.1, 1002, "demo_charge_ben_weekly", "premium_weekly", 100),
]
REQUIRED_PRODUCTS = {"lifetime", "premium_monthly", "premium_yearly"}


class CatalogMissing(Exception):
    pass


def load_demo_history() -> int:
    """Record the demo history; the number of events added (0 when it was loaded before)."""
    missing = REQUIRED_PRODUCTS - set(Product.objects.values_list("entitlement_type", flat=True))
    if missing:
        raise CatalogMissing(f"the demo catalog is not loaded (missing {', '.join(sorted(missing))})")
    added = 0
    for number, item in enumerate(HISTORY, start=1):
        outcome = _record(item, update_id=900_000 + number)
        if outcome.status != Outcome.DUPLICATE:
            _move_back(outcome.event, timedelta(days=item.days_ago))
            added += 1
    return added


def _record(item: DemoEvent, *, update_id: int):
    sender = {"id": item.user_id, "is_bot": False, **CUSTOMERS[item.user_id]}
    money = {"currency": "XTR", "total_amount": item.stars, "invoice_payload": f"demo_{item.product}",
             "telegram_payment_charge_id": item.charge}
    kind = "refunded_payment" if item.refund_reason else "successful_payment"
    payload = {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(timezone.now().timestamp()), "from": sender,
        "chat": {"id": item.user_id, "type": "private", **CUSTOMERS[item.user_id]}, kind: money}}
    if item.refund_reason:
        return handle_refund(user_id=item.user_id, telegram_payment_charge_id=item.charge, total_amount=item.stars,
                             source=EventSource.TELEGRAM, payload=payload, refund_reason=item.refund_reason,
                             update_id=update_id)
    return handle_successful_payment(user_id=item.user_id, telegram_payment_charge_id=item.charge,
                                     total_amount=item.stars, currency="XTR", entitlement_type=item.product,
                                     invoice_payload=f"demo_{item.product}", source=EventSource.TELEGRAM,
                                     payload=payload, update_id=update_id)


def _move_back(event: StripeEvent, ago: timedelta) -> None:
    """Date a just-recorded demo event, and what it did to a grant, `ago` earlier."""
    StripeEvent.objects.filter(pk=event.pk).update(received_at=F("received_at") - ago,
                                                   processed_at=F("processed_at") - ago)
    if event.is_refund:
        Entitlement.objects.filter(event_id=payment_id_of(event),
                                   revoked_at__isnull=False).update(revoked_at=F("revoked_at") - ago)
        return
    grants = Entitlement.objects.filter(event_id=event.event_id)
    grants.update(granted_at=F("granted_at") - ago, starts_at=F("starts_at") - ago)
    grants.filter(expires_at__isnull=False).update(expires_at=F("expires_at") - ago)
