"""The header's search box: a user id, @username, name, charge id (or its first 8+ characters), event id or
invoice payload lands on the customer page; several matches are listed; nothing found says so."""

import pytest
from django.urls import reverse

from telegram_payments.models import Customer, Invoice, PreCheckoutAnswer
from tests.factories import StripeEventFactory, customer_page
from tests.test_admin_refund import make_staff

pytestmark = pytest.mark.django_db

SEARCH = reverse("admin:telegram_payments_customer_search")


def page(user_id):
    return customer_page(user_id)  # the one match's page with its bot (here: the default bot)


@pytest.fixture
def desk(client, django_user_model, catalog):
    client.force_login(make_staff(django_user_model, "vic", ["telegram_payments.view_stripeevent"]))
    Customer.objects.create(user_id=111, first_name="Ada", last_name="Lovelace", username="ada_l")
    Customer.objects.create(user_id=222, first_name="Ada", last_name="Byron", username="countess")
    Customer.objects.create(user_id=333, first_name="Alan", last_name="Turing", username="")
    StripeEventFactory(customer_id="111", telegram_payment_charge_id="stxAAAAA111bbbb")
    StripeEventFactory(customer_id="222", telegram_payment_charge_id="stxAAAAA222cccc")
    StripeEventFactory(customer_id="333", telegram_payment_charge_id="stxZZZZ3333dddd")
    Invoice.objects.create(payload="inv_for_alan", user_id=333, product=catalog["premium_monthly"], price_stars=250)
    link = Invoice.objects.create(payload="inv_link_1", product=catalog["premium_monthly"], price_stars=250)
    PreCheckoutAnswer.objects.create(query_id="q", user_id=444, invoice=link, invoice_payload="inv_link_1",
                                     currency="XTR", total_amount=250, ok=True)
    return client


def search(client, term):
    return client.get(SEARCH, {"q": term})


@pytest.mark.parametrize("term, user_id", [
    ("111", 111),
    (" 333 ", 333),
    ("@ada_l", 111),
    ("@ADA_L", 111),
    ("Turing", 333),
    ("ada lovelace", 111),
    ("stxAAAAA111bbbb", 111),  # a whole charge id
    ("stxZZZZ3", 333),  # its first 8 characters
    ("tg_stars:payment:stxAAAAA222cccc", 222),  # an event id
    ("inv_for_alan", 333),  # an invoice issued to a user
    ("inv_link_1", 444),  # a link invoice: who answered its pre-checkout
])
def test_one_match_lands_on_the_customer_page(desk, term, user_id):
    response = search(desk, term)
    assert response.status_code == 302 and response.url == page(user_id)


def test_several_matches_are_listed(desk):
    html = search(desk, "ada").content.decode()
    assert 'id="search-several"' in html
    assert f'href="{page(111)}"' in html and f'href="{page(222)}"' in html and f'href="{page(333)}"' not in html
    html = search(desk, "stxAAAA").content.decode()  # seven characters: too short a prefix, and no name
    assert 'id="search-nothing"' in html
    html = search(desk, "stxAAAAA").content.decode()
    assert f'href="{page(111)}"' in html and f'href="{page(222)}"' in html


def test_nothing_found_says_so(desk):
    html = search(desk, "@nobody").content.decode()
    assert 'id="search-nothing"' in html and "@nobody" in html
    html = search(desk, "999").content.decode()  # an unknown id: offered anyway, e.g. to grant something
    assert 'id="search-nothing"' in html and f'href="{page(999)}"' in html
    assert 'id="search-empty"' in search(desk, "  ").content.decode()


def test_a_huge_term_is_a_400_and_a_secret_is_not_echoed(desk, stars):
    assert search(desk, "x" * 300).status_code == 400
    html = search(desk, stars.BOT_TOKEN).content.decode()
    assert stars.BOT_TOKEN not in html


def test_a_number_too_big_for_a_user_id_finds_nothing(desk):
    html = search(desk, "9" * 25).content.decode()
    assert 'id="search-nothing"' in html and 'id="open-anyway"' not in html
