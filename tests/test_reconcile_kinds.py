"""Reconciliation knows every kind of Star transaction: real-shaped StarTransaction JSON for each
transaction partner (tests/fixtures/star_transactions/), served in pages by the fake Bot API."""

import json
import re
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from entitlements.models import Entitlement, OutboxMessage
from telegram_payments.models import EVENT_REFUND, EventSource, Invoice, StripeEvent
from telegram_payments.payments.events import payment_event_id, refund_event_id
from telegram_payments.payments.pipeline import charge_lock, handle_refund, handle_successful_payment
from telegram_payments.reconcile import reconcile_stars
from telegram_payments.reconcile.transactions import (
    DEBIT_WITHOUT_CHARGE,
    NANOSTARS_PER_STAR,
    Malformed,
    read_transaction,
)
from tests.conftest import FIXTURES

ALL_KINDS = [
    "invoice_payment", "invoice_payment_subscription", "invoice_payment_affiliate", "paid_media_payment",
    "gift_purchase", "premium_purchase", "business_account_transfer", "fragment_withdrawal",
    "fragment_withdrawal_pending", "fragment_withdrawal_returned", "telegram_ads", "telegram_api",
    "affiliate_program", "chat", "other_incoming", "other_debit", "debit_without_charge", "unknown_partner",
    "unknown_user_transaction_type", "malformed", "invoice_refund",  # Telegram lists oldest first
]
STARS = NANOSTARS_PER_STAR


def star_transaction(name: str, invoice_payload: str | None = None) -> dict:
    """tests/fixtures/star_transactions/<name>.json, with our invoice's payload if given."""
    data = json.loads((FIXTURES / "star_transactions" / f"{name}.json").read_text())
    if invoice_payload is not None:
        (data.get("source") or data["receiver"])["invoice_payload"] = invoice_payload
    return data


