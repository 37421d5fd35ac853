"""Subscription updates (`Update.subscription`, Bot API 10.2) through POST /webhook/telegram, and where
each subscription stands: recorded once, one current state, a failed renewal told to the user and counted.

The Bot API is faked only at its HTTP boundary (`fake_bot_api`); our database, services, view and admin
are the real ones.
"""

import copy
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from entitlements.models import Entitlement
from telegram_payments.bot.subscription_updates import RENEWAL_FAILED_TEXT
from telegram_payments.bot.updates import process_update
from telegram_payments.models import (
    EVENT_SUBSCRIPTION,
    EventSource,
    EventStatus,
    Invoice,
    StripeEvent,
    Subscription,
    SubscriptionState,
)
from telegram_payments.payments.pipeline import replay_event
from telegram_payments.payments.subscriptions import paid_until_text
from tests.conftest import answer_status, load_update
from tests.test_metrics import delta, scrape

URL = "/webhook/telegram"
BUYER = 555000111
PAYLOAD = "inv_fixture_subscription"

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscription_invoice(subscription_catalog):
    return Invoice.objects.create(payload=PAYLOAD, user_id=None, product=subscription_catalog["premium_subscription"],
                                  price_stars=200, subscription_period=2592000)


def subscription_update(fixture: str, /, *, update_id: int | None = None, **fields) -> dict:
    data = copy.deepcopy(load_update(f"subscription_{fixture}"))
    if update_id is not None:
        data["update_id"] = update_id
    data["subscription"].update(fields)
    return data


def payment_update(name: str, *, ends) -> dict:
    data = copy.deepcopy(load_update(name))
    data["message"]["successful_payment"]["subscription_expiration_date"] = int(ends.timestamp())
    return data


def subscription() -> Subscription:
    return Subscription.objects.get(user_id=BUYER, invoice_payload=PAYLOAD)


def nothing_stored() -> bool:
    return not (StripeEvent.objects.exists() or Subscription.objects.exists())


# --- each update: recorded once, the state set ---------------------------------------------------

@pytest.mark.parametrize("state, expected", [
    ("canceled", SubscriptionState.CANCELLED),
    ("active", SubscriptionState.RENEWING),
    ("failed", SubscriptionState.RENEWAL_FAILED),
])
def test_each_update_is_one_event_and_sets_the_state(post_json, fake_bot_api, subscription_invoice, state, expected):
    body = subscription_update(state)
    response = post_json(URL, body)
    assert response.status_code == 200
    event = StripeEvent.objects.get()
    assert event.event_id == f"tg_stars:subscription:{body['update_id']}"
    assert (event.event_type, event.status, event.customer_id, event.invoice_payload, event.update_id) == (
        EVENT_SUBSCRIPTION, EventStatus.PROCESSED, str(BUYER), PAYLOAD, body["update_id"])
    assert event.entitlement_type == "premium_subscription" and event.amount_cents is None
    assert f"Telegram: {state}." in event.note and expected.label in event.note
    assert event.payload == body
    current = subscription()
    assert (current.state, current.source, current.last_event_id, current.last_update_id) == (
        expected, EventSource.TELEGRAM, event.event_id, body["update_id"])
    assert not Entitlement.objects.exists()  # a subscription update grants and ends nothing
    assert fake_bot_api.calls == []  # any message goes out as the webhook's answer


@pytest.mark.parametrize("memory", [1000, 0])
def test_a_redelivered_update_is_a_duplicate(post_json, stars, subscription_invoice, memory):
    stars.WEBHOOK_REDELIVERY_MEMORY = memory
    first = post_json(URL, subscription_update("canceled")).json()
    again = post_json(URL, subscription_update("canceled")).json()
    assert answer_status(first) == "processed" and answer_status(again) == "duplicate"
    assert again["event_id"] == "tg_stars:subscription:704118010"
    assert StripeEvent.objects.count() == 1 and Subscription.objects.count() == 1


