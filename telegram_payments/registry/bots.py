"""Which bots this deployment serves, per process: `default()`, `get(pk)`, `by_path(path)`, `all()`.

A webhook request names its bot by its URL path; every row of a bot's data carries its pk. Both are
answered from the active bots loaded in one query and kept for `TELEGRAM_STARS["BOT_REGISTRY_SECONDS"]`
(0: read each time), so an identical redelivery still costs no query. A miss (an unknown path, a bot
just added in another process) reads the table again at most once a second; a bot saved in this
process is seen at once. A bot is configuration, not money data: prices and grants are always read
from the database.
"""

import threading
import time

from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete, post_save

from telegram_payments.conf import stars_settings
from telegram_payments.models import Bot

MISS_RELOAD_SECONDS = 1.0

_lock = threading.Lock()
_state = {"bots": None, "loaded_at": 0.0, "miss_at": 0.0}


class UnknownBot(LookupError):
    """No active bot has that pk, path or name."""


def _load() -> dict[int, Bot]:
    bots = {bot.pk: bot for bot in Bot.objects.filter(is_active=True)}
    if not any(bot.is_default for bot in bots.values()):
        default = ensure_default_bot()
        bots[default.pk] = default
    with _lock:
        _state.update(bots=bots, loaded_at=time.monotonic())
    return bots


def _bots(*, miss: bool = False) -> dict[int, Bot]:
    now = time.monotonic()
    with _lock:
        bots, loaded_at, miss_at = _state["bots"], _state["loaded_at"], _state["miss_at"]
        if miss:
            if now - miss_at < MISS_RELOAD_SECONDS:
                return bots or {}
            _state["miss_at"] = now
    if bots is None or miss or now - loaded_at >= stars_settings.BOT_REGISTRY_SECONDS:
        return _load()
    return bots


def forget() -> None:
    """Read the bots again on next use (a bot was saved; tests)."""
    with _lock:
        _state.update(bots=None, loaded_at=0.0, miss_at=0.0)


def all() -> list[Bot]:  # noqa: A001 - registry.all(), as the module is used
    """The active bots, the default first."""
    return sorted(_bots().values(), key=lambda bot: (not bot.is_default, bot.name, bot.pk))


def default() -> Bot:
    """The bot configured in `TELEGRAM_STARS` (created if missing: a database flushed by a test)."""
    for bot in _bots().values():
        if bot.is_default:
            return bot
    return ensure_default_bot()


def get(pk: int) -> Bot:
    """The bot with this pk: the bot of a stored row (inactive bots too: their rows stay readable)."""
    bot = _bots().get(pk) or _bots(miss=True).get(pk)
    if bot is None:
        bot = Bot.objects.filter(pk=pk).first()
        if bot is None:
            raise UnknownBot(f"no bot with pk {pk}")
    return bot


def by_path(path: str) -> Bot | None:
    """The active bot whose webhook path this is, or None."""
    for attempt in (False, True):
        for bot in _bots(miss=attempt).values():
            if bot.webhook_path == path:
                return bot
    return None


def find(name: str) -> Bot:
    """A bot by what an operator types: its slug, its @username, or its Telegram id."""
    name = str(name).strip()
    lookup = Bot.objects.all()
    if name.startswith("@"):
        bot = lookup.filter(username__iexact=name[1:]).first()
    elif name.lstrip("-").isdigit():
        bot = lookup.filter(telegram_id=int(name)).first() or lookup.filter(slug=name).first()
    else:
        bot = lookup.filter(slug=name).first()
    if bot is None:
        raise UnknownBot(f"no bot {name!r} (a slug, an @username or a Telegram id)")
    return bot


def loaded() -> list[Bot]:
    """The bots this process has loaded already, without reading the table (for log lines)."""
    return list((_state["bots"] or {}).values())


def loaded_secrets() -> set[str]:
    """The tokens (and their secret halves), webhook secrets and webhook paths of the stored bots this
    process has loaded, for `redaction` (never a query: a log line must not read the database)."""
    found = set()
    for bot in loaded():
        if bot.is_default:
            continue
        found.add(bot.webhook_path)  # with the secret, what Telegram posts to: never in a log line
        try:
            token, secret = bot.token(), bot.webhook_secret()
        except Exception:  # noqa: BLE001 - a key gone: nothing to look for, and redaction must not fail
            continue
        found.update(value for value in (token, token.partition(":")[2], secret) if len(value) >= 8)
    return found


def ensure_default_bot() -> Bot:
    """The default bot's row, created if it is missing (by the migration; again after a flush)."""
    bot = Bot.objects.filter(is_default=True).first()
    if bot is not None:
        return bot
    try:
        with transaction.atomic():
            return Bot.objects.create(name="Default bot", slug="default", is_default=True,
                                      event_namespace="", entitlement_scope="")
    except IntegrityError:  # created meanwhile by another process
        return Bot.objects.get(is_default=True)


def _saved(sender, **kwargs):
    forget()
    transaction.on_commit(forget)


post_save.connect(_saved, sender=Bot, dispatch_uid="telegram_payments.registry.saved")
post_delete.connect(_saved, sender=Bot, dispatch_uid="telegram_payments.registry.deleted")
