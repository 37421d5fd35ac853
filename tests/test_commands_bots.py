"""The operators' commands in a deployment of three bots: the default one and bots "a" and "b" (the
`other_bots` fixture), each on the fake Bot API with its own token. A command for one bot takes `--bot`
(a slug, an @username or a Telegram id; default: the default bot); a command for the deployment covers
every active bot unless `--bot` narrows it."""

import json
import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from entitlements.models import Entitlement
from entitlements.selectors import current_access
from telegram_payments.devtools.botapi import star_payment
from telegram_payments.models import (
    EVENT_PAYMENT,
    AutoRefund,
    Bot,
    EventSource,
    EventStatus,
    Invoice,
    Product,
    StarBalance,
    StripeEvent,
)
from telegram_payments.payments.manual import ManualActionRefused, grant_manually, revoke_manually
from telegram_payments.payments.pipeline import handle_successful_payment
from telegram_payments.registry import bots, credentials
from tests.conftest import TEST_CREDENTIAL_KEY

pytestmark = pytest.mark.django_db

OLDER_KEY = TEST_CREDENTIAL_KEY
NEWER_KEY = "q1Zp7Kx3bV9nT2mW5rY8cF4hJ6dL0sA1eG3iU7oP9kM="  # a Fernet key for tests only


def run(name, *args, **options):
    out, err = StringIO(), StringIO()
    call_command(name, *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def fails(name, *args, **options) -> tuple[CommandError, str]:
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(name, *args, stdout=out, stderr=StringIO(), **options)
    return caught.value, out.getvalue()


@pytest.fixture
def three(other_bots, fake_bot_api, catalog):
    """{slug: (Bot, its FakeBotApi)}: the default bot with the demo catalog, and bots a and b, each with a
    premium_monthly of its own (a's costs 100, b's 300) and nothing else."""
    found = {"default": (bots.default(), fake_bot_api), **other_bots}
    for slug, price in (("a", 100), ("b", 300)):
        Product.objects.create(bot=found[slug][0], entitlement_type="premium_monthly", title=f"Premium {slug}",
                               description="A month of premium", price_stars=price, duration_days=30)
    return found


def pay(bot, charge, *, user_id=7, entitlement_type="premium_monthly", amount=None):
    product = Product.objects.filter(bot=bot, entitlement_type=entitlement_type).first()
    return handle_successful_payment(
        user_id=user_id, telegram_payment_charge_id=charge, currency="XTR", entitlement_type=entitlement_type,
        total_amount=amount if amount is not None else (product.price_stars if product else 1),
        source=EventSource.RELAY, payload={"charge": charge}, bot=bot)


def no_path_in(text: str, *found) -> bool:
    return not any(bot.webhook_path in text for bot, _fake in found)


# --- choosing the bot ------------------------------------------------------------------------------

def test_an_unknown_bot_is_refused_naming_what_was_given_and_the_known_slugs(three):
    for command, args in [("grant_entitlement", ["7", "premium_monthly", "--reason", "r"]),
                          ("set_webhook", []), ("reconcile_stars", []), ("prune_events", ["--dry-run"])]:
        error, _ = fails(command, *args, "--bot", "nosuch")
        assert "No bot 'nosuch'" in str(error) and "Known: a, b, default." in str(error), command
    assert Entitlement.objects.count() == 0


def test_bot_by_slug_username_or_telegram_id(three):
    bot_a, _ = three["a"]
    for name in ("a", "@bot_a", "@BOT_A", str(bot_a.telegram_id)):
        out, _ = run("entitlements", "7", "--bot", name)
        assert out.strip() == "User 7 has no entitlements at a.", name


# --- a command for one bot ---------------------------------------------------------------------------

def test_grant_with_bot_lands_in_that_bots_scope_not_the_defaults(three):
    bot_a, _ = three["a"]
    out, _ = run("grant_entitlement", "7", "premium_monthly", "--reason", "support case", "--bot", "a")
    grant = Entitlement.objects.get()
    assert grant.scope == bot_a.entitlement_scope != ""
    assert StripeEvent.objects.get(event_id=grant.event_id).bot_id == bot_a.pk
    assert [a.entitlement_type for a in current_access(7, scope=bot_a.entitlement_scope)] == ["premium_monthly"]
    assert current_access(7) == []  # the default bot's scope
    assert "Audit event: manual:grant:" in out


def test_grant_of_a_type_not_in_that_bots_catalog_is_refused(three):
    error, _ = fails("grant_entitlement", "7", "lifetime", "--reason", "r", "--bot", "a")  # only the default sells it
    assert "not in the catalog of a" in str(error)
    assert Entitlement.objects.count() == 0 and not StripeEvent.objects.exists()


def test_grant_fulfils_only_a_failed_payment_of_that_bot(three):
    failed = pay(three["default"][0], "fail-1", entitlement_type="no_such_product").event
    assert failed.status == EventStatus.FAILED
    error, _ = fails("grant_entitlement", "7", "premium_monthly", "--reason", "r", "--fulfils", failed.event_id,
                     "--bot", "a")
    assert f"No event '{failed.event_id}' of user 7 at a." == str(error)


def test_revoke_with_bot_takes_away_only_that_bots_grant(three):
    bot_a, _ = three["a"]
    run("grant_entitlement", "7", "premium_monthly", "--reason", "r")
    run("grant_entitlement", "7", "premium_monthly", "--reason", "r", "--bot", "a")
    out, _ = run("revoke_entitlement", "7", "premium_monthly", "--reason", "r", "--bot", "a", "--dry-run")
    assert "would revoke 1 premium_monthly grant(s) of 7 at a" in out
    run("revoke_entitlement", "7", "premium_monthly", "--reason", "asked", "--bot", "a")
    assert current_access(7, scope=bot_a.entitlement_scope) == []
    assert [a.entitlement_type for a in current_access(7)] == ["premium_monthly"]
    error, _ = fails("revoke_entitlement", "7", "premium_monthly", "--reason", "again", "--bot", "a")
    assert "holds no 'premium_monthly'" in str(error)


def test_entitlements_lists_that_bots_scope_only(three):
    run("grant_entitlement", "7", "premium_monthly", "--reason", "default's")
    run("grant_entitlement", "7", "premium_monthly", "--reason", "b's", "--bot", "b")
    out_b, _ = run("entitlements", "7", "--bot", "b")
    assert "Entitlements of user 7 at b" in out_b and "reason: b's" in out_b and "default's" not in out_b
    assert "Active now: premium_monthly until" in out_b
    out_default, _ = run("entitlements", "7")
    assert "reason: default's" in out_default and "b's" not in out_default
    assert run("entitlements", "7", "--bot", "a")[0].strip() == "User 7 has no entitlements at a."


def test_create_invoice_link_with_bot_uses_its_catalog_and_token(three):
    bot_a, fake_a = three["a"]
    out, err = run("create_invoice_link", "premium_monthly", "--bot", "a", "--user", "7")
    invoice = Invoice.objects.get()
    assert (invoice.bot_id, invoice.price_stars) == (bot_a.pk, 100)
    assert out.strip() == f"https://t.me/$fake_invoice_{invoice.payload}" and "100 XTR" in err
    assert len(fake_a.calls_of("createInvoiceLink")) == 1 and three["default"][1].calls_of("createInvoiceLink") == []
    error, _ = fails("create_invoice_link", "lifetime", "--bot", "a")
    assert "in the catalog of a. Known: premium_monthly." in str(error)


def test_subscription_with_bot_finds_only_that_bots_charge(three):
    bot_a, fake_a = three["a"]
    StripeEvent.objects.create(bot=bot_a, event_id="tg_stars:bot700000001:payment:sub-a",
                               event_type=EVENT_PAYMENT, customer_id="7", telegram_payment_charge_id="sub-a",
                               status=EventStatus.PROCESSED, source=EventSource.TELEGRAM, amount_cents=100,
                               currency="XTR", entitlement_type="premium_monthly",
                               subscription_expires_at=timezone.now() + timedelta(days=30))
    error, _ = fails("subscription", "7", "sub-a", "--cancel")  # not the default bot's
    assert "no subscription payment 'sub-a' of user 7" in str(error)
    assert fake_a.calls_of("editUserStarSubscription") == []
    out, _ = run("subscription", "7", "sub-a", "--cancel", "--bot", "a")
    assert "cancelled" in out
    assert fake_a.calls_of("editUserStarSubscription") == [
        {"user_id": 7, "telegram_payment_charge_id": "sub-a", "is_canceled": True}]
    assert three["default"][1].calls_of("editUserStarSubscription") == []


def test_replay_updates_with_bot_records_them_as_that_bots(three, tmp_path):
    bot_b, _ = three["b"]
    update = {"update_id": 55, "message": {
        "message_id": 1, "date": 1795000000, "chat": {"id": 7, "type": "private"},
        "from": {"id": 7, "is_bot": False, "first_name": "U"},
        "successful_payment": {"currency": "XTR", "total_amount": 300, "invoice_payload": "",
                               "telegram_payment_charge_id": "replayed-b", "provider_payment_charge_id": ""}}}
    path = tmp_path / "updates.jsonl"
    path.write_text(json.dumps(update) + "\n")
    with pytest.raises(SystemExit):  # no invoice: recorded as failed, which the command reports
        call_command("replay_updates", str(path), "--bot", "b", stdout=StringIO(), stderr=StringIO())
    event = StripeEvent.objects.get(telegram_payment_charge_id="replayed-b")
    assert event.bot_id == bot_b.pk and event.event_id.startswith(f"tg_stars:{bot_b.event_namespace}")


@pytest.mark.django_db(transaction=True)  # the live server's thread sees the rows
def test_simulate_payment_posts_to_that_bots_path_with_its_secret(three, settings, live_server, capsys):
    bot_a, fake_a = three["a"]
    settings.DEBUG = True
    call_command("simulate_payment", user=4242, product="premium_monthly", service=live_server.url, bot="a")
    out = capsys.readouterr().out
    assert '"ok": true' in out and no_path_in(out, *three.values())
    payment = StripeEvent.objects.get(event_type=EVENT_PAYMENT)
    assert (payment.bot_id, payment.status, payment.amount_cents) == (bot_a.pk, EventStatus.PROCESSED, 100)
    assert Entitlement.objects.get().scope == bot_a.entitlement_scope
    assert fake_a.calls_of("createInvoiceLink") and three["default"][1].calls_of("createInvoiceLink") == []


# --- a command for every bot -------------------------------------------------------------------------

@pytest.fixture
def webhook_url(stars):
    stars.WEBHOOK_URL = "https://pay.example.com/webhook/telegram"
    return stars.WEBHOOK_URL


def test_set_webhook_registers_every_bot_at_its_url_with_its_secret(three, webhook_url, stars):
    out, _ = run("set_webhook")
    for slug, (bot, fake) in three.items():
        [call] = fake.calls_of("setWebhook")
        expected = webhook_url if bot.is_default else (
            "https://pay.example.com" + reverse("bot-webhook", args=[bot.webhook_path]))
        assert (call["url"], call["secret_token"]) == (expected, bot.webhook_secret()), slug
        assert f"bot={slug}" in out
    assert len({fake.calls_of("setWebhook")[0]["secret_token"] for _, fake in three.values()}) == 3
    assert no_path_in(out, *three.values()) and "https://pay.example.com/webhook/bot/a bot=a" in out
    assert all(bot.webhook_secret() not in out for bot, _ in three.values())


def test_set_webhook_with_bot_registers_that_bot_only(three, webhook_url):
    run("set_webhook", "--bot", "b")
    assert [len(fake.calls_of("setWebhook")) for fake in (three["default"][1], three["a"][1], three["b"][1])] == [
        0, 0, 1]


def test_set_webhook_goes_on_past_a_refusal_and_exits_1(three, webhook_url):
    three["a"][1].respond("setWebhook", error=(400, "Bad Request: bad webhook"))
    error, out = fails("set_webhook")
    assert "✗ a: setWebhook failed: Bad Request: bad webhook" in out
    assert str(error) == "1 of 3 bots not registered: a: setWebhook failed: Bad Request: bad webhook"
    assert len(three["b"][1].calls_of("setWebhook")) == 1 and len(three["default"][1].calls_of("setWebhook")) == 1


def test_webhook_info_shows_each_bot(three, webhook_url):
    run("set_webhook", "--bot", "a")
    out, _ = run("webhook_info")
    assert "Bot default" in out and "Bot a (@bot_a):" in out and "Bot b (@bot_b):" in out
    assert "URL:              https://pay.example.com/webhook/bot/a\n" in out
    assert out.count("no webhook is set") == 2 and no_path_in(out, *three.values())
    assert "Bot " not in run("webhook_info", "--bot", "a")[0]  # one bot: as before


def test_refresh_star_balance_stores_each_bots(three):
    three["a"][1].star_balance = {"amount": 40, "nanostar_amount": 0}
    three["b"][1].star_balance = {"amount": 7, "nanostar_amount": 0}
    out, _ = run("refresh_star_balance")
    assert {b.bot.slug: b.nanostars // 10**9 for b in StarBalance.objects.select_related("bot")} == {
        "default": 0, "a": 40, "b": 7}
    assert "bot=a" in out and "bot=b" in out and "bot=default" in out
    three["b"][1].respond("getMyStarBalance", error=(401, "Unauthorized"))
    error, _ = fails("refresh_star_balance")
    assert str(error) == "b: getMyStarBalance failed: Unauthorized"


def test_verify_deployment_has_a_line_per_bot_and_check(three, webhook_url, settings, stars):
    settings.SECRET_KEY = "k" * 20 + "Q9x-Zr7_pL2mN8bV4cX6" + "w" * 20
    stars.WEBHOOK_SECRET = "S3cr3t_webhook-value_0123456789abcdef"
    settings.DEBUG = False
    run("set_webhook")
    out, _ = run("verify_deployment")
    for slug in ("default", "a", "b"):
        for check in ("catalog", "Bot API", "webhook", "events"):
            assert out.count(f"✓ {check} ({slug}): ") == 1, (check, slug)
    assert "✓ stored bots: 2 stored bot(s) readable, all under the newest key" in out
    assert "Checks passed: 20/20" in out and no_path_in(out, *three.values())

    pay(three["b"][0], "b-fails", entitlement_type="no_such_product")
    error, out = fails("verify_deployment")
    assert "✗ events (b): 1 failed" in out and "✓ events (a)" in out and "✓ events (default)" in out
    out_a, _ = run("verify_deployment", "--bot", "a")
    assert "Checks passed: 12/12" in out_a and "(b)" not in out_a


def test_verify_deployment_says_how_many_are_under_an_older_key_or_unreadable(three, stars):
    stars.CREDENTIAL_KEYS = [NEWER_KEY, OLDER_KEY]
    out = run_checks_text()
    assert "✓ stored bots: 2 stored bot(s) readable; 4 value(s) under an older key" in out
    stars.CREDENTIAL_KEYS = [NEWER_KEY]
    assert "✗ stored bots: 4 of 4 stored tokens and secrets cannot be decrypted" in run_checks_text()


def run_checks_text() -> str:
    from telegram_payments.management.deployment import run_checks

    return "\n".join(f"{'✓' if c.ok else '✗'} {c.name}: {c.reason}" for c in run_checks())


def test_replay_events_with_bot_replays_only_that_bots_failures(three):
    bot_a, bot_b = three["a"][0], three["b"][0]
    for bot in (bot_a, bot_b):
        Product.objects.filter(bot=bot).update(is_active=False)
        assert pay(bot, f"off-{bot.slug}").status == "failed"
    Product.objects.filter(bot__in=[bot_a, bot_b]).update(is_active=True)
    out, _ = run("replay_events", "--failed", "--bot", "a")
    assert "Replayed 1 of 1: 1 processed" in out
    statuses = dict(StripeEvent.objects.values_list("bot__slug", "status"))
    assert statuses == {"a": EventStatus.PROCESSED, "b": EventStatus.FAILED}
    out, _ = run("replay_events", "--failed")  # every bot's
    assert "Replayed 1 of 1: 1 processed" in out


def test_prune_events_with_bot_prunes_only_that_bots(three):
    for slug in ("a", "b"):
        bot = three[slug][0]
        event = StripeEvent.objects.create(bot=bot, event_id=f"old-{slug}", event_type=EVENT_PAYMENT,
                                           status=EventStatus.PROCESSED, source=EventSource.TELEGRAM)
        StripeEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(days=800))
    out, _ = run("prune_events", "--older-than", "365", "--bot", "a")
    assert "Pruned: 1 events deleted" in out
    assert list(StripeEvent.objects.values_list("event_id", flat=True)) == ["old-b"]


