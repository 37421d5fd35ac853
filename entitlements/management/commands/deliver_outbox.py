"""manage.py deliver_outbox [--once]: POST grants and revokes to ENTITLEMENTS_SERVICE_URL.

A long-running worker by default (run one or several, on any machines: they never send the same
message at once); `--once` delivers what is due now and exits (for cron). Stops cleanly on
SIGTERM/SIGINT after the message in flight.
"""

import logging

from django.core.management.base import BaseCommand, CommandError

from entitlements import outbox
from entitlements.conf import entitlements_settings
from entitlements.management import argtypes
from entitlements.management.workers import run_until_stopped

logger = logging.getLogger("entitlements.outbox")


class Command(BaseCommand):
    help = "Deliver outbox messages (grants and revokes) to ENTITLEMENTS_SERVICE_URL, signed, in order per user."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Deliver what is due now, then exit.")
        parser.add_argument("--poll-interval", type=argtypes.seconds, default=1.0,
                            help="Seconds to wait when nothing is due (worker mode). Default 1.")
        parser.add_argument("--backoff-base", type=argtypes.seconds, default=outbox.BACKOFF_BASE_SECONDS,
                            help="Seconds before the first retry; doubles each failure. Default 5.")
        parser.add_argument("--backoff-max", type=argtypes.seconds, default=outbox.BACKOFF_MAX_SECONDS,
                            help="Longest wait between retries, in seconds. Default 3600.")

    def handle(self, *args, once, poll_interval, backoff_base, backoff_max, **options):
        if not entitlements_settings.ENTITLEMENTS_SERVICE_URL:
            raise CommandError("ENTITLEMENTS_SERVICE_URL is not set: nothing to deliver to.")
        if backoff_max < backoff_base:
            raise CommandError("--backoff-max must be at least --backoff-base.")
        backoff = {"backoff_base": backoff_base, "backoff_max": backoff_max}
        if once:
            delivered, failed = outbox.deliver_due(**backoff)
            self.stdout.write(f"delivered {delivered}, failed {failed} (will be retried)")
            return
        run_until_stopped("deliver_outbox", lambda: outbox.deliver_one(**backoff), poll_interval=poll_interval,
                          stdout=self.stdout, logger=logger)
