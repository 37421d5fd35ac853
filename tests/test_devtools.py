"""The development Bot API stand-in and `simulate_payment`: a newcomer tries a purchase, a staff refund,
the balance and reconciliation without a bot, through the real webhook URL of a running service.
Both commands refuse to run without DEBUG. The stand-in serves several bots on one server, each with
its own calls, answers and ledger."""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from entitlements.models import Entitlement
from telegram_payments.devtools.botapi import BOT_USER, start_fake_bot_api, stop_fake_bot_api
from telegram_payments.models import EVENT_PAYMENT, EventStatus, StripeEvent
from telegram_payments.payments.refunds import refund_payment
from telegram_payments.reconcile import CLEAN, reconcile_stars
from telegram_payments.reconcile.balance import refresh_star_balance
from telegram_payments.registry import bots
from telegram_payments.telegram_api.client import BotApiError, call_bot

BUYER = 424242
SECOND_TOKEN = "987654321:TEST-second-bot-never-real_abcdefg"


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
    balance, _ = refresh_star_balance(bot=bots.default())
    assert balance.nanostars == 250 * 10**9

    staff = django_user_model.objects.create_user("sam", is_staff=True)
    assert refund_payment(event=payment, staff_user=staff, reason="trying a refund").status == "processed"
    assert Entitlement.objects.get(user_id=BUYER).revoked_at is not None
    assert refresh_star_balance(bot=bots.default())[0].nanostars == 0 and reconcile_stars().outcome == CLEAN
    with pytest.raises(Exception, match="CHARGE_ALREADY_REFUNDED|CHARGE_NOT_FOUND"):
        from telegram_payments.telegram_api.client import call_bot

        call_bot("refundStarPayment", lambda api: api.refund_star_payment(BUYER, payment.telegram_payment_charge_id),
                 bot=bots.default())


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


@pytest.fixture
def two_bots(stars):
    """The stand-in serving the settings' bot (A) and a second bot (B) on one server."""
    a = start_fake_bot_api(stars.BOT_TOKEN, keeps_ledger=True)
    b = a.add_bot(SECOND_TOKEN, username="second_test_bot", first_name="Second Test Bot")
    stars.API_BASE_URL = a.base_url
    yield a, b
    stop_fake_bot_api(a)


