"""Compare a bot's Star transactions at Telegram with its audit trail; --apply records what we are missing.
`--bot` picks the bot (default: the default bot); `--all-bots` runs for each active bot in turn."""

from django.core.management.base import BaseCommand, CommandError

from entitlements.management import argtypes
from telegram_payments.management.cli import Progress, add_bot_argument, chosen_bot, iso_datetime
from telegram_payments.payments.events import TRANSIENT_ERRORS
from telegram_payments.reconcile import (
    ATTENTION,
    MAX_PAGE_SIZE,
    MISSING,
    MISSING_PAYMENT,
    MISSING_REFUND,
    reconcile_stars,
)
from telegram_payments.reconcile.transactions import stars_text
from telegram_payments.registry import bots
from telegram_payments.telegram_api.client import BotApiError

EXIT_FAILED, EXIT_MISSING, EXIT_ATTENTION = 1, 2, 3
WORST_FIRST = (EXIT_FAILED, EXIT_MISSING, EXIT_ATTENTION, 0)  # --all-bots exits with the worst of its runs
MIXED_GROUPS = {"fees and commissions", "other movements"}  # net figures: show their kinds


class Command(BaseCommand):
    help = (
        "Page through getStarTransactions and compare with stripe_events: sales and refunds Telegram has and "
        "we lack, rows we have that Telegram does not; every other kind of transaction (withdrawals, ads, "
        "paid broadcasts, affiliate commissions, gifts, debits without a charge of ours, unknown kinds) "
        "summarised by kind; the balance Telegram reports (getMyStarBalance) beside what the audit trail "
        "implies, the difference explained by kind. A dry run unless --apply, which records the missing "
        "sales and refunds through the payment pipeline (source: reconciliation); a second run finds nothing. "
        "For one bot (--bot, default the default bot) or each in turn (--all-bots). "
        "The last line of each run is a one-line summary ending bot=<slug> (--summary: only that line). Exit "
        "status (--all-bots: the worst of its runs, in this order: 1, 2, 3, 0): 0 clean; 2 sales or "
        "refunds missing here (run --apply); 3 nothing missing, but something for a human (rows only here, "
        "recorded as failed or differently, debits without a charge of ours, unknown or unreadable "
        "transactions); 1 the run failed (Telegram or the database unreachable; safe to run again)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", type=iso_datetime,
                            help="only transactions (and our rows) from this ISO date/datetime, UTC; "
                                 "net figures always cover the whole history")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--apply", action="store_true", help="record the missing payments and refunds")
        mode.add_argument("--dry-run", action="store_true", help="only report (the default)")
        parser.add_argument("--page-size", type=argtypes.int_range(1, MAX_PAGE_SIZE, "a page size"),
                            default=MAX_PAGE_SIZE,
                            help=f"transactions per getStarTransactions call (1-{MAX_PAGE_SIZE})")
        parser.add_argument("--summary", action="store_true",
                            help="print only the one-line summary (for cron); the exit status is the same")
        which = parser.add_mutually_exclusive_group()
        add_bot_argument(which)
        which.add_argument("--all-bots", action="store_true", help="every active bot, in turn")

    def handle(self, *args, **options):
        if not options["all_bots"]:
            code, message = self._reconcile(chosen_bot(options), options)
            if code:
                raise CommandError(message, returncode=code)
            return
        outcomes = []
        for bot in bots.all():
            code, message = self._reconcile(bot, options)
            outcomes.append((code, bot.slug, message))
        worst = min((code for code, _, _ in outcomes), key=WORST_FIRST.index)
        if worst:
            raise CommandError("; ".join(f"{slug}: {message}" for code, slug, message in outcomes if code),
                               returncode=worst)

    def _reconcile(self, bot, options) -> tuple[int, str]:
        """Reconcile `bot`, print its report and summary line; (exit status, why it is not 0)."""
        if options["all_bots"] and not options["summary"]:
            self.stdout.write(f"== {bot.slug}" + (f" (@{bot.username})" if bot.username else ""))
        verbose = options["verbosity"] >= 1 and not options["summary"]
        fetching = Progress(self.stderr, "fetched transactions", every=1, enabled=verbose)
        applying = Progress(self.stderr, "reconciled", enabled=verbose, every=10)

        def on_applied(done, total):
            applying.total = total
            applying.update(done)

        try:
            result = reconcile_stars(
                bot=bot, since=options["since"], apply=options["apply"], page_size=options["page_size"],
                on_page=fetching.update, on_applied=on_applied,
            )
        except BotApiError as exc:
            failure = f"Telegram did not answer {exc.method}: {exc.description}"
        except TRANSIENT_ERRORS as exc:  # what was recorded stays recorded; a rerun picks up the rest
            failure = f"Database unavailable ({type(exc).__name__}); safe to run again."
        else:
            failure = ""
        fetching.finish()
        applying.finish()
        if failure:
            self.stdout.write(f"reconcile_stars status=failed bot={bot.slug}")
            return EXIT_FAILED, failure

        if not options["summary"]:
            self._report(result, options["since"])
        self.stdout.write(f"{self._summary_line(result, options['since'])} bot={bot.slug}")
        if result.outcome == MISSING:
            return EXIT_MISSING, f"{len(result.missing_here)} sale(s)/refund(s) missing here; run with --apply."
        if result.outcome == ATTENTION:
            return EXIT_ATTENTION, f"{result.attention} finding(s) for a human; nothing missing here."
        return 0, ""

    # --- the report -------------------------------------------------------------------------------
    def _report(self, result, since):
        window = f" since {since:%Y-%m-%d %H:%M} UTC" if since else ""
        self.stdout.write(
            f"Telegram: {result.fetched} transactions read, {result.payments} payments and {result.refunds} "
            f"refunds{window}. Here: {result.ours} payment/refund rows."
        )
        if result.differences:
            self._table(("difference", "event id", "user", "stars", "date (UTC)", "invoice payload", "detail"), [
                (d.kind, d.event_id, d.user_id, "" if d.amount is None else str(d.amount), _when(d.date),
                 d.invoice_payload, d.result or d.detail)
                for d in result.differences
            ])
        else:
            self.stdout.write(self.style.SUCCESS("No differences: the audit trail matches Telegram."))
        for event in result.failed_here:
            self.stdout.write(self.style.WARNING(
                f"Recorded here as failed: {event.event_id}: {event.error} (fix, then replay_events --failed)"
            ))
        for event, what in result.mismatches:
            self.stdout.write(self.style.WARNING(f"Recorded differently: {event.event_id}: {what}"))

        if result.movements:
            self.stdout.write(f"Other Star movements{window} (not sales of ours):")
            self._table(("kind", "direction", "count", "stars", "notes"), [
                (m.kind, m.direction, str(m.count), _signed(m.nanostars), m.notes) for m in result.movements
            ], indent="  ")
        for title, transactions in (("Debits without a charge of ours", result.debits_without_charge),
                                    ("Unknown kinds of transaction", result.unknown)):
            if transactions:
                self.stdout.write(self.style.WARNING(f"{title} ({len(transactions)}):"))
                self._table(("transaction id", "date (UTC)", "stars", "partner", "detail"), [
                    (t.id, _when(t.date), _signed(t.signed_nanostars), t.partner_type,
                     ", ".join(filter(None, [t.transaction_type, t.detail]))) for t in transactions
                ], indent="  ")
        for bad in result.unreadable:
            self.stdout.write(self.style.WARNING(
                f"Unreadable transaction #{bad.position}{f' ({bad.transaction_id})' if bad.transaction_id else ''}: "
                f"{bad.reason}"
            ))
        self._net(result.net)

        if result.applied:
            missing = [d for d in result.differences if d.charge is not None]
            self.stdout.write(
                f"Applied: {len(missing) - len(result.recorded_as_failed)} of {len(missing)} recorded, "
                f"{len(result.recorded_as_failed)} recorded as failed; {len(result.only_here)} only here "
                "(left for a human)."
            )
        elif result.differences:
            self.stdout.write(
                f"Dry run: {len(result.missing_here)} missing here, {len(result.only_here)} only here; nothing "
                "changed. Run with --apply to record the missing ones."
            )

    def _net(self, net):
        self.stdout.write("Net figures, whole history (Stars):")
        rows = []
        for label, nanostars, parts in net.groups:
            kinds = ", ".join(f"{kind} {_signed(n)}" for kind, n in parts) if label in MIXED_GROUPS else ""
            rows.append((label, _signed(nanostars), kinds))
        rows.append(("Telegram's list, total", _signed(net.listed_total), ""))
        if net.reported_balance is None:
            rows.append(("balance reported by Telegram", "not available",
                         f"{net.balance_error}; the list's total is used"))
        else:
            rows.append(("balance reported by Telegram", stars_text(net.reported_balance), "getMyStarBalance"))
        rows.append(("implied by the audit trail", stars_text(net.recorded_here), "payments - refunds recorded here"))
        rows.append(("difference", _signed(net.difference), "explained by:" if net.explained else ""))
        self._table(("", "", ""), rows, indent="  ", show_columns=False, cut_last=False)
        for label, nanostars in net.explained:
            self.stdout.write(f"    {label}: {_signed(nanostars)}")
        if net.unexplained:
            self.stdout.write(self.style.WARNING(f"    unexplained: {_signed(net.unexplained)}"))

    def _summary_line(self, result, since):
        net = result.net
        fields = {
            "status": result.outcome,
            "missing_payments": sum(d.kind == MISSING_PAYMENT for d in result.missing_here),
            "missing_refunds": sum(d.kind == MISSING_REFUND for d in result.missing_here),
            "recorded": (sum(d.result in {"processed", "duplicate"} for d in result.differences)
                         if result.applied else None),
            "only_here": len(result.only_here),
            "failed_here": len(result.failed_here) + len(result.recorded_as_failed),
            "recorded_differently": len(result.mismatches),
            "debits_without_charge": len(result.debits_without_charge),
            "debits_without_charge_stars": stars_text(sum(t.nanostars for t in result.debits_without_charge)),
            "unknown": len(result.unknown),
            "unreadable": len(result.unreadable),
            "balance_stars": "unavailable" if net.reported_balance is None else stars_text(net.reported_balance),
            "audit_trail_stars": stars_text(net.recorded_here),
            "since": f"{since:%Y-%m-%dT%H:%MZ}" if since else None,
        }
        return "reconcile_stars " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)

    def _table(self, columns, rows, indent="", show_columns=True, cut_last=True):
        """Rows in aligned columns; cells over 60 characters are cut (the last one only if `cut_last`)."""
        lines = [columns, *rows] if show_columns else rows
        widths = [min(60, max(len(str(row[i])) for row in lines)) for i in range(len(columns))]
        for row in lines:
            cells = [str(cell)[:60].ljust(width) for cell, width in zip(row, widths, strict=True)]
            if not cut_last:
                cells[-1] = str(row[-1])
            self.stdout.write(indent + "  ".join(cells).rstrip())


def _when(date) -> str:
    return f"{date:%Y-%m-%d %H:%M}" if date else ""


def _signed(nanostars: int) -> str:
    return ("+" if nanostars > 0 else "") + stars_text(nanostars)
