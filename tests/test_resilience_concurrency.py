"""Exactly once under concurrency, over real HTTP (live_server) against a real PostgreSQL.

Payments are sent through every route in PAYMENT_ROUTES; to cover another webhook (e.g. the Bot API
Update endpoint), add a Route with its path and a builder of its body.
"""

import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import pytest
from django.db import connection, connections

from entitlements.models import Entitlement
from entitlements.selectors import has_entitlement
from telegram_payments.models import EventStatus, Invoice, StripeEvent
from telegram_payments.payments.events import payment_event_id, refund_event_id
from tests.conftest import answer_status
from tests.http import post, run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    body: Callable[[str, int], dict]  # (charge, user_id) -> body


# An invoice link anyone may pay (user_id empty), as a bot's "buy" link: what every payment body pays.
LINK_INVOICE = "inv_resilience_link"


def relay_payment(charge: str, user_id: int) -> dict:
    return {"user_id": user_id, "entitlement_type": "premium_monthly", "invoice_id": LINK_INVOICE,
            "telegram_payment_charge_id": charge, "total_amount": 250, "currency": "XTR"}


def relay_refund(charge: str, user_id: int) -> dict:
    return {"user_id": user_id, "entitlement_type": "premium_monthly", "telegram_payment_charge_id": charge,
            "refund_reason": "race test"}


def _update_id(charge: str, kind: str) -> int:
    return zlib.crc32(f"{kind}:{charge}".encode())  # a redelivery of one update keeps its update_id


def update_payment(charge: str, user_id: int) -> dict:
    """A Bot API Update carrying message.successful_payment, as Telegram sends it."""
    user = {"id": user_id, "is_bot": False, "first_name": "Buyer"}
    return {"update_id": _update_id(charge, "payment"), "message": {
        "message_id": 1, "date": 1795000000, "from": user, "chat": {**user, "type": "private"},
        "successful_payment": {"currency": "XTR", "total_amount": 250, "invoice_payload": LINK_INVOICE,
                               "telegram_payment_charge_id": charge, "provider_payment_charge_id": ""}}}


def update_refund(charge: str, user_id: int) -> dict:
    """A Bot API Update carrying message.refunded_payment: `from` is the bot, the buyer is the chat."""
    bot = {"id": 123456789, "is_bot": True, "first_name": "Bot"}
    return {"update_id": _update_id(charge, "refund"), "message": {
        "message_id": 2, "date": 1795000100, "from": bot,
        "chat": {"id": user_id, "first_name": "Buyer", "type": "private"},
        "refunded_payment": {"currency": "XTR", "total_amount": 250, "invoice_payload": LINK_INVOICE,
                             "telegram_payment_charge_id": charge}}}


PAYMENT_ROUTES = [Route("relay", "/webhook/telegram/successful_payment", relay_payment),
                  Route("update", "/webhook/telegram", update_payment)]
REFUND_ROUTES = [Route("relay", "/webhook/telegram/refund", relay_refund),
                 Route("update", "/webhook/telegram", update_refund)]
# (payment route, refund route) pairs raced against each other; a payment by one route and its refund
# by another must end the same way.
RACE_PAIRS = [(pay, refund) for pay in PAYMENT_ROUTES for refund in REFUND_ROUTES]


@pytest.fixture(autouse=True)
def link_invoice(catalog):
    return Invoice.objects.create(payload=LINK_INVOICE, user_id=None, product=catalog["premium_monthly"],
                                  price_stars=250)
payment_routes = pytest.mark.parametrize("pay", PAYMENT_ROUTES, ids=lambda r: r.name)


def admin_connection():
    """A connection of the test's own, outside Django, to hold locks and watch the server's backends."""
    s = connection.settings_dict
    return psycopg.connect(host=s["HOST"] or None, port=s["PORT"] or None, user=s["USER"],
                           password=s["PASSWORD"] or None, dbname=s["NAME"], autocommit=True)


