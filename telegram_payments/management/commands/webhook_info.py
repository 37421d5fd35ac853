"""manage.py webhook_info: what Telegram knows of this bot's webhook (getWebhookInfo), readably."""

from django.core.management.base import BaseCommand, CommandError

from telegram_payments.bot.updates import ALLOWED_UPDATES
from telegram_payments.conf import stars_settings
from telegram_payments.registry import bots
from telegram_payments.telegram_api.client import BotApiError, call_bot


def _when(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else ""


class Command(BaseCommand):
    help = "Print the bot's webhook as Telegram sees it: URL, pending updates, last error and its date."

    def handle(self, *args, **options):
        try:
            info = call_bot("getWebhookInfo", lambda api: api.get_webhook_info(), bot=bots.default())
        except BotApiError as exc:
            raise CommandError(f"getWebhookInfo failed: {exc.description}") from None
        allowed = list(info.allowed_updates or ())
        rows = [
            ("URL", info.url or "(none: no webhook is set, run set_webhook)"),
            ("Pending updates", str(info.pending_update_count)),
            ("Allowed updates", ", ".join(allowed) or "(Telegram's default: all but a few)"),
            ("Max connections", str(info.max_connections or "")),
            ("IP address", info.ip_address or ""),
            ("Last error", f"{_when(info.last_error_date)}: {info.last_error_message}"
             if info.last_error_date else "none"),
            ("Last sync error", _when(info.last_synchronization_error_date) or "none"),
        ]
        for label, value in rows:
            if value:
                self.stdout.write(f"{label + ':':<17} {value}")
        if info.url and stars_settings.WEBHOOK_URL and info.url != stars_settings.WEBHOOK_URL:
            self.stdout.write(self.style.WARNING(
                f"Warning: TELEGRAM_WEBHOOK_URL is {stars_settings.WEBHOOK_URL}; run set_webhook."))
        if info.url and set(allowed) != set(ALLOWED_UPDATES):
            self.stdout.write(self.style.WARNING(
                f"Warning: this service handles {', '.join(ALLOWED_UPDATES)}; run set_webhook."))
