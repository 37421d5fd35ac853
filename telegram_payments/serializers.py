"""Validation of the relay format (the original spec's two endpoints)."""

from rest_framework import serializers

from .validation import CURRENCY_PATTERN

MAX_BIGINT = 2**63 - 1
MAX_INT = 2**31 - 1


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
    """A JSON string; a number or bool given where text belongs is a mistake, not something to coerce."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class UserIdField(StrictIntegerField):
    def __init__(self, **kwargs):
        super().__init__(allow_digit_string=True, min_value=1, max_value=MAX_BIGINT, **kwargs)


class ChargeIdField(StrictCharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=255, allow_blank=False, trim_whitespace=False, **kwargs)


class SuccessfulPaymentRelaySerializer(serializers.Serializer):
    user_id = UserIdField()
    entitlement_type = StrictCharField(max_length=100)
    invoice_id = StrictCharField(max_length=128, required=False, allow_blank=True, default="")
    telegram_payment_charge_id = ChargeIdField()
    provider_payment_charge_id = StrictCharField(
        max_length=255, required=False, allow_blank=True, default=""
    )
    total_amount = StrictIntegerField(min_value=1, max_value=MAX_INT)
    currency = serializers.RegexField(
        CURRENCY_PATTERN, error_messages={"invalid": "Must be a 3-letter currency code, e.g. XTR."}
    )


class RefundRelaySerializer(serializers.Serializer):
    user_id = UserIdField()
    entitlement_type = StrictCharField(max_length=100, required=False, allow_blank=True, default="")
    telegram_payment_charge_id = ChargeIdField()
    refund_reason = StrictCharField(max_length=1000, required=False, allow_blank=True, default="")
