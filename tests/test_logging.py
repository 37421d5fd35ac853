"""One JSON log line per webhook, and no secret in any log line, even on errors.

Lines are read from the handler that settings.LOGGING configures (its stream swapped for a
buffer), so what is checked is exactly what an operator's log collector would receive.
"""

import io
import json
import logging

import pytest
from django.conf import settings as django_settings

from telegram_payments.logformat import JsonFormatter, TextFormatter
from telegram_payments.redaction import REDACTED
from telegram_payments.registry import bots
from telegram_payments.telegram_api.client import BotApiError, call_bot
from tests.factories import InvoiceFactory

PAY_URL = "/webhook/telegram/successful_payment"
REFUND_URL = "/webhook/telegram/refund"


@pytest.fixture
def log_lines():
    """The configured console handler's output, as a list of lines (read it after acting)."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield lambda: buffer.getvalue().splitlines()
    finally:
        handler.setStream(previous)


def webhook_lines(lines):
    entries = [json.loads(line) for line in lines]
    return [e for e in entries if e["logger"] == "telegram_payments.webhook"]


def secrets_of(stars):
    return [stars.BOT_TOKEN, stars.WEBHOOK_SECRET]


def test_the_configured_format_is_json_one_object_per_line():
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    assert django_settings.LOG_FORMAT == "json"
    assert isinstance(handler.formatter, JsonFormatter)


@pytest.mark.django_db
def test_one_json_line_per_webhook_with_event_user_outcome_and_duration(post_json, catalog, log_lines):
    body = {"user_id": "4242", "entitlement_type": "premium_monthly", "telegram_payment_charge_id": "log-1",
            "total_amount": 250, "currency": "XTR", "update_id": 900001}
    post_json(PAY_URL, body)
    post_json(PAY_URL, body)
    post_json(REFUND_URL, {"user_id": "4242", "telegram_payment_charge_id": "log-1"})
    entries = webhook_lines(log_lines())
    assert [(e["path"], e["http_status"], e["outcome"]) for e in entries] == [
        (PAY_URL, 200, "processed"), (PAY_URL, 200, "duplicate"), (REFUND_URL, 200, "processed")]
    first = entries[0]
    assert first["event_id"] == "tg_stars:payment:log-1"
    assert first["user_id"] == 4242
    assert first["update_id"] == 900001
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert first["level"] == "INFO" and first["time"].endswith("+00:00")
    assert entries[2]["event_id"] == "tg_stars:refund:log-1"


@pytest.mark.django_db
def test_rejected_webhooks_log_one_line_with_the_reason_and_no_secret(post_json, catalog, log_lines, stars):
    post_json(PAY_URL, {"user_id": "1"}, secret="a-wrong-secret-guess-0000")
    post_json(PAY_URL, {"user_id": "x", "total_amount": -1})
    post_json(PAY_URL, "{not json")
    post_json(PAY_URL, {"user_id": "77", "entitlement_type": "unknown_product", "telegram_payment_charge_id": "f-1",
                        "total_amount": 5, "currency": "XTR"})
    lines = log_lines()
    entries = webhook_lines(lines)
    assert [(e["http_status"], e["outcome"]) for e in entries] == [
        (401, "unauthorized"), (400, "invalid"), (400, "invalid"), (200, "failed")]
    assert entries[0]["user_id"] is None  # an unauthenticated body is never read
    assert entries[3]["user_id"] == 77 and entries[3]["event_id"] == "tg_stars:payment:f-1"
    output = "\n".join(lines)
    for secret in secrets_of(stars):
        assert secret not in output
    assert "a-wrong-secret-guess-0000" not in output


@pytest.mark.django_db
def test_bot_api_failures_leave_no_token_in_logs_even_with_httpx_debug(fake_bot_api, stars, log_lines):
    logger = logging.getLogger("telegram_payments.refunds")
    httpx_logger = logging.getLogger("httpx")
    old_level = httpx_logger.level
    httpx_logger.setLevel(logging.DEBUG)  # httpx logs every request URL, and the URL holds the token
    try:
        call_bot("getMe", lambda api: api.get_me(), bot=bots.default())
        fake_bot_api.respond("refundStarPayment", error=(400, "Bad Request: CHARGE_NOT_FOUND"))
        fake_bot_api.respond("refundStarPayment", http_status=500)
        for _ in range(2):
            try:
                call_bot("refundStarPayment", lambda api: api.refund_star_payment(7, "c1"), bot=bots.default())
            except BotApiError:
                logger.exception("refund failed")
        stars.API_BASE_URL = "http://127.0.0.1:9"  # nothing listens: connection refused
        try:
            call_bot("getMe", lambda api: api.get_me(), bot=bots.default())
        except BotApiError:
            logger.exception("getMe failed")
    finally:
        httpx_logger.setLevel(old_level)
    lines = log_lines()
    output = "\n".join(lines)
    assert any(f"/bot{REDACTED}/getMe" in line for line in lines)  # httpx did log the URL, scrubbed
    assert sum('"refund failed"' in line for line in lines) == 2
    assert "CHARGE_NOT_FOUND" in output
    for secret in secrets_of(stars):
        assert secret not in output
    assert stars.BOT_TOKEN.split(":")[1] not in output


def test_even_code_that_logs_a_secret_outright_is_scrubbed(stars, log_lines):
    logger = logging.getLogger("some.careless.module")
    try:
        raise RuntimeError(f"token={stars.BOT_TOKEN} secret={stars.WEBHOOK_SECRET}")
    except RuntimeError:
        logger.exception("while calling with %s", stars.BOT_TOKEN,
                         extra={"header": stars.WEBHOOK_SECRET})
    (line,) = [line for line in log_lines() if "some.careless.module" in line]
    entry = json.loads(line)
    assert entry["message"] == f"while calling with {REDACTED}"
    assert entry["header"] == REDACTED
    assert f"RuntimeError: token={REDACTED} secret={REDACTED}" in entry["exception"]
    for secret in secrets_of(stars):
        assert secret not in line


def test_text_format_scrubs_too(stars):
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "secret is %s", (stars.WEBHOOK_SECRET,),
                               None)
    text = TextFormatter().format(record)
    assert text.endswith(f"WARNING x: secret is {REDACTED}")
    assert stars.WEBHOOK_SECRET not in text


@pytest.mark.django_db
def test_bot_api_updates_log_their_update_id_event_and_outcome(post_json, catalog, log_lines):
    from tests.conftest import load_update

    InvoiceFactory(payload="inv_fixture_premium_monthly", user_id=555000111, product=catalog["premium_monthly"])
    update = load_update("successful_payment")
    post_json("/webhook/telegram", update)
    post_json("/webhook/telegram", load_update("text_message"))
    paid, ignored = webhook_lines(log_lines())
    assert (paid["outcome"], paid["update_id"], paid["user_id"]) == ("processed", update["update_id"], 555000111)
    assert paid["event_id"].startswith("tg_stars:payment:")
    assert (ignored["outcome"], ignored["event_id"]) == ("ignored", None)
