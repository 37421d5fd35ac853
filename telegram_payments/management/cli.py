"""What the operators' commands share: ISO date arguments and progress on long runs.

Progress is a count that updates ("replayed 1200/5000"). On a terminal the line is rewritten in
place; in a log (not a tty) a line is written every `every` items and at the end, so a cron log
stays short. Progress goes to stderr, the summary to stdout.
"""

import argparse
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime


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