def test_a_redelivered_failed_renewal_tells_the_user_once(post_json, subscription_invoice):
    first = post_json(URL, subscription_update("failed")).json()
    again = post_json(URL, subscription_update("failed")).json()
    assert first["method"] == "sendMessage" and answer_status(again) == "duplicate"


def test_an_update_for_a_payload_we_never_issued_is_recorded_as_failed(post_json, subscription_invoice):
    response = post_json(URL, subscription_update("failed", invoice_payload="inv_not_ours"))
    assert response.status_code == 200 and answer_status(response.json()) == "failed"  # no message either
    event = StripeEvent.objects.get()
    assert event.status == EventStatus.FAILED
    assert event.error == "unknown invoice 'inv_not_ours': not a subscription we issued"
    assert not Subscription.objects.exists()
    # Redelivered: the same failed event, not a second one.
    assert answer_status(post_json(URL, subscription_update("failed", invoice_payload="inv_not_ours")).json()) \
        == "duplicate"
    assert StripeEvent.objects.count() == 1


def test_an_update_for_a_one_time_product_or_another_users_invoice_is_failed(post_json, catalog,
                                                                             subscription_invoice):
    Invoice.objects.create(payload="inv_one_time", product=catalog["premium_monthly"], price_stars=250)
    Invoice.objects.create(payload="inv_for_bob", user_id=42, product=subscription_invoice.product,
                           price_stars=200)
    post_json(URL, subscription_update("canceled", update_id=1, invoice_payload="inv_one_time"))
    post_json(URL, subscription_update("canceled", update_id=2, invoice_payload="inv_for_bob"))
    errors = list(StripeEvent.objects.order_by("update_id").values_list("error", flat=True))
    assert errors == ["invoice 'inv_one_time' is for 'premium_monthly', which is not a subscription",
                      "update for user 555000111, but the invoice was issued to user 42"]
    assert not Subscription.objects.exists()


def test_a_state_we_do_not_know_is_recorded_as_failed_not_refused(post_json, subscription_invoice):
    response = post_json(URL, subscription_update("canceled", state="paused"))
    assert response.status_code == 200 and answer_status(response.json()) == "failed"
    assert StripeEvent.objects.get().error == "unknown subscription state 'paused'"


@pytest.mark.parametrize("change, field", [
    ({"user": None}, "subscription.user.id"),
    ({"user": {"id": "555000111", "is_bot": False, "first_name": "Ada"}}, "subscription.user.id"),
    ({"user": {"id": 555000111}}, "body"),  # not a User
    ({"invoice_payload": ["inv"]}, "subscription.invoice_payload"),
    ({"invoice_payload": "x" * 256}, "subscription.invoice_payload"),
    ({"invoice_payload": ""}, "subscription.invoice_payload"),
    ({"state": 1}, "subscription.state"),
    ({"state": "s" * 33}, "subscription.state"),
])
def test_a_subscription_that_is_not_what_telegram_sends_is_400(post_json, subscription_invoice, change, field):
    response = post_json(URL, subscription_update("canceled", **change))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert nothing_stored()


@pytest.mark.parametrize("body", [{"update_id": 7, "subscription": "canceled"},
                                  {"update_id": 7, "subscription": {"user": {"id": 1, "is_bot": False,
                                                                             "first_name": "A"}}}])
def test_a_subscription_missing_its_fields_is_400(post_json, subscription_invoice, body):
    assert post_json(URL, body).status_code == 400
    assert nothing_stored()


# --- a failed renewal --------------------------------------------------------------------------

def test_a_failed_renewal_tells_the_user_how_to_renew_and_ends_nothing(post_json, subscription_invoice):
    ends = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    post_json(URL, payment_update("subscription_first_payment", ends=ends))
    answer = post_json(URL, subscription_update("failed")).json()
    assert answer == {"method": "sendMessage", "chat_id": BUYER, "text": RENEWAL_FAILED_TEXT.format(
        title=subscription_invoice.product.title, until=paid_until_text(ends))}
    assert ends.strftime("%Y-%m-%d %H:%M") in answer["text"] and "/buy" in answer["text"]
    grant = Entitlement.objects.get()
    assert grant.revoked_at is None and grant.expires_at == ends  # access runs to the end already paid for
    assert (subscription().state, subscription().paid_until) == (SubscriptionState.RENEWAL_FAILED, ends)


