"""manage.py prune_outbox: delete outbox messages delivered long ago (undelivered ones are kept)."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from entitlements import outbox
from entitlements.management import argtypes


class Command(BaseCommand):
    help = ("Delete outbox messages delivered more than --older-than DAYS ago (default 30), with their "
            "delivery attempts. Undelivered messages are never deleted. --dry-run counts first.")

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=argtypes.days, metavar="DAYS", default=30)
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
        parser.add_argument("--batch-size", type=argtypes.batch_size, default=1000, help="messages per transaction")

    def handle(self, *args, older_than, dry_run, batch_size, **options):
        count = outbox.prune_delivered(older_than=timedelta(days=older_than), dry_run=dry_run,
                                       batch_size=batch_size)
        if dry_run:
            self.stdout.write(f"Dry run: {count} messages delivered over {older_than} days ago would be "
                              "deleted; nothing changed.")
        else:
            self.stdout.write(f"Pruned: {count} messages delivered over {older_than} days ago.")
