"""Stopping or resuming a Star subscription's renewals from the admin, against the fake Bot API."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse
from django.utils import timezone

from telegram_payments.models import EventSource, Subscription, SubscriptionState
from tests.factories import StripeEventFactory
from tests.test_admin_refund import make_staff, messages_of

pytestmark = pytest.mark.django_db

PERMS = ("telegram_payments.view_stripeevent", "telegram_payments.manage_subscription")
USER = 777001


@pytest.fixture
def subscription_payment(db):
    return StripeEventFactory(customer_id=str(USER), telegram_payment_charge_id="stxSUB77", amount_cents=99,
                              entitlement_type="premium_subscription",
                              subscription_expires_at=timezone.now() + timedelta(days=30))


@pytest.fixture
def support(client, django_user_model):
    user = make_staff(django_user_model, "sam", PERMS)
    client.force_login(user)
    client.user = user
    return client


def page_url(event):
    return reverse("admin:telegram_payments_stripeevent_subscription", args=[event.pk])


def change_url(event):
    return reverse("admin:telegram_payments_stripeevent_change", args=[event.pk])


def test_button_shows_with_the_permission_on_subscription_payments_only(client, django_user_model,
                                                                        subscription_payment):
    client.force_login(make_staff(django_user_model, "vic", ["telegram_payments.view_stripeevent"]))
    assert 'id="subscription-button"' not in client.get(change_url(subscription_payment)).content.decode()
    client.force_login(make_staff(django_user_model, "sam", PERMS))
    html = client.get(change_url(subscription_payment)).content.decode()
    assert 'id="subscription-button"' in html and page_url(subscription_payment) in html
    one_time = StripeEventFactory(customer_id=str(USER))
    assert 'id="subscription-button"' not in client.get(change_url(one_time)).content.decode()


def test_confirmation_shows_the_subscription_and_changes_nothing(support, subscription_payment, fake_bot_api):
    response = support.get(page_url(subscription_payment))
    assert response.status_code == 200
    html = response.content.decode()
    assert str(USER) in html and "stxSUB77" in html and "99 XTR every 30 days" in html
    assert 'name="renewals"' in html and 'name="reason"' in html
    assert fake_bot_api.calls == [] and not LogEntry.objects.exists()


def test_confirmation_shows_the_state_telegram_last_reported(support, subscription_payment):
    assert 'id="subscription-state">—<' in support.get(page_url(subscription_payment)).content.decode()
    subscription_payment.invoice_payload = "sub-777001"
    subscription_payment.save()
    Subscription.objects.create(user_id=USER, invoice_payload="sub-777001", state=SubscriptionState.CANCELLED,
                                source=EventSource.TELEGRAM)
    html = support.get(page_url(subscription_payment)).content.decode()
    assert "cancelled by the user" in html.split('id="subscription-state">')[1].split("</div>")[0]


@pytest.mark.parametrize("choice, cancelled, done", [("stop", True, "stopped"), ("resume", False, "resumed")])
def test_stop_or_resume_asks_telegram_and_is_recorded_in_the_history(support, subscription_payment, fake_bot_api,
                                                                     choice, cancelled, done):
    response = support.post(page_url(subscription_payment), {"renewals": choice, "reason": "user asked in chat"},
                            follow=True)
    assert fake_bot_api.calls_of("editUserStarSubscription") == [
        {"user_id": USER, "telegram_payment_charge_id": "stxSUB77", "is_canceled": cancelled}]
    assert response.redirect_chain[-1][0] == change_url(subscription_payment)
    assert any(f"subscription are {done}" in m for m in messages_of(response))
    entry = LogEntry.objects.get()
    assert (entry.user, entry.action_flag, entry.object_id) == (support.user, CHANGE, str(subscription_payment.pk))
    assert entry.change_message == f"Subscription renewals {done} through the Bot API: user asked in chat"
    history = support.get(reverse("admin:telegram_payments_stripeevent_history", args=[subscription_payment.pk]))
    assert "user asked in chat" in history.content.decode()


@pytest.mark.parametrize("scripted, shown", [
    ({"error": (400, "Bad Request: SUBSCRIPTION_NOT_ACTIVE")},
     "Telegram refused: Bad Request: SUBSCRIPTION_NOT_ACTIVE"),
    ({"http_status": 500}, "Telegram did not answer"),
])
def test_telegrams_refusal_or_failure_records_nothing(support, subscription_payment, fake_bot_api, stars,
                                                      scripted, shown):
    fake_bot_api.respond("editUserStarSubscription", **scripted)
    response = support.post(page_url(subscription_payment), {"renewals": "stop", "reason": "please"})
    assert response.status_code == 200  # the confirmation again, the reason kept
    assert any(shown in m and "Nothing was recorded" in m for m in messages_of(response))
    assert "please" in response.content.decode()
    assert stars.BOT_TOKEN not in response.content.decode()
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("data", [{"renewals": "stop", "reason": "  "}, {"reason": "why"},
                                  {"renewals": "pause", "reason": "why"}])
def test_a_choice_and_a_reason_are_required(support, subscription_payment, fake_bot_api, data):
    response = support.post(page_url(subscription_payment), data)
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert fake_bot_api.calls == [] and not LogEntry.objects.exists()


def test_without_the_permission_get_and_post_are_forbidden(client, django_user_model, subscription_payment,
                                                           fake_bot_api):
    client.force_login(make_staff(django_user_model, "rita", ["telegram_payments.view_stripeevent",
                                                              "telegram_payments.refund_payment"]))
    assert client.get(page_url(subscription_payment)).status_code == 403
    assert client.post(page_url(subscription_payment), {"renewals": "stop", "reason": "x"}).status_code == 403
    assert fake_bot_api.calls == []


def test_a_one_time_payment_has_no_renewals(support, fake_bot_api):
    one_time = StripeEventFactory(customer_id=str(USER))
    response = support.post(page_url(one_time), {"renewals": "stop", "reason": "x"}, follow=True)
    assert response.redirect_chain[-1][0] == change_url(one_time)
    assert any("Only a subscription payment" in m for m in messages_of(response))
    assert fake_bot_api.calls == [] and not LogEntry.objects.exists()
