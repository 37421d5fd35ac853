"""What a new payment (relay and Bot API Update), a refund and a copy ask of the database, statement by
statement, so that a change adding a round trip to every payment fails here instead of creeping in.

The same lists on SQLite and PostgreSQL but for the locks: PostgreSQL takes the charge's lock and the
buyer's grant-stack lock in one statement; SQLite serialises writers itself and takes none. The test's
own transaction turns the pipeline's BEGIN/COMMIT into SAVEPOINT/RELEASE. The connection's health
check (`CONN_HEALTH_CHECKS`) is not a captured query: one more round trip per request, before these.
"""

import copy

import pytest
from django.db import connection

from entitlements.models import Entitlement
from telegram_payments.models import Customer, InvoiceStatus
from tests.conftest import answer_status, load_update
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db

RELAY_PAY_URL = "/webhook/telegram/successful_payment"
RELAY_REFUND_URL = "/webhook/telegram/refund"
UPDATE_URL = "/webhook/telegram"
BUYER = 555000111


def locks() -> list[str]:
    """The lock statement: one on PostgreSQL (the charge's and the buyer's stack lock together), none on SQLite."""
    return ["SELECT"] if connection.vendor == "postgresql" else []


def relay_payment(charge: str, **fields) -> dict:
    return {"user_id": str(BUYER), "entitlement_type": "premium_monthly", "invoice_id": "",
            "telegram_payment_charge_id": charge, "provider_payment_charge_id": "", "total_amount": 250,
            "currency": "XTR", **fields}


def statements(captured) -> list[str]:
    return [q["sql"].split()[0] for q in captured.captured_queries]


def test_a_new_relay_payment(post_json, catalog, django_assert_num_queries):
    expected = [
        "SAVEPOINT",  # the pipeline's transaction
        *locks(),  # the charge's lock and the buyer's grant-stack lock, in one statement
        "SELECT",  # what is recorded for the charge: a copy? refunded first?
        "SELECT",  # the product
        "SELECT",  # the buyer's current end of that product: where the grant stacks
        "INSERT",  # the grant
        "INSERT",  # the event
        "INSERT",  # its user as a customer, if new (ON CONFLICT DO NOTHING: every user with an event is one)
        "RELEASE",
    ]
    with django_assert_num_queries(len(expected)) as captured:
        response = post_json(RELAY_PAY_URL, relay_payment("count-relay"))
    assert response.json()["status"] == "processed"
    assert statements(captured) == expected
    assert Entitlement.objects.filter(event_id="tg_stars:payment:count-relay").count() == 1


def payment_update(update_id: int, charge: str) -> dict:
    data = copy.deepcopy(load_update("successful_payment"))
    data["update_id"] = update_id
    data["message"]["successful_payment"]["telegram_payment_charge_id"] = charge
    return data


@pytest.mark.parametrize("first_payment", [True, False], ids=["invoice-paid-now", "invoice-paid-before"])
def test_a_new_payment_update(post_json, catalog, django_assert_num_queries, first_payment):
    """The Update route records its sender in the payment's own transaction. A payment of an invoice
    still open marks it paid (one UPDATE); a link's later payments find it paid already."""
    invoice = InvoiceFactory(payload="inv_fixture_premium_monthly", user_id=None, product=catalog["premium_monthly"])
    if not first_payment:
        assert answer_status(post_json(UPDATE_URL, payment_update(1, "count-before")).json()) == "processed"
    expected = [
        "SAVEPOINT",
        *locks(),
        "SELECT",  # what is recorded for the charge: a copy? refunded first?
        "SELECT",  # the invoice and its product
        *(["UPDATE"] if first_payment else []),  # the invoice marked paid
        "SELECT",  # the buyer's current end
        "INSERT",  # the grant
        "INSERT",  # the event
        "INSERT",  # the sender, as Telegram shows them now (INSERT ... ON CONFLICT DO UPDATE)
        "RELEASE",
    ]
    with django_assert_num_queries(len(expected)) as captured:
        response = post_json(UPDATE_URL, payment_update(2, "count-update"))
    assert answer_status(response.json()) == "processed"
    assert statements(captured) == expected
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert Customer.objects.filter(user_id=BUYER).exists()


def test_a_refund(post_json, catalog, django_assert_num_queries):
    assert post_json(RELAY_PAY_URL, relay_payment("count-refund")).json()["status"] == "processed"
    expected = [
        "SAVEPOINT",
        *locks(),
        "SELECT",  # what is recorded for the charge: its payment (and a copy of this refund?)
        "SELECT",  # the payment's grant, read once, locked (FOR UPDATE)
        "UPDATE",  # the grant revoked
        "SELECT",  # grants stacked behind it, to move up
        "INSERT",  # the event
        "INSERT",  # its user as a customer, if new
        "RELEASE",
    ]
    with django_assert_num_queries(len(expected)) as captured:
        response = post_json(RELAY_REFUND_URL, {
            "user_id": str(BUYER), "entitlement_type": "premium_monthly",
            "telegram_payment_charge_id": "count-refund", "refund_reason": "test"})
    assert response.json()["status"] == "processed"
    assert statements(captured) == expected
    assert Entitlement.objects.get(event_id="tg_stars:payment:count-refund").revoked_at is not None


def test_a_copy_with_other_bytes(post_json, catalog, django_assert_num_queries):
    """Not answered from memory (other bytes): the recorded payment is found under the lock."""
    assert post_json(RELAY_PAY_URL, relay_payment("count-copy")).json()["status"] == "processed"
    expected = [
        "SAVEPOINT",
        *locks(),
        "SELECT",  # what is recorded for the charge: the payment, a copy
        "RELEASE",
    ]
    with django_assert_num_queries(len(expected)) as captured:
        response = post_json(RELAY_PAY_URL, relay_payment("count-copy", provider_payment_charge_id="other"))
    assert response.json()["status"] == "duplicate"
    assert statements(captured) == expected
    assert Entitlement.objects.filter(event_id="tg_stars:payment:count-copy").count() == 1