def run(*args):
    """The command's output and exit status (0, or a CommandError's returncode)."""
    out = StringIO()
    try:
        call_command("reconcile_stars", *args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        return out.getvalue(), exc.returncode
    return out.getvalue(), 0


def snapshot():
    return (list(StripeEvent.objects.order_by("pk").values()), list(Entitlement.objects.order_by("pk").values()),
            list(OutboxMessage.objects.order_by("pk").values("message_id")))


def webhook_payment(transaction_json: dict, entitlement_type: str, stars: int):
    """The payment of `transaction_json`, as a webhook recorded it (the full price)."""
    partner = transaction_json["source"]
    return handle_successful_payment(
        user_id=partner["user"]["id"], telegram_payment_charge_id=transaction_json["id"], total_amount=stars,
        currency="XTR", entitlement_type=entitlement_type, invoice_payload=partner.get("invoice_payload", ""),
        source=EventSource.TELEGRAM, payload={"update": "..."},
    )


@pytest.fixture
def outbox_on(stars):
    """Grants and revokes are written to the outbox (nothing delivers them here), so each one can be counted."""
    stars.ENTITLEMENTS_SERVICE_URL = "http://127.0.0.1:9/nothing-listens"
    stars.ENTITLEMENTS_SERVICE_SECRET = "test-secret"


@pytest.fixture
def every_kind(subscription_catalog, fake_bot_api, outbox_on):
    """Telegram's list holding every kind: ch A paid (here) and refunded (refund missed here), a
    subscription paid (missing here), an affiliate sale (here, at the full price), and the rest."""

    def invoice(user_id, entitlement_type):
        product = subscription_catalog[entitlement_type]
        return Invoice.objects.create(product=product, user_id=user_id, price_stars=product.price_stars).payload

    payloads = {"invoice_payment": invoice(7, "premium_monthly"), "invoice_refund": None,
                "invoice_payment_subscription": invoice(8, "premium_subscription"),
                "invoice_payment_affiliate": invoice(8, "premium_monthly")}
    payloads["invoice_refund"] = payloads["invoice_payment"]
    listed = {name: star_transaction(name, payloads.get(name)) for name in ALL_KINDS}
    webhook_payment(listed["invoice_payment"], "premium_monthly", 250)
    webhook_payment(listed["invoice_payment_affiliate"], "premium_monthly", 250)
    fake_bot_api.star_transactions = list(listed.values())
    return listed


def test_every_kind_is_classified_and_summarised(every_kind, fake_bot_api):
    before = snapshot()
    out, status = run("--page-size", "7")
    assert status == 2 and snapshot() == before  # something missing here; a dry run changes nothing
    assert [c["offset"] for c in fake_bot_api.calls_of("getStarTransactions")] == [0, 7, 14, 21]
    assert "Telegram: 21 transactions read, 3 payments and 1 refunds. Here: 2 payment/refund rows." in out
    charge_a, subscription = every_kind["invoice_payment"]["id"], every_kind["invoice_payment_subscription"]["id"]
    assert re.search(rf"missing payment\s+tg_stars:payment:{subscription}\s+8\s+200\s", out)
    assert re.search(rf"missing refund\s+tg_stars:refund:{charge_a}\s+7\s+250\s", out)
    assert "Recorded differently" not in out  # the affiliate sale: 225 + 25 to the affiliate = 250 here

    for kind, direction, count, stars in [
        ("withdrawal", "out", "2", "-1500"), ("withdrawal", "in", "1", "+300"), ("Telegram Ads", "out", "1", "-100"),
        ("paid broadcasts", "out", "1", "-3.5"), ("affiliate commission", "in", "1", "+7.25"),
        ("paid media", "in", "1", "+15"), ("gift", "out", "1", "-15"), ("Telegram Premium", "out", "1", "-1000"),
        ("business account transfer", "in", "1", "+40"), ("chat", "out", "1", "-50"), ("other", "in", "1", "+20"),
        ("debit without a charge of ours", "out", "2", "-155"),
    ]:
        assert re.search(rf"^  {re.escape(kind)}\s+{direction}\s+{count}\s+{re.escape(stars)}\b", out, re.M), kind
    assert re.search(r"withdrawal\s+out\s+2\s+-1500\s+1 pending, 1 succeeded", out)
    assert re.search(r"paid broadcasts\s+out\s+1\s+-3\.5\s+35 requests", out)
    assert "Debits without a charge of ours (2):" in out
    assert every_kind["other_debit"]["id"] in out and every_kind["debit_without_charge"]["id"] in out
    assert "Unknown kinds of transaction (2):" in out
    assert re.search(r"new_Pq1Wo2Ei3Ru4Ty5Ua6Sd7Fg\s+\S+ \S+\s+-60\s+telegram_future_service$", out, re.M)
    assert re.search(r"stxNw7Tt6Rr5Ee4Ww3Qq2Aa1Zz0Xx9Cc\s+\S+ \S+\s+\+80\s+user\s+story_reaction_payment$", out, re.M)
    assert "Unreadable transaction #20 (bad_Xc1Vb2Nm3As4Df5Gh6Jk7Lq): amount is not an integer" in out

    for label, stars, note in [
        ("in from sales", "+675", ""), ("out in refunds", "-250", ""),
        ("fees and commissions", "-96.25", "Telegram Ads -100, paid broadcasts -3.5, affiliate commission +7.25"),
        ("withdrawals", "-1200", ""),
        ("other movements", "-1125", "paid media +15, gift -15, Telegram Premium -1000, business account transfer "
                                     "+40, chat -50, other +20, debit without a charge of ours -155, unknown +20"),
        ("Telegram's list, total", "-1996.25", ""), ("balance reported by Telegram", "-1996.25", "getMyStarBalance"),
        ("implied by the audit trail", "500", "payments - refunds recorded here"),
        ("difference", "-2496.25", "explained by:"),
    ]:
        assert re.search(rf"^  {re.escape(label)}\s+{re.escape(stars)}\s*{re.escape(note)}$", out, re.M), label
    for line in ["sales missing here: +200", "refunds missing here: -250", "affiliate shares of our sales: -25",
                 "withdrawal: -1200", "debit without a charge of ours: -155", "unknown: +20"]:
        assert f"    {line}\n" in out, line
    assert "unexplained" not in out
    summary = out.splitlines()[-1]
    assert summary == (
        "reconcile_stars status=missing missing_payments=1 missing_refunds=1 only_here=0 failed_here=0 "
        "recorded_differently=0 debits_without_charge=2 debits_without_charge_stars=155 unknown=2 unreadable=1 "
        "balance_stars=-1996.25 audit_trail_stars=500 bot=default")


def test_apply_records_the_missed_refund_once_and_a_second_run_finds_nothing(every_kind, fake_bot_api):
    charge_a = every_kind["invoice_payment"]["id"]
    out, status = run("--apply")
    assert "Applied: 2 of 2 recorded, 0 recorded as failed; 0 only here" in out
    assert status == 3  # nothing missing now; debits without a charge, unknown and unreadable ones remain
    refund = StripeEvent.objects.get(event_id=refund_event_id(charge_a))
    assert (refund.source, refund.amount_cents, refund.customer_id) == (EventSource.RECONCILIATION, 250, "7")
    grant = Entitlement.objects.get(event_id=payment_event_id(charge_a))
    assert grant.revoked_at is not None and grant.revoke_reason.startswith("refund (Reconciliation)")
    assert OutboxMessage.objects.filter(user_id=7, kind="entitlement.revoked").count() == 1
    assert re.search(r"^  implied by the audit trail\s+450\s", out, re.M)
    assert "sales missing here" not in out and "refunds missing here" not in out

    settled = snapshot()
    out, status = run("--apply")
    assert status == 3 and snapshot() == settled
    assert "No differences: the audit trail matches Telegram." in out
    assert "status=attention missing_payments=0 missing_refunds=0 recorded=0 " in out


def test_a_refund_recorded_here_with_no_payment_anywhere_is_still_ours(subscription_catalog, fake_bot_api):
    orphan = star_transaction("debit_without_charge")
    handle_refund(user_id=8, telegram_payment_charge_id=orphan["id"], source=EventSource.TELEGRAM, payload={},
                  total_amount=120)
    fake_bot_api.star_transactions = [orphan]
    result = reconcile_stars()
    assert (result.refunds, result.differences, result.debits_without_charge) == (1, [], [])
    fake_bot_api.star_transactions = [orphan, star_transaction("other_debit")]
    StripeEvent.objects.all().delete()
    result = reconcile_stars(apply=True)
    assert [t.kind for t in result.debits_without_charge] == [DEBIT_WITHOUT_CHARGE] * 2
    assert result.differences == [] and StripeEvent.objects.count() == 0  # reported, never recorded


def test_net_figures_show_what_the_list_does_not_explain(every_kind, fake_bot_api):
    fake_bot_api.star_balance = {"amount": -1986, "nanostar_amount": -250000000}  # 10 more than the list
    net = reconcile_stars().net
    assert net.reported_balance == -1986_250_000_000 and net.listed_total == -1996_250_000_000
    assert dict(net.explained)["not in the readable listed transactions"] == 10 * STARS
    assert net.unexplained == 0


def test_without_getmystarbalance_the_run_uses_the_list(every_kind, fake_bot_api):
    fake_bot_api.respond("getMyStarBalance", error=(404, "Not Found: method not found"))
    out, status = run()
    assert status == 2
    assert re.search(r"^  balance reported by Telegram\s+not available\s+Not Found: method not found; the list's total "
                     r"is used$", out, re.M)
    assert "balance_stars=unavailable" in out.splitlines()[-1]


def test_summary_prints_one_line_with_the_same_exit_status(every_kind):
    out, status = run("--summary")
    assert status == 2 and len(out.splitlines()) == 1 and out.startswith("reconcile_stars status=missing ")


def test_clean_run_exits_0(catalog, fake_bot_api):
    out, status = run("--summary")
    assert (out, status) == ("reconcile_stars status=clean missing_payments=0 missing_refunds=0 only_here=0 "
                             "failed_here=0 recorded_differently=0 debits_without_charge=0 "
                             "debits_without_charge_stars=0 unknown=0 unreadable=0 balance_stars=0 "
                             "audit_trail_stars=0 bot=default\n", 0)


def test_an_answer_without_a_list_fails_the_run(catalog, fake_bot_api):
    fake_bot_api.respond("getStarTransactions", result={"transactions": "soon"})
    message = pytest.raises(CommandError, call_command, "reconcile_stars", stdout=StringIO(), stderr=StringIO())
    assert message.value.returncode == 1
    assert "Telegram did not answer getStarTransactions: the answer holds no list of transactions" in str(message.value)


@pytest.mark.parametrize(("raw", "reason"), [
    ("a string", "not an object"),
    ({"amount": 1, "date": 1, "source": {"type": "other"}}, "id is missing"),
    ({"id": "", "amount": 1, "date": 1, "source": {"type": "other"}}, "empty id"),
    ({"id": "x", "amount": True, "date": 1, "source": {"type": "other"}}, "amount is not an integer"),
    ({"id": "x", "amount": -5, "date": 1, "source": {"type": "other"}}, "amount out of range"),
    ({"id": "x", "amount": 5, "nanostar_amount": 10**9, "date": 1, "source": {"type": "other"}}, "amount out of range"),
    ({"id": "x", "amount": 5, "date": 10**20, "source": {"type": "other"}}, "date is missing or out of range"),
    ({"id": "x", "amount": 5, "date": 1}, "needs exactly one of source and receiver"),
    ({"id": "x", "amount": 5, "date": 1, "source": {"type": "other"}, "receiver": {"type": "other"}},
     "needs exactly one of source and receiver"),
    ({"id": "x", "amount": 5, "date": 1, "source": ["user"]}, "source/receiver is not an object"),
    ({"id": "x", "amount": 5, "date": 1, "source": {"type": "user", "transaction_type": "invoice_payment"}},
     "user partner without a user"),
    ({"id": "x", "amount": 5, "date": 1, "source": {"type": "user", "user": {"id": "7"}}}, "id is not an integer"),
    ({"id": "x", "amount": 5, "date": 1, "receiver": {"type": "telegram_api"}}, "request_count is missing"),
    ({"id": "x", "amount": 5, "date": 1, "receiver": {"type": "fragment", "withdrawal_state": "done"}},
     "withdrawal_state is not an object"),
])
def test_an_unreadable_transaction_says_why(raw, reason):
    with pytest.raises(Malformed, match=f"^{re.escape(reason)}$"):
        read_transaction(raw)


def test_an_unreadable_transaction_is_reported_not_a_traceback(catalog, fake_bot_api):
    fake_bot_api.star_transactions = [star_transaction("malformed"), ["not", "a", "transaction"],
                                      star_transaction("telegram_ads")]
    out, status = run()
    assert status == 3
    assert "Unreadable transaction #1 (bad_Xc1Vb2Nm3As4Df5Gh6Jk7Lq): amount is not an integer" in out
    assert "Unreadable transaction #2: not an object" in out
    assert re.search(r"Telegram Ads\s+out\s+1\s+-100", out)


# --- a missed refund racing the webhook's refund of the same charge ---------------------------------

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_reconciliation_and_webhook_refunding_one_charge_at_once_revoke_once(catalog, fake_bot_api, outbox_on):
    paid = star_transaction("invoice_payment", "inv_race")
    refunded = star_transaction("invoice_refund", "inv_race")
    charge = paid["id"]
    handle_successful_payment(user_id=7, telegram_payment_charge_id=charge, total_amount=250, currency="XTR",
                              entitlement_type="premium_monthly", source=EventSource.TELEGRAM, payload={})
    fake_bot_api.star_transactions = [paid, refunded]
    results = {}

    def reconciliation():
        try:
            result = reconcile_stars(apply=True)
            results["reconciliation"] = [d.result for d in result.differences]
        finally:
            connection.close()

    def webhook():
        try:
            results["webhook"] = handle_refund(user_id=7, telegram_payment_charge_id=charge,
                                               source=EventSource.TELEGRAM, payload={"update": 1}).status
        finally:
            connection.close()

    threads = [threading.Thread(target=reconciliation), threading.Thread(target=webhook)]
    # Hold the charge's lock until both have looked for the refund, found none, and wait to record it.
    with transaction.atomic():
        from entitlements.locks import lock_for_transaction

        lock_for_transaction(charge_lock(charge))
        for thread in threads:
            thread.start()
        with connection.cursor() as cursor:
            for _ in range(6000):
                cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                if cursor.fetchone()[0] == 2:
                    break
                threading.Event().wait(0.01)
            else:
                pytest.fail("the two refunds never met at the charge's lock")
    for thread in threads:
        thread.join()

    assert sorted([*results["reconciliation"], results["webhook"]]) == ["duplicate", "processed"]
    assert StripeEvent.objects.filter(event_type=EVENT_REFUND).count() == 1
    assert Entitlement.objects.get(event_id=payment_event_id(charge)).revoked_at is not None
    assert OutboxMessage.objects.filter(kind="entitlement.revoked").count() == 1
    assert reconcile_stars(apply=True).differences == []


def test_since_keeps_older_findings_out_of_the_alert_but_not_out_of_the_net_figures(every_kind):
    out, status = run("--since", "2026-01-01")  # every listed transaction is from November 2025
    assert status == 0
    assert "Telegram: 21 transactions read, 0 payments and 0 refunds since 2026-01-01 00:00 UTC." in out
    assert "Other Star movements" not in out and "Unreadable" not in out
    assert re.search(r"^  balance reported by Telegram\s+-1996\.25\s", out, re.M)
    assert out.splitlines()[-1].startswith("reconcile_stars status=clean ")
    assert out.splitlines()[-1].endswith(" since=2026-01-01T00:00Z bot=default")
