"""Bot commands and /buy buttons through POST /webhook/telegram, and the whole purchase flow."""

import copy
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from entitlements.selectors import current_access
from telegram_payments.models import EventSource, Invoice, InvoiceStatus, PreCheckoutAnswer, StripeEvent
from tests.conftest import answer_status, load_update
from tests.factories import EntitlementFactory
from tests.test_updates import command

URL = "/webhook/telegram"
BUYER = 555000111

pytestmark = pytest.mark.django_db


def button(data: str) -> dict:
    update = copy.deepcopy(load_update("callback_query"))
    update["callback_query"]["data"] = data
    return update


@pytest.fixture
def full_catalog(catalog):
    call_command("loaddata", "demo_subscription", verbosity=0)
    return catalog


def test_buy_lists_the_active_catalog_with_a_button_per_product(post_json, fake_bot_api, full_catalog):
    full_catalog["lifetime"].is_active = False
    full_catalog["lifetime"].save()
    response = post_json(URL, command("/buy"))
    assert response.status_code == 200
    body = response.json()
    assert (body["method"], body["chat_id"]) == ("sendMessage", BUYER)
    assert "Premium, 1 month: 250 ⭐ for 30 days" in body["text"]
    assert "Premium subscription: 200 ⭐ every 30 days" in body["text"]
    assert "for life" not in body["text"]
    assert body["reply_markup"]["inline_keyboard"] == [
        [{"text": "Premium subscription: 200 ⭐", "callback_data": "buy:premium_subscription"}],
        [{"text": "Premium, 1 month: 250 ⭐", "callback_data": "buy:premium_monthly"}],
        [{"text": "Premium, 1 year: 2500 ⭐", "callback_data": "buy:premium_yearly"}],
    ]
    assert fake_bot_api.calls == [] and not Invoice.objects.exists()


def test_buy_with_a_type_sends_a_stars_invoice_with_our_payload(post_json, fake_bot_api, catalog):
    response = post_json(URL, command("/buy premium_yearly"))
    assert response.status_code == 200
    invoice = Invoice.objects.get()
    assert response.json() == {"ok": True, "status": "answered", "invoice_payload": invoice.payload}
    [sent] = fake_bot_api.calls_of("sendInvoice")
    assert sent == {
        "chat_id": BUYER, "title": "Premium, 1 year", "description": "All premium features for 365 days.",
        "payload": invoice.payload, "currency": "XTR", "prices": [{"label": "Premium, 1 year", "amount": 2500}],
        "provider_token": "", "start_parameter": "buy_premium_yearly",
    }
    assert (invoice.user_id, invoice.product, invoice.price_stars, invoice.status) == (
        BUYER, catalog["premium_yearly"], 2500, InvoiceStatus.OPEN)
    assert invoice.subscription_period is None


def test_start_deep_link_sends_the_invoice_too(post_json, fake_bot_api, catalog):
    post_json(URL, command("/start buy_lifetime"))
    [sent] = fake_bot_api.calls_of("sendInvoice")
    assert sent["prices"] == [{"label": "Premium for life", "amount": 10000}]
    assert Invoice.objects.get().product == catalog["lifetime"]


def test_command_addressed_to_the_bot_by_name_works(post_json, fake_bot_api, catalog):
    post_json(URL, command("/buy@stars_test_bot premium_monthly"))
    assert len(fake_bot_api.calls_of("sendInvoice")) == 1


def test_buy_subscription_answers_with_an_invoice_link_button(post_json, fake_bot_api, full_catalog):
    response = post_json(URL, command("/buy premium_subscription"))
    invoice = Invoice.objects.get()
    assert invoice.subscription_period == 2592000 and invoice.user_id == BUYER
    [link_call] = fake_bot_api.calls_of("createInvoiceLink")
    assert (link_call["payload"], link_call["currency"], link_call["subscription_period"]) == (
        invoice.payload, "XTR", 2592000)
    assert link_call["prices"] == [{"label": "Premium subscription", "amount": 200}]
    assert fake_bot_api.calls_of("sendInvoice") == []  # Telegram sells subscriptions by link only
    body = response.json()
    assert body["method"] == "sendMessage"
    assert body["reply_markup"]["inline_keyboard"] == [[
        {"text": "Subscribe for 200 ⭐/month", "url": f"https://t.me/$fake_invoice_{invoice.payload}"}]]


