"""Checks of single webhook fields shared by both routes (the relay serializers and the Update
checks in `updates`): values PostgreSQL can store, and codes that stay what they are when normalised."""

import re

MIN_BIGINT, MAX_BIGINT = -(2**63), 2**63 - 1

# Three ASCII letters, as Telegram sends them (XTR). ASCII only: `str.upper()` turns some other letters
# into two ("ß" -> "SS"), and the stored code is upper-cased into a 3-character column.
CURRENCY_PATTERN = r"\A[A-Za-z]{3}\Z"
_CURRENCY = re.compile(CURRENCY_PATTERN)


def is_bigint(value) -> bool:
    """An integer (not a bool) that fits a PostgreSQL bigint."""
    return isinstance(value, int) and not isinstance(value, bool) and MIN_BIGINT <= value <= MAX_BIGINT


def user_id_from(value) -> int | None:
    """`value` (an int, or a string of digits) as a Telegram user id our tables can hold (1 to
    MAX_BIGINT), else None."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_BIGINT else None


def is_user_id(value) -> bool:
    """A user id as JSON carries it in a Bot API Update: an integer (not a bool, not a string) that
    `user_id_from` takes, the one range of user ids on every route."""
    return isinstance(value, int) and not isinstance(value, bool) and user_id_from(value) is not None


def is_stars_currency(code: str) -> bool:
    """The one currency rule of a payment: it pays in Telegram Stars only when its code is exactly
    `XTR`, as Telegram sends it. Any other 3-letter code, `xtr` included, is no Stars payment (the
    payment is recorded as failed, a pre-checkout query declined)."""
    return code == "XTR"


def is_currency_code(value) -> bool:
    """A 3-letter currency code (`CURRENCY_PATTERN`)."""
    return isinstance(value, str) and _CURRENCY.match(value) is not None
