"""Feed saved Telegram updates (JSON Lines) through the webhook's own pipeline, e.g. after an outage."""

import sys
from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from telegram_payments.bot.updates import InvalidUpdate, process_update
from telegram_payments.conf import stars_settings
from telegram_payments.management.cli import Progress, add_bot_argument, chosen_bot
from telegram_payments.models import EventSource
from telegram_payments.payments.events import TRANSIENT_ERRORS, Outcome
from telegram_payments.telegram_api.limits import is_bigint
from telegram_payments.webhooks.guards import load_storable_json


class Command(BaseCommand):
    help = (
        "Process a file of raw Bot API Update JSON, one per line ('-' for stdin), through the webhook "
        "pipeline. Payments, refunds and subscription updates are recorded once (duplicates reported as "
        "such); commands and pre-checkout queries are not re-answered. Bad lines are reported with their "
        "number and skipped. Exits 1 when any line was bad or any event failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="JSON Lines file of updates, or - for stdin")
        parser.add_argument("--dry-run", action="store_true", help="check every line, store nothing")
        add_bot_argument(parser)  # the bot the updates were sent to

    def handle(self, *args, **options):
        bot = chosen_bot(options)
        lines = self._read(options["file"])
        progress = Progress(self.stderr, "updates", len(lines), enabled=options["verbosity"] >= 1)
        counts: Counter[str] = Counter()
        problems: list[str] = []
        for number, line in enumerate(lines, start=1):
            progress.step()
            if not line.strip():
                continue
            problem, data = _read_line(line)
            if problem:
                problems.append(f"line {number}: {problem}")
                counts["bad"] += 1
                continue
            if options["dry_run"]:
                problem = _shape_problem(data)
                if problem:
                    problems.append(f"line {number}: {problem}")
                counts["bad" if problem else "valid"] += 1
                continue
            try:
                result = process_update(data, bot=bot, source=EventSource.REPLAY)
            except InvalidUpdate as exc:
                problems.append(f"line {number}: {exc}")
                counts["bad"] += 1
                continue
            except TRANSIENT_ERRORS as exc:  # stop: the rest of the file stays for the next run
                progress.finish()
                raise CommandError(
                    f"database unavailable at line {number} ({type(exc).__name__}); lines before it are "
                    "stored, run the same command again when it is back"
                ) from None
            counts[result.status] += 1
            if result.status == Outcome.FAILED:
                problems.append(f"line {number}: {result.outcome.event.event_id} failed: {result.outcome.event.error}")
        progress.finish()

        if options["dry_run"]:
            self.stdout.write(
                f"Dry run: {counts['valid']} update(s) valid, {counts['bad']} bad line(s); nothing stored."
            )
        else:
            self.stdout.write(
                f"Updates: {counts['processed']} processed, {counts['duplicate']} duplicate, "
                f"{counts['failed']} failed, {counts['ignored']} ignored, {counts['bad']} bad line(s)."
            )
        for problem in problems:
            self.stdout.write(f"  {problem}")
        if counts["bad"] or counts["failed"]:
            sys.exit(1)

    def _read(self, path: str) -> list[bytes]:
        """The file's lines as bytes: split on line ends only (a JSON string may hold U+2028), and
        decoded one by one, so one line that is not UTF-8 is one bad line."""
        if path == "-":
            stdin = sys.stdin
            raw = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode("utf-8", "surrogatepass")
            return raw.splitlines()
        try:
            with open(path, "rb") as handle:
                return handle.read().splitlines()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None


def _read_line(line: bytes) -> tuple[str, object]:
    """(problem, value) of one line, read as the webhook reads a body: at most its size limit, UTF-8,
    JSON it would store (no NUL, NaN, lone surrogate or absurd nesting). The problem is "" if none."""
    limit = stars_settings.WEBHOOK_MAX_BODY_BYTES
    if len(line) > limit:
        return f"longer than the webhook takes ({len(line)} bytes, WEBHOOK_MAX_BODY_BYTES is {limit})", None
    try:
        return "", load_storable_json(line.decode("utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8", None
    except ValueError as exc:
        return f"not JSON the webhook would take ({str(exc)[:200]})", None


def _shape_problem(data) -> str:
    if not isinstance(data, dict):
        return "not a JSON object"
    if not is_bigint(data.get("update_id")):
        return "no integer update_id (signed 64-bit)"
    return ""