@pytest.mark.parametrize("text", ["/buy gold_forever", "/start buy_gold_forever"])
def test_buy_of_something_not_on_sale_says_so(post_json, fake_bot_api, catalog, text):
    body = post_json(URL, command(text)).json()
    assert body["method"] == "sendMessage"
    assert "Nothing called 'gold_forever' is on sale" in body["text"]
    assert fake_bot_api.calls == [] and not Invoice.objects.exists()


def test_invoice_the_bot_api_refuses_is_apologised_for_and_expired(post_json, fake_bot_api, catalog):
    fake_bot_api.respond("sendInvoice", error=(400, "Bad Request: chat not found"))
    response = post_json(URL, command("/buy premium_monthly"))
    assert response.status_code == 200  # a 5xx would make Telegram hold back this user's updates
    body = response.json()
    assert body["method"] == "sendMessage" and "could not create your invoice" in body["text"]
    assert Invoice.objects.get().status == InvoiceStatus.EXPIRED


def test_invoice_when_the_bot_api_is_unreachable_is_answered_too(post_json, fake_bot_api, catalog, stars):
    stars.API_BASE_URL = "http://127.0.0.1:9"
    response = post_json(URL, command("/buy premium_monthly"))
    assert response.status_code == 200
    assert "could not create your invoice" in response.json()["text"]


def test_buy_button_sends_the_invoice_and_answers_the_button(post_json, fake_bot_api, catalog):
    response = post_json(URL, button("buy:premium_monthly"))
    assert response.json() == {"method": "answerCallbackQuery", "callback_query_id": "2387563248796451234"}
    [sent] = fake_bot_api.calls_of("sendInvoice")
    assert sent["payload"] == Invoice.objects.get().payload and sent["chat_id"] == BUYER


def test_subscription_button_sends_the_link_message_as_a_call(post_json, fake_bot_api, full_catalog):
    response = post_json(URL, button("buy:premium_subscription"))
    assert response.json()["method"] == "answerCallbackQuery"
    [message] = fake_bot_api.calls_of("sendMessage")
    invoice = Invoice.objects.get()
    assert message["chat_id"] == BUYER
    assert message["reply_markup"] == {"inline_keyboard": [[
        {"text": "Subscribe for 200 ⭐/month", "url": f"https://t.me/$fake_invoice_{invoice.payload}"}]]}


def test_status_without_purchases(post_json, catalog):
    body = post_json(URL, command("/status")).json()
    assert (body["method"], body["chat_id"]) == ("sendMessage", BUYER)
    assert body["text"] == "You have no active purchases. Send /buy to see what is on sale."


def test_status_lists_active_entitlements_with_their_end(post_json, catalog):
    now = timezone.now()
    EntitlementFactory(user_id=BUYER, entitlement_type="premium_monthly", starts_at=now,
                       expires_at=now + timedelta(days=30))
    EntitlementFactory(user_id=BUYER, entitlement_type="lifetime", starts_at=now, expires_at=None)
    EntitlementFactory(user_id=BUYER, entitlement_type="premium_yearly", starts_at=now - timedelta(days=400),
                       expires_at=now - timedelta(days=35))
    EntitlementFactory(user_id=42, entitlement_type="premium_yearly", starts_at=now, expires_at=None)
    text = post_json(URL, command("/status")).json()["text"]
    assert text.splitlines() == [
        "Your purchases:",
        "• Premium for life: for life",
        f"• Premium, 1 month: until {now + timedelta(days=30):%Y-%m-%d %H:%M} UTC",
    ]


def test_paysupport_and_terms_answer_with_the_configured_texts(post_json, catalog, stars):
    stars.PAYSUPPORT_TEXT = "Write to @our_support."
    stars.TERMS_TEXT = "Terms: https://example.com/terms"
    assert post_json(URL, command("/paysupport")).json() == {
        "method": "sendMessage", "chat_id": BUYER, "text": "Write to @our_support."}
    assert post_json(URL, command("/terms")).json()["text"] == "Terms: https://example.com/terms"


def test_paysupport_and_terms_have_defaults(post_json, catalog):
    from telegram_payments.conf import DEFAULTS

    assert post_json(URL, command("/paysupport")).json()["text"] == DEFAULTS["PAYSUPPORT_TEXT"]
    assert "Telegram Stars" in post_json(URL, command("/terms")).json()["text"]


def test_start_without_a_parameter_lists_the_commands(post_json, catalog):
    text = post_json(URL, command("/start")).json()["text"]
    assert all(name in text for name in ("/buy", "/status", "/paysupport", "/terms"))