def post(base_url: str, token: str, method: str, **params) -> tuple[int, dict]:
    """POST a JSON Bot API call as Telegram's clients do; the HTTP status and the decoded answer."""
    request = urllib.request.Request(f"{base_url}/bot{token}/{method}", data=json.dumps(params).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.django_db
def test_two_bots_on_one_server_each_answer_as_themselves_and_record_only_their_calls(stars, two_bots):
    a, b = two_bots
    assert b.base_url == a.base_url and a.bots == b.bots == {stars.BOT_TOKEN: a, SECOND_TOKEN: b}

    me_a = call_bot("getMe", lambda api: api.get_me(), bot=bots.default())
    sent_a = call_bot("sendMessage", lambda api: api.send_message(BUYER, "from A"), bot=bots.default())
    stars.BOT_TOKEN = SECOND_TOKEN
    me_b = call_bot("getMe", lambda api: api.get_me(), bot=bots.default())
    sent_b = call_bot("sendMessage", lambda api: api.send_message(BUYER, "from B"), bot=bots.default())

    assert (me_a.id, me_a.username) == (BOT_USER["id"], BOT_USER["username"]) == (123456789, "stars_test_bot")
    assert (me_b.id, me_b.username, me_b.first_name) == (987654321, "second_test_bot", "Second Test Bot")
    assert sent_a.from_user.id == 123456789 and sent_b.from_user.id == 987654321
    assert [c.method for c in a.calls] == [c.method for c in b.calls] == ["getMe", "sendMessage"]
    assert a.calls_of("sendMessage")[0]["text"] == "from A" and b.calls_of("sendMessage")[0]["text"] == "from B"


def test_an_added_bot_has_its_own_scripted_answers_and_defaults(two_bots):
    a, b = two_bots
    b.respond("getMe", error=(401, "Unauthorized"))
    a.respond("getWebhookInfo", result={"url": "https://a.example/hook"}, times=None)
    assert post(a.base_url, a.token, "getMe")[0] == 200
    assert post(b.base_url, b.token, "getMe") == (401, {"ok": False, "error_code": 401,
                                                        "description": "Unauthorized"})
    assert post(b.base_url, b.token, "getMe")[1]["result"]["id"] == 987654321  # scripted once only
    assert post(b.base_url, b.token, "getWebhookInfo")[1]["result"]["url"] == ""
    assert post(a.base_url, a.token, "getWebhookInfo")[1]["result"]["url"] == "https://a.example/hook"


@pytest.mark.django_db
def test_a_refund_through_one_bot_cannot_refund_another_bots_charge(stars, two_bots):
    a, b = two_bots
    status, _ = post(a.base_url, a.token, "recordStarPayment", charge_id="ch-a", user_id=BUYER, amount=250,
                     invoice_payload="p-a")
    assert status == 200 and len(a.star_transactions) == 1 and b.star_transactions == []

    stars.BOT_TOKEN = SECOND_TOKEN
    with pytest.raises(BotApiError, match="CHARGE_NOT_FOUND"):
        call_bot("refundStarPayment", lambda api: api.refund_star_payment(BUYER, "ch-a"), bot=bots.default())
    assert len(a.star_transactions) == 1 and b.star_transactions == []
    assert call_bot("getMyStarBalance", lambda api: api.get_my_star_balance(), bot=bots.default()).amount == 0

    stars.BOT_TOKEN = a.token
    assert call_bot("refundStarPayment", lambda api: api.refund_star_payment(BUYER, "ch-a"), bot=bots.default()) is True
    assert [("source" in t, "receiver" in t) for t in a.star_transactions] == [(True, False), (False, True)]
    assert b.calls_of("refundStarPayment") == [{"user_id": BUYER, "telegram_payment_charge_id": "ch-a"}]
    assert len(a.calls_of("refundStarPayment")) == 1


@pytest.mark.parametrize("token", ["555000555:TEST-not-served", SECOND_TOKEN[:-1], SECOND_TOKEN + "x", ""])
def test_a_token_the_server_does_not_serve_gets_401_and_is_recorded_nowhere(two_bots, token):
    a, b = two_bots
    assert post(a.base_url, token, "getMe") == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    assert a.calls == [] and b.calls == []


def test_an_added_bot_inherits_keeps_ledger_and_max_calls_unless_given(stars):
    fake = start_fake_bot_api(stars.BOT_TOKEN, max_calls=2)
    try:
        inherited = fake.add_bot("111:TEST-third")
        own = fake.add_bot("222:TEST-fourth", keeps_ledger=True, max_calls=5)
        assert (inherited.keeps_ledger, inherited.max_calls) == (False, 2)
        assert (own.keeps_ledger, own.max_calls) == (True, 5)
        assert inherited.user == {"id": 111, "is_bot": True, "first_name": "Test Bot 111", "username": "bot111"}
        for _ in range(3):
            post(fake.base_url, inherited.token, "getMe")
        assert len(inherited.calls) == 2 and fake.calls == []
        assert post(fake.base_url, inherited.token, "recordStarPayment", charge_id="c", user_id=1,
                    amount=1)[0] == 404  # no ledger: not a method
        assert post(fake.base_url, own.token, "recordStarPayment", charge_id="c", user_id=1, amount=1)[0] == 200
        with pytest.raises(ValueError, match="already serves"):
            fake.add_bot("111:TEST-third")
        with pytest.raises(ValueError, match="<bot id>:<secret>"):
            fake.add_bot("not-a-token")
    finally:
        stop_fake_bot_api(fake)


def test_concurrent_calls_to_two_bots_are_each_recorded_once_by_their_own_bot(two_bots):
    a, b = two_bots
    tokens = [a.token, b.token] * 20
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda token: post(a.base_url, token, "getMe")[1]["result"]["id"], tokens))
    assert answers == [123456789, 987654321] * 20
    assert len(a.calls) == len(b.calls) == 20
