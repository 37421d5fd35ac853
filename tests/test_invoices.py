"""The invoices service, the subscriptions service and `manage.py subscription`, against the fake Bot API."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from telegram_payments.models import Invoice, InvoiceStatus
from telegram_payments.payments.invoices import InvoiceError, create_invoice_link, send_invoice
from telegram_payments.payments.renewals import UnknownSubscription, set_subscription_cancelled
from telegram_payments.telegram_api.client import BotApiError
from tests.factories import StripeEventFactory

pytestmark = pytest.mark.django_db
USER = 555000111


@pytest.fixture
def products(catalog):
    call_command("loaddata", "demo_subscription", verbosity=0)
    from telegram_payments.models import Product

    return {p.entitlement_type: p for p in Product.objects.all()}


def test_send_invoice_issues_an_invoice_row_and_sends_it_in_stars(fake_bot_api, products):
    issued = send_invoice(product=products["premium_monthly"], user_id=USER)
    invoice = Invoice.objects.get()
    assert issued.invoice == invoice and issued.message_id == 1 and issued.link == ""
    assert (invoice.user_id, invoice.price_stars, invoice.status, invoice.subscription_period) == (
        USER, 250, InvoiceStatus.OPEN, None)
    assert len(invoice.payload.encode()) <= 128
    [sent] = fake_bot_api.calls_of("sendInvoice")
    assert sent["payload"] == invoice.payload and sent["chat_id"] == USER
    assert (sent["currency"], sent["provider_token"]) == ("XTR", "")
    assert sent["prices"] == [{"label": "Premium, 1 month", "amount": 250}]


def test_send_invoice_accepts_the_entitlement_type_and_another_chat(fake_bot_api, products):
    send_invoice(product="lifetime", user_id=USER, chat_id=-100200300)
    [sent] = fake_bot_api.calls_of("sendInvoice")
    assert sent["chat_id"] == -100200300
    assert Invoice.objects.get().user_id == USER


def test_each_invoice_has_its_own_payload(fake_bot_api, products):
    first = send_invoice(product="premium_monthly", user_id=USER).invoice
    second = send_invoice(product="premium_monthly", user_id=USER).invoice
    assert first.payload != second.payload


@pytest.mark.parametrize("product, message", [
    ("gold_forever", "unknown product"),
    ("premium_subscription", "invoice link only"),
])
def test_send_invoice_refuses_what_it_cannot_sell(fake_bot_api, products, product, message):
    with pytest.raises(InvoiceError, match=message):
        send_invoice(product=product, user_id=USER)
    assert not Invoice.objects.exists() and fake_bot_api.calls == []


def test_products_not_on_sale_are_not_invoiced(fake_bot_api, products):
    products["premium_yearly"].is_active = False
    products["premium_yearly"].save()
    with pytest.raises(InvoiceError, match="not on sale"):
        create_invoice_link(product=products["premium_yearly"])
    assert not Invoice.objects.exists() and fake_bot_api.calls == []


def test_invoice_link_for_a_subscription_has_the_30_day_period(fake_bot_api, products):
    issued = create_invoice_link(product="premium_subscription", user_id=USER)
    assert issued.link == f"https://t.me/$fake_invoice_{issued.invoice.payload}"
    assert (issued.invoice.subscription_period, issued.invoice.user_id) == (2592000, USER)
    [call] = fake_bot_api.calls_of("createInvoiceLink")
    assert (call["subscription_period"], call["currency"], call["provider_token"]) == (2592000, "XTR", "")
    assert call["prices"] == [{"label": "Premium subscription", "amount": 200}]


def test_invoice_link_for_anyone_and_a_one_time_product(fake_bot_api, products):
    issued = create_invoice_link(product=products["premium_yearly"])
    assert issued.invoice.user_id is None and issued.invoice.subscription_period is None
    [call] = fake_bot_api.calls_of("createInvoiceLink")
    assert "subscription_period" not in call and call["payload"] == issued.invoice.payload


@pytest.mark.parametrize("call", [
    lambda: send_invoice(product="premium_monthly", user_id=USER),
    lambda: create_invoice_link(product="premium_monthly", user_id=USER),
])
def test_refused_invoice_is_marked_expired_and_the_error_kept(fake_bot_api, products, call):
    fake_bot_api.respond("sendInvoice", error=(400, "Bad Request: STARS_INVOICE_INVALID"))
    fake_bot_api.respond("createInvoiceLink", error=(400, "Bad Request: STARS_INVOICE_INVALID"))
    with pytest.raises(BotApiError) as caught:
        call()
    assert "STARS_INVOICE_INVALID" in caught.value.description
    assert Invoice.objects.get().status == InvoiceStatus.EXPIRED


# --- subscriptions -------------------------------------------------------------------------------

@pytest.fixture
def subscription_payment(db):
    from django.utils import timezone

    return StripeEventFactory(customer_id=str(USER), telegram_payment_charge_id="stxSUB1",
                              entitlement_type="premium_subscription",
                              subscription_expires_at=timezone.now() + timedelta(days=30))


@pytest.mark.parametrize("cancelled", [True, False])
def test_set_subscription_cancelled_calls_edit_user_star_subscription(fake_bot_api, subscription_payment,
                                                                      cancelled):
    assert set_subscription_cancelled(user_id=USER, charge_id="stxSUB1", cancelled=cancelled) is True
    assert fake_bot_api.calls_of("editUserStarSubscription") == [
        {"user_id": USER, "telegram_payment_charge_id": "stxSUB1", "is_canceled": cancelled}]


@pytest.mark.parametrize("user_id, charge_id", [(USER, "stxOTHER"), (999, "stxSUB1")])
def test_unknown_subscription_never_reaches_telegram(fake_bot_api, subscription_payment, user_id, charge_id):
    with pytest.raises(UnknownSubscription):
        set_subscription_cancelled(user_id=user_id, charge_id=charge_id, cancelled=True)
    assert fake_bot_api.calls == []


def test_one_time_payment_is_not_a_subscription(fake_bot_api, db):
    StripeEventFactory(customer_id=str(USER), telegram_payment_charge_id="stxONCE")
    with pytest.raises(UnknownSubscription):
        set_subscription_cancelled(user_id=USER, charge_id="stxONCE", cancelled=True)


def test_subscription_command_cancel_and_enable(fake_bot_api, subscription_payment):
    out = StringIO()
    call_command("subscription", str(USER), "stxSUB1", "--cancel", stdout=out)
    assert "cancelled: it will not renew" in out.getvalue()
    call_command("subscription", str(USER), "stxSUB1", "--enable", stdout=out)
    assert "re-enabled" in out.getvalue()
    assert [c["is_canceled"] for c in fake_bot_api.calls_of("editUserStarSubscription")] == [True, False]


def test_subscription_command_reports_telegrams_refusal(fake_bot_api, subscription_payment):
    fake_bot_api.respond("editUserStarSubscription", error=(400, "Bad Request: SUBSCRIPTION_NOT_ACTIVE"))
    with pytest.raises(CommandError, match="SUBSCRIPTION_NOT_ACTIVE"):
        call_command("subscription", str(USER), "stxSUB1", "--enable")


def test_subscription_command_needs_exactly_one_action(fake_bot_api, subscription_payment):
    with pytest.raises(CommandError):
        call_command("subscription", str(USER), "stxSUB1")
    with pytest.raises(CommandError, match="no subscription payment"):
        call_command("subscription", str(USER), "stxNOPE", "--cancel")
    assert fake_bot_api.calls == []
