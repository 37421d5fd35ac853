"""The Bot API client against the fake Bot API server over real HTTP."""

import pytest

from telegram_payments.registry import bots
from telegram_payments.telegram_api.client import BotApiError, call_bot

pytestmark = pytest.mark.django_db  # the bot called is a row (the default bot)


def test_call_goes_over_http_to_the_configured_base_url(fake_bot_api):
    me = call_bot("getMe", lambda api: api.get_me(), bot=bots.default())
    assert me.username == "stars_test_bot"
    assert [c.method for c in fake_bot_api.calls] == ["getMe"]


def test_consecutive_calls_each_work(fake_bot_api):
    # PTB's Bot cannot be reused across asyncio.run calls; the client builds one per call.
    for _ in range(3):
        assert call_bot("refundStarPayment", lambda api: api.refund_star_payment(7, "c1"), bot=bots.default()) is True
    assert fake_bot_api.calls_of("refundStarPayment") == [
        {"user_id": 7, "telegram_payment_charge_id": "c1"}] * 3


def test_bot_api_error_keeps_telegrams_description(fake_bot_api):
    fake_bot_api.respond("refundStarPayment", error=(400, "Bad Request: CHARGE_ALREADY_REFUNDED"))
    with pytest.raises(BotApiError) as caught:
        call_bot("refundStarPayment", lambda api: api.refund_star_payment(7, "c1"), bot=bots.default())
    assert "CHARGE_ALREADY_REFUNDED" in caught.value.description
    assert not caught.value.transient


def test_retry_after_is_transient_with_its_delay(fake_bot_api):
    fake_bot_api.respond("getMe", retry_after=7)
    with pytest.raises(BotApiError) as caught:
        call_bot("getMe", lambda api: api.get_me(), bot=bots.default())
    assert caught.value.transient and caught.value.retry_after == 7
    assert "retry after 7" in str(caught.value)


def test_server_error_and_closed_port_are_transient(fake_bot_api, stars):
    fake_bot_api.respond("getMe", http_status=500)
    with pytest.raises(BotApiError) as caught:
        call_bot("getMe", lambda api: api.get_me(), bot=bots.default())
    assert caught.value.transient
    stars.API_BASE_URL = "http://127.0.0.1:9"
    with pytest.raises(BotApiError) as caught:
        call_bot("getMe", lambda api: api.get_me(), bot=bots.default())
    assert caught.value.transient


def test_token_never_appears_in_errors(fake_bot_api, stars):
    stars.BOT_TOKEN = "999:wrong-token-that-is-secret"
    with pytest.raises(BotApiError) as caught:
        call_bot("getMe", lambda api: api.get_me(), bot=bots.default())
    assert "wrong-token-that-is-secret" not in str(caught.value)
    assert "wrong-token-that-is-secret" not in repr(caught.value.__dict__)
