"""Adding a bot and looking after its credentials: the one place a bot row is created or its token or
secret change. Staff reach these through the Bot admin, operators through `manage.py add_bot`.

A bot added here gets its Telegram id and username from `getMe` (so a mistyped token is refused before
anything is stored), an unguessable webhook path, a generated webhook secret, and its token and secret
sealed (`credentials`). Its event ids, locks and entitlement scope are derived from its Telegram id.
"""

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from telegram_payments.bot.updates import ALLOWED_UPDATES
from telegram_payments.conf import stars_settings
from telegram_payments.models import Bot, BotMembership
from telegram_payments.registry.credentials import CredentialError, needs_reseal, reseal, seal
from telegram_payments.telegram_api.client import BotApiError, call_bot


class BotRefused(Exception):
    """The bot cannot be added or changed as asked (a token Telegram refuses, a bot already served...)."""


def new_webhook_secret() -> str:
    """64 characters of A-Z a-z 0-9 _ -: what Telegram accepts as a webhook's secret_token."""
    return secrets.token_urlsafe(48)


def _get_me(token: str):
    probe = Bot(token_sealed=seal(token))  # unsaved: only its token is read
    try:
        return call_bot("getMe", lambda api: api.get_me(), bot=probe, timeout=10)
    except BotApiError as exc:
        raise BotRefused(f"Telegram refused the token (getMe: {exc.description})") from None


def add_bot(*, name: str, slug: str, token: str, staff=()) -> Bot:
    """Add a bot this deployment serves, from its @BotFather token; `staff`: users who may see its data."""
    token = token.strip()
    me = _get_me(token)
    default_token = stars_settings.BOT_TOKEN or ""
    if default_token.partition(":")[0] == str(me.id) or Bot.objects.filter(telegram_id=me.id).exists():
        raise BotRefused(f"@{me.username} is served by this deployment already")
    with transaction.atomic():
        bot = Bot.objects.create(
            name=name, slug=slug, telegram_id=me.id, username=me.username or "",
            token_sealed=seal(token), secret_sealed=seal(new_webhook_secret()), token_set_at=timezone.now(),
            event_namespace=f"bot{me.id}:", entitlement_scope=f"bot:{me.id}",
        )
        BotMembership.objects.bulk_create([BotMembership(user=user, bot=bot) for user in staff])
    return bot


def replace_token(*, bot: Bot, token: str) -> Bot:
    """A new token for the same bot (BotFather's /revoke): `getMe` must answer as that bot."""
    if bot.is_default:
        raise BotRefused("The default bot's token is TELEGRAM_BOT_TOKEN: change it in the environment.")
    me = _get_me(token.strip())
    if me.id != bot.telegram_id:
        raise BotRefused(f"That token is @{me.username}'s, not @{bot.username}'s")
    bot.token_sealed, bot.token_set_at = seal(token.strip()), timezone.now()
    bot.save(update_fields=["token_sealed", "token_set_at"])
    return bot


def webhook_url(bot: Bot) -> str:
    """Where Telegram delivers `bot`'s Updates: `WEBHOOK_URL` for the default bot; for another, its own
    path on the same origin (so `WEBHOOK_URL` must be set when a deployment serves several)."""
    if bot.is_default:
        return stars_settings.WEBHOOK_URL
    origin = urlsplit(stars_settings.WEBHOOK_URL)
    if not origin.scheme or not origin.netloc:
        return ""
    return f"{origin.scheme}://{origin.netloc}{reverse('bot-webhook', args=[bot.webhook_path])}"


def register_webhook(*, bot: Bot, drop_pending: bool = False, secret: str | None = None) -> str:
    """`setWebhook` for `bot` at its `webhook_url`, with its secret (or `secret`) and the update kinds
    this service handles; returns the URL. Raises `BotApiError` or `BotRefused`."""
    url = webhook_url(bot)
    if not url.startswith("https://"):
        raise BotRefused(f"{bot.slug}: TELEGRAM_WEBHOOK_URL must be an https URL (Telegram refuses others)")
    secret_token = secret or bot.webhook_secret()
    if not secret_token:
        raise BotRefused(f"{bot.slug}: no webhook secret (TELEGRAM_WEBHOOK_SECRET is not set)")
    call_bot("setWebhook", lambda api: api.set_webhook(
        url=url, secret_token=secret_token, allowed_updates=list(ALLOWED_UPDATES),
        drop_pending_updates=drop_pending), bot=bot)
    return url


def rotate_secret(*, bot: Bot) -> Bot:
    """A new webhook secret for `bot`, registered with Telegram first: stored only if `setWebhook` took it."""
    if bot.is_default:
        raise BotRefused("The default bot's secret is TELEGRAM_WEBHOOK_SECRET: change it in the environment.")
    secret = new_webhook_secret()
    register_webhook(bot=bot, secret=secret)
    bot.secret_sealed = seal(secret)
    bot.save(update_fields=["secret_sealed"])
    return bot


@dataclass(frozen=True)
class ResealSummary:
    resealed: int  # bots with a value moved (or, in a dry run, to move) to the newest key
    current: int  # bots whose token and secret were under the newest key already
    unreadable: list[str]  # slugs of bots with a value no key opens (left as they are)


def reseal_stored_bots(*, dry_run: bool = False) -> ResealSummary:
    """Reseal every stored bot's token and secret under the newest of CREDENTIAL_KEYS (a key rotation:
    the new key first everywhere, this, then drop the old key). Each bot's row is locked while its values
    are read and written, so a token replaced meanwhile is never overwritten with the old one."""
    resealed = current = 0
    unreadable = []
    for pk in Bot.objects.filter(is_default=False).order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            bot = Bot.objects.select_for_update().get(pk=pk)
            try:
                stale = [field for field in ("token_sealed", "secret_sealed") if needs_reseal(getattr(bot, field))]
            except CredentialError:
                unreadable.append(bot.slug)
                continue
            if not stale:
                current += 1
                continue
            resealed += 1
            if not dry_run:
                for field in stale:
                    setattr(bot, field, reseal(getattr(bot, field)))
                bot.save(update_fields=stale)
    return ResealSummary(resealed, current, unreadable)
