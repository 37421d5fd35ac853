"""Prune old processed events from the audit trail (or only their raw payloads), within the rules."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from entitlements.management import argtypes
from telegram_payments.conf import stars_settings
from telegram_payments.management.cli import Progress, add_bot_argument, chosen_bots
from telegram_payments.payments.retention import prune_events


class Command(BaseCommand):
    help = (
        "Delete processed events older than --older-than DAYS (default EVENT_RETENTION_DAYS), or with "
        "--payloads-only clear their raw payloads. Never failed or pending events, never an event an "
        "entitlement points to, never a payment/refund pair. Every bot's, unless --bot narrows. --dry-run counts first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=argtypes.days, metavar="DAYS", default=None,
                            help="retention in days (default: EVENT_RETENTION_DAYS)")
        parser.add_argument("--payloads-only", action="store_true",
                            help="keep the rows, clear only the stored raw payloads")
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
        parser.add_argument("--batch-size", type=argtypes.batch_size, default=1000, help="rows per transaction")
        add_bot_argument(parser, all_bots=True)

    def handle(self, *args, **options):
        days = options["older_than"] if options["older_than"] is not None else stars_settings.EVENT_RETENTION_DAYS
        if not 1 <= days <= argtypes.MAX_DAYS:  # the default comes from EVENT_RETENTION_DAYS
            raise CommandError(f"--older-than must be 1 to {argtypes.MAX_DAYS} days.")
        progress = Progress(self.stderr, "pruned", enabled=options["verbosity"] >= 1)

        def on_batch(pruned, selected):
            progress.total = selected
            progress.update(pruned)

        summary = prune_events(
            older_than=timedelta(days=days), payloads_only=options["payloads_only"],
            dry_run=options["dry_run"], batch_size=options["batch_size"],
            on_batch=on_batch, bots=chosen_bots(options) if options["bot"] is not None else None,
        )
        progress.finish()
        what = "payloads cleared" if options["payloads_only"] else "events deleted"
        before = f"received before {summary.cutoff:%Y-%m-%d %H:%M} UTC ({days} days)"
        if options["dry_run"]:
            self.stdout.write(f"Dry run: {summary.selected} {what.split()[0]} would be "
                              f"{what.split()[1]}, {before}; nothing changed.")
        else:
            self.stdout.write(f"Pruned: {summary.pruned} {what}, {before}.")
        if not options["payloads_only"]:
            self.stdout.write(
                f"Kept: {summary.kept_for_entitlements} behind entitlements, {summary.kept_in_pairs} in "
                f"payment/refund pairs, {summary.kept_unfinished} failed or pending."
            )
        elif summary.kept_unfinished:
            self.stdout.write(f"Kept: {summary.kept_unfinished} failed or pending.")
