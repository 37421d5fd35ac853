"""manage.py replay_updates: saved Update JSON Lines through the webhook pipeline."""

import io
import json

import pytest
from django.core.management import call_command

from entitlements.models import Entitlement
from telegram_payments.models import EventStatus, StripeEvent
from tests.conftest import answer_status
from tests.factories import InvoiceFactory
from tests.test_updates import BUYER, CHARGE, command, update

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(catalog):
    """The invoice the fixture updates were paid for."""
    return InvoiceFactory(payload="inv_fixture_premium_monthly", user_id=BUYER, product=catalog["premium_monthly"])


def run(path, *args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("replay_updates", str(path), *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue()


def write_lines(tmp_path, lines):
    path = tmp_path / "updates.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def test_outage_file_is_applied_once_with_bad_lines_reported_and_skipped(tmp_path, invoice, fake_bot_api):
    payment = update("successful_payment")
    refund_of_other = update("refunded_payment", update_id=704115100, telegram_payment_charge_id="other-charge")
    path = write_lines(tmp_path, [
        payment,
        payment,                       # the same update saved twice
        "{this is not json",
        {"message": {"text": "hi"}},   # no update_id
        command("/buy premium_monthly", update_id=704115101),
        refund_of_other,
    ])
    code, out = run(path)
    assert code == 1  # bad lines make the run fail, after the good ones are applied
    assert "Updates: 2 processed, 1 duplicate, 0 failed, 1 ignored, 2 bad line(s)." in out
    assert "line 3: not JSON" in out
    assert "line 4: An integer update_id (signed 64-bit) is required." in out
    payment_event = StripeEvent.objects.get(telegram_payment_charge_id=CHARGE)
    assert (payment_event.status, payment_event.source) == (EventStatus.PROCESSED, "replay")
    assert Entitlement.objects.get().user_id == BUYER
    assert StripeEvent.objects.count() == 2
    assert fake_bot_api.calls == []  # a replayed /buy does not message the user hours later

    code, out = run(path)
    assert "Updates: 0 processed, 3 duplicate" in out  # running it again changes nothing
    assert StripeEvent.objects.count() == 2 and Entitlement.objects.count() == 1


def test_clean_file_exits_zero_and_updates_already_delivered_are_duplicates(tmp_path, invoice, post_json):
    assert answer_status(post_json("/webhook/telegram", update("successful_payment")).json()) == "processed"
    code, out = run(write_lines(tmp_path, [update("successful_payment")]))
    assert code == 0
    assert "0 processed, 1 duplicate" in out


def test_dry_run_checks_lines_and_stores_nothing(tmp_path, invoice):
    code, out = run(write_lines(tmp_path, [update("successful_payment"), "[1]"]), "--dry-run")
    assert code == 1
    assert "Dry run: 1 update(s) valid, 1 bad line(s); nothing stored." in out
    assert "line 2: not a JSON object" in out
    assert not StripeEvent.objects.exists()


def test_reads_stdin(monkeypatch, invoice):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(update("successful_payment")) + "\n"))
    code, out = run("-")
    assert code == 0 and "1 processed" in out


def test_failed_payment_in_the_file_exits_one_and_is_listed(tmp_path, invoice):
    code, out = run(write_lines(tmp_path, [update("successful_payment", total_amount=1)]))
    assert code == 1
    assert "below the price" in out
    assert StripeEvent.objects.get().status == EventStatus.FAILED


def test_missing_file_is_a_clear_error(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="cannot read"):
        call_command("replay_updates", str(tmp_path / "nope.jsonl"))


def test_lines_the_webhook_would_refuse_are_reported_and_the_rest_applied(tmp_path, invoice, stars):
    payment = json.dumps(update("successful_payment"))
    refund_of_other = update("refunded_payment", update_id=704115100, telegram_payment_charge_id="other-charge")
    with_nul = json.dumps(update("refunded_payment", update_id=704115200, telegram_payment_charge_id="nul\u0000"))
    assert "\\u0000" in with_nul
    with_nan = json.dumps(update("refunded_payment", update_id=704115201, telegram_payment_charge_id="nan",
                                 total_amount=float("nan")))
    assert "NaN" in with_nan
    lines = [
        with_nul.encode(),                                                   # 1
        with_nan.encode(),                                                   # 2
        b'{"update_id": 1, "x": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",  # 3: 30,000 deep, in the limit
        json.dumps(update("refunded_payment", update_id=2**63, telegram_payment_charge_id="big")).encode(),  # 4
        b'{"update_id": 1, "x": "\xff\xfe"}',                                # 5: not UTF-8
        json.dumps({"update_id": 2, "x": "y" * stars.WEBHOOK_MAX_BODY_BYTES}).encode(),  # 6: too long
        payment.encode(),                                                    # 7
        json.dumps(refund_of_other, ensure_ascii=False).replace('"refunded_payment"', '"x": "a\u2028b", '
                                                                '"refunded_payment"', 1).encode(),  # 8
    ]
    path = tmp_path / "updates.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    code, out = run(path)
    assert code == 1
    assert "Updates: 2 processed, 0 duplicate, 0 failed, 0 ignored, 6 bad line(s)." in out
    assert "line 1: not JSON the webhook would take (strings must not contain NUL" in out
    assert "line 2: not JSON the webhook would take (Out of range float values" in out
    assert "line 3: not JSON the webhook would take (nested deeper than 32 levels)" in out
    assert "line 4: An integer update_id (signed 64-bit) is required." in out
    assert "line 5: not UTF-8" in out
    assert "line 6: longer than the webhook takes" in out
    assert StripeEvent.objects.count() == 2

    code, out = run(path, "--dry-run")
    assert "Dry run: 2 update(s) valid, 6 bad line(s); nothing stored." in out
    assert "line 4: no integer update_id (signed 64-bit)" in out
