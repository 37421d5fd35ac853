"""The support desk: a failed payment ends somewhere (refunded, replayed, or refunded by policy), the
buyer is told once, and the admin's lists say what happened."""

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from entitlements.models import Entitlement
from telegram_payments.models import (
    AutoRefund,
    BuyerMessage,
    EventSource,
    EventStatus,
    Invoice,
    Product,
    StripeEvent,
)
from telegram_payments.payments import autorefunds
from telegram_payments.payments.events import refund_event_id
from telegram_payments.payments.manual import grant_manually
from telegram_payments.payments.notices import DELIVERED_TEXT
from telegram_payments.payments.pipeline import handle_refund, handle_successful_payment, replay_event
from telegram_payments.payments.refunds import refund_payment, refund_problem
from tests.factories import StripeEventFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/telegram_payments/stripeevent/"
REFUNDS = "/admin/telegram_payments/refundevent/"


def make_staff(django_user_model, username, perms=()):
    user = django_user_model.objects.create_user(username=username, password="pw-for-tests-only", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def pay(charge, *, user_id=4242, amount=250, entitlement_type="premium_monthly", invoice_payload=""):
    return handle_successful_payment(
        user_id=user_id, telegram_payment_charge_id=charge, total_amount=amount, currency="XTR",
        entitlement_type=entitlement_type, invoice_payload=invoice_payload, source=EventSource.TELEGRAM,
        payload={"charge": charge},
    ).event


def off_sale(catalog, entitlement_type="premium_monthly"):
    Product.objects.filter(entitlement_type=entitlement_type).update(is_active=False)


def back_on_sale(entitlement_type="premium_monthly"):
    Product.objects.filter(entitlement_type=entitlement_type).update(is_active=True)


def change_url(event):
    return reverse("admin:telegram_payments_stripeevent_change", args=[event.pk])


def replay_url(event):
    return reverse("admin:telegram_payments_stripeevent_replay", args=[event.pk])


def texts_sent(fake_bot_api):
    return [call["text"] for call in fake_bot_api.calls_of("sendMessage")]


# --- A. a failed payment may be refunded ------------------------------------------------------------
def test_a_failed_payment_may_be_refunded_a_pending_or_refunded_one_not(catalog):
    off_sale(catalog)
    failed = pay("c_failed")
    assert failed.status == EventStatus.FAILED
    assert refund_problem(failed) is None
    pending = StripeEventFactory(telegram_payment_charge_id="c_pending", status=EventStatus.PENDING)
    assert "replay it" in refund_problem(pending)
    handle_refund(user_id=4242, telegram_payment_charge_id="c_failed", source=EventSource.TELEGRAM, payload={})
    assert refund_problem(failed) == "This payment is already refunded."


def test_staff_refund_a_failed_payment_from_its_page(admin_client, catalog, fake_bot_api):
    off_sale(catalog)
    failed = pay("c_failed_admin")
    page = admin_client.get(change_url(failed)).content.decode()
    assert 'id="refund-button"' in page
    assert admin_client.get(reverse("admin:telegram_payments_stripeevent_refund", args=[failed.pk])).status_code == 200
    response = admin_client.post(reverse("admin:telegram_payments_stripeevent_refund", args=[failed.pk]),
                                 {"reason": "product withdrawn"})
    assert response.status_code == 302
    assert fake_bot_api.calls_of("refundStarPayment")[0]["telegram_payment_charge_id"] == "c_failed_admin"
    refund = StripeEvent.objects.get(event_id=refund_event_id("c_failed_admin"))
    assert refund.status == EventStatus.PROCESSED and refund.amount_cents == 250
    assert refund.note == "The payment granted nothing: nothing to revoke."


def test_a_payment_refunded_while_failed_grants_nothing_when_replayed(catalog, django_user_model, fake_bot_api,
                                                                    django_capture_on_commit_callbacks):
    off_sale(catalog)
    failed = pay("c_refunded_then_replayed")
    refund_payment(event=failed, staff_user=make_staff(django_user_model, "rita"), reason="sorry")
    back_on_sale()
    with django_capture_on_commit_callbacks(execute=True):
        outcome = replay_event(event=failed)
    # Refunded is an end: the replay leaves it failed (and refunded) rather than "processed" with no grant.
    assert outcome.status == "duplicate" and outcome.event.status == EventStatus.FAILED
    assert not Entitlement.objects.filter(user_id=4242).exists()


def test_a_failed_payment_for_our_invoice_keeps_its_product(catalog):
    invoice = Invoice.objects.create(product=catalog["premium_monthly"], price_stars=250, user_id=4242)
    off_sale(catalog)
    failed = pay("c_invoice_off_sale", entitlement_type="", invoice_payload=invoice.payload)
    assert failed.status == EventStatus.FAILED and "not on sale" in failed.error
    failed.refresh_from_db()
    assert failed.entitlement_type == "premium_monthly"


# --- A. the replay button and the buyer's thanks ---------------------------------------------------
def test_replay_button_on_a_failed_events_page_needs_the_change_permission(client, django_user_model, catalog):
    off_sale(catalog)
    failed = pay("c_button")
    back_on_sale()
    done = pay("c_done", user_id=1)
    viewer = make_staff(django_user_model, "viv", ["telegram_payments.view_stripeevent"])
    client.force_login(viewer)
    assert 'id="replay-button"' not in client.get(change_url(failed)).content.decode()
    assert client.post(replay_url(failed)).status_code == 403

    replayer = make_staff(django_user_model, "rex", ["telegram_payments.view_stripeevent",
                                                      "telegram_payments.change_stripeevent"])
    client.force_login(replayer)
    assert 'id="replay-button"' in client.get(change_url(failed)).content.decode()
    assert 'id="replay-button"' not in client.get(change_url(done)).content.decode()
    assert client.get(replay_url(failed)).status_code == 405


def test_replay_button_needs_the_csrf_token(django_user_model, catalog):
    off_sale(catalog)
    failed = pay("c_csrf")
    back_on_sale()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(make_staff(django_user_model, "rex", ["telegram_payments.view_stripeevent",
                                                               "telegram_payments.change_stripeevent"]))
    assert browser.post(replay_url(failed)).status_code == 403
    failed.refresh_from_db()
    assert failed.status == EventStatus.FAILED
    page = browser.get(change_url(failed)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = browser.post(replay_url(failed), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response.url == change_url(failed)
    failed.refresh_from_db()
    assert failed.status == EventStatus.PROCESSED


def test_replay_button_completes_the_payment_and_thanks_the_buyer_once(
        admin_client, catalog, fake_bot_api, django_capture_on_commit_callbacks):
    off_sale(catalog)
    failed = pay("c_thanks")
    back_on_sale()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(replay_url(failed), follow=True)
    assert any(str(m).startswith("Replayed: Granted premium_monthly") for m in response.context["messages"])
    assert Entitlement.objects.filter(event_id=failed.event_id, user_id=4242).exists()
    title = catalog["premium_monthly"].title
    assert texts_sent(fake_bot_api) == [DELIVERED_TEXT.format(title=title)]
    assert fake_bot_api.calls_of("sendMessage")[0]["chat_id"] == 4242
    assert BuyerMessage.objects.get(key=f"delivered:{failed.event_id}").sent_at is not None

    with django_capture_on_commit_callbacks(execute=True):  # a second click: processed, nothing to tell
        admin_client.post(replay_url(failed))
        admin_client.post(CHANGELIST, {"action": "replay_failed", "_selected_action": [failed.pk]})
    assert len(texts_sent(fake_bot_api)) == 1


def test_replay_still_failing_says_why_on_the_page(admin_client, catalog, fake_bot_api):
    off_sale(catalog)
    failed = pay("c_still")
    response = admin_client.post(replay_url(failed), follow=True)
    assert [str(m) for m in response.context["messages"]] == ["Still failing: product 'premium_monthly' is not on sale"]
    assert texts_sent(fake_bot_api) == []


def test_a_bot_api_failure_while_thanking_is_logged_not_a_500(admin_client, catalog, fake_bot_api, caplog,
                                                              django_capture_on_commit_callbacks):
    off_sale(catalog)
    failed = pay("c_blocked")
    back_on_sale()
    fake_bot_api.respond("sendMessage", error=(403, "Forbidden: bot was blocked by the user"))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(replay_url(failed))
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == EventStatus.PROCESSED  # the grant stays
    message = BuyerMessage.objects.get(key=f"delivered:{failed.event_id}")
    assert message.sent_at is None and "blocked" in message.error and message.attempts == 1
    assert "not sent" in caplog.text


def test_no_thanks_when_turned_off(admin_client, catalog, fake_bot_api, stars,
                                   django_capture_on_commit_callbacks):
    stars.THANK_BUYERS = False
    off_sale(catalog)
    failed = pay("c_quiet")
    back_on_sale()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(replay_url(failed))
    assert texts_sent(fake_bot_api) == [] and not BuyerMessage.objects.exists()


def test_a_staff_grant_tells_the_buyer_once_after_the_commit(catalog, fake_bot_api,
                                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outcome = grant_manually(user_id=77, entitlement_type="premium_monthly", reason="goodwill")
    assert texts_sent(fake_bot_api) == []  # nothing sent before the commit
    for callback in callbacks:
        callback()
    callbacks[0]()  # run again (a second sender): claimed already, not sent twice
    assert texts_sent(fake_bot_api) == [DELIVERED_TEXT.format(title=catalog["premium_monthly"].title)]
    assert BuyerMessage.objects.get(key=f"delivered:{outcome.event.event_id}").chat_id == 77


def test_grant_entitlement_command_tells_the_buyer(catalog, fake_bot_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("grant_entitlement", "78", "premium_monthly", "--reason", "support case", stdout=StringIO())
    assert [c["chat_id"] for c in fake_bot_api.calls_of("sendMessage")] == [78]


# --- A. AUTO_REFUND_UNFULFILLABLE --------------------------------------------------------------------
@pytest.fixture
def auto_refund(settings, stars):
    stars.AUTO_REFUND_UNFULFILLABLE = True
    return settings


def run_worker(**options):
    out = StringIO()
    call_command("refund_unfulfillable", "--once", stdout=out, **options)
    return out.getvalue()


def test_policy_off_queues_nothing_and_the_worker_refuses(catalog, fake_bot_api):
    off_sale(catalog)
    pay("c_off")
    assert not AutoRefund.objects.exists()
    with pytest.raises(CommandError, match="AUTO_REFUND_UNFULFILLABLE is off"):
        run_worker()


def test_policy_refunds_an_off_sale_payment_by_the_worker_and_tells_the_buyer_why(
        auto_refund, catalog, fake_bot_api, django_capture_on_commit_callbacks):
    off_sale(catalog)
    failed = pay("c_policy")
    assert fake_bot_api.calls_of("refundStarPayment") == []  # never inside the webhook
    job = AutoRefund.objects.get(payment=failed)
    assert "not on sale" in job.reason
    with django_capture_on_commit_callbacks(execute=True):
        assert "refunded 1" in run_worker()
    assert fake_bot_api.calls_of("refundStarPayment")[0]["telegram_payment_charge_id"] == "c_policy"
    refund = StripeEvent.objects.get(event_id=refund_event_id("c_policy"))
    assert refund.source == EventSource.POLICY and refund.status == EventStatus.PROCESSED
    assert refund.refund_reason.startswith("automatic: product 'premium_monthly' is not on sale")
    job.refresh_from_db()
    assert job.done_at is not None and job.attempt_count == 1 and refund.event_id in job.outcome
    [told] = texts_sent(fake_bot_api)
    assert "is no longer on sale" in told and "250 Stars were refunded" in told
    run_worker()  # nothing left to do
    assert len(fake_bot_api.calls_of("refundStarPayment")) == 1


@pytest.mark.parametrize("case", ["below_price", "unknown_invoice"])
def test_policy_covers_price_below_and_unknown_invoices(auto_refund, catalog, case):
    if case == "below_price":
        failed = pay("c_cheap", amount=1)
    else:
        failed = pay("c_stranger", entitlement_type="", invoice_payload="inv_not_ours")
    assert failed.status == EventStatus.FAILED
    assert AutoRefund.objects.filter(payment=failed).exists()


def test_policy_leaves_reasons_staff_must_judge(auto_refund, catalog):
    invoice = Invoice.objects.create(product=catalog["premium_monthly"], price_stars=250, user_id=1)
    failed = pay("c_other_user", user_id=2, entitlement_type="", invoice_payload=invoice.payload)
    assert "issued to user 1" in failed.error
    assert not AutoRefund.objects.exists()


def test_policy_retries_with_backoff_and_records_attempts(auto_refund, catalog, fake_bot_api):
    off_sale(catalog)
    failed = pay("c_retry")
    fake_bot_api.respond("refundStarPayment", error=(400, "Bad Request: something odd"))
    before = timezone.now()
    assert "failed 1" in run_worker()
    job = AutoRefund.objects.get(payment=failed)
    assert job.attempt_count == 1 and "something odd" in job.last_error and job.done_at is None
    assert job.next_attempt_at >= before + timedelta(seconds=5)
    assert "refunded 0" in run_worker()  # not due yet
    refunded, _, failed_count = autorefunds.refund_due(due_before=timezone.now() + timedelta(hours=2))
    assert (refunded, failed_count) == (1, 0)
    job.refresh_from_db()
    assert job.attempt_count == 2 and job.done_at is not None and job.last_error == ""


def test_policy_leaves_a_payment_replayed_meanwhile_alone(auto_refund, catalog, fake_bot_api):
    off_sale(catalog)
    failed = pay("c_fixed")
    back_on_sale()
    assert replay_event(event=failed).granted
    assert "left alone 1" in run_worker()
    assert fake_bot_api.calls_of("refundStarPayment") == []
    assert "Left alone: the payment is processed" in AutoRefund.objects.get(payment=failed).outcome


# --- B. the lists -------------------------------------------------------------------------------------
def test_list_shows_reason_product_refunded_badge_and_negative_refunds(admin_client, catalog, django_user_model):
    off_sale(catalog)
    failed = pay("c_list_failed")
    back_on_sale()
    paid = pay("c_list_paid", user_id=5)
    handle_refund(user_id=5, telegram_payment_charge_id="c_list_paid", source=EventSource.TELEGRAM, payload={})
    html = admin_client.get(CHANGELIST).content.decode()
    assert "product &#x27;premium_monthly&#x27; is not on sale" in html
    assert html.count('class="refund-label refund-refunded"') == 1  # the payment, not its refund
    assert "\u2212250 XTR" in html  # the refund, negative
    rows = {e.pk: e for e in admin_client.get(CHANGELIST).context["cl"].result_list}
    assert rows[failed.pk].entitlement_type == "premium_monthly"
    assert rows[paid.pk].is_refunded and not rows[failed.pk].is_refunded

    yes = admin_client.get(CHANGELIST, {"refunded": "yes"}).context["cl"].result_list
    no = admin_client.get(CHANGELIST, {"refunded": "no"}).context["cl"].result_list
    assert [e.pk for e in yes] == [paid.pk] and [e.pk for e in no] == [failed.pk]


def test_list_puts_status_amount_product_user_date_first(admin_client, catalog):
    pay("c_order")
    cl = admin_client.get(CHANGELIST).context["cl"]
    assert cl.list_display[1:6] == ["status_column", "amount", "product", "user_id", "received"]


def test_list_query_count_is_fixed_with_refunds_and_failures(admin_client, catalog):
    off_sale(catalog)
    for n in range(3):
        pay(f"c_few_{n}")
    with CaptureQueriesContext(connection) as few:
        admin_client.get(CHANGELIST)
    for n in range(30):
        pay(f"c_many_{n}")
        handle_refund(user_id=4242, telegram_payment_charge_id=f"c_many_{n}", source=EventSource.TELEGRAM,
                      payload={})
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(CHANGELIST, {"refunded": "yes"})
    assert len(response.context["cl"].result_list) == 30
    assert len(many.captured_queries) == len(few.captured_queries)


def test_long_ids_are_shortened_with_a_copy_button_and_no_inline_script(admin_client):
    charge = "stxLONG" + "x" * 60 + "END123"
    StripeEventFactory(telegram_payment_charge_id=charge)
    html = admin_client.get(CHANGELIST).content.decode()
    assert f'data-copy="{charge}"' in html and "stxLONGx…ND123" in html
    assert "telegram_payments/admin/events.js" in html and "telegram_payments/admin/events.css" in html
    assert not re.search(r"<script>(?!</script>)\s*\S", html)  # every script is a file


def test_refunds_list_links_a_seen_payment_and_notes_one_never_seen(admin_client, catalog):
    paid = pay("c_seen")
    handle_refund(user_id=4242, telegram_payment_charge_id="c_seen", source=EventSource.TELEGRAM, payload={})
    handle_refund(user_id=9, telegram_payment_charge_id="c_never_seen", source=EventSource.TELEGRAM, payload={})
    html = admin_client.get(REFUNDS).content.decode()
    assert f'href="{change_url(paid)}" class="payment-link"' in html
    assert html.count('class="payment-link"') == 1 and "— (payment never seen)" in html
    assert admin_client.get(change_url(paid)).status_code == 200


def test_refunds_list_query_count_is_fixed(admin_client, catalog):
    handle_refund(user_id=1, telegram_payment_charge_id="c_r0", source=EventSource.TELEGRAM, payload={})
    with CaptureQueriesContext(connection) as few:
        admin_client.get(REFUNDS)
    for n in range(20):
        pay(f"c_rp{n}")
        handle_refund(user_id=4242, telegram_payment_charge_id=f"c_rp{n}", source=EventSource.TELEGRAM, payload={})
    with CaptureQueriesContext(connection) as many:
        admin_client.get(REFUNDS)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_one_date_format_with_the_time_zone(admin_client, catalog):
    received = datetime(2026, 11, 30, 14, 5, tzinfo=UTC)
    event = StripeEventFactory(telegram_payment_charge_id="c_date", received_at=received, processed_at=received)
    assert "2026-11-30 14:05 UTC" in admin_client.get(CHANGELIST).content.decode()
    detail = admin_client.get(change_url(event)).content.decode()
    assert detail.count("2026-11-30 14:05 UTC") >= 2  # received and processed
    grant = grant_manually(user_id=3, entitlement_type="premium_monthly", reason="r").entitlements[0]
    page = admin_client.get(reverse("admin:entitlements_entitlement_changelist")).content.decode()
    assert timezone.localtime(grant.starts_at).strftime("%Y-%m-%d %H:%M UTC") in page


def test_an_event_page_says_where_the_automatic_refund_stands(auto_refund, admin_client, catalog, fake_bot_api):
    off_sale(catalog)
    failed = pay("c_page")
    assert "Queued for the refund_unfulfillable worker." in admin_client.get(change_url(failed)).content.decode()
    fake_bot_api.respond("refundStarPayment", error=(400, "Bad Request: odd"))
    run_worker()
    assert "Attempt 1 failed: Bad Request: odd" in admin_client.get(change_url(failed)).content.decode()
    autorefunds.refund_due(due_before=timezone.now() + timedelta(hours=1))
    assert "Refunded as tg_stars:refund:c_page." in admin_client.get(change_url(failed)).content.decode()
    assert 'id="refund-button"' not in admin_client.get(change_url(failed)).content.decode()


def test_replay_events_command_thanks_the_buyer(catalog, fake_bot_api, django_capture_on_commit_callbacks):
    off_sale(catalog)
    failed = pay("c_cmd")
    back_on_sale()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("replay_events", "--failed", stdout=StringIO(), stderr=StringIO())
    assert [c["chat_id"] for c in fake_bot_api.calls_of("sendMessage")] == [4242]
    assert BuyerMessage.objects.filter(key=f"delivered:{failed.event_id}").exists()


def test_a_refunded_failed_payment_is_no_longer_waiting(admin_client, catalog, django_user_model, fake_bot_api):
    from telegram_payments.admin.glance import glance_stats
    from telegram_payments.management.deployment import check_no_waiting_events
    from telegram_payments.reads.selectors import failed_waiting

    off_sale(catalog)
    failed = pay("c_waiting")
    pay("c_waiting_other", user_id=5)
    assert failed_waiting().count() == 2 and glance_stats()["failed_waiting"] == 2
    refund_payment(event=failed, staff_user=make_staff(django_user_model, "rita"), reason="cannot deliver")
    assert [e.pk for e in failed_waiting()] != [failed.pk] and failed_waiting().count() == 1
    assert glance_stats()["failed_waiting"] == 1
    assert check_no_waiting_events() == (False, "1 failed and 0 stuck pending event(s): see replay_events "
                                                "--failed/--pending")
    assert 'telegram_stars_failed_events_waiting{bot="default"} 1.0' in admin_client.get("/metrics").content.decode()