def test_refund_unfulfillable_with_bot_refunds_only_that_bots(three, stars):
    stars.AUTO_REFUND_UNFULFILLABLE = True
    for slug in ("a", "b"):
        Product.objects.filter(bot=three[slug][0]).update(is_active=False)
        pay(three[slug][0], f"unfulfillable-{slug}")
    assert AutoRefund.objects.count() == 2
    out, _ = run("refund_unfulfillable", "--once", "--bot", "b")
    assert out.startswith("refunded 1,")
    assert [c["telegram_payment_charge_id"] for c in three["b"][1].calls_of("refundStarPayment")] == [
        "unfulfillable-b"]
    assert three["a"][1].calls_of("refundStarPayment") == []
    assert AutoRefund.objects.get(done_at__isnull=True).payment.bot.slug == "a"


# --- reconcile_stars ---------------------------------------------------------------------------------

def test_reconcile_all_bots_runs_each_and_exits_with_the_worst(three):
    bot_a, fake_a = three["a"]
    invoice = Invoice.objects.create(bot=bot_a, product=Product.objects.get(bot=bot_a), user_id=7, price_stars=100)
    fake_a.star_transactions.append(star_payment("only-at-telegram", user_id=7, amount=100,
                                                 invoice_payload=invoice.payload))
    error, out = fails("reconcile_stars", "--all-bots", "--summary")
    lines = out.splitlines()
    assert [line.split()[1] for line in lines] == ["status=clean", "status=missing", "status=clean"]
    assert [line.rsplit(" ", 1)[1] for line in lines] == ["bot=default", "bot=a", "bot=b"]
    assert error.returncode == 2 and str(error).startswith("a: 1 sale(s)/refund(s) missing here")

    three["b"][1].respond("getStarTransactions", http_status=500, times=None)
    error, out = fails("reconcile_stars", "--all-bots", "--summary")
    assert error.returncode == 1 and "reconcile_stars status=failed bot=b" in out  # failing beats missing

    out, _ = run("reconcile_stars", "--summary")  # the default bot alone
    assert out.startswith("reconcile_stars status=clean ") and out.strip().endswith(" bot=default")
    out, _ = run("reconcile_stars", "--bot", "a", "--apply")
    assert StripeEvent.objects.get(telegram_payment_charge_id="only-at-telegram").bot_id == bot_a.pk
    assert run("reconcile_stars", "--bot", "a", "--summary")[0].startswith("reconcile_stars status=clean ")


