"""Exactly once under concurrency, over real HTTP against a real PostgreSQL (live_server)."""

import pytest

from entitlements.models import Entitlement
from telegram_payments.models import StripeEvent
from tests.http import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def payment(charge, user_id=555):
    return {"user_id": user_id, "entitlement_type": "premium_monthly", "invoice_id": "",
            "telegram_payment_charge_id": charge, "total_amount": 250, "currency": "XTR"}


def test_twenty_copies_of_one_payment_at_once_make_one_row_and_one_grant(live_server, catalog, webhook_secret):
    url = f"{live_server.url}/webhook/telegram/successful_payment"
    results = run_at_once([(url, payment("same-charge"))] * 20, webhook_secret)
    assert [status for status, _ in results] == [200] * 20
    statuses = sorted(body["status"] for _, body in results)
    assert statuses == ["duplicate"] * 19 + ["processed"]
    assert StripeEvent.objects.count() == 1
    assert Entitlement.objects.count() == 1


def test_fifty_distinct_payments_at_once_make_fifty_rows(live_server, catalog, webhook_secret):
    url = f"{live_server.url}/webhook/telegram/successful_payment"
    results = run_at_once([(url, payment(f"charge-{i}", user_id=1000 + i)) for i in range(50)], webhook_secret)
    assert all(status == 200 and body["status"] == "processed" for status, body in results)
    assert StripeEvent.objects.count() == 50
    assert Entitlement.objects.count() == 50


def test_one_user_buying_twice_at_once_stacks_both_grants(live_server, catalog, webhook_secret):
    url = f"{live_server.url}/webhook/telegram/successful_payment"
    run_at_once([(url, payment("buy-a", user_id=9)), (url, payment("buy-b", user_id=9))], webhook_secret)
    first, second = Entitlement.objects.order_by("starts_at")
    assert second.starts_at == first.expires_at
