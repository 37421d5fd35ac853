import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.servers.basehttp import WSGIServer
from django.db import connection

from telegram_payments.devtools.botapi import start_fake_bot_api, stop_fake_bot_api

FIXTURES = Path(__file__).parent / "fixtures"

# live_server's WSGI server listens with Python's default backlog of 5, which resets connections
# when the concurrency tests open 50 at once; a real deployment (gunicorn) uses 2048.
WSGIServer.request_queue_size = 128


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` skip, with the reason, when the suite runs on SQLite."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://... (CI does)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache and no remembered redeliveries, so nothing leaks between
    tests (whose database rows are rolled back)."""
    from django.core.cache import cache

    from telegram_payments.registry import bots
    from telegram_payments.webhooks import redeliveries

    cache.clear()
    redeliveries.forget_all()
    bots.forget()  # the bots of an earlier test (rolled back, or flushed) are not this one's
    yield
    redeliveries.forget_all()
    bots.forget()


@pytest.fixture(autouse=True)
def _staff_are_members_of_the_default_bot(request):
    """A staff user a test creates (not a superuser) is made a member of the default bot, as migration
    0002 made every staff member there was: the tests written for one bot see what they saw. A test of
    who sees which bot (`@pytest.mark.bot_memberships_by_hand`) gives memberships itself."""
    if request.node.get_closest_marker("bot_memberships_by_hand"):
        yield
        return
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_save

    def member(sender, instance, created, raw=False, **kwargs):
        if created and not raw and instance.is_staff and not instance.is_superuser:
            from telegram_payments.models import BotMembership
            from telegram_payments.registry import bots

            BotMembership.objects.get_or_create(user=instance, bot=bots.default())

    model = get_user_model()
    post_save.connect(member, sender=model, dispatch_uid="tests.default_bot_membership")
    yield
    post_save.disconnect(sender=model, dispatch_uid="tests.default_bot_membership")


class StarsSettings:
    """The apps' settings (`settings.TELEGRAM_STARS`) as attributes: `stars.BOT_TOKEN` reads a key (its
    default filled in), `stars.BOT_TOKEN = ...` sets it for this test only (through pytest-django's
    `settings`, which puts the dict back afterwards)."""

    def __init__(self, settings):
        object.__setattr__(self, "_settings", settings)

    def __getattr__(self, name):
        from entitlements.conf import entitlements_settings
        from telegram_payments.conf import DEFAULTS, stars_settings

        return getattr(stars_settings if name in DEFAULTS else entitlements_settings, name)

    def __setattr__(self, name, value):
        from telegram_payments.conf import ALL_KEYS

        if name not in ALL_KEYS:
            raise AttributeError(f"TELEGRAM_STARS has no key {name!r}")
        self._settings.TELEGRAM_STARS = {**self._settings.TELEGRAM_STARS, name: value}


@pytest.fixture
def stars(settings):
    return StarsSettings(settings)


@pytest.fixture
def fake_bot_api(stars):
    """A fake Bot API HTTP server on loopback; the bot client is pointed at it."""
    fake = start_fake_bot_api(stars.BOT_TOKEN)
    stars.API_BASE_URL = fake.base_url
    yield fake
    stop_fake_bot_api(fake)


@pytest.fixture
def webhook_secret(stars):
    return stars.WEBHOOK_SECRET


@pytest.fixture
def post_json(client, webhook_secret):
    """POST a JSON body to a webhook URL with the right secret header (override with secret=...)."""

    def post(url, body, *, secret=None, content_type="application/json"):
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        headers = {}
        if secret is not False:
            headers["HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN"] = webhook_secret if secret is None else secret
        return client.generic("POST", url, data, content_type=content_type, **headers)

    return post


@pytest.fixture
def catalog(db):
    from django.core.management import call_command

    call_command("loaddata", "demo_catalog", verbosity=0)
    from telegram_payments.models import Product

    return {p.entitlement_type: p for p in Product.objects.all()}


@pytest.fixture
def subscription_catalog(catalog):
    """The demo catalog and the demo subscription product (`premium_subscription`)."""
    from django.core.management import call_command

    from telegram_payments.models import Product

    call_command("loaddata", "demo_subscription", verbosity=0)
    return {p.entitlement_type: p for p in Product.objects.all()}


def load_update(name: str) -> dict:
    """A real-shaped Bot API Update from tests/fixtures/updates/<name>.json."""
    return json.loads((FIXTURES / "updates" / f"{name}.json").read_text())


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def crashing_grant():
    """`crashing_grant(message)`: from now on, every grant crashes with `message` after writing its row.

    PostgreSQL: a real trigger that raises after the insert into `entitlements`. SQLite (no such
    trigger language): `grant_entitlement` runs for real, then raises. `stop()` ends the fault.
    """
    from unittest import mock

    from entitlements import services as entitlement_services
    from telegram_payments.payments import rules

    class Fault:
        patcher = None

        def __call__(self, message: str):
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "CREATE FUNCTION test_crash_grant() RETURNS trigger LANGUAGE plpgsql AS "
                        f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$")
                    cursor.execute("CREATE TRIGGER test_crash_grant AFTER INSERT ON entitlements "
                                   "FOR EACH ROW EXECUTE FUNCTION test_crash_grant()")
            else:
                real = entitlement_services.grant_entitlement

                def grant_then_crash(**kwargs):
                    real(**kwargs)
                    raise RuntimeError(message)

                self.patcher = mock.patch.object(rules, "grant_entitlement", side_effect=grant_then_crash)
                self.patcher.start()

        def stop(self):
            if self.patcher is not None:
                self.patcher.stop()
                self.patcher = None
            elif connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("DROP TRIGGER IF EXISTS test_crash_grant ON entitlements")
                    cursor.execute("DROP FUNCTION IF EXISTS test_crash_grant()")

    fault = Fault()
    yield fault
    fault.stop()


def answer_status(answer: dict) -> str:
    """The outcome a webhook answer reports: its "status", or for a payment Update recorded now, which
    message the buyer is sent in its place (a sendMessage: thanks when processed, the could-not-deliver
    text when failed)."""
    from telegram_payments.bot.payments import NOT_DELIVERED_TEXT

    if answer.get("method") == "sendMessage":
        return "failed" if answer["text"] == NOT_DELIVERED_TEXT else "processed"
    return answer["status"]


@pytest.fixture
def staff_groups(db):
    """The Support and Catalog managers groups, as `manage.py create_support_groups` makes them."""
    from django.core.management import call_command

    call_command("create_support_groups", stdout=StringIO())
    from django.contrib.auth.models import Group

    return {group.name: group for group in Group.objects.filter(name__in=["Support", "Catalog managers"])}


TEST_CREDENTIAL_KEY = "mT0cKZ0wQn4hJ2cZ8Gm0m9b1G4Qy7cJbqv0tE2o1y3U="  # a Fernet key for tests only


@pytest.fixture
def credential_keys(stars):
    stars.CREDENTIAL_KEYS = [TEST_CREDENTIAL_KEY]
    return stars.CREDENTIAL_KEYS


@pytest.fixture
def other_bots(db, fake_bot_api, credential_keys):
    """Two more bots beside the default one, added as staff would (`registry.services.add_bot`), each
    with its own token on the same fake Bot API server: {"a": (Bot, FakeBotApi), "b": (...)}."""
    from telegram_payments.registry.services import add_bot

    made = {}
    for slug, token in (("a", "700000001:TEST-bot-a-token-never-real_abcdefghij"),
                        ("b", "700000002:TEST-bot-b-token-never-real_abcdefghij")):
        fake = fake_bot_api.add_bot(token, username=f"bot_{slug}")
        made[slug] = (add_bot(name=f"Bot {slug.upper()}", slug=slug, token=token), fake)
    return made
