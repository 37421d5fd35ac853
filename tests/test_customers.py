"""Who a customer is: id, name and @username as last seen in their live Updates, one upsert per update."""

import pytest

from telegram_payments.bot.updates import process_update
from telegram_payments.models import Customer, EventSource
from telegram_payments.registry import bots
from tests.conftest import load_update

pytestmark = pytest.mark.django_db

ADA = 555000111


def test_a_pre_checkout_query_records_its_sender(catalog):
    process_update(load_update("pre_checkout_query"))
    ada = Customer.objects.get(user_id=ADA)
    assert (ada.first_name, ada.last_name, ada.username, ada.name) == ("Ada", "Lovelace", "ada_l", "Ada Lovelace")


def test_a_message_and_a_button_press_record_their_sender(catalog, fake_bot_api):
    process_update(load_update("command"))
    assert Customer.objects.filter(user_id=ADA).exists()
    Customer.objects.all().delete()
    process_update(load_update("callback_query"))
    assert Customer.objects.get(user_id=ADA).username == "ada_l"


def test_the_latest_name_wins_and_there_is_one_row_per_user(catalog):
    first = load_update("pre_checkout_query")
    process_update(first)
    seen_first = Customer.objects.get(user_id=ADA).last_seen_at
    renamed = load_update("pre_checkout_query")
    renamed["update_id"] += 1
    renamed["pre_checkout_query"]["id"] = "another-query"
    renamed["pre_checkout_query"]["from"].update(first_name="Augusta", username="augusta")
    del renamed["pre_checkout_query"]["from"]["last_name"]
    process_update(renamed)
    ada = Customer.objects.get(user_id=ADA)
    assert (ada.first_name, ada.last_name, ada.username) == ("Augusta", "", "augusta")
    assert ada.last_seen_at >= seen_first and Customer.objects.count() == 1


def test_one_statement_per_update(catalog, fake_bot_api, django_assert_num_queries):
    from telegram_payments.bot.updates import Update
    from telegram_payments.payments import customers

    update = Update.de_json(load_update("callback_query"), None)
    with django_assert_num_queries(1):
        customers.remember(update, bot=bots.default())


def test_a_replayed_update_says_nothing_about_who_they_are_now(catalog):
    process_update(load_update("pre_checkout_query"), source=EventSource.REPLAY)
    assert not Customer.objects.exists()


def test_an_update_without_a_sender_records_no_one(catalog):
    process_update({"update_id": 1, "message": {"message_id": 1, "date": 1795000000,
                                                "chat": {"id": -100, "type": "channel"}, "text": "hi"}})
    assert not Customer.objects.exists()


@pytest.mark.parametrize("first_name", [123, ["Ada"], {"x": 1}, None, "A" * 300])
def test_an_odd_name_is_stored_as_text_or_dropped_never_an_error(catalog, first_name):
    body = load_update("pre_checkout_query")
    body["pre_checkout_query"]["from"]["first_name"] = first_name
    process_update(body)
    stored = Customer.objects.get(user_id=ADA).first_name
    assert stored == (first_name.replace("\x00", "")[:255] if isinstance(first_name, str) else "")


def test_a_nul_in_a_name_is_dropped():
    # The webhook refuses a NUL anywhere in a body; a replayed or relayed text must not break the upsert.
    from telegram_payments.payments.customers import _text

    assert _text("Ada\x00Lovelace") == "AdaLovelace" and _text("\ud800x") == "?x"
