"""Deployment checks: is this process configured and connected as production needs?

Each check answers pass or fail with a reason a human can act on. No check ever prints a secret:
reasons name the setting and what is wrong with it, never its value (nor a stored bot's webhook path).

The settings and the database are checked once; the catalog, the Bot API, the webhook and the waiting
events once per bot (`BOT_CHECKS`), named with the bot's slug when the deployment serves several.
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
from telegram_payments.logformat import shown_url
from telegram_payments.models import Bot, EventStatus, Product
from telegram_payments.reads.selectors import waiting_events
from telegram_payments.redaction import redact
from telegram_payments.registry import bots, credentials
from telegram_payments.registry.services import webhook_url
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


def check_stored_credentials() -> tuple[bool, str]:
    """Whether the stored bots' tokens and secrets open with CREDENTIAL_KEYS, and how many still need
    `rotate_bot_credentials` (sealed under an older key)."""
    sealed = [value for pair in Bot.objects.filter(is_default=False).values_list("token_sealed", "secret_sealed")
              for value in pair]
    if not sealed:
        return True, "no stored bots (only the default bot, from the settings)"
    bots_count = len(sealed) // 2
    unreadable = older = 0
    for value in sealed:
        try:
            older += credentials.needs_reseal(value)
        except credentials.CredentialError:
            unreadable += 1
    if unreadable:
        return False, (f"{unreadable} of {len(sealed)} stored tokens and secrets cannot be decrypted with "
                       f"{credentials.KEYS_SETTING} (a key missing, or a value altered)")
    if older:
        return True, (f"{bots_count} stored bot(s) readable; {older} value(s) under an older key "
                      "(run manage.py rotate_bot_credentials, then drop the old key)")
    return True, f"{bots_count} stored bot(s) readable, all under the newest key"


def check_catalog(bot=None) -> tuple[bool, str]:
    bot = bot or bots.default()
    on_sale = Product.objects.filter(bot=bot, is_active=True).count()
    if not on_sale:
        return False, "no product on sale (load or add the catalog)"
    return True, f"{on_sale} product(s) on sale"


def check_bot_api(bot=None) -> tuple[bool, str]:
    bot = bot or bots.default()
    me = call_bot("getMe", lambda api: api.get_me(), bot=bot)
    if bot.telegram_id is not None and me.id != bot.telegram_id:
        return False, f"getMe answered as @{me.username} (id {me.id}), not as this bot (id {bot.telegram_id})"
    return True, f"getMe answered: @{me.username} (id {me.id})"


def check_webhook_registered(bot=None) -> tuple[bool, str]:
    bot = bot or bots.default()
    info = call_bot("getWebhookInfo", lambda api: api.get_webhook_info(), bot=bot)
    expected_url = webhook_url(bot)
    setting = "TELEGRAM_WEBHOOK_URL" if bot.is_default else "its URL"
    problems = []
    if not info.url:
        problems.append("no webhook is registered")
    elif info.url != expected_url:
        problems.append(f"registered at {shown_url(info.url, bot)}, not at {setting} "
                        f"{shown_url(expected_url, bot) or '(unset)'}")
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


def check_no_waiting_events(bot=None) -> tuple[bool, str]:
    bot = bot or bots.default()
    waiting = waiting_events().filter(bot=bot)
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
    ("stored bots", check_stored_credentials),
]
# Each takes the bot to check (None: the default bot).
BOT_CHECKS: list[tuple[str, Callable[[Bot], tuple[bool, str]]]] = [
    ("catalog", check_catalog),
    ("Bot API", check_bot_api),
    ("webhook", check_webhook_registered),
    ("events", check_no_waiting_events),
]


def run_checks(*, bots_to_check: list[Bot] | None = None) -> list[Check]:
    """Run every check, then every bot check for each of `bots_to_check` (default: every active bot);
    one that raises fails with the error's text (secrets redacted)."""
    results = [_run(name, check) for name, check in CHECKS]
    try:
        chosen = bots.all() if bots_to_check is None else bots_to_check
    except Exception as exc:  # no database: the checks above say why
        return [*results, Check("bots", False, redact(f"{type(exc).__name__}: {exc}"))]
    several = len(chosen) > 1 or any(not bot.is_default for bot in chosen)
    for bot in chosen:
        for name, check in BOT_CHECKS:
            results.append(_run(f"{name} ({bot.slug})" if several else name, lambda check=check, bot=bot: check(bot)))
    return results


def _run(name: str, check: Callable[[], tuple[bool, str]]) -> Check:
    try:
        ok, reason = check()
    except Exception as exc:  # a check must report, never crash the others
        ok, reason = False, redact(f"{type(exc).__name__}: {exc}")
    return Check(name, ok, reason)
