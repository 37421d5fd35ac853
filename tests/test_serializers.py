"""The relay serializers share one bound set of fields per class (SharedFieldsMixin): instances must
still share no values and no errors, also when validating at the same time in several threads.
And their short way for plainly valid bodies (PlainBodyMixin) never accepts what they would not."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.validators import MaxLengthValidator, MaxValueValidator
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from telegram_payments.serializers import (
    PlainBodyMixin,
    RefundRelaySerializer,
    StrictCharField,
    StrictIntegerField,
    SuccessfulPaymentRelaySerializer,
)

from .test_hostile_input import ENDPOINTS, mutated_bodies


def body(n):
    return {"user_id": n, "entitlement_type": "premium_monthly", "invoice_id": "", "total_amount": 250 + n,
            "telegram_payment_charge_id": f"c{n}", "currency": "XTR"}


def validate(n):
    data = body(n) if n % 3 else {**body(n), "total_amount": "many"}  # every third one invalid
    serializer = SuccessfulPaymentRelaySerializer(data=data)
    if serializer.is_valid():
        return n, dict(serializer.validated_data), None
    return n, None, serializer.errors


def test_instances_share_no_values_or_errors_across_threads():
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(validate, range(1, 601)))
    for n, validated, errors in results:
        if n % 3:
            assert errors is None
            assert (validated["user_id"], validated["total_amount"], validated["telegram_payment_charge_id"]) == (
                n, 250 + n, f"c{n}")
            assert validated["provider_payment_charge_id"] == ""  # the default, not another body's value
        else:
            assert validated is None and set(errors) == {"total_amount"}


def test_each_class_has_its_own_fields():
    assert set(SuccessfulPaymentRelaySerializer().fields) != set(RefundRelaySerializer().fields)
    assert set(RefundRelaySerializer().fields) == {"user_id", "entitlement_type", "telegram_payment_charge_id",
                                                   "refund_reason"}


# --- PlainBodyMixin: the short way must never accept what the serializer would not ----------------

RELAYS = [(SuccessfulPaymentRelaySerializer, ENDPOINTS[0]), (RefundRelaySerializer, ENDPOINTS[1])]
relay_param = pytest.mark.parametrize(("serializer_class", "endpoint"), RELAYS, ids=["payment", "refund"])

# Plain values next to the edges a check could get wrong: limits, whitespace, non-ASCII, NUL, types.
edge_values = st.one_of(
    st.integers(min_value=-3, max_value=3), st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, True, 1.0]),
    st.sampled_from(["", " ", "XTR", "xtr", "XT", "XTRR", "XTR\n", " XTR", "X\x00R", "ΧΤΡ", "ΑΒΓ", "a\ud800", "1",
                     "12", "a" * 100, "a" * 101, "a" * 128, "a" * 129, "a" * 255, "a" * 256, " a", "a ",
                     "premium_monthly"]),
)


@st.composite
def relay_bodies(draw, endpoint):
    """A third: the hostile suite's mutated bodies. The rest: a valid body, its user id often a number
    (what the plain way takes), with up to two fields set to values at the edges of the checks."""
    if draw(st.integers(0, 2)) == 0:
        return draw(mutated_bodies(endpoint))
    body = endpoint.valid_body(draw(st.text(alphabet="stxABC_- 0123456789", min_size=1, max_size=12)))
    if draw(st.integers(0, 3)):
        body["user_id"] = draw(st.integers(min_value=-1, max_value=2**64) | st.sampled_from([1, 2**63 - 1]))
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=2)):
        body[key] = draw(edge_values)
    return body


def full_validation(serializer_class, body):
    serializer = serializer_class(data=body)
    return dict(serializer.validated_data) if serializer.is_valid() else None


@relay_param
def test_a_body_as_relays_send_it_takes_the_plain_way(serializer_class, endpoint):
    body = {**endpoint.valid_body("stxCHARGE"), "user_id": 123456789}
    plain = serializer_class.plain_data(body)
    assert plain is not None and plain["telegram_payment_charge_id"] == "stxCHARGE"
    assert plain == full_validation(serializer_class, body)


@relay_param
@settings(max_examples=600, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_whenever_the_plain_way_answers_the_serializer_gives_the_same_data(serializer_class, endpoint, data):
    body = data.draw(relay_bodies(endpoint))
    plain = serializer_class.plain_data(body)
    event(f"plain way: {'taken' if plain is not None else 'not taken'}")
    if plain is not None:
        assert full_validation(serializer_class, body) == plain


def test_a_serializer_with_a_field_it_cannot_judge_always_takes_the_full_way():
    class WithDate(PlainBodyMixin, serializers.Serializer):
        name = StrictCharField(max_length=10)
        when = serializers.DateField()

    class WithValidate(PlainBodyMixin, serializers.Serializer):
        name = StrictCharField(max_length=10)

        def validate(self, attrs):
            raise serializers.ValidationError("never")

    assert WithDate.plain_data({"name": "a", "when": "2026-01-01"}) is None
    assert WithValidate.plain_data({"name": "a"}) is None


def test_limits_are_read_off_the_validators_including_one_passed_by_hand():
    class Tighter(PlainBodyMixin, serializers.Serializer):
        name = StrictCharField(max_length=10, validators=[MaxLengthValidator(3)])
        count = StrictIntegerField(min_value=1, validators=[MaxValueValidator(5)])

    assert Tighter.plain_data({"name": "abc", "count": 5}) == {"name": "abc", "count": 5}
    for body in ({"name": "abcd", "count": 5}, {"name": "abc", "count": 6}, {"name": "abc", "count": 0}):
        assert Tighter.plain_data(body) is None
        assert not Tighter(data=body).is_valid()
