"""Faults: the database going away mid-request, and an exception inside the entitlement grant.

The database fault is real: the test holds a lock the request needs, so the request waits inside
its transaction, then kills that request's PostgreSQL backend with pg_terminate_backend.
"""

import threading

import pytest
from django.db import connection, connections

from entitlements.models import Entitlement
from entitlements.selectors import has_entitlement
from telegram_payments.models import EventStatus, InvoiceStatus, StripeEvent
from telegram_payments.payments.events import payment_event_id
from telegram_payments.payments.pipeline import replay_event
from tests.conftest import answer_status
from tests.factories import InvoiceFactory
from tests.test_resilience_concurrency import (
    LINK_INVOICE,
    PAYMENT_ROUTES,
    REFUND_ROUTES,
    admin_connection,
    post,
    wait_for_lock_waiters,
)

DB_UNAVAILABLE = {"ok": False, "error": "database_unavailable"}
USER = 4242


@pytest.fixture
def invoice(catalog):
    """The invoice every payment body of PAYMENT_ROUTES pays."""
    return InvoiceFactory(payload=LINK_INVOICE, product=catalog["premium_monthly"], user_id=USER)


def send_while_locked(admin, lock_name: str, url: str, body: dict, secret: str):
    """POST while the test holds `lock_name`; kill the request's backend once it waits on it."""
    result = {}
    admin.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [lock_name])
    try:
        thread = threading.Thread(target=lambda: result.setdefault("r", post(url, body, secret)))
        thread.start()
        (pid,) = wait_for_lock_waiters(admin, 1)
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        admin.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [lock_name])
    thread.join()
    connections.close_all()
    return result["r"]


@pytest.mark.parametrize("pay", PAYMENT_ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("where", ["at_charge_lock", "inside_grant"])
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_database_killed_mid_payment_is_503_nothing_written_and_the_retry_succeeds(
    live_server, invoice, webhook_secret, pay, where
):
    charge = f"killed-{where}"
    # at_charge_lock: waiting on the per-charge lock, the first statement of the transaction;
    # inside_grant: the invoice is already marked paid in the transaction, the grant waits on its lock.
    lock = f"charge:{charge}" if where == "at_charge_lock" else f"entitlement:{USER}"
    url, body = live_server.url + pay.path, pay.body(charge, USER)
    with admin_connection() as admin:
        status, answer = send_while_locked(admin, lock, url, body, webhook_secret)
    assert (status, answer) == (503, DB_UNAVAILABLE)
    assert not StripeEvent.objects.exists()
    assert not Entitlement.objects.exists()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN  # the half-done transaction was rolled back

    status, answer = post(url, body, webhook_secret)  # Telegram retries; the database is back
    assert (status, answer_status(answer)) == (200, "processed")
    assert StripeEvent.objects.get().event_id == payment_event_id(charge)
    assert has_entitlement(USER, "premium_monthly")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


@pytest.mark.parametrize("pay,refund", list(zip(PAYMENT_ROUTES, REFUND_ROUTES, strict=True)),
                         ids=lambda r: r.name)
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_database_killed_mid_refund_is_503_grant_kept_and_the_retry_revokes(
    live_server, invoice, webhook_secret, pay, refund
):
    charge = "killed-refund"
    assert post(live_server.url + pay.path, pay.body(charge, USER), webhook_secret)[0] == 200
    url, body = live_server.url + refund.path, refund.body(charge, USER)
    with admin_connection() as admin:  # the revoke waits on the user's lock, inside the refund's transaction
        status, answer = send_while_locked(admin, f"entitlement:{USER}", url, body, webhook_secret)
    assert (status, answer) == (503, DB_UNAVAILABLE)
    assert StripeEvent.objects.count() == 1  # only the payment
    assert has_entitlement(USER, "premium_monthly")

    status, answer = post(url, body, webhook_secret)
    assert (status, answer_status(answer)) == (200, "processed")
    assert StripeEvent.objects.count() == 2
    assert not has_entitlement(USER, "premium_monthly")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_database_unreachable_at_the_start_of_a_request_is_503_then_the_same_payment_succeeds(
    invoice, post_json
):
    body = PAYMENT_ROUTES[0].body("unreachable", USER)
    url = PAYMENT_ROUTES[0].path
    real_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = "9"  # nothing listens on the discard port
    try:
        response = post_json(url, body)
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port
    assert response.status_code == 503
    assert response.json() == DB_UNAVAILABLE
    assert response["Retry-After"] == "5"
    assert not StripeEvent.objects.exists()
    response = post_json(url, body)
    assert (response.status_code, response.json()["status"]) == (200, "processed")
    assert StripeEvent.objects.count() == Entitlement.objects.count() == 1


@pytest.mark.django_db
def test_exception_inside_the_grant_records_failed_rolls_the_grant_back_and_replay_completes(
    invoice, post_json, crashing_grant
):
    """The fault strikes after the grant wrote its row (see the crashing_grant fixture)."""
    body = PAYMENT_ROUTES[0].body("crash-in-grant", USER)
    crashing_grant("entitlement store crashed mid-grant")
    response = post_json(PAYMENT_ROUTES[0].path, body)
    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    event = StripeEvent.objects.get()
    assert event.status == EventStatus.FAILED
    assert "entitlement store crashed mid-grant" in event.error
    assert not Entitlement.objects.exists()  # the half-done grant was rolled back
    assert post_json(PAYMENT_ROUTES[0].path, body).json()["status"] == "duplicate"  # a retry does not re-run it
    crashing_grant.stop()

    outcome = replay_event(event=event)
    assert outcome.status == "processed"
    event.refresh_from_db()
    assert (event.status, event.error, event.attempts) == (EventStatus.PROCESSED, "", 2)
    assert Entitlement.objects.get().event_id == event.event_id
    assert has_entitlement(USER, "premium_monthly")
    assert replay_event(event=event).status == "duplicate"
    assert Entitlement.objects.count() == 1

