"""pre_checkout_query updates: answered in the webhook response, every check, every answer recorded."""

import copy

import pytest

from entitlements.models import Entitlement
from telegram_payments.bot.precheckout import DECLINE_MESSAGES
from telegram_payments.bot.updates import process_update
from telegram_payments.models import EventStatus, InvoiceStatus, PreCheckoutAnswer, StripeEvent
from tests.conftest import load_update
from tests.factories import InvoiceFactory

URL = "/webhook/telegram"
BUYER = 555000111
QUERY_ID = "1867239108553762501"

pytestmark = pytest.mark.django_db


def pre_checkout(**fields) -> dict:
    data = copy.deepcopy(load_update("pre_checkout_query"))
    user_id = fields.pop("user_id", None)
    if user_id is not None:
        data["pre_checkout_query"]["from"]["id"] = user_id
    data["pre_checkout_query"].update(fields)
    return data


@pytest.fixture
def invoice(catalog):
    return InvoiceFactory(payload="inv_fixture_premium_monthly", user_id=BUYER, product=catalog["premium_monthly"])


def test_valid_query_is_approved_in_the_response_body(post_json, fake_bot_api, invoice):
    response = post_json(URL, pre_checkout())
    assert response.status_code == 200
    assert response.json() == {"method": "answerPreCheckoutQuery", "pre_checkout_query_id": QUERY_ID, "ok": True}
    answer = PreCheckoutAnswer.objects.get()
    assert (answer.query_id, answer.update_id, answer.user_id, answer.invoice, answer.ok, answer.reason) == (
        QUERY_ID, 704115001, BUYER, invoice, True, "")
    assert (answer.currency, answer.total_amount) == ("XTR", 250)
    assert answer.payload == load_update("pre_checkout_query")["pre_checkout_query"]
    assert fake_bot_api.calls == []  # the answer rides on the response, no extra round trip
    assert not StripeEvent.objects.exists()  # approving is not paying
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN


def test_invoice_link_without_a_user_may_be_paid_by_anyone(post_json, invoice):
    invoice.user_id = None
    invoice.save()
    assert post_json(URL, pre_checkout(user_id=999)).json()["ok"] is True


def decline(post_json, data, reason):
    response = post_json(URL, data)
    assert response.status_code == 200
    assert response.json() == {"method": "answerPreCheckoutQuery", "pre_checkout_query_id": QUERY_ID,
                               "ok": False, "error_message": DECLINE_MESSAGES[reason]}
    answer = PreCheckoutAnswer.objects.get()
    assert (answer.ok, answer.reason, answer.error_message) == (False, reason, DECLINE_MESSAGES[reason])
    return answer


def test_unknown_invoice_is_declined(post_json, invoice):
    answer = decline(post_json, pre_checkout(invoice_payload="inv_never_issued"), "unknown_invoice")
    assert answer.invoice is None and answer.invoice_payload == "inv_never_issued"


def test_expired_invoice_is_declined(post_json, invoice):
    invoice.status = InvoiceStatus.EXPIRED
    invoice.save()
    decline(post_json, pre_checkout(), "invoice_expired")


def test_product_no_longer_on_sale_is_declined(post_json, invoice, catalog):
    catalog["premium_monthly"].is_active = False
    catalog["premium_monthly"].save()
    decline(post_json, pre_checkout(), "product_inactive")


@pytest.mark.parametrize("currency", ["USD", "xtr"])  # exactly XTR, as payments (limits.is_stars_currency)
def test_currency_other_than_stars_is_declined(post_json, invoice, currency):
    decline(post_json, pre_checkout(currency=currency), "wrong_currency")


@pytest.mark.parametrize("amount", [249, 251, 1])
def test_amount_other_than_the_invoice_price_is_declined(post_json, invoice, amount):
    decline(post_json, pre_checkout(total_amount=amount), "wrong_amount")


def test_amount_is_checked_against_the_price_at_issue_not_the_catalog(post_json, invoice, catalog):
    catalog["premium_monthly"].price_stars = 300  # the catalog changed after the invoice was sent
    catalog["premium_monthly"].save()
    assert post_json(URL, pre_checkout(total_amount=250)).json()["ok"] is True


def test_buyer_other_than_the_invoice_user_is_declined(post_json, invoice):
    answer = decline(post_json, pre_checkout(user_id=777000222), "wrong_buyer")
    assert answer.user_id == 777000222


def test_invoice_already_paid_is_declined(post_json, invoice):  # issued to one user: paid once
    invoice.status = InvoiceStatus.PAID
    invoice.save()
    decline(post_json, pre_checkout(), "already_paid")


def test_redelivered_query_gets_the_recorded_answer_and_one_row(post_json, invoice, django_assert_max_num_queries):
    first = post_json(URL, pre_checkout()).json()
    invoice.status = InvoiceStatus.PAID  # even if things changed since, the answer given stands
    invoice.save()
    with django_assert_max_num_queries(1):
        result = process_update(pre_checkout())
    assert result.status == "duplicate" and result.body == first
    assert post_json(URL, pre_checkout()).json() == first
    assert PreCheckoutAnswer.objects.count() == 1


def test_each_query_is_recorded_separately(post_json, invoice):
    post_json(URL, pre_checkout())
    data = pre_checkout(id="another-query", currency="EUR")
    data["update_id"] += 1
    assert post_json(URL, data).json()["ok"] is False
    assert list(PreCheckoutAnswer.objects.order_by("pk").values_list("ok", "reason")) == [
        (True, ""), (False, "wrong_currency")]


def test_answers_are_visible_read_only_in_the_admin(client, post_json, invoice, django_user_model):
    post_json(URL, pre_checkout(total_amount=1))
    staff = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw")
    client.force_login(staff)
    listing = client.get("/admin/telegram_payments/precheckoutanswer/")
    assert listing.status_code == 200 and b"wrong_amount" in listing.content
    answer = PreCheckoutAnswer.objects.get()
    page = client.get(f"/admin/telegram_payments/precheckoutanswer/{answer.pk}/change/")
    assert page.status_code == 200 and b"Save" not in page.content
    assert client.get("/admin/telegram_payments/precheckoutanswer/add/").status_code == 403


def test_two_buyers_pay_one_shared_link(post_json, catalog):
    """A shared invoice link ("anyone may pay") is marked paid by its first payment; the second buyer's
    pre-checkout is approved too (it was declined "already paid") and their payment grants."""
    link = InvoiceFactory(payload="inv_shared_link", user_id=None, product=catalog["premium_monthly"])
    for n, buyer in enumerate((700001, 700002)):
        query = pre_checkout(user_id=buyer, id=f"link-query-{n}", invoice_payload=link.payload)
        query["update_id"] += n
        assert post_json(URL, query).json()["ok"] is True, buyer
        payment = copy.deepcopy(load_update("successful_payment"))
        payment["update_id"] += 10 + n
        payment["message"]["from"]["id"] = payment["message"]["chat"]["id"] = buyer
        payment["message"]["successful_payment"].update(invoice_payload=link.payload,
                                                        telegram_payment_charge_id=f"link-charge-{n}")
        assert post_json(URL, payment).status_code == 200
        link.refresh_from_db()
        assert link.status == InvoiceStatus.PAID
    assert set(Entitlement.objects.values_list("user_id", flat=True)) == {700001, 700002}
    assert StripeEvent.objects.filter(status=EventStatus.PROCESSED).count() == 2
