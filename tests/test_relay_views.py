"""The original spec's relay endpoints: status codes and bodies for every case."""

import pytest

from entitlements.models import Entitlement
from telegram_payments.models import EventStatus, StripeEvent
from telegram_payments.webhooks import redeliveries

PAY_URL = "/webhook/telegram/successful_payment"
REFUND_URL = "/webhook/telegram/refund"

pytestmark = pytest.mark.django_db


def payment_body(**overrides):
    body = {
        "user_id": "123456789",
        "entitlement_type": "premium_monthly",
        "invoice_id": "inv_tg_123",
        "telegram_payment_charge_id": "tg_charge_123",
        "provider_payment_charge_id": "",
        "total_amount": 250,
        "currency": "XTR",
    }
    body.update(overrides)
    return body


def test_payment_grants_and_answers_processed(post_json, catalog):
    response = post_json(PAY_URL, payment_body())
    assert response.status_code == 200
    assert response.json() == {
        "ok": True, "status": "processed", "event_id": "tg_stars:payment:tg_charge_123",
        "event_status": "processed",
    }
    event = StripeEvent.objects.get()
    assert (event.event_type, event.payment_method, event.customer_id) == (
        "telegram_stars.successful_payment", "telegram_stars", "123456789")
    assert (event.amount_cents, event.currency, event.status) == (250, "XTR", EventStatus.PROCESSED)
    assert event.payload["telegram_payment_charge_id"] == "tg_charge_123"
    assert event.source == "relay"
    grant = Entitlement.objects.get()
    assert (grant.user_id, grant.entitlement_type, grant.event_id) == (
        123456789, "premium_monthly", event.event_id)


def test_second_delivery_is_duplicate_and_grants_nothing_more(post_json, catalog):
    post_json(PAY_URL, payment_body())
    response = post_json(PAY_URL, payment_body())
    assert response.status_code == 200
    assert response.json()["status"] == "duplicate"
    assert StripeEvent.objects.count() == 1
    assert Entitlement.objects.count() == 1


def test_unknown_product_is_recorded_failed_and_acknowledged(post_json, catalog):
    response = post_json(PAY_URL, payment_body(entitlement_type="gold_forever"))
    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    event = StripeEvent.objects.get()
    assert event.status == EventStatus.FAILED
    assert "unknown product 'gold_forever'" in event.error
    assert not Entitlement.objects.exists()


def test_inactive_product_is_recorded_failed(post_json, catalog):
    catalog["premium_yearly"].is_active = False
    catalog["premium_yearly"].save()
    response = post_json(PAY_URL, payment_body(entitlement_type="premium_yearly", total_amount=2500))
    assert response.json()["status"] == "failed"
    assert "not on sale" in StripeEvent.objects.get().error


def test_amount_below_price_is_recorded_failed(post_json, catalog):
    response = post_json(PAY_URL, payment_body(total_amount=1))
    assert response.json()["status"] == "failed"
    assert "below the price" in StripeEvent.objects.get().error


def test_non_stars_currency_is_recorded_failed(post_json, catalog):
    response = post_json(PAY_URL, payment_body(currency="usd"))
    assert response.json()["status"] == "failed"
    event = StripeEvent.objects.get()
    assert event.currency == "usd"  # as sent: the one currency rule judges it (limits.is_stars_currency)
    assert "not XTR" in event.error


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"total_amount": 0}, "total_amount"),
        ({"total_amount": -5}, "total_amount"),
        ({"total_amount": "250"}, "total_amount"),
        ({"total_amount": 2.5}, "total_amount"),
        ({"total_amount": True}, "total_amount"),
        ({"total_amount": 10**12}, "total_amount"),
        ({"currency": "XT"}, "currency"),
        ({"currency": "XTRX"}, "currency"),
        ({"currency": "X1R"}, "currency"),
        ({"user_id": "abc"}, "user_id"),
        ({"user_id": -1}, "user_id"),
        ({"user_id": None}, "user_id"),
        ({"telegram_payment_charge_id": ""}, "telegram_payment_charge_id"),
        ({"telegram_payment_charge_id": "x" * 256}, "telegram_payment_charge_id"),
        ({"entitlement_type": ["premium"]}, "entitlement_type"),
        # What the schema forbids is refused (tests/test_api_fuzzing.py): blank after trimming, a
        # currency with whitespace around it, a string over the limit as sent, a 19-digit id over 2^63-1.
        ({"entitlement_type": " \u3000\t"}, "entitlement_type"),
        ({"currency": " XTR"}, "currency"),
        ({"currency": "XTR\n"}, "currency"),
        ({"entitlement_type": "premium_monthly" + " " * 100}, "entitlement_type"),
        ({"user_id": "9223372036854775808"}, "user_id"),
    ],
)
def test_bad_fields_are_400_with_the_field_named_and_nothing_stored(post_json, catalog, overrides, field):
    response = post_json(PAY_URL, payment_body(**overrides))
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False
    assert field in body["errors"]
    assert not StripeEvent.objects.exists()


@pytest.mark.parametrize("missing", ["user_id", "entitlement_type", "telegram_payment_charge_id",
                                     "total_amount", "currency"])