def wait_for_lock_waiters(admin, count: int) -> list[int]:
    """Backend pids waiting on an advisory lock, once there are `count` of them (fails after 30 s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = [row[0] for row in admin.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").fetchall()]
        if len(pids) >= count:
            return pids
        time.sleep(0.02)
    raise AssertionError(f"expected {count} requests waiting on an advisory lock, saw {len(pids)}")


class ChargeLock:
    """Hold the per-charge lock the services take, so requests for that charge queue in a known order."""

    def __init__(self, admin, charge: str):
        self.admin, self.name = admin, f"charge:{charge}"

    def __enter__(self):
        self.admin.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [self.name])
        return self

    def __exit__(self, *exc):
        self.admin.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [self.name])


def start(url, body, secret, results, key):
    thread = threading.Thread(target=lambda: results.__setitem__(key, post(url, body, secret)))
    thread.start()
    return thread


@payment_routes
def test_fifty_copies_of_one_payment_at_once_make_one_event_and_one_grant(live_server, catalog, webhook_secret,
                                                                          pay):
    url = live_server.url + pay.path
    results = run_at_once([(url, pay.body("same-charge-50", 555))] * 50, webhook_secret)
    assert [status for status, _ in results] == [200] * 50
    assert sorted(answer_status(body) for _, body in results) == ["duplicate"] * 49 + ["processed"]
    # Every copy names the one event, but the one answered with the thanks (a message to the buyer).
    assert {body.get("event_id") for _, body in results} - {None} == {payment_event_id("same-charge-50")}
    event = StripeEvent.objects.get()
    assert event.status == EventStatus.PROCESSED
    grant = Entitlement.objects.get()
    assert (grant.user_id, grant.event_id) == (555, event.event_id)


@payment_routes
def test_two_hundred_distinct_payments_from_twenty_threads(live_server, catalog, webhook_secret, pay):
    url = live_server.url + pay.path
    results, errors = [], []

    def sender(thread_no):
        try:
            for i in range(10):
                charge = f"distinct-{thread_no}-{i}"
                results.append((charge, *post(url, pay.body(charge, 10_000 + thread_no * 10 + i), webhook_secret)))
        except Exception as exc:  # noqa: BLE001 - any exception in a sender is a test failure
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    connections.close_all()
    assert errors == []
    assert len(results) == 200
    assert all(status == 200 and answer_status(body) == "processed" for _, status, body in results), results[:3]
    assert StripeEvent.objects.filter(status=EventStatus.PROCESSED).count() == 200
    assert Entitlement.objects.count() == 200
    assert set(Entitlement.objects.values_list("event_id", flat=True)) == {
        payment_event_id(charge) for charge, _, _ in results
    }


@pytest.mark.parametrize("first", ["payment", "refund"])
@pytest.mark.parametrize("pay,refund", RACE_PAIRS, ids=[f"{p.name}-{r.name}" for p, r in RACE_PAIRS])
def test_refund_racing_its_payment_ends_revoked_in_either_order(live_server, catalog, webhook_secret,
                                                                first, pay, refund):
    """Both requests queue on the per-charge lock the test holds, in a known order, then race for it."""
    charge, user = f"race-{first}", 777
    jobs = {"payment": (live_server.url + pay.path, pay.body(charge, user)),
            "refund": (live_server.url + refund.path, refund.body(charge, user))}
    second = "refund" if first == "payment" else "payment"
    results, threads = {}, []
    with admin_connection() as admin, ChargeLock(admin, charge):
        threads.append(start(*jobs[first], webhook_secret, results, first))
        wait_for_lock_waiters(admin, 1)
        threads.append(start(*jobs[second], webhook_secret, results, second))
        wait_for_lock_waiters(admin, 2)
    for t in threads:
        t.join()
    connections.close_all()
    assert results["payment"][0] == results["refund"][0] == 200
    assert answer_status(results["payment"][1]) == answer_status(results["refund"][1]) == "processed"
    assert_refunded(charge, user)


@pytest.mark.parametrize("pay,refund", RACE_PAIRS, ids=[f"{p.name}-{r.name}" for p, r in RACE_PAIRS])
def test_refund_and_payment_truly_simultaneous_end_revoked(live_server, catalog, webhook_secret, pay, refund):
    charges = [f"simul-{i}" for i in range(10)]
    jobs = []
    for i, charge in enumerate(charges):
        jobs.append((live_server.url + pay.path, pay.body(charge, 900 + i)))
        jobs.append((live_server.url + refund.path, refund.body(charge, 900 + i)))
    results = run_at_once(jobs, webhook_secret)
    assert all(status == 200 and answer_status(body) == "processed" for status, body in results), results
    for i, charge in enumerate(charges):
        assert_refunded(charge, 900 + i)


def assert_refunded(charge: str, user_id: int) -> None:
    payment = StripeEvent.objects.get(event_id=payment_event_id(charge))
    refund = StripeEvent.objects.get(event_id=refund_event_id(charge))
    assert payment.status == refund.status == EventStatus.PROCESSED
    grants = Entitlement.objects.filter(event_id=payment.event_id)
    assert all(g.revoked_at is not None for g in grants)  # granted then revoked, or never granted
    assert not has_entitlement(user_id, "premium_monthly")
