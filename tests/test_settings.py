"""Settings come from the environment, with safe production defaults."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def run_check(**env_overrides):
    env = {k: v for k, v in os.environ.items()
           if k not in {"DEBUG", "SECRET_KEY", "TELEGRAM_WEBHOOK_SECRET", "DJANGO_SETTINGS_MODULE"}}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_production_refuses_to_start_without_secrets():
    result = run_check()
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr
    result = run_check(SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert '(telegram_stars.E002) TELEGRAM_STARS["WEBHOOK_SECRET"] is not set (required without DEBUG)' in result.stderr


def test_production_starts_with_secrets():
    result = run_check(SECRET_KEY="x" * 50, TELEGRAM_WEBHOOK_SECRET="y" * 32)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("secret", ["y" * 31, "short", "z" * 31 + "!", "w" * 257])
def test_production_refuses_a_guessable_or_malformed_webhook_secret(secret):
    result = run_check(SECRET_KEY="x" * 50, TELEGRAM_WEBHOOK_SECRET=secret)
    assert result.returncode != 0
    assert '(telegram_stars.E002) TELEGRAM_STARS["WEBHOOK_SECRET"] must be' in result.stderr
    assert secret not in result.stderr


def test_production_refuses_a_short_secret_key():
    result = run_check(SECRET_KEY="x" * 49, TELEGRAM_WEBHOOK_SECRET="y" * 32)
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be at least 50 characters when DEBUG is off" in result.stderr


def test_debug_accepts_a_short_development_webhook_secret():
    assert run_check(DEBUG="1", TELEGRAM_WEBHOOK_SECRET="dev-webhook-secret").returncode == 0


def test_debug_starts_without_secrets():
    assert run_check(DEBUG="1").returncode == 0


@pytest.mark.parametrize("rate", ["abc", "-1", "NaN"])
def test_a_malformed_stars_usd_rate_is_refused(rate):
    result = run_check(DEBUG="1", STARS_USD_RATE=rate)
    assert result.returncode != 0
    # not a number: the environment's parse says so; a number out of range: the app's check, by id
    assert ("STARS_USD_RATE must be a decimal number" if rate == "abc" else "(telegram_stars.E008)") in result.stderr


def test_stars_usd_rate_defaults_to_telegrams_withdrawal_rate(stars):
    from decimal import Decimal


    assert stars.STARS_USD_RATE == Decimal("0.013")


def test_credential_keys_come_comma_separated_from_the_environment():
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    result = run_check(DEBUG="1", TELEGRAM_CREDENTIAL_KEYS=f" {new} ,, {old},")
    assert result.returncode == 0, result.stderr
    code = "import json; from payments_project.settings import TELEGRAM_STARS as s; " \
           "print(json.dumps([s['CREDENTIAL_KEYS'], s['BOT_REGISTRY_SECONDS']]))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DEBUG": "1", "TELEGRAM_CREDENTIAL_KEYS": f" {new} ,, {old},",
                                 "TELEGRAM_BOT_REGISTRY_SECONDS": "5"})
    assert json.loads(result.stdout) == [[new, old], 5], result.stderr


def test_a_malformed_credential_key_is_refused_by_position():
    key = Fernet.generate_key().decode()
    result = run_check(DEBUG="1", TELEGRAM_CREDENTIAL_KEYS=f"{key},not-a-key-but-secret")
    assert result.returncode != 0
    assert '(telegram_stars.E009) TELEGRAM_STARS["CREDENTIAL_KEYS"][1] is not a Fernet key' in result.stderr
    assert key not in result.stderr and "not-a-key-but-secret" not in result.stderr


def test_bot_registry_seconds_defaults_to_30(stars):
    assert stars.BOT_REGISTRY_SECONDS == 30 and stars.CREDENTIAL_KEYS == []
