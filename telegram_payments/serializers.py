"""Validation of the relay format (the original spec's two endpoints)."""

from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
    ProhibitNullCharactersValidator,
    RegexValidator,
)
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.utils.serializer_helpers import BindingDict
from rest_framework.validators import ProhibitSurrogateCharactersValidator

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


class SharedFieldsMixin:
    """Bind the declared fields once per serializer class, not once per request.

    DRF deep-copies and binds every declared field for each serializer instance: over half of the
    validation of a relay body (bench/). These fields hold nothing per request (validators and
    messages are only read; values and errors live on the serializer instance), so every instance
    of the class can share one bound set. Only for flat serializers like these: no nested
    serializers and no field that reads `context`.
    """

    @property
    def fields(self):
        bound = type(self).__dict__.get("_shared_fields")
        if bound is None:  # two threads may both bind a set the first time: either one will do
            bound = BindingDict(self)
            for name, field in self.get_fields().items():
                bound[name] = field
            type(self)._shared_fields = bound
        return bound


# The validators a plain value is known to pass by the checks in `PlainBodyMixin._plain_check`.
_PLAIN_VALIDATORS = (MaxLengthValidator, MaxValueValidator, MinValueValidator, RegexValidator,
                     ProhibitNullCharactersValidator, ProhibitSurrogateCharactersValidator)


class PlainBodyMixin:
    """A short way through validation for a body whose every field is plainly fine.

    `plain_data(body)` returns what `validated_data` would be when each field holds a value of its
    exact JSON type (an int for a number, an ASCII string without surrounding whitespace or NUL for
    text) inside the field's own limits, read off the declared fields; for anything else it returns
    None and the serializer validates as usual, so every 400 and its wording still come from DRF.
    DRF's per-field machinery took about 35 us per body: little against a request's ~1 ms of Python,
    but the largest part of what a payment adds to the floor's; without it, new payments went from
    0.73-0.76x to 0.79-0.81x the floor (bench/, README).
    tests/test_serializers.py checks, for thousands of mutated bodies, that whenever it answers,
    the serializer accepts the body with the same validated data.
    """

    @classmethod
    def plain_data(cls, data) -> dict | None:
        fields = cls.__dict__.get("_plain_fields")
        if fields is None:  # built once per class (two threads may both build it: either will do)
            fields = cls._plain_fields = cls._plain_fields_of()
        if not fields or not isinstance(data, dict):
            return None
        validated = {}
        for name, check, default in fields:
            value = data.get(name, empty)
            if value is empty:
                if default is empty:  # required (or no default): the serializer says so
                    return None
                validated[name] = default
            elif check(value):
                validated[name] = value
            else:
                return None
        return validated

    @classmethod
    def _plain_fields_of(cls) -> list:
        """[(name, check, default)] for every declared field, or [] if one cannot be judged here."""
        meta = getattr(cls, "Meta", None)
        if cls.validate is not serializers.Serializer.validate or getattr(meta, "validators", None):
            return []  # checks across fields: only the serializer knows them
        fields = []
        for name, field in cls._declared_fields.items():
            check = cls._plain_check(field)
            plain = (check is not None and not field.read_only and field.source in (None, name)
                     and (field.default is empty or not callable(field.default)))
            if not plain:
                return []
            fields.append((name, check, empty if field.required else field.default))
        return fields

    @staticmethod
    def _plain_check(field):
        """A test of a value that the field would take unchanged, or None for a field it cannot judge.

        The limits are read off the field's validators, so a validator passed by hand counts too."""
        low, high, longest, patterns = -(2**63), 2**63 - 1, 2**31, []
        for validator in field.validators:
            limit = getattr(validator, "limit_value", None)
            if callable(limit) or not isinstance(validator, _PLAIN_VALIDATORS):
                return None
            if isinstance(validator, MaxValueValidator):
                high = min(high, limit)
            elif isinstance(validator, MinValueValidator):
                low = max(low, limit)
            elif isinstance(validator, MaxLengthValidator):
                longest = min(longest, limit)
            elif isinstance(validator, RegexValidator):
                if validator.inverse_match:
                    return None
                patterns.append(validator.regex)
        if isinstance(field, StrictIntegerField):
            return lambda v: type(v) is int and low <= v <= high
        if type(field) in (StrictCharField, ChargeIdField, serializers.RegexField):
            shortest = 0 if field.allow_blank else 1

            def check(v):
                return (type(v) is str and shortest <= len(v) <= longest and v.isascii() and "\x00" not in v
                        and (not field.trim_whitespace or v == v.strip())
                        and all(p.search(v) for p in patterns))

            return check
        return None


class SuccessfulPaymentRelaySerializer(PlainBodyMixin, SharedFieldsMixin, serializers.Serializer):
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


class RefundRelaySerializer(PlainBodyMixin, SharedFieldsMixin, serializers.Serializer):
    user_id = UserIdField()
    entitlement_type = StrictCharField(max_length=100, required=False, allow_blank=True, default="")
    telegram_payment_charge_id = ChargeIdField()
    refund_reason = StrictCharField(max_length=1000, required=False, allow_blank=True, default="")
