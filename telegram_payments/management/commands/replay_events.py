"""Reprocess stored events (failed, stuck in pending, or chosen by id) through the webhook's own code;
a buyer whose payment this completes is thanked once (TELEGRAM_STARS["THANK_BUYERS"])."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from entitlements.management import argtypes
from telegram_payments.management.cli import Progress, add_bot_argument, chosen_bots, iso_datetime
from telegram_payments.payments.events import TRANSIENT_ERRORS, Outcome
from telegram_payments.payments.notices import replay_and_thank
from telegram_payments.reads.selectors import events_to_replay

MINUTES = argtypes.int_range(0, argtypes.MAX_DAYS * 24 * 60, "a number of minutes")


class Command(BaseCommand):
    help = (
        "Replay stored events through exactly the code a webhook runs: --failed, --pending (stuck "
        "longer than --older-than minutes) and/or --ids, narrowed by --type, --since/--until and --bot "
        "(an event id names its bot: --ids needs no --bot). "
        "Exits 1 when any event is still failing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--failed", action="store_true", help="events whose status is failed")
        parser.add_argument("--pending", action="store_true", help="events stuck in pending")
        parser.add_argument("--older-than", type=MINUTES, default=5, metavar="MINUTES",
                            help="with --pending: only events received more than this long ago (default 5)")
        parser.add_argument("--ids", nargs="+", default=[], metavar="EVENT_ID",
                            help="these event ids (e.g. tg_stars:payment:<charge id>)")
        parser.add_argument("--type", dest="event_type", metavar="TYPE",
                            help="payment, refund, or a full event type such as telegram_stars.refund")
        parser.add_argument("--since", type=iso_datetime, help="received at or after (ISO date/datetime, UTC)")
        parser.add_argument("--until", type=iso_datetime, help="received before (ISO date/datetime, UTC)")
        parser.add_argument("--dry-run", action="store_true", help="list what would be replayed, change nothing")
        add_bot_argument(parser, all_bots=True)

    def handle(self, *args, **options):
        if not (options["failed"] or options["pending"] or options["ids"]):
            raise CommandError("Choose what to replay: --failed, --pending and/or --ids EVENT_ID ...")
        events = list(
            events_to_replay(
                failed=options["failed"],
                pending=options["pending"],
                stuck_after=timedelta(minutes=options["older_than"]),
                event_ids=options["ids"],
                event_type=options["event_type"],
                since=options["since"],
                until=options["until"],
                bots=chosen_bots(options) if options["bot"] is not None else None,
            )
        )
        missing = sorted(set(options["ids"]) - {e.event_id for e in events})
        for event_id in missing:
            self.stderr.write(f"not found (or outside --type/--since/--until): {event_id}")
        total = len(events)

        if options["dry_run"]:
            for event in events:
                self.stdout.write(f"would replay {event.event_id}  [{event.get_status_display()}]  {event.error}")
            self.stdout.write(f"Dry run: {total} event(s) would be replayed; nothing changed.")
            return

        progress = Progress(self.stderr, "replayed", total, enabled=options["verbosity"] >= 1)
        counts = dict.fromkeys(Outcome, 0)
        failures = []
        aborted = None
        for event in events:
            try:
                outcome = replay_and_thank(event=event)
            except TRANSIENT_ERRORS as exc:  # the database went away: stop, the rest stays as it was
                aborted = f"{type(exc).__name__}: {exc}"
                break
            counts[outcome.status] += 1
            if outcome.status == Outcome.FAILED:
                failures.append(outcome.event)
            progress.step()
        progress.finish()

        replayed = counts[Outcome.PROCESSED] + counts[Outcome.FAILED]
        self.stdout.write(
            f"Replayed {replayed} of {total}: {counts[Outcome.PROCESSED]} processed, "
            f"{counts[Outcome.FAILED]} still failing"
            + (f", {counts[Outcome.DUPLICATE]} already processed (left alone)" if counts[Outcome.DUPLICATE] else "")
        )
        for event in failures:
            self.stdout.write(f"  FAILED {event.event_id} (attempt {event.attempts}): {event.error}")
        if aborted:
            raise CommandError(f"Stopped after {replayed} of {total}: database unavailable ({aborted}).")
        if failures or missing:
            raise CommandError(
                f"{len(failures)} event(s) still failing" + (f", {len(missing)} id(s) not found" if missing else "")
            )
