"""Deployment checks: is this process configured and connected as production needs?

Each check answers pass or fail with a reason a human can act on. No check ever prints a secret:
reasons name the setting and what is wrong with it, never its value.
"""

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from telegram_payments.bot.updates import ALLOWED_UPDATES
from telegram_payments.checks import bot_token_problem, webhook_secret_problem
from telegram_payments.conf import stars_settings
from telegram_payments.models import EventStatus, Product
from telegram_payments.reads.selectors import waiting_events
from telegram_payments.redaction import redact
from telegram_payments.registry import bots
from telegram_payments.telegram_api.client import call_bot

DEV_SECRET_KEYS = {"insecure-development-only-key", "test-only-secret-key-never-used-outside-the-test-suite"}
MIN_SECRET_KEY_LENGTH = 50  # Django's own deployment check (security.W009) asks for 50 and 5 distinct


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str


def check_secret_key() -> tuple[bool, str]:
    key = settings.SECRET_KEY
    if not key:
        return False, "SECRET_KEY is empty"
    if key in DEV_SECRET_KEYS or key.startswith("django-insecure"):
        return False, "SECRET_KEY is a development default"
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < 5:
        return False, f"SECRET_KEY is too short or repetitive (needs {MIN_SECRET_KEY_LENGTH}+ characters)"
    return True, f"set, {len(key)} characters"


def check_bot_token() -> tuple[bool, str]:
    token = stars_settings.BOT_TOKEN
    if not token:
        return False, "TELEGRAM_BOT_TOKEN is not set"
    problem = bot_token_problem(token)
    if problem:
        return False, f"TELEGRAM_BOT_TOKEN {problem}"
    return True, f"format ok (bot id {token.split(':', 1)[0]})"


def check_webhook_secret() -> tuple[bool, str]:
    secret = stars_settings.WEBHOOK_SECRET
    if not secret:
        return False, "TELEGRAM_WEBHOOK_SECRET is not set"
    problem = webhook_secret_problem(secret, debug=False)  # production's rule, whatever DEBUG says now
    if problem:
        return False, f"TELEGRAM_WEBHOOK_SECRET {problem}"
    return True, f"{len(secret)} characters"


def check_webhook_url() -> tuple[bool, str]:
    url = stars_settings.WEBHOOK_URL
    if not url:
        return False, "TELEGRAM_WEBHOOK_URL is not set"
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        return False, "TELEGRAM_WEBHOOK_URL must be an https:// URL (Telegram only calls https)"
    return True, url


def check_debug_off() -> tuple[bool, str]:
    return (False, "DEBUG is on: never in production") if settings.DEBUG else (True, "DEBUG is off")


def check_database() -> tuple[bool, str]:
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return True, f"{connection.vendor} reachable"


def check_migrations() -> tuple[bool, str]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
        return False, f"{len(plan)} unapplied migration(s): {names} (run manage.py migrate)"
    return True, "all applied"


def check_catalog() -> tuple[bool, str]:
    on_sale = Product.objects.filter(is_active=True).count()
    if not on_sale:
        return False, "no product on sale (load or add the catalog)"
    return True, f"{on_sale} product(s) on sale"


def check_bot_api() -> tuple[bool, str]:
    me = call_bot("getMe", lambda api: api.get_me(), bot=bots.default())
    return True, f"getMe answered: @{me.username} (id {me.id})"


def check_webhook_registered() -> tuple[bool, str]:
    info = call_bot("getWebhookInfo", lambda api: api.get_webhook_info(), bot=bots.default())
    expected_url = stars_settings.WEBHOOK_URL
    problems = []
    if not info.url:
        problems.append("no webhook is registered")
    elif info.url != expected_url:
        problems.append(f"registered at {info.url}, not at TELEGRAM_WEBHOOK_URL {expected_url or '(unset)'}")
    allowed = sorted(info.allowed_updates or [])
    if info.allowed_updates and "subscription" not in info.allowed_updates:
        problems.append("allowed updates lack 'subscription': cancelled and failed subscription renewals are "
                        "not delivered (run manage.py set_webhook)")
    if allowed != sorted(set(ALLOWED_UPDATES)):
        problems.append(f"allowed updates {allowed or 'Telegram default'}, expected {sorted(set(ALLOWED_UPDATES))}")
    if info.last_error_message:
        problems.append(f"last delivery error: {info.last_error_message}")
    if problems:
        return False, "; ".join(problems)
    return True, f"at our URL, allowed updates {allowed}, {info.pending_update_count} pending"


def check_no_waiting_events() -> tuple[bool, str]:
    waiting = waiting_events()
    failed = waiting.filter(status=EventStatus.FAILED).count()
    stuck = waiting.count() - failed
    if failed or stuck:
        return False, f"{failed} failed and {stuck} stuck pending event(s): see replay_events --failed/--pending"
    return True, "no failed or stuck events"


CHECKS: list[tuple[str, Callable[[], tuple[bool, str]]]] = [
    ("SECRET_KEY", check_secret_key),
    ("TELEGRAM_BOT_TOKEN", check_bot_token),
    ("TELEGRAM_WEBHOOK_SECRET", check_webhook_secret),
    ("TELEGRAM_WEBHOOK_URL", check_webhook_url),
    ("DEBUG", check_debug_off),
    ("database", check_database),
    ("migrations", check_migrations),
    ("catalog", check_catalog),
    ("Bot API", check_bot_api),
    ("webhook", check_webhook_registered),
    ("events", check_no_waiting_events),
]


def run_checks() -> list[Check]:
    """Run every check; one that raises fails with the error's text (secrets redacted)."""
    results = []
    for name, check in CHECKS:
        try:
            ok, reason = check()
        except Exception as exc:  # a check must report, never crash the others
            ok, reason = False, redact(f"{type(exc).__name__}: {exc}")
        results.append(Check(name, ok, reason))
    return results
