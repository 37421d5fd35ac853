"""Compare Telegram's Star transactions with the audit trail; --apply records what we are missing."""

from django.core.management.base import BaseCommand, CommandError

from payments_project import argtypes
from telegram_payments.bot import BotApiError
from telegram_payments.management.cli import Progress, iso_datetime
from telegram_payments.reconcile import MAX_PAGE_SIZE, ONLY_HERE, reconcile_stars
from telegram_payments.services import TRANSIENT_ERRORS


class Command(BaseCommand):
    help = (
        "Page through getStarTransactions and compare with stripe_events: payments and refunds Telegram "
        "has and we lack, rows we have that Telegram does not. A dry run unless --apply, which records "
        "the missing ones through the normal services (source: reconciliation). Exits 1 while "
        "differences remain or anything failed; a second --apply run finds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", type=iso_datetime,
                            help="only transactions (and our rows) from this ISO date/datetime, UTC")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--apply", action="store_true", help="record the missing payments and refunds")
        mode.add_argument("--dry-run", action="store_true", help="only report (the default)")
        parser.add_argument("--page-size", type=argtypes.int_range(1, MAX_PAGE_SIZE, "a page size"),
                            default=MAX_PAGE_SIZE,
                            help=f"transactions per getStarTransactions call (1-{MAX_PAGE_SIZE})")

    def handle(self, *args, **options):
        verbose = options["verbosity"] >= 1
        fetching = Progress(self.stderr, "fetched transactions", every=1, enabled=verbose)
        applying = Progress(self.stderr, "reconciled", enabled=verbose, every=10)

        def on_applied(done, total):
            applying.total = total
            applying.update(done)

        try:
            result = reconcile_stars(
                since=options["since"], apply=options["apply"], page_size=options["page_size"],
                on_page=fetching.update, on_applied=on_applied,
            )
        except BotApiError as exc:
            raise CommandError(f"Telegram did not answer getStarTransactions: {exc.description}") from None
        except TRANSIENT_ERRORS as exc:  # what was recorded stays recorded; a rerun picks up the rest
            raise CommandError(f"Database unavailable ({type(exc).__name__}); safe to run again.") from None
        fetching.finish()
        applying.finish()

        window = f" since {options['since']:%Y-%m-%d %H:%M} UTC" if options["since"] else ""
        self.stdout.write(
            f"Telegram: {result.fetched} transactions read, {result.payments} payments and {result.refunds} "
            f"refunds{window} ({result.ignored} other transactions ignored). Here: {result.ours} payment/refund rows."
        )
        if result.differences:
            self._table(result)
        else:
            self.stdout.write(self.style.SUCCESS("No differences: the audit trail matches Telegram."))
        for event in result.failed_here:
            self.stdout.write(self.style.WARNING(
                f"Recorded here as failed: {event.event_id}: {event.error} (fix, then replay_events --failed)"
            ))
        for event, what in result.mismatches:
            self.stdout.write(self.style.WARNING(f"Recorded differently: {event.event_id}: {what}"))

        missing = [d for d in result.differences if d.kind != ONLY_HERE]
        only_here = len(result.differences) - len(missing)
        if not result.applied:
            if result.differences:
                self.stdout.write(
                    f"Dry run: {len(missing)} missing here, {only_here} only here; nothing changed. "
                    "Run with --apply to record the missing ones."
                )
                raise CommandError(f"{len(result.differences)} difference(s) with Telegram.")
            return
        recorded = sum(d.result in {"processed", "duplicate"} for d in missing)
        failed = len(missing) - recorded
        self.stdout.write(
            f"Applied: {recorded} of {len(missing)} recorded, {failed} recorded as failed; "
            f"{only_here} only here (left for a human)."
        )
        if failed or only_here:
            raise CommandError(f"{failed} recorded as failed, {only_here} row(s) only here.")

    def _table(self, result):
        header = ("difference", "event id", "user", "stars", "date (UTC)", "invoice payload", "detail")
        rows = []
        for d in result.differences:
            rows.append((
                d.kind, d.event_id, d.user_id, "" if d.amount is None else str(d.amount),
                f"{d.date:%Y-%m-%d %H:%M}" if d.date else "", d.invoice_payload, d.result or d.detail,
            ))
        widths = [min(60, max(len(str(row[i])) for row in [header, *rows])) for i in range(len(header))]
        for row in [header, *rows]:
            cells = (str(cell)[:60].ljust(width) for cell, width in zip(row, widths, strict=True))
            self.stdout.write("  ".join(cells).rstrip())
