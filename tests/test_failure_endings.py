"""A failure that ends: a failed payment ends fulfilled by a staff grant (linked to it), refunded, or
dismissed with a reason; only open ones count as failing (admin index, At a glance, customer page,
/metrics, `replay_events --failed`), and an ended one is never replayed. The grant form's defaults
cannot contradict each other: days only for a product with a period."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from entitlements.models import Entitlement
from telegram_payments.metrics import DatabaseGauges
from telegram_payments.models import EventSource, EventStatus, FailureResolution, ResolutionKind, StripeEvent
from telegram_payments.payments.failures import failure_state
from telegram_payments.payments.pipeline import handle_successful_payment, replay_event
from telegram_payments.reads.revenue import failing_event_count
from tests.factories import customer_page as customer_url
from tests.factories import default_bot_pk
from tests.test_admin_refund import make_staff

pytestmark = pytest.mark.django_db

USER = 8080
SUPPORT = ["telegram_payments.view_stripeevent", "telegram_payments.grant_entitlement",
           "telegram_payments.change_stripeevent"]


def failed_payment(charge: str, *, stars: int = 100, product: str = "premium_monthly") -> StripeEvent:
    """A payment below the price: recorded as failed (Telegram took the Stars)."""
    outcome = handle_successful_payment(user_id=USER, telegram_payment_charge_id=charge, total_amount=stars,
                                        currency="XTR", entitlement_type=product, source=EventSource.RELAY,
                                        payload={})
    assert outcome.event.status == EventStatus.FAILED
    return outcome.event


def failing_gauge() -> float:
    return next(s.value for m in DatabaseGauges().collect() for s in m.samples
                if s.name == "telegram_stars_failed_events_waiting")


def index_count(client) -> str:
    html = client.get("/admin/").content.decode()
    return html.split('id="failing-count"', 1)[1].split(">", 1)[1].split("<", 1)[0]


@pytest.fixture
def staff(client, django_user_model, catalog):
    client.force_login(make_staff(django_user_model, "fay", SUPPORT))
    return client


def customer_page(client):
    return client.get(customer_url(USER)).content.decode()


def test_a_grant_that_fulfils_a_failed_payment_ends_it(staff, fake_bot_api):
    payment = failed_payment("stxFULFIL1")
    other = failed_payment("stxSTILLOPEN")
    assert failing_event_count() == 2 and index_count(staff) == "2" and failing_gauge() == 2
    html = customer_page(staff)
    assert "Fulfil by a grant…" in html and "Dismiss…" not in html  # no resolve_failure permission

    grant_url = reverse("admin:telegram_payments_customer_grant", args=[default_bot_pk(), USER])
    page = staff.get(grant_url, {"fulfils": payment.pk, "type": "premium_monthly"})
    assert page.status_code == 200 and 'id="grant-fulfils"' in page.content.decode()
    response = staff.post(f"{grant_url}?fulfils={payment.pk}",
                          {"entitlement_type": "premium_monthly", "days": "", "reason": "paid 100 of 250, fine",
                           "fulfils": payment.pk})
    assert response.status_code == 302
    resolution = FailureResolution.objects.get(payment=payment)
    assert resolution.kind == ResolutionKind.FULFILLED and resolution.reason == "paid 100 of 250, fine"
    grant_event = resolution.grant_event
    assert grant_event.payload["fulfils"] == payment.event_id
    assert Entitlement.objects.get(event_id=grant_event.event_id).user_id == USER
    assert failure_state(payment) == "fulfilled"

    assert failing_event_count() == 1 and index_count(staff) == "1" and failing_gauge() == 1
    html = customer_page(staff)
    assert "fulfilled by a staff grant" in html and grant_event.event_id in html
    assert html.count("replay-action") == 1  # only the open one
    # An ended failure is never replayed (it would grant twice) by any route.
    assert replay_event(event=payment).event.status == EventStatus.FAILED
    assert Entitlement.objects.filter(user_id=USER).count() == 1
    out = StringIO()
    with pytest.raises(CommandError, match="1 event"):  # the other one, still open, still failing
        call_command("replay_events", "--failed", stdout=out, stderr=out)
    assert payment.event_id not in out.getvalue() and other.event_id in out.getvalue()
    # ... and it cannot end twice.
    again = staff.post(grant_url, {"entitlement_type": "premium_monthly", "reason": "again", "fulfils": payment.pk})
    assert again.status_code == 200 and "has ended already (fulfilled)" in "".join(
        m.message for m in again.context["messages"])
    assert FailureResolution.objects.count() == 1
    assert failure_state(other) == "open"


def test_dismiss_needs_its_own_permission_a_confirmation_and_a_reason(client, django_user_model, catalog):
    payment = failed_payment("stxDISMISS1")
    url = reverse("admin:telegram_payments_customer_dismiss", args=[default_bot_pk(), USER, payment.pk])
    client.force_login(make_staff(django_user_model, "gil", SUPPORT))
    assert client.get(url).status_code == 403
    client.force_login(make_staff(django_user_model, "hal", SUPPORT + ["telegram_payments.resolve_failure"]))
    assert "Dismiss…" in customer_page(client)
    page = client.get(url)
    assert page.status_code == 200 and 'id="confirm-dismiss"' in page.content.decode()
    assert client.post(url, {"reason": "  "}).status_code == 200  # the form again: a reason is required
    assert not FailureResolution.objects.exists()
    assert client.post(url, {"reason": "settled by bank transfer"}).status_code == 302
    resolution = FailureResolution.objects.get(payment=payment)
    assert (resolution.kind, resolution.resolved_by.username, resolution.grant_event) == ("dismissed", "hal", None)
    assert failing_event_count() == 0 and index_count(client) == "0"
    html = customer_page(client)
    assert "dismissed by hal" in html and "settled by bank transfer" in html
    assert "Dismiss…" not in html and "replay-action" not in html
    change = client.get(reverse("admin:telegram_payments_stripeevent_change", args=[payment.pk])).content.decode()
    assert "dismissed by hal" in change and 'id="replay-button"' not in change
    listed = client.get(reverse("admin:telegram_payments_stripeevent_changelist"), {"failing": "yes"})
    assert listed.context["cl"].result_count == 0


def test_only_a_failed_payment_can_be_dismissed(catalog):
    paid = handle_successful_payment(user_id=USER, telegram_payment_charge_id="stxOK", total_amount=250,
                                     currency="XTR", entitlement_type="premium_monthly", source=EventSource.RELAY,
                                     payload={}).event
    with pytest.raises(CommandError, match="only a failed payment"):
        call_command("dismiss_failure", paid.event_id, "--reason", "x", stdout=StringIO())
    failed = failed_payment("stxCMD")
    call_command("dismiss_failure", failed.event_id, "--reason", "duplicate order", stdout=StringIO())
    assert failure_state(failed) == "dismissed"


def test_grant_entitlement_fulfils_from_the_command_line(catalog):
    failed = failed_payment("stxCLI")
    call_command("grant_entitlement", str(USER), "premium_monthly", "--reason", "goodwill",
                 "--fulfils", failed.event_id, stdout=StringIO())
    assert failure_state(failed) == "fulfilled" and failing_event_count() == 0
    with pytest.raises(CommandError, match="No event"):
        call_command("grant_entitlement", "9", "premium_monthly", "--reason", "x", "--fulfils", failed.event_id,
                     stdout=StringIO())


# --- the grant form's defaults ---------------------------------------------------------------------
def test_the_grant_form_chooses_no_product_and_no_days_for_you(staff):
    url = reverse("admin:telegram_payments_customer_grant", args=[default_bot_pk(), USER])
    html = staff.get(url).content.decode()
    assert '<option value="" selected>— choose —</option>' in html
    assert "Premium for life (lifetime): for life" in html and "Premium, 1 month (premium_monthly): 30 days" in html
    assert 'name="days"' in html and 'name="days" value="30"' not in html


def test_a_product_for_life_takes_no_days(staff, fake_bot_api):
    url = reverse("admin:telegram_payments_customer_grant", args=[default_bot_pk(), USER])
    response = staff.post(url, {"entitlement_type": "lifetime", "days": "30", "reason": "vip"})
    assert response.status_code == 200 and "is for life: it takes no days" in response.content.decode()
    assert not Entitlement.objects.exists()
    assert staff.post(url, {"entitlement_type": "lifetime", "days": "", "reason": "vip"}).status_code == 302
    assert Entitlement.objects.get().expires_at is None  # for life, not "until" a date
    assert staff.post(url, {"entitlement_type": "premium_monthly", "days": "", "reason": "m"}).status_code == 302
    monthly = Entitlement.objects.get(entitlement_type="premium_monthly")
    assert (monthly.expires_at - monthly.starts_at).days == 30  # the product's period
    with pytest.raises(CommandError, match="takes no days"):
        call_command("grant_entitlement", str(USER), "lifetime", "--reason", "x", "--days", "5", stdout=StringIO())


def test_the_metric_counts_only_open_failures(catalog):
    failed_payment("stxM1")
    ended = failed_payment("stxM2")
    call_command("dismiss_failure", ended.event_id, "--reason", "test", stdout=StringIO())
    assert failing_gauge() == 1


def test_a_refund_of_a_fulfilled_payment_takes_back_the_grant_that_fulfilled_it(catalog, fake_bot_api,
                                                                               django_user_model):
    """Refunding a failed payment a staff grant fulfilled revokes that grant, as a refund revokes a
    payment's own grant (rules.apply_refund): the buyer cannot keep both the Stars and the product."""
    from telegram_payments.payments.refunds import refund_payment

    failed = failed_payment("stxFULREF")
    call_command("grant_entitlement", str(USER), "premium_monthly", "--reason", "close enough",
                 "--fulfils", failed.event_id, stdout=StringIO())
    grant = Entitlement.objects.get(user_id=USER)
    assert grant.revoked_at is None
    refund_payment(event=failed, staff_user=make_staff(django_user_model, "ivy"), reason="changed their mind")
    grant.refresh_from_db()
    assert grant.revoked_at is not None and "refund" in grant.revoke_reason


