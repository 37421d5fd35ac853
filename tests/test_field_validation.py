"""Field checks shared by the webhook routes (telegram_payments/validation.py): a value the database
could not store, or a currency that is no longer three letters once upper-cased, is a 400 naming the
field on the relay route and on the Update route, never a 500 and never a stored row."""

import copy

import pytest

from entitlements.models import Entitlement
from telegram_payments.models import EventStatus, Invoice, PreCheckoutAnswer, StripeEvent
from telegram_payments.telegram_api.limits import is_bigint, is_currency_code, user_id_from
from tests.conftest import answer_status, load_update

pytestmark = pytest.mark.django_db

URL = "/webhook/telegram"
RELAY_PAY_URL = "/webhook/telegram/successful_payment"
# Each has 3 characters, and more than 3 once upper-cased ("SSSSSS"), or is not ASCII letters.
ODD_CURRENCIES = ["ßßß", "ﬀﬀﬀ", "ŉŉŉ", "ǆǆǆ", "İİİ", "XT\n", "X1R", "   ", "ＸＴＲ"]


@pytest.fixture(autouse=True)
def invoice(catalog):
    return Invoice.objects.create(payload="inv_fixture_premium_monthly", user_id=555000111,
                                  product=catalog["premium_monthly"], price_stars=250)


def nothing_stored() -> bool:
    return not (StripeEvent.objects.exists() or Entitlement.objects.exists() or PreCheckoutAnswer.objects.exists())


def payment_update(kind: str = "successful_payment", **fields) -> dict:
    data = copy.deepcopy(load_update(kind))
    data["message"][kind].update(fields)
    return data


def relay_body(**fields) -> dict:
    return {"user_id": 555000111, "entitlement_type": "premium_monthly", "invoice_id": "inv_fixture_premium_monthly",
            "telegram_payment_charge_id": "relay-charge", "provider_payment_charge_id": "",
            "total_amount": 250, "currency": "XTR", **fields}


def test_is_bigint():
    assert all(is_bigint(v) for v in (0, 1, -1, 2**63 - 1, -(2**63)))
    assert not any(is_bigint(v) for v in (2**63, -(2**63) - 1, 10**30, True, 1.0, "1", None))


def test_user_id_from():
    assert [user_id_from(v) for v in (1, "42", 2**63 - 1, str(2**63 - 1))] == [1, 42, 2**63 - 1, 2**63 - 1]
    assert not any(user_id_from(v) for v in (0, -5, "0", "-5", 2**63, "1" * 20, "abc", "", None, "7.5"))


def test_is_currency_code():
    assert all(is_currency_code(v) for v in ("XTR", "usd", "Eur"))
    assert not any(is_currency_code(v) for v in [*ODD_CURRENCIES, "XTRX", "XT", "", None, 123])


@pytest.mark.parametrize("update_id", [2**63, -(2**63) - 1, 2**64, 10**30])
@pytest.mark.parametrize("kind", ["successful_payment", "refunded_payment", "pre_checkout_query"])
def test_an_update_id_outside_bigint_is_400(post_json, update_id, kind):
    data = copy.deepcopy(load_update(kind))
    data["update_id"] = update_id
    response = post_json(URL, data)
    assert response.status_code == 400, response.content[:200]
    assert list(response.json()["errors"]) == ["update_id"]
    assert nothing_stored()


@pytest.mark.parametrize("update_id", [2**63 - 1, 0])
def test_an_update_id_at_the_ends_of_bigint_is_stored(post_json, update_id):
    data = payment_update()
    data["update_id"] = update_id
    assert answer_status(post_json(URL, data).json()) == "processed"
    assert StripeEvent.objects.get().update_id == update_id


@pytest.mark.parametrize("currency", ODD_CURRENCIES)
@pytest.mark.parametrize("kind", ["successful_payment", "refunded_payment"])
def test_an_update_with_an_odd_currency_is_400_naming_it(post_json, kind, currency):
    response = post_json(URL, payment_update(kind, currency=currency))
    assert response.status_code == 400, response.content[:200]
    assert list(response.json()["errors"]) == [f"message.{kind}.currency"]
    assert nothing_stored()


