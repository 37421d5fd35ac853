"""manage.py refund_unfulfillable [--once]: refund, through the Bot API, the payments queued by the
AUTO_REFUND_UNFULFILLABLE policy (failed for a reason nobody can fix), and tell each buyer why.

A long-running worker by default (run it under the process manager, like deliver_outbox; several
never refund the same payment at once); `--once` refunds what is due now and exits (for cron).
A Bot API failure is retried with backoff, up to --max-attempts; then the payment waits for staff.
Stops cleanly on SIGTERM/SIGINT after the refund in flight.
"""

import logging

from django.core.management.base import BaseCommand, CommandError

from entitlements.management import argtypes
from entitlements.management.workers import run_until_stopped
from telegram_payments.conf import stars_settings
from telegram_payments.management.cli import add_bot_argument, chosen_bots
from telegram_payments.payments import autorefunds

logger = logging.getLogger("telegram_payments.autorefunds")
ATTEMPTS = argtypes.int_range(1, 1000, "a number of attempts")


class Command(BaseCommand):
    help = ("Refund the failed payments nobody can fulfil (AUTO_REFUND_UNFULFILLABLE) through the Bot API, "
            "record each refund (source policy) and tell the buyer why. Every bot's, unless --bot narrows.")

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Refund what is due now, then exit.")
        parser.add_argument("--poll-interval", type=argtypes.seconds, default=5.0,
                            help="Seconds to wait when nothing is due (worker mode). Default 5.")
        parser.add_argument("--backoff-base", type=argtypes.seconds, default=autorefunds.BACKOFF_BASE_SECONDS,
                            help="Seconds before the first retry; doubles each failure. Default 5.")
        parser.add_argument("--backoff-max", type=argtypes.seconds, default=autorefunds.BACKOFF_MAX_SECONDS,
                            help="Longest wait between retries, in seconds. Default 3600.")
        parser.add_argument("--max-attempts", type=ATTEMPTS, default=autorefunds.MAX_ATTEMPTS,
                            help="Give up (leave it to staff) after this many failed tries. Default 10.")
        add_bot_argument(parser, all_bots=True)

    def handle(self, *args, once, poll_interval, backoff_base, backoff_max, max_attempts, **options):
        if not stars_settings.AUTO_REFUND_UNFULFILLABLE:
            raise CommandError("AUTO_REFUND_UNFULFILLABLE is off: nothing is refunded automatically.")
        if backoff_max < backoff_base:
            raise CommandError("--backoff-max must be at least --backoff-base.")
        limits = {"backoff_base": backoff_base, "backoff_max": backoff_max, "max_attempts": max_attempts,
                  "bots": chosen_bots(options) if options.get("bot") is not None else None}
        if once:
            refunded, left_alone, failed = autorefunds.refund_due(**limits)
            self.stdout.write(f"refunded {refunded}, left alone {left_alone} (replayed or refunded already), "
                              f"failed {failed} (will be retried)")
            return
        run_until_stopped("refund_unfulfillable", lambda: autorefunds.refund_one(**limits),
                          poll_interval=poll_interval, stdout=self.stdout, logger=logger)