def test_whole_flow_buy_pre_checkout_pay_status(post_json, fake_bot_api, catalog):
    # 1. /buy premium_monthly: an invoice is sent, its payload is our invoice's id.
    post_json(URL, command("/buy premium_monthly", update_id=900001))
    [sent] = fake_bot_api.calls_of("sendInvoice")
    invoice = Invoice.objects.get(payload=sent["payload"])
    assert (invoice.user_id, invoice.price_stars) == (BUYER, 250)

    # 2. Telegram asks before charging: approved within the request.
    query = copy.deepcopy(load_update("pre_checkout_query"))
    query["update_id"] = 900002
    query["pre_checkout_query"].update(invoice_payload=sent["payload"], total_amount=sent["prices"][0]["amount"])
    assert post_json(URL, query).json() == {
        "method": "answerPreCheckoutQuery", "pre_checkout_query_id": query["pre_checkout_query"]["id"], "ok": True}

    # 3. The payment arrives: recorded once and granted at once.
    payment = copy.deepcopy(load_update("successful_payment"))
    payment["update_id"] = 900003
    payment["message"]["successful_payment"]["invoice_payload"] = sent["payload"]
    assert answer_status(post_json(URL, payment).json()) == "processed"
    event = StripeEvent.objects.get()
    assert (event.source, event.invoice_payload, event.customer_id) == (
        EventSource.TELEGRAM, invoice.payload, str(BUYER))
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    [access] = current_access(BUYER)

    # 4. /status shows it, with its end.
    text = post_json(URL, command("/status", update_id=900004)).json()["text"]
    assert f"• Premium, 1 month: until {access.expires_at:%Y-%m-%d %H:%M} UTC" in text
    assert PreCheckoutAnswer.objects.get().ok is True

    # 5. A second pre-checkout for the paid invoice (a forwarded copy) is declined.
    query["update_id"], query["pre_checkout_query"]["id"] = 900005, "second-query"
    assert post_json(URL, query).json()["error_message"].startswith("This invoice has already been paid")


# --- /buy has limits: an open invoice is offered again, and a user's open invoices are capped -----
def test_fifty_buys_make_one_invoice_and_one_call(post_json, fake_bot_api, catalog):
    first = post_json(URL, command("/buy premium_monthly", update_id=1000)).json()
    answers = [post_json(URL, command("/buy premium_monthly", update_id=1001 + n)).json() for n in range(49)]
    invoice = Invoice.objects.get()
    assert first == {"ok": True, "status": "answered", "invoice_payload": invoice.payload}
    assert len(fake_bot_api.calls_of("sendInvoice")) == 1
    assert all(a["method"] == "sendMessage" and "Your invoice for Premium, 1 month is above" in a["text"]
               for a in answers)


def test_a_redelivered_buy_sends_nothing_new(post_json, fake_bot_api, full_catalog):
    post_json(URL, command("/buy premium_monthly", update_id=2000))
    again = post_json(URL, command("/buy premium_monthly", update_id=2000)).json()
    assert again == {"ok": True, "status": "answered", "invoice_payload": Invoice.objects.get().payload}
    assert len(fake_bot_api.calls_of("sendInvoice")) == 1
    link = post_json(URL, command("/buy premium_subscription", update_id=2001)).json()
    assert link["reply_markup"]["inline_keyboard"][0][0]["url"].startswith("https://t.me/")
    assert post_json(URL, command("/buy premium_subscription", update_id=2001)).json()["status"] == "answered"
    link_again = post_json(URL, command("/buy premium_subscription", update_id=2002)).json()
    assert link_again["reply_markup"] == link["reply_markup"]  # the same link, offered again
    assert len(fake_bot_api.calls_of("createInvoiceLink")) == 1 and Invoice.objects.count() == 2


def test_a_user_with_too_many_open_invoices_gets_no_new_one(post_json, fake_bot_api, catalog):
    for _ in range(10):
        Invoice.objects.create(user_id=BUYER, product=catalog["premium_yearly"], price_stars=2500)
    body = post_json(URL, command("/buy premium_monthly")).json()
    assert body["method"] == "sendMessage" and "several unpaid invoices" in body["text"]
    assert fake_bot_api.calls_of("sendInvoice") == [] and Invoice.objects.count() == 10
    old = timezone.now() - timedelta(days=2)  # invoices older than a day no longer count
    Invoice.objects.update(created_at=old)
    post_json(URL, command("/buy premium_monthly"))
    assert len(fake_bot_api.calls_of("sendInvoice")) == 1
