"""manage.py add_bot --name NAME --slug SLUG: add a bot this deployment serves, from its @BotFather token.

The token is read from stdin (a pipe: `... | manage.py add_bot ...`), or asked for without echo on a
terminal; never taken as an argument, where it would stay in the shell's history and the process list.
"""

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from telegram_payments.logformat import shown_url
from telegram_payments.models import Bot
from telegram_payments.registry.credentials import CredentialError
from telegram_payments.registry.services import BotRefused, add_bot, webhook_url


class Command(BaseCommand):
    help = ("Add a bot (getMe checks its token first; its webhook path and secret are generated, its token and "
            "secret sealed under CREDENTIAL_KEYS). The token is read from stdin, or asked for on a terminal. "
            "Then run manage.py set_webhook --bot SLUG.")
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="what staff call it")
        parser.add_argument("--slug", required=True, help="its name in --bot, filters and metrics (a-z, 0-9, -, _)")

    def handle(self, *args, name, slug, **options):
        if Bot.objects.filter(slug=slug).exists():
            raise CommandError(f"A bot with the slug {slug!r} exists already.")
        token = self._token(options.get("stdin") or sys.stdin)
        if not token:
            raise CommandError("No token given (pipe it to stdin, or type it at the prompt).")
        try:
            bot = add_bot(name=name, slug=slug, token=token)
        except BotRefused as exc:
            raise CommandError(f"Not added: {exc}.") from None
        except CredentialError as exc:
            raise CommandError(f"Not added: {exc}") from None
        except IntegrityError:
            raise CommandError(f"Not added: the slug {slug!r} or that bot is taken (added meanwhile?).") from None
        url = webhook_url(bot)
        self.stdout.write(self.style.SUCCESS(f"Added {bot.slug}: @{bot.username} (id {bot.telegram_id})."))
        if url:
            # Printed once, here, for the operator: with the secret it is what Telegram posts to, so no log
            # line shows it (they show /webhook/bot/<slug>/).
            self.stdout.write(f"Webhook URL: {url} (keep it private; logs show {shown_url(url, bot)})")
        else:
            self.stdout.write("Webhook URL: none yet (set TELEGRAM_WEBHOOK_URL: its origin is every bot's)")
        self.stdout.write(f"Next: manage.py set_webhook --bot {bot.slug}")

    def _token(self, stdin) -> str:
        if getattr(stdin, "isatty", lambda: False)():
            return getpass.getpass("Bot token (from @BotFather; not shown): ").strip()
        return stdin.readline().strip()
