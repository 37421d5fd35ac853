"""The Update route under concurrency, over real HTTP against a real PostgreSQL (live_server)."""

import copy

import pytest

from entitlements.models import Entitlement
from telegram_payments.models import PreCheckoutAnswer, StripeEvent
from tests.conftest import answer_status, load_update
from tests.factories import InvoiceFactory
from tests.http import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
BUYER = 555000111


@pytest.fixture
def invoice(catalog):
    return InvoiceFactory(payload="inv_fixture_premium_monthly", user_id=BUYER, product=catalog["premium_monthly"])


def test_one_charge_by_both_routes_at_once_is_one_event_and_one_grant(live_server, invoice, webhook_secret):
    update = load_update("successful_payment")
    payment = update["message"]["successful_payment"]
    relay = {"user_id": str(BUYER), "entitlement_type": "premium_monthly", "invoice_id": invoice.payload,
             "telegram_payment_charge_id": payment["telegram_payment_charge_id"],
             "provider_payment_charge_id": "", "total_amount": 250, "currency": "XTR"}
    redelivered = []
    for n in range(10):
        copy_n = copy.deepcopy(update)
        copy_n["update_id"] += n % 2  # redeliveries and a second update carrying the same charge
        redelivered.append(copy_n)
    jobs = [(f"{live_server.url}/webhook/telegram", body) for body in redelivered]
    jobs += [(f"{live_server.url}/webhook/telegram/successful_payment", relay)] * 10
    results = run_at_once(jobs, webhook_secret)
    assert [status for status, _ in results] == [200] * 20
    assert sorted(answer_status(body) for _, body in results) == ["duplicate"] * 19 + ["processed"]
    assert StripeEvent.objects.count() == 1 and Entitlement.objects.count() == 1


def test_one_pre_checkout_query_delivered_ten_times_at_once_is_one_answer(live_server, invoice, webhook_secret):
    results = run_at_once([(f"{live_server.url}/webhook/telegram", load_update("pre_checkout_query"))] * 10,
                          webhook_secret)
    assert {status for status, _ in results} == {200}
    assert all(body == results[0][1] for _, body in results) and results[0][1]["ok"] is True
    assert PreCheckoutAnswer.objects.count() == 1
