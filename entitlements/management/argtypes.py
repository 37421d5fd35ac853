"""argparse types for numbers given to management commands, shared by both apps.

A number out of range is a usage error naming the argument and its range (a CommandError when
called through `call_command`), never an OverflowError from `timedelta` or the database later.
"""

import argparse
import math

MAX_BIGINT = 2**63 - 1
MAX_DAYS = 36_500  # a hundred years: a longer span is a typo, and nothing larger fits every date column
MAX_BATCH = 1_000_000


def int_range(low: int, high: int, what: str = "a whole number"):
    """A type: an integer from `low` to `high` inclusive."""

    def parse(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{value[:40]!r} is not {what} from {low} to {high}")
        return number

    parse.__name__ = what
    return parse


def float_range(low: float, high: float, what: str = "a number"):
    """A type: a finite number from `low` to `high` inclusive (no nan, no inf)."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and low <= number <= high):
            raise argparse.ArgumentTypeError(f"{value[:40]!r} is not {what} from {low:g} to {high:g}")
        return number

    parse.__name__ = what
    return parse


# A Telegram user id as the webhooks and the entitlements API take it.
user_id = int_range(1, MAX_BIGINT, "a Telegram user id")
days = int_range(1, MAX_DAYS, "a number of days")
batch_size = int_range(1, MAX_BATCH, "a batch size")
# The waits of the long-running workers (deliver_outbox, refund_unfulfillable): up to 30 days.
seconds = float_range(0.001, 30 * 24 * 3600, "a number of seconds")
