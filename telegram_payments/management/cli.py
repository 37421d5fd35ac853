"""What the operators' commands share: ISO date arguments, the bot a command is for (`--bot`), and
progress on long runs.

Progress is a count that updates ("replayed 1200/5000"). On a terminal the line is rewritten in
place; in a log (not a tty) a line is written every `every` items and at the end, so a cron log
stays short. Progress goes to stderr, the summary to stdout.
"""

import argparse
from datetime import UTC, datetime

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from telegram_payments.models import Bot
from telegram_payments.registry import bots


def iso_datetime(value: str) -> datetime:
    """argparse type: an ISO date (`2026-11-29`, midnight UTC) or datetime (UTC unless it says),
    returned in UTC."""
    parsed = parse_datetime(value)
    if parsed is None:
        try:
            day = parse_date(value)
        except ValueError:
            day = None
        if day is None:
            raise argparse.ArgumentTypeError(f"not an ISO date or datetime: {value!r}")
        parsed = datetime(day.year, day.month, day.day)
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)  # compared in UTC: 0001-01-01T00:00+01:00 is before year 1
    except OverflowError:
        raise argparse.ArgumentTypeError(f"out of the range of dates in UTC: {value!r}") from None


def add_bot_argument(parser, *, all_bots: bool = False) -> None:
    """Add `--bot` (a slug, an @username or a Telegram id). Without it a command acts for the default
    bot, or with `all_bots` for every active bot (`chosen_bots`)."""
    default = "every active bot" if all_bots else "the default bot"
    parser.add_argument("--bot", metavar="BOT", default=None,
                        help=f"the bot: its slug, @username or Telegram id (default: {default})")


def chosen_bot(options):
    """The bot `--bot` names, or the default bot without it. An unknown name is a CommandError that
    says what was given and lists the known slugs."""
    name = options.get("bot")
    if name is None:
        return bots.default()
    try:
        return bots.find(name)
    except bots.UnknownBot:
        known = ", ".join(Bot.objects.order_by("slug").values_list("slug", flat=True))
        raise CommandError(f"No bot {name!r} (--bot takes a slug, an @username or a Telegram id). "
                           f"Known: {known}.") from None


def chosen_bots(options) -> list:
    """The bot `--bot` names, else every active bot (the default first)."""
    if options.get("bot") is not None:
        return [chosen_bot(options)]
    return bots.all()


class Progress:
    def __init__(self, stream, label: str, total: int | None = None, *, every: int = 100, enabled: bool = True):
        self.stream = stream
        self.label = label
        self.total = total
        self.every = max(1, every)
        self.enabled = enabled
        self.done = 0
        self._tty = bool(getattr(stream, "isatty", lambda: False)())

    def step(self, n: int = 1) -> None:
        self.update(self.done + n)

    def update(self, done: int) -> None:
        previous, self.done = self.done, done
        if not self.enabled:
            return
        if self._tty:
            self.stream.write(f"\r{self._text()}", ending="")
            self.stream.flush()
        elif self.done // self.every > previous // self.every or self.done == self.total:
            self.stream.write(self._text())

    def finish(self) -> None:
        if self.enabled and self._tty:
            self.stream.write("")

    def _text(self) -> str:
        return f"{self.label} {self.done}/{self.total}" if self.total is not None else f"{self.label} {self.done}"