def test_reconcile_takes_bot_or_all_bots_not_both(three):
    with pytest.raises(CommandError, match="not allowed with argument"):
        call_command("reconcile_stars", "--bot", "a", "--all-bots", stdout=StringIO(), stderr=StringIO())


# --- add_bot and rotate_bot_credentials --------------------------------------------------------------

NEW_TOKEN = "700000003:TEST-bot-c-token-never-real_abcdefghij"


def test_add_bot_reads_the_token_from_stdin_and_prints_what_to_do_next(three, fake_bot_api, webhook_url):
    fake_bot_api.add_bot(NEW_TOKEN, username="bot_c")
    out, err = run("add_bot", "--name", "Bot C", "--slug", "c", stdin=StringIO(NEW_TOKEN + "\n"))
    bot = Bot.objects.get(slug="c")
    assert (bot.name, bot.username, bot.telegram_id, bot.token()) == ("Bot C", "bot_c", 700000003, NEW_TOKEN)
    assert "Added c: @bot_c" in out
    assert f"https://pay.example.com/webhook/bot/{bot.webhook_path}" in out
    assert "manage.py set_webhook --bot c" in out
    assert NEW_TOKEN not in out + err and NEW_TOKEN.split(":")[1] not in out + err
    assert bot.webhook_secret() not in out + err


