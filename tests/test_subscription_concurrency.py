"""Subscription updates racing a renewal payment, over real HTTP against a real PostgreSQL (live_server)."""

import copy
from datetime import timedelta

import pytest
from django.utils import timezone

from entitlements.models import Entitlement
from telegram_payments.models import Invoice, StripeEvent, Subscription, SubscriptionState
from tests.conftest import answer_status, load_update
from tests.http import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
PAYLOAD = "inv_fixture_subscription"
ROUNDS = 4  # one subscriber each
COPIES = 3  # each update delivered this many times at once


@pytest.fixture
def subscription_link(subscription_catalog):
    return Invoice.objects.create(payload=PAYLOAD, user_id=None, product=subscription_catalog["premium_subscription"],
                                  price_stars=200, subscription_period=2592000)


def as_user(data: dict, user_id: int, offset: int) -> dict:
    data = copy.deepcopy(data)
    data["update_id"] += offset
    part = data.get("subscription") or data["message"]
    for who in (part.get("user"), part.get("from"), part.get("chat")):
        if who is not None:
            who["id"] = user_id
    return data


def test_subscription_updates_racing_a_renewal_end_in_the_newest_state(live_server, subscription_link,
                                                                      webhook_secret):
    """Each subscriber's renewal payment (update 704118004) and their cancel, re-enable and failed
    renewal (704118010-12), each delivered several times, all at once: every update is one event, one
    subscription row per subscriber, and its state is the newest update's whatever order they ran in."""
    ends = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    renewal = load_update("subscription_renewal")
    renewal["message"]["successful_payment"]["subscription_expiration_date"] = int(ends.timestamp())
    users = [555000200 + n for n in range(ROUNDS)]
    jobs = []
    for n, user_id in enumerate(users):
        offset = n * 100
        paid = as_user(renewal, user_id, offset)
        paid["message"]["successful_payment"]["telegram_payment_charge_id"] += f"-{n}"
        bodies = [paid] + [as_user(load_update(f"subscription_{state}"), user_id, offset)
                           for state in ("canceled", "active", "failed")]
        jobs += [(f"{live_server.url}/webhook/telegram", body) for body in bodies for _ in range(COPIES)]
    results = run_at_once(jobs, webhook_secret)

    assert {status for status, _ in results} == {200}
    statuses = sorted(answer_status(body) for _, body in results)
    assert statuses == ["duplicate"] * (ROUNDS * 4 * (COPIES - 1)) + ["processed"] * (ROUNDS * 4)
    assert StripeEvent.objects.filter(status=1).count() == ROUNDS * 4
    assert Entitlement.objects.count() == ROUNDS
    for n, user_id in enumerate(users):
        subscription = Subscription.objects.get(user_id=user_id)
        assert subscription.state == SubscriptionState.RENEWAL_FAILED
        assert subscription.last_update_id == 704118012 + n * 100
        assert subscription.last_event_id == f"tg_stars:subscription:{704118012 + n * 100}"
        assert subscription.paid_until == ends  # the payment's part survives the updates' writes
    assert Subscription.objects.count() == ROUNDS
    # The failed renewal is the newest update: its user is told how to renew, once.
    told = [body for _, body in results if body.get("method") == "sendMessage" and "could not renew" in body["text"]]
    assert sorted(body["chat_id"] for body in told) == users
