"""manage.py set_webhook [--bot BOT] [--drop-pending]: register this service's webhook with Telegram, for
every active bot (or the one `--bot` names): the default bot at TELEGRAM_WEBHOOK_URL, every other at its
own path on that origin, each with its own secret.

manage.py set_webhook --generate-secret: print a new random TELEGRAM_WEBHOOK_SECRET and nothing else.
"""

import secrets

from django.core.management.base import BaseCommand, CommandError

from telegram_payments.bot.updates import ALLOWED_UPDATES
from telegram_payments.conf import stars_settings
from telegram_payments.logformat import shown_url
from telegram_payments.management.cli import add_bot_argument, chosen_bots
from telegram_payments.registry.services import BotRefused, register_webhook
from telegram_payments.telegram_api.client import BotApiError


def default_bot_problem() -> str:
    """Why the default bot's webhook cannot be registered from the settings, or ""."""
    url = stars_settings.WEBHOOK_URL
    if not url:
        return "TELEGRAM_WEBHOOK_URL is not set: the public https URL of /webhook/telegram."
    if not url.startswith("https://"):
        return f"TELEGRAM_WEBHOOK_URL must be an https URL (Telegram refuses others): {url}"
    if not stars_settings.WEBHOOK_SECRET:
        return "TELEGRAM_WEBHOOK_SECRET is not set: without it the webhook would reject Telegram."
    return ""


class Command(BaseCommand):
    help = (
        "Register each bot's webhook with Telegram (setWebhook): the default bot at TELEGRAM_WEBHOOK_URL with "
        "TELEGRAM_WEBHOOK_SECRET, every other bot at its own path on that origin with its own secret; only the "
        "update kinds this service handles. One line per bot; exits 1 if any bot was not registered."
    )

    def add_arguments(self, parser):
        parser.add_argument("--drop-pending", action="store_true",
                            help="Drop the updates Telegram is holding for the bot instead of delivering them.")
        parser.add_argument("--generate-secret", action="store_true",
                            help="Only print a new random secret (64 characters of A-Z a-z 0-9 _ -) to put in "
                                 "TELEGRAM_WEBHOOK_SECRET; calls nothing. Before any secret is set, run it with "
                                 "DEBUG=1 (settings refuse to load in production without one).")
        add_bot_argument(parser, all_bots=True)

    def handle(self, *args, drop_pending=False, generate_secret=False, **options):
        if generate_secret:
            if drop_pending:
                raise CommandError("--generate-secret only prints a secret; it cannot be combined with --drop-pending.")
            # 48 random bytes in URL-safe base64: 64 characters, all of them ones Telegram accepts.
            self.stdout.write(secrets.token_urlsafe(48))
            return
        chosen = chosen_bots(options)
        if len(chosen) == 1 and chosen[0].is_default and (problem := default_bot_problem()):
            raise CommandError(problem)  # the one bot of most deployments: its setting named, as before
        failed = []
        for bot in chosen:
            problem = default_bot_problem() if bot.is_default else ""
            try:
                if problem:
                    raise BotRefused(problem)
                url = register_webhook(bot=bot, drop_pending=drop_pending)
            except BotApiError as exc:
                failed.append(f"{bot.slug}: setWebhook failed: {exc.description}")
                self.stdout.write(self.style.ERROR(f"✗ {bot.slug}: setWebhook failed: {exc.description}"))
                continue
            except BotRefused as exc:
                failed.append(f"{bot.slug}: {exc}")
                self.stdout.write(self.style.ERROR(f"✗ {bot.slug}: {exc}"))
                continue
            self.stdout.write(self.style.SUCCESS(f"Webhook set: {shown_url(url, bot)} bot={bot.slug}"))
        self.stdout.write(f"Allowed updates: {', '.join(ALLOWED_UPDATES)}")
        if drop_pending:
            self.stdout.write("Pending updates were dropped.")
        if failed:
            raise CommandError(failed[0] if len(chosen) == 1 else
                               f"{len(failed)} of {len(chosen)} bots not registered: " + "; ".join(failed))