def test_add_bot_refuses_a_slug_taken_a_token_refused_and_no_token(three, fake_bot_api):
    error, _ = fails("add_bot", "--name", "Again", "--slug", "a", stdin=StringIO(NEW_TOKEN))
    assert "slug 'a' exists already" in str(error)
    unknown = "700000009:TEST-unknown-token_abcdefghijk"  # no bot of the fake's
    error, _ = fails("add_bot", "--name", "C", "--slug", "c", stdin=StringIO(unknown))
    assert "Telegram refused the token" in str(error) and "TEST-unknown" not in str(error)
    error, _ = fails("add_bot", "--name", "C", "--slug", "c", stdin=StringIO(""))
    assert "No token given" in str(error)
    assert not Bot.objects.filter(slug="c").exists()


def test_add_bot_takes_no_token_argument(three):
    with pytest.raises(CommandError, match="unrecognized arguments"):
        call_command("add_bot", "--name", "C", "--slug", "c", NEW_TOKEN, stdout=StringIO(), stderr=StringIO())


def test_rotate_bot_credentials_reseals_under_the_newest_key(three, stars):
    sealed_before = dict(Bot.objects.filter(is_default=False).values_list("slug", "token_sealed"))
    tokens = {slug: three[slug][0].token() for slug in ("a", "b")}
    stars.CREDENTIAL_KEYS = [NEWER_KEY, OLDER_KEY]

    out, _ = run("rotate_bot_credentials", "--dry-run")
    assert "2 would be resealed, 0 under the newest key already, 0 that no key opens" in out
    assert dict(Bot.objects.filter(is_default=False).values_list("slug", "token_sealed")) == sealed_before

    out, _ = run("rotate_bot_credentials")
    assert "Stored bots: 2 resealed, 0 under the newest key already, 0 that no key opens." in out
    assert all(value not in out for value in [*tokens.values(), *sealed_before.values()])
    stars.CREDENTIAL_KEYS = [NEWER_KEY]  # the old key dropped: every value still opens
    bots.forget()
    for bot in Bot.objects.filter(is_default=False):
        assert bot.token() == tokens[bot.slug] and not credentials.needs_reseal(bot.secret_sealed)
    assert "0 resealed, 2 under the newest key already" in run("rotate_bot_credentials")[0]


