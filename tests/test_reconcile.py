"""Reconciliation with Telegram's getStarTransactions (paged by the fake Bot API), and the incident drill."""

import re
import time
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from entitlements.models import Entitlement
from telegram_payments.devtools.botapi import star_payment, star_refund, star_withdrawal
from telegram_payments.models import EventSource, EventStatus, Invoice, StripeEvent
from telegram_payments.payments.events import payment_event_id, refund_event_id
from telegram_payments.payments.pipeline import handle_successful_payment
from telegram_payments.reconcile import MISSING_PAYMENT, MISSING_REFUND, ONLY_HERE, reconcile_stars
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db

HOUR_AGO = int(time.time()) - 3600


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("reconcile_stars", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fails(*args, returncode=None):
    """Run the command expecting a non-zero exit (`returncode`, if given): its message and output."""
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("reconcile_stars", *args, stdout=out, stderr=StringIO())
    if returncode is not None:
        assert caught.value.returncode == returncode
    return str(caught.value), out.getvalue()


def snapshot():
    return (list(StripeEvent.objects.order_by("pk").values()), list(Entitlement.objects.order_by("pk").values()),
            list(Invoice.objects.order_by("pk").values()))


def invoice_for(catalog, user_id=7, entitlement_type="premium_monthly"):
    return InvoiceFactory(product=catalog[entitlement_type], user_id=user_id)


def webhook_payment(charge, invoice, user_id=7):
    """A payment that reached us by webhook (as the Update route records it)."""
    return handle_successful_payment(
        user_id=user_id, telegram_payment_charge_id=charge, total_amount=invoice.price_stars, currency="XTR",
        invoice_payload=invoice.payload, source=EventSource.TELEGRAM, payload={"charge": charge},
    )


def test_pages_through_all_transactions_until_a_short_page(db, fake_bot_api):
    fake_bot_api.star_transactions = [star_withdrawal(f"w{n}", amount=10, date=HOUR_AGO) for n in range(5)]
    result = reconcile_stars(page_size=2)
    assert [(c["offset"], c["limit"]) for c in fake_bot_api.calls_of("getStarTransactions")] == [
        (0, 2), (2, 2), (4, 2)]
    assert (result.fetched, result.differences) == (5, [])
    assert [(m.kind, m.direction, m.count, m.nanostars) for m in result.movements] == [
        ("withdrawal", "out", 5, -50 * 10**9)]


def test_default_pages_of_100(db, fake_bot_api):
    fake_bot_api.star_transactions = [star_withdrawal(f"w{n}", amount=1, date=HOUR_AGO) for n in range(230)]
    out, err = run()
    assert [c["offset"] for c in fake_bot_api.calls_of("getStarTransactions")] == [0, 100, 200]
    assert "Telegram: 230 transactions read, 0 payments and 0 refunds. Here: 0 payment/refund rows." in out
    assert re.search(r"withdrawal\s+out\s+230\s+-230\s+230 pending", out)
    assert "fetched transactions 230" in err


def test_an_exact_multiple_of_the_page_size_asks_once_more(db, fake_bot_api):
    fake_bot_api.star_transactions = [star_withdrawal(f"w{n}", amount=1, date=HOUR_AGO) for n in range(4)]
    reconcile_stars(page_size=2)
    assert [c["offset"] for c in fake_bot_api.calls_of("getStarTransactions")] == [0, 2, 4]


def test_missing_payment_dry_run_then_apply_then_clean(catalog, fake_bot_api):
    invoice = invoice_for(catalog)
    fake_bot_api.star_transactions = [
        star_payment("ch_1", user_id=7, amount=250, invoice_payload=invoice.payload, date=HOUR_AGO)]
    before = snapshot()
    message, out = fails(returncode=2)
    assert re.search(r"missing payment\s+tg_stars:payment:ch_1\s+7\s+250\s", out)
    assert invoice.payload in out
    assert "Dry run: 1 missing here, 0 only here; nothing changed." in out
    assert "1 sale(s)/refund(s) missing here; run with --apply." in message
    assert out.splitlines()[-1].startswith("reconcile_stars status=missing missing_payments=1 missing_refunds=0 ")
    assert snapshot() == before
    assert fails("--dry-run")[1] == out

    out, err = run("--apply")
    assert "Applied: 1 of 1 recorded, 0 recorded as failed; 0 only here" in out
    assert "reconcile_stars status=clean missing_payments=0 missing_refunds=0 recorded=1 " in out
    assert "reconciled 1/1" in err
    event = StripeEvent.objects.get()
    assert (event.event_id, event.source, event.status) == ("tg_stars:payment:ch_1", EventSource.RECONCILIATION,
                                                            EventStatus.PROCESSED)
    assert (event.customer_id, event.amount_cents, event.entitlement_type) == ("7", 250, "premium_monthly")
    assert event.payload["id"] == "ch_1" and event.payload["source"]["invoice_payload"] == invoice.payload
    grant = Entitlement.objects.get()
    assert (grant.user_id, grant.event_id, grant.revoked_at) == (7, "tg_stars:payment:ch_1", None)
    invoice.refresh_from_db()
    assert invoice.status == "paid"

    after = snapshot()
    out, _ = run("--apply")  # second run: nothing to do, nothing changed
    assert "No differences: the audit trail matches Telegram." in out
    assert snapshot() == after


def test_missing_refund_revokes_the_grant(catalog, fake_bot_api):
    invoice = invoice_for(catalog)
    webhook_payment("ch_1", invoice)
    fake_bot_api.star_transactions = [
        star_payment("ch_1", user_id=7, amount=250, invoice_payload=invoice.payload, date=HOUR_AGO),
        star_refund("ch_1", user_id=7, amount=250, date=HOUR_AGO + 60),
    ]
    result = reconcile_stars()
    assert [(d.kind, d.event_id) for d in result.differences] == [(MISSING_REFUND, "tg_stars:refund:ch_1")]
    out, _ = run("--apply")
    assert "missing refund" in out and "processed" in out
    refund = StripeEvent.objects.get(event_id=refund_event_id("ch_1"))
    assert refund.source == EventSource.RECONCILIATION and refund.amount_cents == 250
    assert "Revoked premium_monthly of 7" in refund.note
    assert Entitlement.objects.get().revoked_at is not None
    assert "No differences" in run("--apply")[0]


def test_payment_and_refund_both_missing_are_recorded_in_order(catalog, fake_bot_api):
    invoice = invoice_for(catalog)
    # Listed refund first: the payment must still be recorded before it, or the grant would survive.
    fake_bot_api.star_transactions = [
        star_refund("ch_1", user_id=7, amount=250, date=HOUR_AGO),
        star_payment("ch_1", user_id=7, amount=250, invoice_payload=invoice.payload, date=HOUR_AGO),
    ]
    result = reconcile_stars(apply=True)
    assert [(d.kind, d.result) for d in result.differences] == [(MISSING_PAYMENT, "processed"),
                                                                 (MISSING_REFUND, "processed")]
    grant = Entitlement.objects.get()
    assert grant.revoked_at is not None and grant.revoke_reason.startswith("refund (Reconciliation)")
    assert reconcile_stars(apply=True).differences == []


def test_unknown_invoice_is_recorded_as_failed_and_the_second_run_records_nothing(catalog, fake_bot_api):
    fake_bot_api.star_transactions = [
        star_payment("ch_x", user_id=8, amount=250, invoice_payload="inv_not_ours", date=HOUR_AGO)]
    message, out = fails("--apply", returncode=3)
    assert "failed: unknown invoice 'inv_not_ours'" in out and "Applied: 0 of 1 recorded, 1 recorded as failed" in out
    assert "1 finding(s) for a human; nothing missing here." in message
    event = StripeEvent.objects.get()
    assert (event.status, event.source) == (EventStatus.FAILED, EventSource.RECONCILIATION)
    assert Entitlement.objects.count() == 0
    after = snapshot()
    _, out = fails("--apply", returncode=3)  # nothing missing; the failed row stays for a human
    assert "No differences" in out and "status=attention" in out and "failed_here=1" in out
    assert "Recorded here as failed: tg_stars:payment:ch_x: unknown invoice 'inv_not_ours'" in out
    assert snapshot() == after


def test_rows_only_we_have_are_reported_and_left_alone(catalog, fake_bot_api):
    invoice = invoice_for(catalog)
    webhook_payment("ch_ghost", invoice)
    fake_bot_api.star_transactions = []
    before = snapshot()
    message, out = fails("--apply", returncode=3)
    assert re.search(r"only here\s+tg_stars:payment:ch_ghost\s+7\s+250\s", out)
    assert "Telegram update, processed" in out
    assert "status=attention" in out and "only_here=1" in out
    assert snapshot() == before


def test_a_charge_recorded_with_another_user_or_amount_is_flagged(catalog, fake_bot_api):
    invoice = invoice_for(catalog)
    webhook_payment("ch_1", invoice)
    webhook_payment("ch_2", invoice)
    fake_bot_api.star_transactions = [
        star_payment("ch_1", user_id=99, amount=250, invoice_payload=invoice.payload, date=HOUR_AGO),
        star_payment("ch_2", user_id=7, amount=300, invoice_payload=invoice.payload, date=HOUR_AGO),
    ]
    _, out = fails(returncode=3)
    assert "No differences" in out  # nothing to record; a human decides
    assert "Recorded differently: tg_stars:payment:ch_1: user 7 here, 99 at Telegram" in out
    assert "Recorded differently: tg_stars:payment:ch_2: 250 XTR here, 300 XTR at Telegram" in out


def test_manual_events_are_not_telegram_transactions(catalog, fake_bot_api):
    call_command("grant_entitlement", "7", "lifetime", "--reason", "goodwill", stdout=StringIO())
    assert run()[0].count("No differences") == 1


def test_since_limits_the_window(catalog, fake_bot_api):
    invoice = invoice_for(catalog)
    three_days_ago = int(time.time()) - 3 * 86400
    old_ours = webhook_payment("ch_old_ours", invoice)
    StripeEvent.objects.filter(pk=old_ours.event.pk).update(
        received_at=datetime.fromtimestamp(three_days_ago, UTC))
    fake_bot_api.star_transactions = [
        star_payment("ch_old", user_id=7, amount=250, invoice_payload=invoice.payload, date=three_days_ago),
        star_payment("ch_new", user_id=7, amount=250, invoice_payload=invoice.payload, date=HOUR_AGO),
    ]
    since = datetime.now(UTC) - timedelta(days=1)
    result = reconcile_stars(since=since)
    assert [(d.kind, d.event_id) for d in result.differences] == [(MISSING_PAYMENT, "tg_stars:payment:ch_new")]
    everything = reconcile_stars()
    assert {(d.kind, d.event_id) for d in everything.differences} == {
        (MISSING_PAYMENT, "tg_stars:payment:ch_old"), (MISSING_PAYMENT, "tg_stars:payment:ch_new"),
        (ONLY_HERE, "tg_stars:payment:ch_old_ours")}
    out, _ = fails("--since", since.date().isoformat())[1], None
    assert "ch_new" in out and "ch_old" not in out


def test_a_webhook_after_since_for_a_payment_before_it_is_not_only_here(catalog, fake_bot_api):
    invoice = invoice_for(catalog)
    webhook_payment("ch_edge", invoice)  # received now
    fake_bot_api.star_transactions = [  # paid two hours ago
        star_payment("ch_edge", user_id=7, amount=250, invoice_payload=invoice.payload, date=HOUR_AGO - 3600)]
    assert reconcile_stars(since=datetime.now(UTC) - timedelta(minutes=90)).differences == []


def test_subscription_payment_expires_with_its_period(subscription_catalog, fake_bot_api):
    invoice = invoice_for(subscription_catalog, entitlement_type="premium_subscription")
    fake_bot_api.star_transactions = [star_payment("ch_sub", user_id=7, amount=200, invoice_payload=invoice.payload,
                                                   date=HOUR_AGO, subscription_period=2592000)]
    reconcile_stars(apply=True)
    grant = Entitlement.objects.get()
    assert grant.expires_at == datetime.fromtimestamp(HOUR_AGO, UTC) + timedelta(days=30)


def test_other_kinds_of_user_transactions_are_ignored(catalog, fake_bot_api):
    paid_media = star_payment("pm_1", user_id=7, amount=5, invoice_payload=None, date=HOUR_AGO)
    paid_media["source"]["transaction_type"] = "paid_media_payment"
    fake_bot_api.star_transactions = [paid_media, star_withdrawal("w1", amount=100, date=HOUR_AGO)]
    result = reconcile_stars(apply=True)
    assert result.differences == []
    assert [(m.kind, m.direction, m.count) for m in result.movements] == [("withdrawal", "out", 1),
                                                                           ("paid media", "in", 1)]
    assert StripeEvent.objects.count() == 0


def test_bot_api_failure_exits_non_zero_and_changes_nothing(catalog, fake_bot_api):
    fake_bot_api.star_transactions = [star_withdrawal(f"w{n}", amount=1, date=HOUR_AGO) for n in range(100)]
    fake_bot_api.respond("getStarTransactions", result={"transactions": fake_bot_api.star_transactions})
    fake_bot_api.respond("getStarTransactions", http_status=500)
    message, _ = fails("--apply", returncode=1)
    assert "Telegram did not answer getStarTransactions" in message
    assert StripeEvent.objects.count() == 0
    assert "--page-size: '500' is not a page size from 1 to 100" in fails("--page-size", "500")[0]


# --- the incident drill ------------------------------------------------------------------------------

def test_incident_failed_event_and_missed_webhook_are_brought_to_what_telegram_says(catalog, fake_bot_api):
    """Outage: one payment failed (product switched off by mistake), one webhook never arrived.

    The on-call engineer fixes the cause, replays the failed event, reconciles with Telegram; the
    database then says what Telegram says, and running both again changes nothing.
    """
    monthly = catalog["premium_monthly"]
    invoice_a, invoice_b = invoice_for(catalog, user_id=7), invoice_for(catalog, user_id=8)
    invoice_c = invoice_for(catalog, user_id=9, entitlement_type="lifetime")
    monthly.is_active = False
    monthly.save()
    assert webhook_payment("ch_a", invoice_a).status == "failed"  # stored as failed
    # ch_b: paid, webhook lost. ch_c: paid and delivered, then refunded by Telegram, refund lost.
    assert webhook_payment("ch_c", invoice_c, user_id=9).status == "processed"
    fake_bot_api.star_transactions = [
        star_payment("ch_a", user_id=7, amount=250, invoice_payload=invoice_a.payload, date=HOUR_AGO),
        star_payment("ch_b", user_id=8, amount=250, invoice_payload=invoice_b.payload, date=HOUR_AGO + 10),
        star_payment("ch_c", user_id=9, amount=10000, invoice_payload=invoice_c.payload, date=HOUR_AGO + 20),
        star_withdrawal("w1", amount=1000, date=HOUR_AGO + 30),
        star_refund("ch_c", user_id=9, amount=10000, date=HOUR_AGO + 40),
    ]

    monthly.is_active = True  # the cause, fixed
    monthly.save()
    out = StringIO()
    call_command("replay_events", "--failed", stdout=out, stderr=StringIO())
    assert "Replayed 1 of 1: 1 processed, 0 still failing" in out.getvalue()
    message, out = fails()  # what is still different: the lost webhooks
    assert "tg_stars:payment:ch_b" in out and "tg_stars:refund:ch_c" in out and "ch_a" not in out
    out, _ = run("--apply", "--page-size", "2")
    assert "Applied: 2 of 2 recorded, 0 recorded as failed; 0 only here" in out

    # The database now says what Telegram says: every charge and refund once, grants to match.
    expected = {payment_event_id("ch_a"), payment_event_id("ch_b"), payment_event_id("ch_c"), refund_event_id("ch_c")}
    assert set(StripeEvent.objects.values_list("event_id", flat=True)) == expected
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {EventStatus.PROCESSED}
    assert {(g.user_id, g.entitlement_type, g.revoked_at is None) for g in Entitlement.objects.all()} == {
        (7, "premium_monthly", True), (8, "premium_monthly", True), (9, "lifetime", False)}

    settled = snapshot()
    out = StringIO()
    call_command("replay_events", "--failed", "--pending", stdout=out, stderr=StringIO())
    assert "Replayed 0 of 0" in out.getvalue()
    assert "No differences" in run("--apply")[0]
    assert snapshot() == settled
