"""The development Bot API stand-in and `simulate_payment`: a newcomer tries a purchase, a staff refund,
the balance and reconciliation without a bot, through the real webhook URL of a running service.
Both commands refuse to run without DEBUG."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from entitlements.models import Entitlement
from telegram_payments.devtools.botapi import start_fake_bot_api, stop_fake_bot_api
from telegram_payments.models import EVENT_PAYMENT, EventStatus, StripeEvent
from telegram_payments.payments.refunds import refund_payment
from telegram_payments.reconcile import CLEAN, reconcile_stars
from telegram_payments.reconcile.balance import refresh_star_balance

BUYER = 424242


@pytest.fixture
def stand_in(stars):
    fake = start_fake_bot_api(stars.BOT_TOKEN, keeps_ledger=True)
    stars.API_BASE_URL = fake.base_url
    yield fake
    stop_fake_bot_api(fake)


@pytest.mark.django_db(transaction=True)
def test_a_simulated_purchase_goes_through_the_webhook_and_everything_after_it_works(
        settings, catalog, stand_in, live_server, django_user_model, capsys):
    settings.DEBUG = True
    call_command("simulate_payment", user=BUYER, product="premium_monthly", username="ada_dev",
                 service=live_server.url)
    out = capsys.readouterr().out
    assert "Pre-checkout:" in out and '"ok": true' in out and '"method": "sendMessage"' in out  # thanked

    payment = StripeEvent.objects.get(event_type=EVENT_PAYMENT)
    assert payment.status == EventStatus.PROCESSED and payment.customer_id == str(BUYER)
    assert Entitlement.objects.get(user_id=BUYER).revoked_at is None
    assert [call["payload"] for call in stand_in.calls_of("createInvoiceLink")] == [payment.invoice_payload]
    assert len(stand_in.star_transactions) == 1  # what Telegram would list

    assert reconcile_stars().outcome == CLEAN  # the audit trail matches Telegram's list
    balance, _ = refresh_star_balance()
    assert balance.nanostars == 250 * 10**9

    staff = django_user_model.objects.create_user("sam", is_staff=True)
    assert refund_payment(event=payment, staff_user=staff, reason="trying a refund").status == "processed"
    assert Entitlement.objects.get(user_id=BUYER).revoked_at is not None
    assert refresh_star_balance()[0].nanostars == 0 and reconcile_stars().outcome == CLEAN
    with pytest.raises(Exception, match="CHARGE_ALREADY_REFUNDED|CHARGE_NOT_FOUND"):
        from telegram_payments.telegram_api.client import call_bot

        call_bot("refundStarPayment", lambda bot: bot.refund_star_payment(BUYER, payment.telegram_payment_charge_id))


@pytest.mark.parametrize("command", ["dev_bot_api", "simulate_payment"])
def test_the_development_commands_refuse_to_run_without_debug(settings, command):
    settings.DEBUG = False
    args = ["--user", "1", "--product", "premium_monthly"] if command == "simulate_payment" else []
    with pytest.raises(CommandError, match="development only: refused without DEBUG"):
        call_command(command, *args)


@pytest.mark.parametrize("service", ["http://192.0.2.10:8000", "https://payments.example.com"])
def test_simulate_payment_posts_to_this_machine_only(settings, catalog, stars, service):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="--service must be on this machine"):
        call_command("simulate_payment", user=BUYER, product="premium_monthly", service=service)


def test_simulate_payment_never_talks_to_telegram(settings, catalog, stars):
    settings.DEBUG = True
    stars.API_BASE_URL = "https://api.telegram.org"
    with pytest.raises(CommandError, match="TELEGRAM_API_BASE_URL must be on this machine"):
        call_command("simulate_payment", user=BUYER, product="premium_monthly")
