"""The operators' manage.py commands, run with call_command against real rows and the fake Bot API."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from entitlements.models import Entitlement
from telegram_payments.models import EventSource, EventStatus, Invoice, Product, StripeEvent
from telegram_payments.payments.events import payment_event_id
from telegram_payments.payments.pipeline import handle_refund, handle_successful_payment
from telegram_payments.reads.selectors import events_to_replay
from tests.factories import EntitlementFactory, StripeEventFactory

pytestmark = pytest.mark.django_db


def run(name, *args, **options):
    """Run a command; return its stdout and stderr."""
    out, err = StringIO(), StringIO()
    call_command(name, *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def fails(name, *args, **options) -> tuple[str, str]:
    """Run a command that must exit non-zero; return the message and its stdout."""
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(name, *args, stdout=out, stderr=StringIO(), **options)
    return str(caught.value), out.getvalue()


def pay(charge, user_id=7, entitlement_type="premium_monthly", amount=250, **kw):
    return handle_successful_payment(
        user_id=user_id, telegram_payment_charge_id=charge, total_amount=amount, currency="XTR",
        entitlement_type=entitlement_type, source=EventSource.RELAY, payload={"charge": charge}, **kw,
    )


def snapshot():
    """Everything the commands could change, to prove a dry run changed nothing."""
    return (
        list(StripeEvent.objects.order_by("pk").values()),
        list(Entitlement.objects.order_by("pk").values()),
        list(Invoice.objects.order_by("pk").values()),
    )


# --- replay_events ---------------------------------------------------------------------------------

def test_replay_failed_event_after_the_cause_is_fixed(catalog):
    product = catalog["premium_monthly"]
    product.is_active = False
    product.save()
    failed = pay("c1")
    assert failed.status == "failed" and Entitlement.objects.count() == 0

    message, out = fails("replay_events", "--failed")
    assert "Replayed 1 of 1: 0 processed, 1 still failing" in out
    assert "FAILED tg_stars:payment:c1 (attempt 2): product 'premium_monthly' is not on sale" in out
    assert "1 event(s) still failing" in message

    product.is_active = True
    product.save()
    out, _ = run("replay_events", "--failed")
    assert "Replayed 1 of 1: 1 processed, 0 still failing" in out
    event = StripeEvent.objects.get()
    assert (event.status, event.error, event.attempts) == (EventStatus.PROCESSED, "", 3)
    assert Entitlement.objects.get().event_id == "tg_stars:payment:c1"

    out, _ = run("replay_events", "--failed")  # nothing left: the effect happened once
    assert "Replayed 0 of 0" in out
    assert Entitlement.objects.count() == 1


def test_replay_dry_run_lists_and_changes_nothing(catalog):
    pay("c1", entitlement_type="no_such_product")
    before = snapshot()
    out, _ = run("replay_events", "--failed", "--dry-run")
    assert "would replay tg_stars:payment:c1  [failed]  unknown product 'no_such_product'" in out
    assert "Dry run: 1 event(s) would be replayed; nothing changed." in out
    assert snapshot() == before


def test_replay_pending_only_when_stuck_longer_than_older_than(catalog):
    now = timezone.now()
    stuck = StripeEventFactory(status=EventStatus.PENDING, received_at=now - timedelta(minutes=10),
                               processed_at=None, amount_cents=250)
    fresh = StripeEventFactory(status=EventStatus.PENDING, received_at=now - timedelta(minutes=1),
                               processed_at=None, amount_cents=250)
    out, _ = run("replay_events", "--pending")
    assert "Replayed 1 of 1: 1 processed, 0 still failing" in out
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert (stuck.status, fresh.status) == (EventStatus.PROCESSED, EventStatus.PENDING)
    assert Entitlement.objects.filter(event_id=stuck.event_id).exists()

    out, _ = run("replay_events", "--pending", "--older-than", "0")
    assert "Replayed 1 of 1: 1 processed" in out
    fresh.refresh_from_db()
    assert fresh.status == EventStatus.PROCESSED


def test_replay_by_ids_leaves_processed_alone_and_reports_unknown_ids(catalog):
    done = pay("c1")
    assert done.status == "processed"
    message, out = fails("replay_events", "--ids", done.event.event_id, "tg_stars:payment:nope")
    assert "Replayed 0 of 1: 0 processed, 0 still failing, 1 already processed (left alone)" in out
    assert "1 id(s) not found" in message
    assert Entitlement.objects.count() == 1


def test_replay_type_and_window_narrow_the_selection(catalog):
    pay("old", entitlement_type="nope")
    StripeEvent.objects.filter(event_id="tg_stars:payment:old").update(
        received_at=timezone.now() - timedelta(days=3))
    pay("new", entitlement_type="nope")
    handle_refund(user_id=7, telegram_payment_charge_id="r1", source=EventSource.RELAY, payload={})
    StripeEvent.objects.filter(event_id="tg_stars:refund:r1").update(status=EventStatus.FAILED)
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    ids = lambda **kw: [e.event_id for e in events_to_replay(failed=True, **kw)]  # noqa: E731
    assert ids(event_type="payment", since=timezone.now() - timedelta(days=1)) == ["tg_stars:payment:new"]
    assert ids(event_type="refund") == ["tg_stars:refund:r1"]
    assert ids(until=timezone.now() - timedelta(days=1)) == ["tg_stars:payment:old"]
    out, _ = run("replay_events", "--failed", "--type", "payment", "--since", since, "--dry-run")
    assert "tg_stars:payment:new" in out and "tg_stars:payment:old" not in out and "refund" not in out


def test_replay_needs_a_selection_and_rejects_bad_dates(db):
    assert "Choose what to replay" in fails("replay_events")[0]
    with pytest.raises(CommandError, match="not an ISO date"):
        call_command("replay_events", "--failed", "--since", "yesterday", stdout=StringIO(), stderr=StringIO())


def test_selector_selects_nothing_without_a_reason(db):
    StripeEventFactory(status=EventStatus.FAILED)
    assert events_to_replay().count() == 0
    assert events_to_replay(failed=True).count() == 1


def test_replay_shows_progress_on_stderr(catalog):
    for n in range(3):
        pay(f"c{n}", entitlement_type="nope")
    StripeEvent.objects.update(entitlement_type="premium_monthly")
    out, err = run("replay_events", "--failed")
    assert "Replayed 3 of 3: 3 processed, 0 still failing" in out
    assert "replayed 3/3" in err


# --- create_invoice_link ---------------------------------------------------------------------------

def test_create_invoice_link_prints_the_link_and_records_the_invoice(catalog, fake_bot_api):
    out, err = run("create_invoice_link", "premium_monthly", "--user", "42")
    invoice = Invoice.objects.get()
    assert out.strip() == f"https://t.me/$fake_invoice_{invoice.payload}"
    assert (invoice.user_id, invoice.price_stars, invoice.product.entitlement_type) == (42, 250, "premium_monthly")
    assert "payable by user 42" in err
    [params] = fake_bot_api.calls_of("createInvoiceLink")
    assert params["currency"] == "XTR" and params["payload"] == invoice.payload
    assert params["prices"] == [{"label": "Premium, 1 month", "amount": 250}]
    assert "subscription_period" not in params


def test_create_invoice_link_for_a_subscription_asks_for_30_day_period(catalog, fake_bot_api):
    Product.objects.filter(entitlement_type="premium_monthly").update(is_subscription=True)
    run("create_invoice_link", "premium_monthly")
    [params] = fake_bot_api.calls_of("createInvoiceLink")
    assert params["subscription_period"] == 2592000
    assert Invoice.objects.get().user_id is None


def test_create_invoice_link_failures_exit_non_zero(catalog, fake_bot_api):
    assert ("Unknown product 'gold' in the catalog of default. Known: lifetime, premium_monthly, premium_yearly."
            in fails("create_invoice_link", "gold")[0])
    Product.objects.filter(entitlement_type="lifetime").update(is_active=False)
    assert "not on sale" in fails("create_invoice_link", "lifetime")[0]
    fake_bot_api.respond("createInvoiceLink", error=(400, "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID"))
    assert "CURRENCY_TOTAL_AMOUNT_INVALID" in fails("create_invoice_link", "premium_yearly")[0]


# --- entitlements, grant_entitlement, revoke_entitlement ---------------------------------------------

def test_entitlements_lists_states_dates_and_the_payment_behind_each(catalog):
    pay("paid", user_id=5)
    pay("refunded", user_id=5, entitlement_type="lifetime", amount=10000)
    handle_refund(user_id=5, telegram_payment_charge_id="refunded", source=EventSource.STAFF, payload={},
                  refund_reason="asked")
    EntitlementFactory(user_id=5, entitlement_type="premium_yearly", event_id="tg_stars:payment:gone",
                       starts_at=timezone.now() - timedelta(days=400))
    out, _ = run("entitlements", "5")
    assert "lifetime             REVOKED" in out
    assert "revoked" in out and "refund (Staff (admin)): asked" in out
    assert "event tg_stars:payment:refunded (Relay endpoint, processed, 10000 XTR)" in out
    assert "refund tg_stars:refund:refunded (Staff (admin))" in out
    assert "premium_monthly      ACTIVE" in out and "event tg_stars:payment:paid" in out
    assert "premium_yearly       EXPIRED" in out and "(not in the audit trail)" in out
    assert "Active now: premium_monthly until" in out
    assert run("entitlements", "6")[0].strip() == "User 6 has no entitlements at default."


def test_grant_entitlement_is_recorded_as_manual_with_its_reason(catalog, django_user_model):
    django_user_model.objects.create_user("alice", is_staff=True)
    out, _ = run("grant_entitlement", "9", "premium_monthly", "--reason", "ticket 123", "--days", "7",
                 "--operator", "alice")
    grant = Entitlement.objects.get(user_id=9)
    event = StripeEvent.objects.get(event_id=grant.event_id)
    assert event.event_id.startswith("manual:grant:")
    assert (event.source, event.status, event.customer_id) == (EventSource.MANUAL, EventStatus.PROCESSED, "9")
    assert event.payload["reason"] == "ticket 123" and event.payload["days"] == 7
    assert event.initiated_by.username == "alice"
    assert timedelta(days=6, hours=23) < grant.expires_at - grant.starts_at <= timedelta(days=7)
    assert "Granted premium_monthly to 9 until" in out and event.event_id in out
    assert "reason: ticket 123" in run("entitlements", "9")[0]


def test_grant_entitlement_refuses_without_effect(catalog):
    with pytest.raises(CommandError):  # --reason is required by the parser
        call_command("grant_entitlement", "9", "premium_monthly", stdout=StringIO(), stderr=StringIO())
    assert "unknown entitlement type 'gold'" in fails("grant_entitlement", "9", "gold", "--reason", "x")[0]
    assert "a reason is required" in fails("grant_entitlement", "9", "lifetime", "--reason", "  ")[0]
    assert "No staff user 'bob'" in fails("grant_entitlement", "9", "lifetime", "--reason", "x",
                                           "--operator", "bob")[0]
    out, _ = run("grant_entitlement", "9", "lifetime", "--reason", "x", "--dry-run")
    assert "Dry run" in out
    assert StripeEvent.objects.count() == 0 and Entitlement.objects.count() == 0


def test_revoke_entitlement_revokes_current_and_stacked_grants_with_an_audit_row(catalog):
    pay("a", user_id=3)
    pay("b", user_id=3)  # stacked behind the first
    before = snapshot()
    out, _ = run("revoke_entitlement", "3", "premium_monthly", "--reason", "fraud", "--dry-run")
    assert "would revoke 2 premium_monthly grant(s) of 3" in out
    assert snapshot() == before

    out, _ = run("revoke_entitlement", "3", "premium_monthly", "--reason", "fraud")
    assert "Revoked 2 premium_monthly grant(s) of 3" in out
    assert all(e.revoke_reason == "manual: fraud" for e in Entitlement.objects.all())
    event = StripeEvent.objects.get(event_id__startswith="manual:revoke:")
    assert event.source == EventSource.MANUAL and set(event.payload["revoked"]) == {
        payment_event_id("a"), payment_event_id("b")}
    assert "holds no 'premium_monthly' to revoke" in fails(
        "revoke_entitlement", "3", "premium_monthly", "--reason", "again")[0]
    assert StripeEvent.objects.filter(source=EventSource.MANUAL).count() == 1


# --- verify_deployment -------------------------------------------------------------------------------

@pytest.fixture
def production_settings(settings, stars, fake_bot_api):
    settings.SECRET_KEY = "k" * 20 + "Q9x-Zr7_pL2mN8bV4cX6" + "w" * 20
    stars.WEBHOOK_SECRET = "S3cr3t_webhook-value_0123456789abcdef"
    stars.WEBHOOK_URL = "https://pay.example.com/webhook/telegram"
    settings.DEBUG = False
    from telegram_payments.management.deployment import ALLOWED_UPDATES

    fake_bot_api.webhook = {"url": stars.WEBHOOK_URL, "has_custom_certificate": False,
                            "pending_update_count": 0, "allowed_updates": list(ALLOWED_UPDATES)}
    return settings


def test_verify_deployment_all_pass(catalog, production_settings, stars):
    out, _ = run("verify_deployment")
    lines = out.strip().splitlines()
    assert lines[-1] == "Checks passed: 12/12"
    assert all(line.startswith("✓") for line in lines[:-1]), out
    assert "✓ Bot API: getMe answered: @stars_test_bot" in out
    assert stars.BOT_TOKEN not in out
    assert stars.WEBHOOK_SECRET not in out


def test_verify_deployment_reports_each_problem_and_exits_non_zero(catalog, production_settings, fake_bot_api, stars):
    production_settings.SECRET_KEY = "insecure-development-only-key"
    stars.BOT_TOKEN = "123:short"
    stars.WEBHOOK_SECRET = "short secret!"
    stars.WEBHOOK_URL = "http://pay.example.com/webhook/telegram"
    production_settings.DEBUG = True
    Product.objects.update(is_active=False)
    pay("c1", entitlement_type="nope")
    message, out = fails("verify_deployment")
    assert "✗ SECRET_KEY: SECRET_KEY is a development default" in out
    assert "✗ TELEGRAM_BOT_TOKEN: TELEGRAM_BOT_TOKEN does not look like" in out
    assert "✗ TELEGRAM_WEBHOOK_SECRET: TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z" in out
    assert "✗ TELEGRAM_WEBHOOK_URL: TELEGRAM_WEBHOOK_URL must be an https:// URL" in out
    assert "✗ DEBUG: DEBUG is on" in out
    assert "✓ database" in out and "✓ migrations: all applied" in out
    assert "✗ catalog: no product on sale" in out
    assert "✗ Bot API: BotApiError: getMe: Unauthorized" in out  # the fake accepts only the real token
    assert "✗ events: 1 failed and 0 stuck pending event(s)" in out
    assert "Checks passed: 3/12" in out and "9 check(s) failed" in message
    assert "123:short" not in out and "short secret!" not in out


def test_verify_deployment_says_when_subscription_updates_are_not_asked_for(catalog, production_settings,
                                                                            fake_bot_api):
    fake_bot_api.webhook["allowed_updates"] = ["message", "callback_query", "pre_checkout_query"]
    _, out = fails("verify_deployment")
    assert "✗ webhook: allowed updates lack 'subscription': cancelled and failed subscription renewals" in out


def test_verify_deployment_webhook_not_ours(catalog, production_settings, fake_bot_api):
    fake_bot_api.webhook = {"url": "https://old.example.com/hook", "has_custom_certificate": False,
                            "pending_update_count": 3, "last_error_date": 1700000000,
                            "last_error_message": "Connection refused"}
    message, out = fails("verify_deployment")
    assert ("✗ webhook: registered at https://old.example.com/hook, not at TELEGRAM_WEBHOOK_URL "
            "https://pay.example.com/webhook/telegram") in out
    assert "allowed updates Telegram default, expected" in out and "last delivery error: Connection refused" in out
    assert "Checks passed: 11/12" in out


def test_verify_deployment_unapplied_migration(catalog, production_settings):
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.recorder import MigrationRecorder

    [(app, newest)] = [n for n in MigrationLoader(connection).graph.leaf_nodes() if n[0] == "entitlements"]
    MigrationRecorder(connection).record_unapplied(app, newest)  # rolled back after the test
    message, out = fails("verify_deployment")
    assert f"✗ migrations: 1 unapplied migration(s): entitlements.{newest} (run manage.py migrate)" in out
    assert "Checks passed: 11/12" in out


def test_verify_deployment_bot_api_down(catalog, production_settings, stars):
    stars.API_BASE_URL = "http://127.0.0.1:9"
    message, out = fails("verify_deployment")
    assert "✗ Bot API: BotApiError: getMe:" in out and "✗ webhook: BotApiError: getWebhookInfo:" in out
    assert "Checks passed: 10/12" in out


# --- prune_events ------------------------------------------------------------------------------------

def aged(event, days):
    StripeEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(days=days))
    return event


def test_prune_keeps_unfinished_granting_and_paired_rows(catalog):
    plain = aged(StripeEventFactory(), 100)  # processed, nothing points to it: prunable
    manual_revoke = aged(StripeEventFactory(event_id="manual:revoke:x", event_type="manual.revoke",
                                            telegram_payment_charge_id=""), 100)
    recent = aged(StripeEventFactory(), 5)
    failed = aged(StripeEventFactory(status=EventStatus.FAILED), 100)
    pending = aged(StripeEventFactory(status=EventStatus.PENDING), 100)
    granting = aged(pay("granting").event, 100)
    pay("pair")
    Entitlement.objects.filter(event_id=payment_event_id("pair")).delete()  # an old grant since cleaned up
    refund = handle_refund(user_id=7, telegram_payment_charge_id="pair", source=EventSource.RELAY, payload={})
    paired_payment = aged(StripeEvent.objects.get(event_id=payment_event_id("pair")), 100)
    aged(refund.event, 100)

    before = snapshot()
    out, _ = run("prune_events", "--older-than", "30", "--dry-run")
    assert "Dry run: 2 events would be deleted" in out
    assert "Kept: 1 behind entitlements, 2 in payment/refund pairs, 2 failed or pending." in out
    assert snapshot() == before

    out, _ = run("prune_events", "--older-than", "30")
    assert "Pruned: 2 events deleted" in out
    left = set(StripeEvent.objects.values_list("pk", flat=True))
    assert plain.pk not in left and manual_revoke.pk not in left
    assert {recent.pk, failed.pk, pending.pk, granting.pk, paired_payment.pk, refund.event.pk} == left

    out, _ = run("prune_events", "--older-than", "30")  # second run: nothing more
    assert "Pruned: 0 events deleted" in out


def test_prune_payloads_only_keeps_rows(catalog):
    granting = aged(pay("granting").event, 100)
    failed = aged(StripeEventFactory(status=EventStatus.FAILED), 100)
    out, _ = run("prune_events", "--older-than", "30", "--payloads-only")
    assert "Pruned: 1 payloads cleared" in out and "Kept: 1 failed or pending." in out
    granting.refresh_from_db()
    failed.refresh_from_db()
    assert granting.payload == {} and granting.event_id == payment_event_id("granting")
    assert failed.payload != {}
    assert "Pruned: 0 payloads cleared" in run("prune_events", "--older-than", "30", "--payloads-only")[0]


def test_prune_default_retention_from_settings_and_bad_values(db, stars):
    stars.EVENT_RETENTION_DAYS = 10
    old = aged(StripeEventFactory(), 11)
    aged(StripeEventFactory(), 9)
    out, err = run("prune_events", "--batch-size", "1")
    assert "Pruned: 1 events deleted" in out and "(10 days)" in out
    assert not StripeEvent.objects.filter(pk=old.pk).exists()
    assert "not a number of days from 1 to 36500" in fails("prune_events", "--older-than", "0")[0]
