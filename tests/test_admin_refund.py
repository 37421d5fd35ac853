"""Refunding a payment from the admin, against the fake Bot API: the page, the service, the permission."""

import threading

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse

from entitlements.models import Entitlement
from telegram_payments.models import EVENT_REFUND, EventSource, EventStatus, StripeEvent
from telegram_payments.payments.events import refund_event_id
from telegram_payments.payments.pipeline import handle_refund, handle_successful_payment
from telegram_payments.payments.refunds import RefundNotAllowed, refund_payment
from telegram_payments.telegram_api import client

pytestmark = pytest.mark.django_db

REFUND_PERMS = ("telegram_payments.view_stripeevent", "telegram_payments.refund_payment")


def make_staff(django_user_model, username, perms=()):
    user = django_user_model.objects.create_user(username=username, password="pw-for-tests-only", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


@pytest.fixture
def payment(catalog):
    return handle_successful_payment(
        user_id=4242, telegram_payment_charge_id="stxCHARGE42", total_amount=250, currency="XTR",
        entitlement_type="premium_monthly", source=EventSource.TELEGRAM, payload={"charge": "stxCHARGE42"},
    ).event


@pytest.fixture
def refunder(client, django_user_model):
    user = make_staff(django_user_model, "rita", REFUND_PERMS)
    client.force_login(user)
    client.user = user
    return client


def refund_url(event):
    return reverse("admin:telegram_payments_stripeevent_refund", args=[event.pk])


def change_url(event):
    return reverse("admin:telegram_payments_stripeevent_change", args=[event.pk])


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def assert_nothing_recorded(payment):
    assert not StripeEvent.objects.filter(event_type=EVENT_REFUND).exists()
    assert Entitlement.objects.get(event_id=payment.event_id).revoked_at is None
    assert not LogEntry.objects.exists()


# --- the page ------------------------------------------------------------------------------------
def test_refund_button_shows_only_with_the_permission(client, django_user_model, payment):
    viewer = make_staff(django_user_model, "vic", ["telegram_payments.view_stripeevent"])
    client.force_login(viewer)
    assert 'id="refund-button"' not in client.get(change_url(payment)).content.decode()
    client.force_login(make_staff(django_user_model, "rita", REFUND_PERMS))
    html = client.get(change_url(payment)).content.decode()
    assert 'id="refund-button"' in html and refund_url(payment) in html


def test_confirmation_shows_user_amount_product_and_what_is_revoked(refunder, payment, fake_bot_api):
    response = refunder.get(refund_url(payment))
    assert response.status_code == 200
    html = response.content.decode()
    assert "4242" in html and "250 XTR" in html
    assert "Premium" in html and "premium_monthly for user 4242 (active" in html
    assert 'name="reason"' in html
    assert fake_bot_api.calls_of("refundStarPayment") == []  # GET changes nothing


def test_refund_succeeds_records_the_refund_revokes_and_logs(refunder, payment, fake_bot_api):
    response = refunder.post(refund_url(payment), {"reason": "asked via support chat"}, follow=True)
    assert fake_bot_api.calls_of("refundStarPayment") == [
        {"user_id": 4242, "telegram_payment_charge_id": "stxCHARGE42"}
    ]
    refund = StripeEvent.objects.get(event_id=refund_event_id("stxCHARGE42"))
    assert response.redirect_chain[-1][0] == change_url(refund)
    assert any("Refunded 250 XTR to user 4242" in m for m in messages_of(response))
    assert (refund.status, refund.source, refund.initiated_by) == (EventStatus.PROCESSED, "staff", refunder.user)
    assert refund.refund_reason == "asked via support chat"
    assert refund.amount_cents == 250 and refund.payload["telegram_answer"] == "ok"
    grant = Entitlement.objects.get(event_id=payment.event_id)
    assert grant.revoked_at is not None and "asked via support chat" in grant.revoke_reason
    entry = LogEntry.objects.get()
    assert (entry.user, entry.action_flag, entry.object_id) == (refunder.user, CHANGE, str(payment.pk))
    assert "asked via support chat" in entry.change_message and refund.event_id in entry.change_message

    # Telegram's own refunded_payment update for the same charge arrives later: a duplicate.
    later = handle_refund(user_id=4242, telegram_payment_charge_id="stxCHARGE42", source=EventSource.TELEGRAM,
                          payload={"refunded_payment": {}})
    assert later.status == "duplicate" and later.event.pk == refund.pk
    assert StripeEvent.objects.filter(event_type=EVENT_REFUND).count() == 1


def test_charge_already_refunded_counts_as_success(refunder, payment, fake_bot_api):
    fake_bot_api.respond("refundStarPayment", error=(400, "Bad Request: CHARGE_ALREADY_REFUNDED"))
    response = refunder.post(refund_url(payment), {"reason": "refunded from the bot already"}, follow=True)
    refund = StripeEvent.objects.get(event_id=refund_event_id("stxCHARGE42"))
    assert refund.payload["telegram_answer"] == "CHARGE_ALREADY_REFUNDED"
    assert Entitlement.objects.get(event_id=payment.event_id).revoked_at is not None
    assert any("Refunded" in m for m in messages_of(response))


def test_other_bot_api_error_changes_nothing_and_is_shown(refunder, payment, fake_bot_api, stars):
    fake_bot_api.respond("refundStarPayment", error=(400, "Bad Request: CHARGE_NOT_FOUND"))
    response = refunder.post(refund_url(payment), {"reason": "please"})
    assert response.status_code == 200  # the confirmation again, the reason kept
    assert any("Telegram refused the refund: Bad Request: CHARGE_NOT_FOUND" in m for m in messages_of(response))
    assert "please" in response.content.decode()
    assert stars.BOT_TOKEN not in response.content.decode()
    assert_nothing_recorded(payment)


@pytest.mark.parametrize("scripted", [
    {"http_status": 500},
    {"retry_after": 30},
])
def test_bot_api_failure_records_nothing_with_a_clear_message(refunder, payment, fake_bot_api, scripted):
    fake_bot_api.respond("refundStarPayment", **scripted)
    response = refunder.post(refund_url(payment), {"reason": "please"})
    assert response.status_code == 200
    assert any("Telegram did not answer the refund" in m and "Nothing was recorded" in m
               for m in messages_of(response))
    assert_nothing_recorded(payment)


def test_bot_api_timeout_records_nothing(refunder, payment, fake_bot_api, monkeypatch):
    monkeypatch.setattr(client, "READ_TIMEOUT", 0.2)  # the fake answers after 1 s: a read timeout
    fake_bot_api.respond("refundStarPayment", delay=1.0)
    response = refunder.post(refund_url(payment), {"reason": "please"})
    assert any("Telegram did not answer the refund" in m for m in messages_of(response))
    assert_nothing_recorded(payment)


def test_bot_api_unreachable_records_nothing(refunder, payment, stars):
    stars.API_BASE_URL = "http://127.0.0.1:9"  # nothing listens there
    response = refunder.post(refund_url(payment), {"reason": "please"})
    assert any("Telegram did not answer the refund" in m for m in messages_of(response))
    assert_nothing_recorded(payment)


def test_error_text_from_telegram_never_shows_the_token(refunder, payment, fake_bot_api, stars):
    fake_bot_api.respond("refundStarPayment", error=(400, f"Bad Request: bot {stars.BOT_TOKEN} odd"))
    response = refunder.post(refund_url(payment), {"reason": "please"})
    assert stars.BOT_TOKEN not in response.content.decode()
    assert_nothing_recorded(payment)


def test_a_reason_is_required(refunder, payment, fake_bot_api):
    response = refunder.post(refund_url(payment), {"reason": "   "})
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert fake_bot_api.calls_of("refundStarPayment") == []
    assert_nothing_recorded(payment)


# --- permission ----------------------------------------------------------------------------------
@pytest.mark.parametrize("perms", [
    ["telegram_payments.view_stripeevent"],
    ["telegram_payments.view_stripeevent", "telegram_payments.change_stripeevent"],
])
def test_without_the_refund_permission_get_and_post_are_forbidden(client, django_user_model, payment,
                                                                  fake_bot_api, perms):
    client.force_login(make_staff(django_user_model, "vic", perms))
    assert client.get(refund_url(payment)).status_code == 403
    assert client.post(refund_url(payment), {"reason": "sneaky"}).status_code == 403
    assert fake_bot_api.calls_of("refundStarPayment") == []
    assert_nothing_recorded(payment)


def test_anonymous_users_are_sent_to_login(client, payment, fake_bot_api):
    response = client.post(refund_url(payment), {"reason": "x"})
    assert response.status_code == 302 and "/admin/login/" in response.url
    assert fake_bot_api.calls_of("refundStarPayment") == []


def test_superuser_may_refund(admin_client, payment, fake_bot_api):
    admin_client.post(refund_url(payment), {"reason": "boss says so"})
    assert StripeEvent.objects.filter(event_id=refund_event_id("stxCHARGE42"), source="staff").exists()


# --- what cannot be refunded ---------------------------------------------------------------------
def test_a_refunded_payment_cannot_be_refunded_again(refunder, payment, fake_bot_api):
    refunder.post(refund_url(payment), {"reason": "first"})
    html = refunder.get(change_url(payment)).content.decode()
    assert 'id="refund-button"' not in html
    response = refunder.post(refund_url(payment), {"reason": "second"}, follow=True)
    assert "This payment is already refunded." in messages_of(response)
    assert len(fake_bot_api.calls_of("refundStarPayment")) == 1


def test_pending_payments_and_refund_events_are_not_refundable(refunder, catalog, fake_bot_api):
    from tests.factories import StripeEventFactory

    pending = StripeEventFactory(telegram_payment_charge_id="c_pending", status=EventStatus.PENDING)
    refund = handle_refund(user_id=1, telegram_payment_charge_id="c_other", source=EventSource.RELAY,
                           payload={}).event
    for event in (pending, refund):
        response = refunder.get(refund_url(event))
        assert response.status_code == 302 and response.url == change_url(event)
    assert refunder.get(reverse("admin:telegram_payments_stripeevent_refund", args=[999999])).status_code == 404
    assert fake_bot_api.calls_of("refundStarPayment") == []


# --- the service directly -------------------------------------------------------------------------
def test_refund_payment_service_refuses_non_payments(payment, django_user_model, fake_bot_api):
    staff = make_staff(django_user_model, "rita")
    refund = refund_payment(event=payment, staff_user=staff, reason="r")
    assert refund.status == "processed"
    with pytest.raises(RefundNotAllowed):
        refund_payment(event=refund.event, staff_user=staff, reason="r")
    again = refund_payment(event=payment, staff_user=staff, reason="r")
    assert again.status == "duplicate" and len(fake_bot_api.calls_of("refundStarPayment")) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_staff_refunding_one_payment_at_once_make_one_refund(catalog, fake_bot_api, django_user_model):
    payment = handle_successful_payment(
        user_id=99, telegram_payment_charge_id="stxRACE", total_amount=250, currency="XTR",
        entitlement_type="premium_monthly", source=EventSource.TELEGRAM, payload={},
    ).event
    staff = [make_staff(django_user_model, "ann"), make_staff(django_user_model, "bob")]
    # Telegram refunds the first call; any later one is "already refunded".
    fake_bot_api.respond("refundStarPayment", result=True)
    fake_bot_api.respond("refundStarPayment", error=(400, "Bad Request: CHARGE_ALREADY_REFUNDED"), times=None)
    barrier = threading.Barrier(2)
    results = [None, None]

    def worker(i):
        try:
            barrier.wait()
            results[i] = refund_payment(event=payment, staff_user=staff[i], reason=f"by {i}").status
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["duplicate", "processed"]
    assert StripeEvent.objects.filter(event_type=EVENT_REFUND).count() == 1
    assert Entitlement.objects.get(event_id=payment.event_id).revoked_at is not None
