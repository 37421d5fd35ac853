"""Exactly once under concurrency, over real HTTP against a real PostgreSQL (live_server)."""

import json
import threading
import urllib.error
import urllib.request

import pytest
from django.db import connections

from entitlements.models import Entitlement
from telegram_payments.models import StripeEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def post(url, body, secret):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def run_at_once(bodies, url, secret):
    """POST each body from its own thread, all released together; returns [(status, json)]."""
    barrier = threading.Barrier(len(bodies))
    results = [None] * len(bodies)

    def worker(i, body):
        barrier.wait()
        results[i] = post(url, body, secret)

    threads = [threading.Thread(target=worker, args=(i, b)) for i, b in enumerate(bodies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    connections.close_all()
    return results


def payment(charge, user_id=555):
    return {"user_id": user_id, "entitlement_type": "premium_monthly", "invoice_id": "",
            "telegram_payment_charge_id": charge, "total_amount": 250, "currency": "XTR"}


def test_twenty_copies_of_one_payment_at_once_make_one_row_and_one_grant(live_server, catalog, webhook_secret):
    url = f"{live_server.url}/webhook/telegram/successful_payment"
    results = run_at_once([payment("same-charge")] * 20, url, webhook_secret)
    assert [status for status, _ in results] == [200] * 20
    statuses = sorted(body["status"] for _, body in results)
    assert statuses == ["duplicate"] * 19 + ["processed"]
    assert StripeEvent.objects.count() == 1
    assert Entitlement.objects.count() == 1


def test_fifty_distinct_payments_at_once_make_fifty_rows(live_server, catalog, webhook_secret):
    url = f"{live_server.url}/webhook/telegram/successful_payment"
    results = run_at_once([payment(f"charge-{i}", user_id=1000 + i) for i in range(50)], url, webhook_secret)
    assert all(status == 200 and body["status"] == "processed" for status, body in results)
    assert StripeEvent.objects.count() == 50
    assert Entitlement.objects.count() == 50


def test_one_user_buying_twice_at_once_stacks_both_grants(live_server, catalog, webhook_secret):
    url = f"{live_server.url}/webhook/telegram/successful_payment"
    run_at_once([payment("buy-a", user_id=9), payment("buy-b", user_id=9)], url, webhook_secret)
    first, second = Entitlement.objects.order_by("starts_at")
    assert second.starts_at == first.expires_at
