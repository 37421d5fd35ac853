"""Field limits of Telegram's types as this service stores them, and checks of single fields: one
place for the models' columns, the relay serializers (and so the schema) and the Update checks in
`bot.updates`. Values PostgreSQL can store, and codes that stay what they are when normalised."""

import re
from datetime import timedelta

MIN_BIGINT, MAX_BIGINT = -(2**63), 2**63 - 1
MAX_AMOUNT = 2**31 - 1  # Stars in one payment: Telegram's Integer

# Lengths of what we store (the columns are this long; Telegram's own limits are these or shorter).
CHARGE_ID_LENGTH = 255  # telegram_payment_charge_id, provider_payment_charge_id
INVOICE_PAYLOAD_LENGTH = 255  # as it arrives; the payloads we issue are at most 128 bytes (Telegram's limit)
ISSUED_PAYLOAD_LENGTH = 128
QUERY_ID_LENGTH = 255  # pre_checkout_query.id
ENTITLEMENT_TYPE_LENGTH = 100
REFUND_REASON_LENGTH = 1000  # the relay's refund_reason
SUBSCRIPTION_STATE_LENGTH = 32  # BotSubscriptionUpdated.state as sent (one we do not know is recorded as failed)

# Telegram's one period for Star subscriptions (createInvoiceLink's subscription_period, in seconds there).
SUBSCRIPTION_PERIOD = timedelta(days=30)

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
