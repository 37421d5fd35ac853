"""A payment or refund message is routed without PTB's full Message parse when it is plainly well
formed (`updates._plain_payment_message`); whenever it is, the full parse must agree on everything a
payment is recorded from. Property-based over the hostile-input suite's mutated Updates."""

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from telegram import Update

from telegram_payments.updates import (
    ALLOWED_UPDATES,
    InvalidUpdate,
    PaymentMessage,
    _check_field_types,
    _essential_fields,
    _plain_payment_message,
)

from .test_hostile_input import ENDPOINTS, mutated_bodies

UPDATE_ENDPOINTS = [e for e in ENDPOINTS if e.url == "/webhook/telegram"]


def essentials_of(body: dict) -> dict:
    return {kind: _essential_fields(kind, body[kind]) for kind in ALLOWED_UPDATES if kind in body}


def routed_on(message: PaymentMessage) -> tuple:
    return message.kind, message.chat_id, message.from_id, message.payment.to_dict()


def full_parse(essentials: dict) -> PaymentMessage | None:
    update = Update.de_json({"update_id": 1, **essentials}, None)
    assert update.pre_checkout_query is None
    return PaymentMessage.of(update.message)


@pytest.mark.parametrize("endpoint", UPDATE_ENDPOINTS, ids=lambda e: e.name)
def test_what_telegram_sends_takes_the_plain_path_and_reads_the_same(endpoint):
    essentials = essentials_of(endpoint.valid_body("stxCHARGE"))
    plain = _plain_payment_message(essentials)
    assert plain is not None
    assert plain.payment.telegram_payment_charge_id == "stxCHARGE"
    assert routed_on(plain) == routed_on(full_parse(essentials))


def test_a_message_without_a_payment_is_left_to_the_full_parse():
    body = ENDPOINTS[2].valid_body("stxCHARGE")
    body["message"].pop("successful_payment")
    body["message"]["text"] = "/status"
    assert _plain_payment_message(essentials_of(body)) is None


@pytest.mark.parametrize("endpoint", UPDATE_ENDPOINTS, ids=lambda e: e.name)
@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_whenever_the_plain_path_reads_a_payment_the_full_parse_reads_the_same(endpoint, data):
    essentials = essentials_of(data.draw(mutated_bodies(endpoint)))
    try:
        _check_field_types(essentials)  # runs first in process_update: a failure is a 400 either way
    except InvalidUpdate:
        event("rejected by the type checks")
        return
    plain = _plain_payment_message(essentials)
    event(f"plain path: {'taken' if plain else 'not taken'}")
    if plain is not None:
        assert routed_on(plain) == routed_on(full_parse(essentials))