@pytest.mark.parametrize("currency", ODD_CURRENCIES)
def test_a_pre_checkout_query_with_an_odd_currency_is_400_naming_it(post_json, currency):
    data = copy.deepcopy(load_update("pre_checkout_query"))
    data["pre_checkout_query"]["currency"] = currency
    response = post_json(URL, data)
    assert response.status_code == 400, response.content[:200]
    assert list(response.json()["errors"]) == ["pre_checkout_query.currency"]
    assert nothing_stored()


@pytest.mark.parametrize("currency", ODD_CURRENCIES)
def test_a_relay_payment_with_an_odd_currency_is_400_naming_it(post_json, currency):
    response = post_json(RELAY_PAY_URL, relay_body(currency=currency))
    assert response.status_code == 400, response.content[:200]
    assert list(response.json()["errors"]) == ["currency"]
    assert nothing_stored()


def test_xtr_is_the_only_currency_that_pays_on_both_routes(post_json):
    assert post_json(RELAY_PAY_URL, relay_body(currency="XTR")).json()["status"] == "processed"
    assert answer_status(post_json(URL, payment_update(currency="XTR")).json()) in {"processed", "duplicate"}
    assert StripeEvent.objects.count() == 2


@pytest.mark.parametrize("currency", ["xtr", "Xtr", "USD"])
def test_any_other_3_letter_code_is_a_failed_payment_on_both_routes(post_json, currency):
    """One rule (limits.is_stars_currency), as the README and the schema state it: a 3-letter code
    that is not exactly XTR is no Stars payment, recorded as failed, granting nothing."""
    relay = post_json(RELAY_PAY_URL, relay_body(currency=currency, telegram_payment_charge_id=f"relay-{currency}"))
    assert relay.status_code == 200 and relay.json()["status"] == "failed"
    post_json(URL, payment_update(currency=currency))
    failed = StripeEvent.objects.filter(status=EventStatus.FAILED)
    assert failed.count() == 2 and all(e.currency == currency and "is not XTR" in e.error for e in failed)
    assert not Entitlement.objects.exists()


BAD_USER_IDS = [-5, 0, 2**63]


def _with_user(name: str, user_id: int) -> dict:
    """Fixture update `name` with its user (sender, buyer or subscriber) set to `user_id`."""
    data = copy.deepcopy(load_update(name))
    for kind in ("message", "pre_checkout_query", "callback_query"):
        if kind in data:
            data[kind]["from"]["id"] = user_id
            if "chat" in data[kind]:
                data[kind]["chat"]["id"] = user_id
    if "subscription" in data:
        data["subscription"]["user"]["id"] = user_id
    return data


@pytest.mark.parametrize("user_id", BAD_USER_IDS)
@pytest.mark.parametrize("name", ["successful_payment", "refunded_payment", "subscription_canceled",
                                  "pre_checkout_query", "command", "callback_query"])
def test_a_user_id_below_1_or_past_bigint_is_a_400_on_every_update_kind(post_json, name, user_id):
    """One user-id range (limits.user_id_from) on every route: the relay refuses these ids, and so
    does every Update that carries a user (a subscription update with user -5 was stored as failed)."""
    response = post_json(URL, _with_user(name, user_id))
    assert response.status_code == 400, (name, response.content[:200])
    assert any(field.endswith(".id") for field in response.json()["errors"])
    assert nothing_stored()


@pytest.mark.parametrize("user_id", BAD_USER_IDS)
def test_the_relay_refuses_the_same_user_ids(post_json, user_id):
    assert list(post_json(RELAY_PAY_URL, relay_body(user_id=user_id)).json()["errors"]) == ["user_id"]
    assert nothing_stored()


def test_a_group_chat_keeps_its_negative_id_for_commands(post_json):
    data = copy.deepcopy(load_update("command"))
    data["message"]["chat"] = {"id": -1001234567890, "type": "supergroup", "title": "A group"}
    assert post_json(URL, data).status_code == 200
