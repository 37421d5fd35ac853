"""`manage.py set_webhook` and `manage.py webhook_info` against the fake Bot API."""

import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from telegram_payments.bot.updates import ALLOWED_UPDATES

pytestmark = pytest.mark.django_db  # the bots are rows
ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_URL = "https://payments.example.com/webhook/telegram"


@pytest.fixture
def webhook_url(stars):
    stars.WEBHOOK_URL = WEBHOOK_URL
    return WEBHOOK_URL


def test_set_webhook_registers_url_secret_and_allowed_updates(fake_bot_api, webhook_url, stars):
    out = StringIO()
    call_command("set_webhook", stdout=out)
    [call] = fake_bot_api.calls_of("setWebhook")
    assert call == {"url": WEBHOOK_URL, "secret_token": stars.WEBHOOK_SECRET,
                    "allowed_updates": list(ALLOWED_UPDATES), "drop_pending_updates": False}
    assert f"Webhook set: {WEBHOOK_URL}" in out.getvalue()
    assert stars.WEBHOOK_SECRET not in out.getvalue()
    assert stars.BOT_TOKEN not in out.getvalue()


def test_generate_secret_prints_a_new_strong_secret_and_calls_nothing(fake_bot_api, stars):
    stars.WEBHOOK_URL = ""  # not needed: nothing is registered
    secrets = set()
    for _ in range(3):
        out = StringIO()
        call_command("set_webhook", "--generate-secret", stdout=out)
        secret = out.getvalue().strip()
        assert re.fullmatch(r"[A-Za-z0-9_-]{64}", secret)
        secrets.add(secret)
    assert len(secrets) == 3
    assert stars.WEBHOOK_SECRET not in secrets
    assert fake_bot_api.calls_of("setWebhook") == []


def test_a_generated_secret_is_accepted_by_production_settings():
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "TELEGRAM_WEBHOOK_SECRET",
                                                           "DJANGO_SETTINGS_MODULE"}}
    generated = subprocess.run([sys.executable, "manage.py", "set_webhook", "--generate-secret"], cwd=ROOT,
                               env={**env, "DEBUG": "1"}, capture_output=True, text=True, timeout=60, check=True)
    secret = generated.stdout.strip()
    checked = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                             env={**env, "SECRET_KEY": "k" * 50, "TELEGRAM_WEBHOOK_SECRET": secret}, timeout=60)
    assert checked.returncode == 0, checked.stderr


def test_set_webhook_can_drop_pending_updates(fake_bot_api, webhook_url):
    out = StringIO()
    call_command("set_webhook", "--drop-pending", stdout=out)
    assert fake_bot_api.calls_of("setWebhook")[0]["drop_pending_updates"] is True
    assert "dropped" in out.getvalue()


def test_allowed_updates_are_what_process_update_routes():
    assert set(ALLOWED_UPDATES) == {"message", "callback_query", "pre_checkout_query", "subscription"}


@pytest.mark.parametrize("url, message", [("", "not set"), ("http://payments.example.com/webhook/telegram", "https")])
def test_set_webhook_refuses_a_missing_or_plain_http_url(fake_bot_api, stars, url, message):
    stars.WEBHOOK_URL = url
    with pytest.raises(CommandError, match=message):
        call_command("set_webhook")
    assert fake_bot_api.calls == []


def test_set_webhook_reports_telegrams_refusal_without_the_token(fake_bot_api, webhook_url, stars):
    fake_bot_api.respond("setWebhook", error=(400, "Bad Request: bad webhook: HTTPS url must be provided"))
    with pytest.raises(CommandError, match="bad webhook") as caught:
        call_command("set_webhook")
    assert stars.BOT_TOKEN not in str(caught.value)


def test_webhook_info_after_set_webhook(fake_bot_api, webhook_url):
    call_command("set_webhook", stdout=StringIO())
    out = StringIO()
    call_command("webhook_info", stdout=out)
    text = out.getvalue()
    assert f"URL:              {WEBHOOK_URL}" in text
    assert "Pending updates:  0" in text
    assert f"Allowed updates:  {', '.join(ALLOWED_UPDATES)}" in text
    assert "Last error:       none" in text
    assert "Warning" not in text


def test_webhook_info_shows_the_last_error_with_its_date_and_drift(fake_bot_api, webhook_url):
    fake_bot_api.respond("getWebhookInfo", result={
        "url": "https://old.example.com/hook", "has_custom_certificate": False, "pending_update_count": 17,
        "last_error_date": 1795000000, "last_error_message": "Wrong response from the webhook: 503 Service Unavailable",
        "max_connections": 40, "allowed_updates": ["message"]})
    out = StringIO()
    call_command("webhook_info", stdout=out)
    text = out.getvalue()
    assert "Pending updates:  17" in text
    assert "Last error:       2026-11-18 11:06:40 UTC: Wrong response from the webhook: 503" in text
    assert f"Warning: TELEGRAM_WEBHOOK_URL is {WEBHOOK_URL}" in text
    assert "Warning: this service handles message, callback_query, pre_checkout_query" in text


def test_webhook_info_without_a_webhook(fake_bot_api, webhook_url):
    out = StringIO()
    call_command("webhook_info", stdout=out)
    assert "no webhook is set" in out.getvalue()


def test_webhook_info_reports_an_unreachable_bot_api(stars):
    stars.API_BASE_URL = "http://127.0.0.1:9"
    with pytest.raises(CommandError, match="getWebhookInfo failed"):
        call_command("webhook_info")
