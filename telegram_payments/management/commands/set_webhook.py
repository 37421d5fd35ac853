"""manage.py set_webhook [--drop-pending]: register this service's webhook with Telegram."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from telegram_payments.bot.client import BotApiError, call_bot
from telegram_payments.bot.updates import ALLOWED_UPDATES


class Command(BaseCommand):
    help = (
        "Register TELEGRAM_WEBHOOK_URL with Telegram (setWebhook), with TELEGRAM_WEBHOOK_SECRET as the "
        "secret token and only the update kinds this service handles."
    )

    def add_arguments(self, parser):
        parser.add_argument("--drop-pending", action="store_true",
                            help="Drop the updates Telegram is holding for the bot instead of delivering them.")

    def handle(self, *args, drop_pending=False, **options):
        url = settings.TELEGRAM_WEBHOOK_URL
        if not url:
            raise CommandError("TELEGRAM_WEBHOOK_URL is not set: the public https URL of /webhook/telegram.")
        if not url.startswith("https://"):
            raise CommandError(f"TELEGRAM_WEBHOOK_URL must be an https URL (Telegram refuses others): {url}")
        if not settings.TELEGRAM_WEBHOOK_SECRET:
            raise CommandError("TELEGRAM_WEBHOOK_SECRET is not set: without it the webhook would reject Telegram.")
        try:
            call_bot(
                "setWebhook",
                lambda bot: bot.set_webhook(
                    url=url,
                    secret_token=settings.TELEGRAM_WEBHOOK_SECRET,
                    allowed_updates=list(ALLOWED_UPDATES),
                    drop_pending_updates=drop_pending,
                ),
            )
        except BotApiError as exc:
            raise CommandError(f"setWebhook failed: {exc.description}") from None
        self.stdout.write(self.style.SUCCESS(f"Webhook set: {url}"))
        self.stdout.write(f"Allowed updates: {', '.join(ALLOWED_UPDATES)}")
        if drop_pending:
            self.stdout.write("Pending updates were dropped.")