def test_rotate_bot_credentials_counts_a_bot_no_key_opens_and_exits_1(three, stars):
    stars.CREDENTIAL_KEYS = [NEWER_KEY, OLDER_KEY]
    Bot.objects.filter(slug="b").update(token_sealed=credentials.seal("x" * 20).replace("A", "B", 1)[:-4] + "AAAA")
    error, out = fails("rotate_bot_credentials")
    assert "1 resealed, 0 under the newest key already, 1 that no key opens" in out
    assert "1 bot(s) cannot be opened with any of the keys: b" in str(error)


# --- manual grants and revokes (payments/manual.py) take bot= ----------------------------------------

def test_manual_grant_is_in_the_bots_scope_and_refuses_a_type_not_in_its_catalog(three):
    bot_b, _ = three["b"]
    outcome = grant_manually(user_id=9, entitlement_type="premium_monthly", reason="case", bot=bot_b)
    [grant] = outcome.entitlements
    assert grant.scope == bot_b.entitlement_scope and outcome.event.bot_id == bot_b.pk
    assert outcome.event.event_id.startswith("manual:grant:")
    with pytest.raises(ManualActionRefused, match="not in the catalog of b"):
        grant_manually(user_id=9, entitlement_type="premium_yearly", reason="case", bot=bot_b)
    default_grant = grant_manually(user_id=9, entitlement_type="premium_yearly", reason="case").entitlements[0]
    assert default_grant.scope == ""  # without bot=: the default bot's catalog and scope
    with pytest.raises(ManualActionRefused, match="holds no"):
        revoke_manually(user_id=9, entitlement_type="premium_yearly", reason="wrong bot", bot=bot_b)
    revoke_manually(user_id=9, entitlement_type="premium_monthly", reason="done", bot=bot_b)
    grant.refresh_from_db()
    default_grant.refresh_from_db()
    assert grant.revoked_at is not None and default_grant.revoked_at is None