def test_no_message_when_thanking_buyers_is_off(post_json, stars, subscription_invoice):
    stars.THANK_BUYERS = False
    answer = post_json(URL, subscription_update("failed")).json()
    assert answer_status(answer) == "processed" and "method" not in answer


def test_an_older_update_arriving_late_changes_nothing(post_json, subscription_invoice):
    """The renewal (a later update) went through; the failure reported before it arrives after it."""
    ends = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    post_json(URL, payment_update("subscription_renewal", ends=ends))  # update 704118004
    answer = post_json(URL, subscription_update("failed", update_id=704118000)).json()
    assert answer_status(answer) == "processed" and "method" not in answer  # recorded, nobody told
    late = StripeEvent.objects.get(event_id="tg_stars:subscription:704118000")
    assert "Not applied" in late.note and "704118004" in late.note
    assert (subscription().state, subscription().last_update_id) == (SubscriptionState.RENEWING, 704118004)


def test_subscription_updates_are_counted_by_state(client, post_json, subscription_invoice):
    before = scrape(client)
    post_json(URL, subscription_update("failed"))
    post_json(URL, subscription_update("failed"))  # a copy: counted as a duplicate only
    post_json(URL, subscription_update("canceled", update_id=704118020))
    post_json(URL, subscription_update("canceled", update_id=704118021, invoice_payload="inv_not_ours"))
    after = scrape(client)
    assert delta(before, after, "telegram_stars_subscription_updates_total", bot="default", state="failed") == 1
    assert delta(before, after, "telegram_stars_subscription_updates_total", bot="default", state="canceled") == 1
    assert delta(before, after, "telegram_stars_duplicate_events_total", bot="default", kind="subscription") == 1
    assert delta(before, after, "telegram_stars_failed_events_total", bot="default", kind="subscription") == 1


# --- replay, staff ------------------------------------------------------------------------------

def test_a_failed_update_replays_once_the_invoice_exists(subscription_catalog):
    outcome = process_update(subscription_update("canceled"))
    assert outcome.status == "failed" and not Subscription.objects.exists()
    Invoice.objects.create(payload=PAYLOAD, product=subscription_catalog["premium_subscription"], price_stars=200)
    replayed = replay_event(event=StripeEvent.objects.get())
    assert replayed.status == "processed" and subscription().state == SubscriptionState.CANCELLED


def test_a_replayed_update_is_recorded_but_tells_nobody(subscription_invoice):
    result = process_update(subscription_update("failed"), source=EventSource.REPLAY)
    assert result.status == "processed" and result.body["status"] == "processed"
    assert subscription().state == SubscriptionState.RENEWAL_FAILED


@pytest.mark.parametrize("flag, state", [("--cancel", SubscriptionState.STOPPED),
                                         ("--enable", SubscriptionState.RENEWING)])
def test_the_subscription_command_records_the_staff_state(post_json, fake_bot_api, subscription_invoice, flag,
                                                           state):
    ends = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    post_json(URL, payment_update("subscription_first_payment", ends=ends))
    post_json(URL, subscription_update("canceled"))
    charge = load_update("subscription_first_payment")["message"]["successful_payment"]["telegram_payment_charge_id"]
    call_command("subscription", str(BUYER), charge, flag, stdout=StringIO())
    current = subscription()
    assert (current.state, current.source, current.last_event_id) == (state, EventSource.MANUAL, "")
    assert current.last_update_id == 704118010  # a later Telegram update still takes over


