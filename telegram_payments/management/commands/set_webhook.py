"""manage.py set_webhook [--drop-pending]: register this service's webhook with Telegram.

manage.py set_webhook --generate-secret: print a new random TELEGRAM_WEBHOOK_SECRET and nothing else.
"""

import secrets

from django.core.management.base import BaseCommand, CommandError

from telegram_payments.bot.updates import ALLOWED_UPDATES
from telegram_payments.conf import stars_settings
from telegram_payments.registry import bots
from telegram_payments.telegram_api.client import BotApiError, call_bot


class Command(BaseCommand):
    help = (
        "Register TELEGRAM_WEBHOOK_URL with Telegram (setWebhook), with TELEGRAM_WEBHOOK_SECRET as the "
        "secret token and only the update kinds this service handles."
    )

    def add_arguments(self, parser):
        parser.add_argument("--drop-pending", action="store_true",
                            help="Drop the updates Telegram is holding for the bot instead of delivering them.")
        parser.add_argument("--generate-secret", action="store_true",
                            help="Only print a new random secret (64 characters of A-Z a-z 0-9 _ -) to put in "
                                 "TELEGRAM_WEBHOOK_SECRET; calls nothing. Before any secret is set, run it with "
                                 "DEBUG=1 (settings refuse to load in production without one).")

    def handle(self, *args, drop_pending=False, generate_secret=False, **options):
        if generate_secret:
            if drop_pending:
                raise CommandError("--generate-secret only prints a secret; it cannot be combined with --drop-pending.")
            # 48 random bytes in URL-safe base64: 64 characters, all of them ones Telegram accepts.
            self.stdout.write(secrets.token_urlsafe(48))
            return
        url = stars_settings.WEBHOOK_URL
        if not url:
            raise CommandError("TELEGRAM_WEBHOOK_URL is not set: the public https URL of /webhook/telegram.")
        if not url.startswith("https://"):
            raise CommandError(f"TELEGRAM_WEBHOOK_URL must be an https URL (Telegram refuses others): {url}")
        if not stars_settings.WEBHOOK_SECRET:
            raise CommandError("TELEGRAM_WEBHOOK_SECRET is not set: without it the webhook would reject Telegram.")
        try:
            call_bot(
                "setWebhook",
                lambda api: api.set_webhook(
                    url=url,
                    secret_token=stars_settings.WEBHOOK_SECRET,
                    allowed_updates=list(ALLOWED_UPDATES),
                    drop_pending_updates=drop_pending,
                ), bot=bots.default())
        except BotApiError as exc:
            raise CommandError(f"setWebhook failed: {exc.description}") from None
        self.stdout.write(self.style.SUCCESS(f"Webhook set: {url}"))
        self.stdout.write(f"Allowed updates: {', '.join(ALLOWED_UPDATES)}")
        if drop_pending:
            self.stdout.write("Pending updates were dropped.")
