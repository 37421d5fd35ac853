"""Identical redeliveries answered from the worker's memory (telegram_payments/webhooks/redeliveries.py)."""

import json
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from entitlements.models import Entitlement
from telegram_payments.models import EventStatus, Invoice, Product, StripeEvent
from telegram_payments.payments.pipeline import replay_event
from telegram_payments.webhooks import redeliveries
from tests.conftest import answer_status, load_update
from tests.factories import InvoiceFactory

PAY_URL = "/webhook/telegram/successful_payment"
REFUND_URL = "/webhook/telegram/refund"

pytestmark = pytest.mark.django_db


@contextmanager
def asks_the_database():
    with CaptureQueriesContext(connection) as queries:
        yield
    assert len(queries) > 0, "answered from memory"


def body(charge="ch-1", **overrides):
    return {"user_id": 42, "entitlement_type": "premium_monthly", "invoice_id": "",
            "telegram_payment_charge_id": charge, "provider_payment_charge_id": "",
            "total_amount": 250, "currency": "XTR", **overrides}


def test_a_copy_of_a_processed_payment_is_answered_without_a_query(post_json, catalog, django_assert_num_queries):
    first = post_json(PAY_URL, body())
    assert first.json()["status"] == "processed"
    with django_assert_num_queries(0):
        again = post_json(PAY_URL, body())
    assert again.status_code == 200
    assert again.json() == {**first.json(), "status": "duplicate"}
    assert StripeEvent.objects.count() == Entitlement.objects.count() == 1


def test_a_copy_of_a_processed_refund_is_answered_without_a_query(post_json, catalog, django_assert_num_queries):
    post_json(PAY_URL, body())
    refund = {"user_id": 42, "entitlement_type": "premium_monthly", "telegram_payment_charge_id": "ch-1",
              "refund_reason": ""}
    assert post_json(REFUND_URL, refund).json()["status"] == "processed"
    with django_assert_num_queries(0):
        assert post_json(REFUND_URL, refund).json()["status"] == "duplicate"
    assert Entitlement.objects.get().revoked_at is not None


def test_only_the_very_same_bytes_are_recalled(client, webhook_secret, catalog, django_assert_num_queries):
    def send(raw: str):
        return client.post(PAY_URL, raw, content_type="application/json",
                           headers={"X-Telegram-Bot-Api-Secret-Token": webhook_secret})

    send(json.dumps(body()))
    with asks_the_database():  # one space more: not the same body
        assert send(json.dumps(body(), indent=1)).json()["status"] == "duplicate"
    with django_assert_num_queries(0):  # and from then on that body too is remembered
        assert send(json.dumps(body(), indent=1)).json()["status"] == "duplicate"


def test_a_failed_event_is_not_remembered_so_its_replay_shows(post_json, catalog):
    Product.objects.filter(entitlement_type="premium_monthly").update(is_active=False)
    assert post_json(PAY_URL, body()).json()["status"] == "failed"
    with asks_the_database():
        assert post_json(PAY_URL, body()).json()["event_status"] == "failed"
    Product.objects.filter(entitlement_type="premium_monthly").update(is_active=True)
    assert replay_event(event=StripeEvent.objects.get()).status == "processed"
    answer = post_json(PAY_URL, body()).json()
    assert (answer["status"], answer["event_status"]) == ("duplicate", "processed")
    assert StripeEvent.objects.get().status == EventStatus.PROCESSED


def test_the_memory_keeps_the_last_n_bodies(post_json, catalog, stars, django_assert_num_queries):
    stars.WEBHOOK_REDELIVERY_MEMORY = 2
    for charge in ("a", "b", "c"):
        post_json(PAY_URL, body(charge))
    with asks_the_database():  # "a" was pushed out by "c"
        assert post_json(PAY_URL, body("a")).json()["status"] == "duplicate"
    with django_assert_num_queries(0):
        assert post_json(PAY_URL, body("c")).json()["status"] == "duplicate"


def test_zero_turns_the_memory_off(post_json, catalog, stars):
    stars.WEBHOOK_REDELIVERY_MEMORY = 0
    post_json(PAY_URL, body())
    with asks_the_database():
        assert post_json(PAY_URL, body()).json()["status"] == "duplicate"


def test_a_wrong_secret_is_refused_even_for_a_remembered_body(post_json, client, catalog):
    post_json(PAY_URL, body())
    response = client.post(PAY_URL, body(), content_type="application/json",
                           headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
    assert response.status_code == 401


def test_a_copy_of_a_payment_update_is_answered_without_a_query(post_json, catalog, django_assert_num_queries):
    InvoiceFactory(payload="inv_fixture_premium_monthly", user_id=555000111, product=catalog["premium_monthly"])
    first = post_json("/webhook/telegram", load_update("successful_payment"))
    assert answer_status(first.json()) == "processed"  # the buyer is thanked
    with django_assert_num_queries(0):
        again = post_json("/webhook/telegram", load_update("successful_payment"))
    event_id = StripeEvent.objects.get().event_id
    assert again.json() == {"ok": True, "status": "duplicate", "event_id": event_id,
                            "event_status": "processed"}  # not thanked twice
    redeliveries.forget_all()  # another worker: the database says "duplicate"
    with asks_the_database():
        assert post_json("/webhook/telegram", load_update("successful_payment")).json()["status"] == "duplicate"
    assert StripeEvent.objects.count() == Entitlement.objects.count() == 1


def test_commands_are_never_answered_from_memory(post_json, catalog, fake_bot_api):
    status = {"update_id": 1, "message": {"message_id": 1, "date": 1795000000, "text": "/status",
                                          "chat": {"id": 9, "type": "private"}, "from": {"id": 9, "is_bot": False,
                                                                                           "first_name": "A"}}}
    assert post_json("/webhook/telegram", status).status_code == 200
    assert redeliveries.remembered() == 0


@pytest.mark.parametrize(("content_type", "status"), [
    ("multipart/form-data; boundary=x", 415), ("", 415), ("text/plain", 415), ("application/json; charset=bz2", 415),
    ("application/json; charset=nope", 415), ("application/json; charset=utf-16", 400),  # not UTF-16 text
])
@pytest.mark.parametrize("route", ["relay", "update"])
def test_a_copy_in_another_content_type_is_answered_the_usual_way(post_json, catalog, route, content_type, status):
    Invoice.objects.create(payload="inv_fixture_premium_monthly", user_id=555000111,
                           product=catalog["premium_monthly"], price_stars=250)
    url, raw = (PAY_URL, json.dumps(body())) if route == "relay" else (
        "/webhook/telegram", json.dumps(load_update("successful_payment")))
    assert answer_status(post_json(url, raw).json()) == "processed"
    assert redeliveries.remembered() == 1
    response = post_json(url, raw, content_type=content_type)
    assert response.status_code == status, response.content[:200]
    assert response.json()["ok"] is False
    assert post_json(url, raw).json()["status"] == "duplicate"  # the JSON copy still is