# --- the webhook log line ----------------------------------------------------------------------------

@pytest.fixture
def log_lines():
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    buffer = StringIO()
    previous = handler.setStream(buffer)
    try:
        yield lambda: buffer.getvalue().splitlines()
    finally:
        handler.setStream(previous)


def test_a_stored_bots_webhook_path_is_never_in_a_log_line(client, three, log_lines):
    bot_a, _ = three["a"]
    relay = reverse("bot-relay-successful-payment", args=[bot_a.webhook_path])
    body = {"user_id": "7", "entitlement_type": "premium_monthly", "telegram_payment_charge_id": "log-a",
            "total_amount": 100, "currency": "XTR"}
    headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": bot_a.webhook_secret()}
    assert client.post(relay, body, content_type="application/json", **headers).status_code == 200
    assert client.post(relay, body, content_type="application/json",  # a wrong secret: Django logs a 401 too
                       HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="wrong-secret-guess-000000").status_code == 401
    assert client.post("/webhook/telegram/successful_payment", {**body, "telegram_payment_charge_id": "log-d",
                                                                "total_amount": 250}, content_type="application/json",
                       HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=three["default"][0].webhook_secret()).status_code == 200
    lines = log_lines()
    entries = [json.loads(line) for line in lines]
    webhook = [e for e in entries if e["logger"] == "telegram_payments.webhook"]
    assert [(e["path"], e["bot"], e["http_status"]) for e in webhook] == [
        ("/webhook/bot/a/successful_payment", "a", 200), ("/webhook/bot/a/successful_payment", "a", 401),
        ("/webhook/telegram/successful_payment", "default", 200)]
    assert "bot=a" in webhook[0]["message"]
    assert any(e["logger"] == "django.request" for e in entries)  # the 401, logged by Django
    assert no_path_in("\n".join(lines), *three.values())
