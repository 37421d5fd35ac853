"""`manage.py dev_bot_api`: development only. A stand-in for the Telegram Bot API on loopback, so that
/buy, invoice links, staff refunds, the balance refresh and reconciliation can be tried without a bot.

It answers every method this service calls as Telegram would, prints each call (secrets redacted),
and keeps the bot's Star transactions (a payment `simulate_payment` sends, a refund staff make).
`./scripts/run.sh` starts it and points TELEGRAM_API_BASE_URL at it. Refused without DEBUG.
"""

import json
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from telegram_payments.conf import stars_settings
from telegram_payments.devtools.botapi import start_fake_bot_api, stop_fake_bot_api
from telegram_payments.redaction import redact

DEFAULT_PORT = 8081


class Command(BaseCommand):
    help = "Development only (DEBUG): serve a stand-in for the Telegram Bot API on 127.0.0.1."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                            help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("dev_bot_api is for development only: refused without DEBUG.")
        if not stars_settings.BOT_TOKEN:
            raise CommandError("Set TELEGRAM_BOT_TOKEN (any token-shaped value) for the stand-in to accept.")
        if not 1 <= options["port"] <= 65535:
            raise CommandError("--port must be 1 to 65535.")

        def show(call, status):
            self.stdout.write(f"{status} {call.method} {json.dumps(redact(call.params), ensure_ascii=False)}")
            self.stdout.flush()

        try:
            fake = start_fake_bot_api(stars_settings.BOT_TOKEN, port=options["port"], keeps_ledger=True,
                                      on_call=show, max_calls=10_000)
        except OSError as exc:
            raise CommandError(f"Cannot listen on 127.0.0.1:{options['port']}: {exc.strerror}") from None
        self.stdout.write(f"Bot API stand-in on {fake.base_url} (TELEGRAM_API_BASE_URL); Ctrl-C stops it.")
        self.stdout.flush()
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass
        finally:
            stop_fake_bot_api(fake)
