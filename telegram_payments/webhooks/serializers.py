"""Validation of the relay format (the original spec's two endpoints).

Each field's OpenAPI schema states exactly what it accepts, so that a request the schema allows is
never refused and one it forbids never accepted (tests/test_api_fuzzing.py checks both).
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from telegram_payments.telegram_api.limits import (
    CHARGE_ID_LENGTH,
    CURRENCY_PATTERN,
    ENTITLEMENT_TYPE_LENGTH,
    ISSUED_PAYLOAD_LENGTH,
    MAX_AMOUNT,
    MAX_BIGINT,
    REFUND_REASON_LENGTH,
)

# The characters str.strip() removes (Python's whitespace), spelled out: `\s` means other things in
# other regex engines, and the schema's patterns must read alike everywhere.
WHITESPACE = (
    "\\t\\n\\u000b\\u000c\\r\\u001c-\\u0020\\u0085\\u00a0\\u1680"
    "\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
)
NOT_BLANK_PATTERN = f"[^{WHITESPACE}]"  # somewhere a character that is not whitespace


def _digits_up_to(limit: int) -> str:
    """A regex of the ASCII digit strings whose value is 1..limit (leading zeros allowed; the length
    limit, len(str(limit)) characters, is the schema's maxLength)."""
    top = str(limit)
    shorter = f"0*[1-9][0-9]{{0,{len(top) - 2}}}"  # fewer significant digits than limit: always below it
    same_length = [top]  # as many digits as limit: at or below it, digit by digit
    for i, digit in enumerate(top):
        low = 1 if i == 0 else 0
        if int(digit) > low:
            rest = len(top) - i - 1
            same_length.append(f"{top[:i]}[{low}-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    return f"^(?:{shorter}|{'|'.join(same_length)})$"


USER_ID_STRING_PATTERN = _digits_up_to(MAX_BIGINT)


class StrictIntegerField(serializers.IntegerField):
    """An integer given as a JSON number, or (for ids) as a string of digits; never a bool or float."""

    def __init__(self, *, allow_digit_string=False, **kwargs):
        self.allow_digit_string = allow_digit_string
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or isinstance(data, float):
            self.fail("invalid")
        if isinstance(data, str):
            if not (self.allow_digit_string and data.isascii() and data.isdigit() and len(data) <= 19):
                self.fail("invalid")
        elif not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A JSON string; a number or bool given where text belongs is a mistake, not something to coerce.

    max_length counts the string as sent (whitespace that is then trimmed included), as the schema's
    maxLength does.
    """

    def run_validation(self, data=serializers.empty):
        if isinstance(data, str) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().run_validation(data)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "minLength": 1, "pattern": NOT_BLANK_PATTERN,
                      "description": "Not blank (whitespace around it is trimmed)."})
class NonBlankCharField(StrictCharField):
    """Required text: blank or whitespace only is refused."""


@extend_schema_field({
    "oneOf": [
        {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_BIGINT},
        {"type": "string", "pattern": USER_ID_STRING_PATTERN, "maxLength": len(str(MAX_BIGINT))},
    ],
    "description": "Telegram user id, 1 to 2^63-1: a JSON integer, or a string of at most 19 digits.",
})
class UserIdField(StrictIntegerField):
    def __init__(self, **kwargs):
        super().__init__(allow_digit_string=True, min_value=1, max_value=MAX_BIGINT, **kwargs)


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": CHARGE_ID_LENGTH,
                      "description": "Taken as sent (not trimmed)."})
class ChargeIdField(StrictCharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=CHARGE_ID_LENGTH, allow_blank=False, trim_whitespace=False, **kwargs)


@extend_schema_field({"type": "string", "pattern": "^[A-Za-z]{3}$", "example": "XTR",
                      "description": "A 3-letter currency code, as sent (no whitespace around it). Only exactly XTR "
                                     "(Telegram Stars) pays: any other code, xtr included, is stored as failed."})
class CurrencyField(serializers.RegexField):
    def __init__(self, **kwargs):
        super().__init__(CURRENCY_PATTERN, trim_whitespace=False,
                         error_messages={"invalid": "Must be a 3-letter currency code, e.g. XTR."}, **kwargs)


class WebhookBodySerializer(serializers.Serializer):
    """A webhook's request body: its schema also says what undeclared keys may hold
    (`schema.WebhookBodyExtension`): any JSON the webhook can store as sent."""


class SuccessfulPaymentRelaySerializer(WebhookBodySerializer):
    """A successful Stars payment in the relay format (other keys are stored with the body, unread)."""

    user_id = UserIdField()
    entitlement_type = NonBlankCharField(max_length=ENTITLEMENT_TYPE_LENGTH)
    invoice_id = StrictCharField(max_length=ISSUED_PAYLOAD_LENGTH, required=False, allow_blank=True, default="")
    telegram_payment_charge_id = ChargeIdField()
    provider_payment_charge_id = StrictCharField(
        max_length=CHARGE_ID_LENGTH, required=False, allow_blank=True, default=""
    )
    total_amount = StrictIntegerField(min_value=1, max_value=MAX_AMOUNT)
    currency = CurrencyField()


class RefundRelaySerializer(WebhookBodySerializer):
    """A refunded Stars payment in the relay format (other keys are stored with the body, unread)."""

    user_id = UserIdField()
    entitlement_type = StrictCharField(max_length=ENTITLEMENT_TYPE_LENGTH, required=False, allow_blank=True, default="")
    telegram_payment_charge_id = ChargeIdField()
    refund_reason = StrictCharField(max_length=REFUND_REASON_LENGTH, required=False, allow_blank=True, default="")