def test_a_refunded_failed_payment_is_never_replayed_by_any_route(staff, django_user_model):
    """Refunded is an end like fulfilled and dismissed: fixing the cause later must not turn a refunded
    failure into a processed payment (a grant for Stars already given back)."""
    from telegram_payments.payments.pipeline import handle_refund
    from telegram_payments.reads.selectors import events_to_replay

    payment = failed_payment("stxREFUNDED", stars=250, product="premium_weekly")  # unknown product
    handle_refund(user_id=USER, telegram_payment_charge_id="stxREFUNDED", source=EventSource.RELAY, payload={})
    assert failure_state(payment) == "refunded"
    assert payment not in events_to_replay(failed=True)
    StripeEvent.objects.filter(pk=payment.pk).update(entitlement_type="premium_monthly")  # the cause "fixed"
    assert replay_event(event=payment).status == "duplicate"
    call_command("replay_events", "--failed", stdout=StringIO())
    page = staff.get(reverse("admin:telegram_payments_stripeevent_change", args=[payment.pk])).content.decode()
    assert reverse("admin:telegram_payments_stripeevent_replay", args=[payment.pk]) not in page
    staff.post(reverse("admin:telegram_payments_stripeevent_changelist"),
               {"action": "replay_failed", "_selected_action": [payment.pk]})
    payment.refresh_from_db()
    assert payment.status == EventStatus.FAILED and not Entitlement.objects.filter(user_id=USER).exists()
