"""Every user id with an event is a customer, named from their latest Update: the demo's customers
have their names and are found by @username, the Customers list counts every user with an event, a
relay payment's user is listed (no name yet)."""

import copy

import pytest
from django.core.management import call_command
from django.urls import reverse

from telegram_payments.models import Customer, EventSource, StripeEvent
from telegram_payments.payments.pipeline import handle_successful_payment
from tests.conftest import load_update
from tests.factories import customer_page

pytestmark = pytest.mark.django_db


def test_the_demo_customers_have_their_names_and_are_found_by_username(admin_client, settings, catalog):
    settings.DEBUG = True
    call_command("load_demo_history")
    users = set(StripeEvent.objects.values_list("customer_id", flat=True))
    assert {str(c.user_id) for c in Customer.objects.all()} == users
    assert Customer.objects.get(user_id=1001).name == "Ana Souza"
    search = admin_client.get(reverse("admin:telegram_payments_customer_search"), {"q": "@ana_demo"})
    assert search.status_code == 302 and search.url == customer_page(1001)
    page = admin_client.get(search.url).content.decode()
    assert "Ana Souza" in page and "Name not seen yet" not in page
    listing = admin_client.get(reverse("admin:telegram_payments_customer_changelist"))
    assert listing.context["cl"].result_count == len(users) == 4


def test_a_relay_payments_user_is_a_customer_and_a_live_update_names_them(catalog, post_json):
    handle_successful_payment(user_id=4711, telegram_payment_charge_id="relay-only", total_amount=250,
                              currency="XTR", entitlement_type="premium_monthly", source=EventSource.RELAY,
                              payload={"user_id": 4711})
    customer = Customer.objects.get(user_id=4711)
    assert customer.name == "" and customer.username == ""
    update = copy.deepcopy(load_update("command"))
    update["message"]["from"].update(id=4711, first_name="Grace", last_name="Hopper", username="grace")
    update["message"]["chat"]["id"] = 4711
    post_json("/webhook/telegram", update)
    assert Customer.objects.get(user_id=4711).name == "Grace Hopper"  # the latest Update's name
    # A later relay payment never blanks a known name.
    handle_successful_payment(user_id=4711, telegram_payment_charge_id="relay-two", total_amount=250,
                              currency="XTR", entitlement_type="premium_monthly", source=EventSource.RELAY,
                              payload={})
    assert Customer.objects.get(user_id=4711).username == "grace" and Customer.objects.count() == 1
