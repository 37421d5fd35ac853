"""The signals a host project listens to: sent once, on commit, with their documented arguments, by
every route; never for a copy or a rolled-back change; a receiver that raises changes nothing."""

import logging

import pytest
from django.db import transaction

from entitlements.models import Entitlement
from telegram_payments import signals
from telegram_payments.models import Invoice, StripeEvent, Subscription, SubscriptionState
from telegram_payments.payments.manual import revoke_manually
from telegram_payments.payments.pipeline import handle_refund, handle_successful_payment, replay_event
from telegram_payments.registry import bots
from tests.test_subscription_updates import PAYLOAD, subscription_update

pytestmark = pytest.mark.django_db

ALL = ("payment_recorded", "refund_recorded", "subscription_state_changed", "entitlement_granted",
       "entitlement_extended", "entitlement_revoked")


@pytest.fixture
def heard():
    """Every signal of telegram_payments.signals, as (name, kwargs) in the order sent."""
    calls = []
    receivers = {}
    for name in ALL:
        def receiver(sender, signal, _name=name, **kwargs):
            calls.append((_name, kwargs))
        receivers[name] = receiver
        getattr(signals, name).connect(receiver)
    yield calls
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def pay(charge="c1", user_id=7, entitlement_type="premium_monthly", amount=250, **kw):
    return handle_successful_payment(
        user_id=user_id, telegram_payment_charge_id=charge, total_amount=amount, currency="XTR",
        entitlement_type=entitlement_type, source="relay", payload={"charge": charge}, **kw,
    )


def names(calls):
    return [name for name, _ in calls]


def test_a_payment_sends_payment_recorded_and_entitlement_granted_once_on_commit(
        catalog, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        outcome = pay()
        assert heard == []  # nothing before the commit
    assert names(heard) == ["entitlement_granted", "payment_recorded"]
    granted, recorded = heard[0][1], heard[1][1]
    grant = Entitlement.objects.get()
    assert granted == {"entitlement": grant, "user_id": 7, "entitlement_type": "premium_monthly",
                       "starts_at": grant.starts_at, "expires_at": grant.expires_at, "event_id": outcome.event_id,
                       "scope": ""}
    assert recorded == {"event": outcome.event, "status": "processed", "user_id": 7,
                        "entitlement_type": "premium_monthly", "amount": 250, "currency": "XTR",
                        "charge_id": "c1", "source": "relay", "bot": bots.default()}

    with django_capture_on_commit_callbacks(execute=True):
        assert pay().status == "duplicate"
    assert len(heard) == 2  # a copy sends nothing


def test_a_second_period_is_an_extension(catalog, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        pay("c1")
        pay("c2")
    assert names(heard) == ["entitlement_granted", "payment_recorded", "entitlement_extended", "payment_recorded"]


def test_a_rolled_back_payment_sends_nothing(catalog, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                pay()
                raise RuntimeError("the caller's transaction fails after the payment")
        except RuntimeError:
            pass
    assert heard == [] and callbacks == [] and not StripeEvent.objects.exists()


def test_a_failed_payment_is_recorded_as_failed_and_a_replay_completes_it(
        catalog, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        failed = pay(entitlement_type="no_such_product")
    assert names(heard) == ["payment_recorded"]
    assert heard[0][1]["status"] == "failed" and heard[0][1]["event"].error

    failed.event.entitlement_type = "premium_monthly"  # staff fixed the cause
    failed.event.save(update_fields=["entitlement_type"])
    with django_capture_on_commit_callbacks(execute=True):
        assert replay_event(event=failed.event).status == "processed"
    assert names(heard) == ["payment_recorded", "entitlement_granted", "payment_recorded"]
    assert heard[-1][1]["status"] == "processed"


def test_a_refund_sends_refund_recorded_and_entitlement_revoked(catalog, heard, django_capture_on_commit_callbacks):
    pay()  # outside the capture: its callbacks are not run
    with django_capture_on_commit_callbacks(execute=True):
        handle_refund(user_id=7, telegram_payment_charge_id="c1", source="relay", payload={},
                      refund_reason="asked")
    assert names(heard) == ["entitlement_revoked", "refund_recorded"]
    revoked, refunded = heard[0][1], heard[1][1]
    assert revoked["entitlement"].revoked_at is not None and revoked["user_id"] == 7
    assert refunded["status"] == "processed" and refunded["charge_id"] == "c1"


def test_a_staff_revoke_sends_entitlement_revoked(catalog, heard, django_capture_on_commit_callbacks):
    pay()
    with django_capture_on_commit_callbacks(execute=True):
        revoke_manually(user_id=7, entitlement_type="premium_monthly", reason="abuse")
    assert names(heard) == ["entitlement_revoked"] and heard[0][1]["reason"] == "manual: abuse"


def test_a_subscription_update_sends_the_new_state_once(
        post_json, subscription_catalog, heard, django_capture_on_commit_callbacks):
    Invoice.objects.create(payload=PAYLOAD, user_id=None, product=subscription_catalog["premium_subscription"],
                           price_stars=200, subscription_period=2592000)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_json("/webhook/telegram", subscription_update("canceled")).status_code == 200
        post_json("/webhook/telegram", subscription_update("canceled"))  # a copy
    assert names(heard) == ["subscription_state_changed"]
    changed = heard[0][1]
    assert changed["state"] == SubscriptionState.CANCELLED and changed["subscription"] == Subscription.objects.get()
    assert changed["invoice_payload"] == PAYLOAD and changed["source"] == "telegram"


def test_a_receiver_that_raises_is_logged_and_changes_nothing(catalog, caplog, django_capture_on_commit_callbacks):
    calls = []

    def broken(sender, **kwargs):
        raise ValueError("the host's bug")

    def fine(sender, **kwargs):
        calls.append(kwargs["user_id"])

    signals.entitlement_granted.connect(broken)
    signals.entitlement_granted.connect(fine)
    try:
        with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
            outcome = pay()
    finally:
        signals.entitlement_granted.disconnect(broken)
        signals.entitlement_granted.disconnect(fine)
    assert outcome.status == "processed" and Entitlement.objects.get().revoked_at is None
    assert calls == [7]  # the other receiver still ran
    assert any("signal receiver" in r.getMessage() and "the host's bug" in (r.exc_text or str(r.exc_info))
               for r in caplog.records)


def test_a_first_subscription_payment_sends_its_state(subscription_catalog, heard, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    invoice = Invoice.objects.create(payload=PAYLOAD, user_id=None,
                                     product=subscription_catalog["premium_subscription"], price_stars=200,
                                     subscription_period=2592000)
    with django_capture_on_commit_callbacks(execute=True):
        handle_successful_payment(user_id=7, telegram_payment_charge_id="sub1", total_amount=200, currency="XTR",
                                  invoice_payload=invoice.payload, source="telegram", payload={}, update_id=10,
                                  subscription_expires_at=timezone.now() + timedelta(days=30))
    changed = [kwargs for name, kwargs in heard if name == "subscription_state_changed"]
    assert [c["state"] for c in changed] == [SubscriptionState.RENEWING]  # a new subscription is a change