def test_a_refused_staff_change_records_no_state(post_json, fake_bot_api, subscription_invoice):
    ends = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    post_json(URL, payment_update("subscription_first_payment", ends=ends))
    fake_bot_api.respond("editUserStarSubscription", error=(400, "Bad Request: SUBSCRIPTION_NOT_ACTIVE"))
    charge = load_update("subscription_first_payment")["message"]["successful_payment"]["telegram_payment_charge_id"]
    with pytest.raises(Exception, match="SUBSCRIPTION_NOT_ACTIVE"):
        call_command("subscription", str(BUYER), charge, "--cancel", stdout=StringIO())
    assert subscription().state == SubscriptionState.RENEWING



# --- a subscription's whole life, as support staff see it -------------------------------------------

def test_a_subscriptions_whole_life_through_the_webhook_and_the_admin(client, post_json, fake_bot_api,
                                                                      django_user_model, subscription_invoice):
    from django.urls import reverse

    from tests.test_admin_refund import make_staff

    client.force_login(make_staff(django_user_model, "sam", [
        "telegram_payments.view_stripeevent", "telegram_payments.manage_subscription",
        "entitlements.view_entitlement"]))
    first_ends = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    renewal_ends = first_ends + timedelta(days=30)

    def shown(event_id: str) -> str:
        """The subscription as the admin page of the event shows it."""
        event = StripeEvent.objects.get(event_id=event_id)
        html = client.get(reverse("admin:telegram_payments_stripeevent_change", args=[event.pk])).content.decode()
        start = html.index('class="subscription-state')
        return html[start:html.index("</div>", start)]

    def grant_page(n: int) -> str:
        grant = Entitlement.objects.order_by("pk")[n]
        return client.get(reverse("admin:entitlements_entitlement_change", args=[grant.pk])).content.decode()

    payment = load_update("subscription_first_payment")["message"]["successful_payment"]
    first_id = f"tg_stars:payment:{payment['telegram_payment_charge_id']}"

    # The first payment: renewing, until the first period's end.
    assert post_json(URL, payment_update("subscription_first_payment", ends=first_ends)).json()["method"] \
        == "sendMessage"
    assert "renewing" in shown(first_id) and paid_until_text(first_ends) in shown(first_id)
    # A renewal: renewing, until the new end.
    post_json(URL, payment_update("subscription_renewal", ends=renewal_ends))
    renewal_id = StripeEvent.objects.exclude(event_id=first_id).get().event_id
    assert "renewing" in shown(first_id) and paid_until_text(renewal_ends) in shown(renewal_id)
    # The user cancels renewals.
    post_json(URL, subscription_update("canceled"))
    assert "cancelled by the user" in shown(first_id)
    assert "tg_stars:subscription:704118010" in shown(first_id)
    assert "cancelled by the user" in grant_page(0) and "cancelled by the user" in grant_page(1)
    # ... and re-enables them.
    post_json(URL, subscription_update("active"))
    assert "renewing" in shown(first_id) and "tg_stars:subscription:704118011" in shown(renewal_id)
    # A renewal fails: visible, the user told how to renew, nothing ended early.
    told = post_json(URL, subscription_update("failed")).json()
    assert told["method"] == "sendMessage" and told["chat_id"] == BUYER
    assert "renewal failed" in shown(first_id) and "renewal failed" in shown("tg_stars:subscription:704118012")
    assert Entitlement.objects.filter(revoked_at__isnull=True).count() == 2
    # Staff stop renewals from the payment's page (editUserStarSubscription).
    first = StripeEvent.objects.get(event_id=first_id)
    response = client.post(reverse("admin:telegram_payments_stripeevent_subscription", args=[first.pk]),
                           {"renewals": "stop", "reason": "asked in chat"})
    assert response.status_code == 302
    assert fake_bot_api.calls_of("editUserStarSubscription") == [
        {"user_id": BUYER, "telegram_payment_charge_id": payment["telegram_payment_charge_id"], "is_canceled": True}]
    assert "stopped by staff" in shown(first_id) and "stopped by staff" in shown(renewal_id)
    assert "stopped by staff" in grant_page(1)
    assert StripeEvent.objects.count() == 5 and Subscription.objects.count() == 1
