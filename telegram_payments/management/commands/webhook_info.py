"""manage.py webhook_info [--bot BOT]: what Telegram knows of each bot's webhook (getWebhookInfo), readably."""

from django.core.management.base import BaseCommand, CommandError

from telegram_payments.bot.updates import ALLOWED_UPDATES
from telegram_payments.logformat import shown_url
from telegram_payments.management.cli import add_bot_argument, chosen_bots
from telegram_payments.registry.services import webhook_url
from telegram_payments.telegram_api.client import BotApiError, call_bot


def _when(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else ""


class Command(BaseCommand):
    help = ("Print each bot's webhook as Telegram sees it (every active bot, or --bot): URL, pending updates, "
            "last error and its date. A stored bot's path is shown as its slug.")

    def add_arguments(self, parser):
        add_bot_argument(parser, all_bots=True)

    def handle(self, *args, **options):
        chosen = chosen_bots(options)
        failed = []
        for bot in chosen:
            if len(chosen) > 1:
                self.stdout.write(f"Bot {bot.slug}" + (f" (@{bot.username})" if bot.username else "") + ":")
            try:
                info = call_bot("getWebhookInfo", lambda api: api.get_webhook_info(), bot=bot)
            except BotApiError as exc:
                failed.append(f"{bot.slug}: getWebhookInfo failed: {exc.description}")
                self.stdout.write(self.style.ERROR(f"getWebhookInfo failed: {exc.description}"))
                continue
            self._show(info, bot)
        if failed:
            raise CommandError("; ".join(failed) if len(chosen) == 1 else
                               f"{len(failed)} of {len(chosen)} bots: " + "; ".join(failed))

    def _show(self, info, bot):
        allowed = list(info.allowed_updates or ())
        rows = [
            ("URL", shown_url(info.url, bot) if info.url else "(none: no webhook is set, run set_webhook)"),
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
        expected = webhook_url(bot)
        if info.url and expected and info.url != expected:
            setting = "TELEGRAM_WEBHOOK_URL is" if bot.is_default else "its URL is"
            self.stdout.write(self.style.WARNING(f"Warning: {setting} {shown_url(expected, bot)}; run set_webhook."))
        if info.url and set(allowed) != set(ALLOWED_UPDATES):
            self.stdout.write(self.style.WARNING(
                f"Warning: this service handles {', '.join(ALLOWED_UPDATES)}; run set_webhook."))
