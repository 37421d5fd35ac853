"""The system checks of TELEGRAM_STARS: each malformed value is reported by its own id, naming the key
and never its value; the defaults and the test settings pass."""

from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from django.core import checks

from telegram_payments.checks import check_settings

GOOD_SECRET = "s" * 40
TOKEN = "123456789:TEST-token-never-real_abcdefghijk"
KEY = Fernet.generate_key().decode()


def ids(settings, debug=False, **stars) -> list[str]:
    settings.DEBUG = debug
    settings.TELEGRAM_STARS = {"WEBHOOK_SECRET": GOOD_SECRET, "BOT_TOKEN": TOKEN, **stars}
    return sorted(message.id for message in check_settings())


def test_the_test_settings_and_a_minimal_dict_pass(settings):
    assert check_settings() == []
    assert ids(settings) == []


@pytest.mark.parametrize(("stars", "debug", "expected"), [
    ({"WEBHOOK_SECRET": ""}, False, "telegram_stars.E002"),
    ({"WEBHOOK_SECRET": "short"}, False, "telegram_stars.E002"),
    ({"WEBHOOK_SECRET": "has a space" + "x" * 30}, True, "telegram_stars.E002"),
    ({"WEBHOOK_SECRET": "w" * 257}, True, "telegram_stars.E002"),
    ({"BOT_TOKEN": "not-a-token"}, False, "telegram_stars.E003"),
    ({"WEBHOOK_URL": "http://example.com/webhook"}, False, "telegram_stars.E004"),
    ({"API_BASE_URL": "api.telegram.org"}, False, "telegram_stars.E004"),
    ({"ENTITLEMENTS_SERVICE_URL": "https://svc.example.com/hook"}, False, "telegram_stars.E005"),
    ({"WEBHOOK_MAX_BODY_BYTES": 10}, False, "telegram_stars.E006"),
    ({"IP_ALLOWLIST": "yes"}, False, "telegram_stars.E006"),
    ({"EVENT_RETENTION_DAYS": True}, False, "telegram_stars.E006"),
    ({"BOT_REGISTRY_SECONDS": -1}, False, "telegram_stars.E006"),
    ({"BOT_TOKEN": 12345}, False, "telegram_stars.E006"),
    ({"IP_RANGES": ["149.154.160.0/20", "not-a-network"]}, False, "telegram_stars.E007"),
    ({"METRICS_ALLOWED_NETWORKS": "127.0.0.1/32"}, False, "telegram_stars.E007"),
    ({"STARS_USD_RATE": Decimal("-1")}, False, "telegram_stars.E008"),
    ({"STARS_USD_RATE": Decimal("NaN")}, False, "telegram_stars.E008"),
    ({"CREDENTIAL_KEYS": KEY}, False, "telegram_stars.E009"),
    ({"CREDENTIAL_KEYS": [KEY, "not-a-fernet-key"]}, False, "telegram_stars.E009"),
    ({"CREDENTIAL_KEYS": [KEY[:-2]]}, True, "telegram_stars.E009"),
    ({"BOT_TKEN": TOKEN}, False, "telegram_stars.W001"),
])
def test_each_problem_has_its_id(settings, stars, debug, expected):
    assert expected in ids(settings, debug=debug, **stars)


def test_a_development_secret_and_an_outbox_without_secret_pass_with_debug(settings):
    assert ids(settings, debug=True, WEBHOOK_SECRET="dev-webhook-secret",
               ENTITLEMENTS_SERVICE_URL="http://127.0.0.1:9000/hook") == []


def test_fernet_keys_newest_first_pass(settings):
    assert ids(settings, CREDENTIAL_KEYS=[KEY, Fernet.generate_key()], BOT_REGISTRY_SECONDS=0) == []
    assert ids(settings, CREDENTIAL_KEYS=(), BOT_REGISTRY_SECONDS=86_400) == []


def test_each_malformed_credential_key_is_named_by_its_position_never_its_value(settings):
    bad = ["x" * 44, "short-and-secret"]
    settings.TELEGRAM_STARS = {"WEBHOOK_SECRET": GOOD_SECRET, "CREDENTIAL_KEYS": [bad[0], KEY, bad[1], 7]}
    messages = [m for m in check_settings() if m.id == "telegram_stars.E009"]
    assert [m.msg for m in messages] == [
        f'TELEGRAM_STARS["CREDENTIAL_KEYS"][{position}] is not a Fernet key (32 url-safe base64-encoded bytes).'
        for position in (0, 2, 3)
    ]
    assert all(value not in str(m) for m in messages for value in [*bad, KEY])
    assert "Fernet.generate_key()" in messages[0].hint


def test_not_a_dict_is_e001(settings):
    settings.TELEGRAM_STARS = ["BOT_TOKEN", TOKEN]
    assert [message.id for message in check_settings()] == ["telegram_stars.E001"]


def test_no_message_shows_the_value(settings):
    secret = "leaky secret value that is wrong!"
    settings.TELEGRAM_STARS = {"WEBHOOK_SECRET": secret, "BOT_TOKEN": "123:also-secret"}
    messages = check_settings()
    assert messages and all(secret not in str(m) and "also-secret" not in str(m) for m in messages)


def test_the_checks_are_registered_under_their_tag(settings):
    settings.TELEGRAM_STARS = {"WEBHOOK_SECRET": ""}
    settings.DEBUG = False
    assert "telegram_stars.E002" in [m.id for m in checks.run_checks(tags=["telegram_stars"])]