def test_missing_field_is_400(post_json, catalog, missing):
    body = payment_body()
    del body[missing]
    response = post_json(PAY_URL, body)
    assert response.status_code == 400
    assert missing in response.json()["errors"]
    assert not StripeEvent.objects.exists()


@pytest.mark.parametrize("raw", ["{not json", "", "[1, 2]", "null", '"text"'])
def test_malformed_json_is_400(post_json, catalog, raw):
    response = post_json(PAY_URL, raw)
    assert response.status_code == 400
    assert response.json()["ok"] is False
    assert not StripeEvent.objects.exists()


@pytest.mark.parametrize("secret", [False, "", "wrong-secret", "test-webhook-secret-012345678"])
@pytest.mark.parametrize("url", [PAY_URL, REFUND_URL])
def test_wrong_or_missing_secret_is_401_and_nothing_stored(post_json, catalog, secret, url):
    response = post_json(url, payment_body(), secret=secret)
    assert response.status_code == 401
    assert response.json()["ok"] is False
    assert response.json()["error"] == "unauthorized"
    assert not StripeEvent.objects.exists()


def test_oversized_body_is_413(post_json, catalog, stars):
    stars.WEBHOOK_MAX_BODY_BYTES = 1024
    response = post_json(PAY_URL, payment_body(provider_payment_charge_id="x" * 2000))
    assert response.status_code == 413
    assert not StripeEvent.objects.exists()


def test_get_is_405(client, webhook_secret):
    response = client.get(PAY_URL, HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=webhook_secret)
    assert response.status_code == 405


def test_refund_revokes_the_grant(post_json, catalog):
    post_json(PAY_URL, payment_body())
    response = post_json(REFUND_URL, {"user_id": "123456789", "entitlement_type": "premium_monthly",
                                      "telegram_payment_charge_id": "tg_charge_123",
                                      "refund_reason": "User requested"})
    assert response.status_code == 200
    assert response.json()["status"] == "processed"
    assert response.json()["event_id"] == "tg_stars:refund:tg_charge_123"
    refund = StripeEvent.objects.get(event_id="tg_stars:refund:tg_charge_123")
    assert refund.refund_reason == "User requested"
    assert refund.amount_cents == 250  # taken from its payment
    grant = Entitlement.objects.get()
    assert grant.revoked_at is not None
    assert "User requested" in grant.revoke_reason
    again = post_json(REFUND_URL, {"user_id": "123456789", "telegram_payment_charge_id": "tg_charge_123"})
    assert again.json()["status"] == "duplicate"


def test_refund_before_payment_is_kept_and_the_late_payment_grants_nothing(post_json, catalog):
    refund = post_json(REFUND_URL, {"user_id": 42, "telegram_payment_charge_id": "early"})
    assert refund.json()["status"] == "processed"
    assert "nothing to revoke" in StripeEvent.objects.get().note
    payment = post_json(PAY_URL, payment_body(user_id=42, telegram_payment_charge_id="early"))
    assert payment.json()["status"] == "processed"
    assert not Entitlement.objects.exists()
    assert "refunded before" in StripeEvent.objects.get(event_id="tg_stars:payment:early").note


def test_refund_bad_input_is_400(post_json, catalog):
    response = post_json(REFUND_URL, {"user_id": "x", "telegram_payment_charge_id": 5})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"user_id", "telegram_payment_charge_id"}
    assert not StripeEvent.objects.exists()


def test_wrong_content_type_is_415_and_nothing_stored(post_json, catalog):
    response = post_json(PAY_URL, "user_id=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["ok"] is False
    assert not StripeEvent.objects.exists()


def test_a_duplicate_delivery_costs_few_queries(post_json, catalog, django_assert_max_num_queries):
    post_json(PAY_URL, payment_body())
    redeliveries.forget_all()  # as in a worker that did not answer the first copy (test_redeliveries.py)
    # Under the charge's lock (a savepoint and the lock here), the recorded events of the charge.
    with django_assert_max_num_queries(4):
        response = post_json(PAY_URL, payment_body())
    assert response.json()["status"] == "duplicate"
    assert StripeEvent.objects.count() == Entitlement.objects.count() == 1


def test_a_changed_redelivery_is_validated_again_and_never_applied(post_json, catalog):
    post_json(PAY_URL, payment_body())
    # Same charge, a different body: it is no plain redelivery, so it is validated like a new one...
    bad = post_json(PAY_URL, payment_body(total_amount="lots"))
    assert bad.status_code == 400
    assert "total_amount" in bad.json()["errors"]
    # ...and, valid, it is still the same charge: a duplicate, the first body kept.
    changed = post_json(PAY_URL, payment_body(total_amount=999))
    assert changed.json()["status"] == "duplicate"
    event = StripeEvent.objects.get()
    assert (event.amount_cents, event.payload["total_amount"]) == (250, 250)
    assert Entitlement.objects.count() == 1


def test_an_identical_refund_redelivery_is_a_duplicate(post_json, catalog):
    post_json(PAY_URL, payment_body())
    body = {"user_id": 123456789, "entitlement_type": "premium_monthly",
            "telegram_payment_charge_id": "tg_charge_123", "refund_reason": "asked"}
    assert post_json(REFUND_URL, body).json()["status"] == "processed"
    assert post_json(REFUND_URL, body).json()["status"] == "duplicate"
    assert StripeEvent.objects.count() == 2
