"""Entitlements in the admin: state filter, search, link to the payment, revoke with a reason, no editing."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from entitlements.models import Entitlement
from telegram_payments.models import EventSource, StripeEvent
from telegram_payments.payments.pipeline import handle_successful_payment
from tests.factories import EntitlementFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/entitlements/entitlement/"


def make_staff(django_user_model, username, perms=()):
    user = django_user_model.objects.create_user(username=username, password="pw-for-tests-only", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


@pytest.fixture
def grants():
    now = timezone.now()
    return {
        "active": EntitlementFactory(user_id=1, starts_at=now - timedelta(days=1)),
        "scheduled": EntitlementFactory(user_id=2, starts_at=now + timedelta(days=5)),
        "expired": EntitlementFactory(user_id=3, starts_at=now - timedelta(days=40),
                                      expires_at=now - timedelta(days=10)),
        "revoked": EntitlementFactory(user_id=4, starts_at=now - timedelta(days=1), revoked_at=now,
                                      entitlement_type="lifetime", expires_at=None),
    }


@pytest.mark.parametrize("state", ["active", "scheduled", "expired", "revoked"])
def test_state_filter(admin_client, grants, state):
    response = admin_client.get(CHANGELIST, {"state": state})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [grants[state]]
    assert f'class="state-label state-{state}"' in response.content.decode()


def test_type_filter_and_search_by_user_id(admin_client, grants):
    assert list(admin_client.get(CHANGELIST, {"entitlement_type": "lifetime"}).context["cl"].result_list) == [
        grants["revoked"]
    ]
    assert list(admin_client.get(CHANGELIST, {"q": "3"}).context["cl"].result_list) == [grants["expired"]]


def test_links_to_the_payment_event(admin_client, catalog):
    payment = handle_successful_payment(
        user_id=77, telegram_payment_charge_id="ch_ent", total_amount=250, currency="XTR",
        entitlement_type="premium_monthly", source=EventSource.RELAY, payload={},
    ).event
    grant = Entitlement.objects.get(event_id=payment.event_id)
    html = admin_client.get(reverse("admin:entitlements_entitlement_change", args=[grant.pk])).content.decode()
    link = reverse("admin:telegram_payments_stripeevent_by_event_id", args=[payment.event_id])
    assert link in html
    assert admin_client.get(link).url == reverse("admin:telegram_payments_stripeevent_change", args=[payment.pk])


def test_dates_are_never_editable_even_for_superusers(admin_client, grants):
    grant = grants["active"]
    url = reverse("admin:entitlements_entitlement_change", args=[grant.pk])
    html = admin_client.get(url).content.decode()
    assert 'name="expires_at' not in html and 'name="starts_at' not in html and 'name="_save"' not in html
    later = (grant.expires_at + timedelta(days=365)).strftime("%Y-%m-%d")
    assert admin_client.post(url, {"expires_at_0": later, "expires_at_1": "00:00:00"}).status_code == 403
    assert admin_client.get(reverse("admin:entitlements_entitlement_add")).status_code == 403
    assert admin_client.get(reverse("admin:entitlements_entitlement_delete", args=[grant.pk])).status_code == 403
    old_expiry = grant.expires_at
    grant.refresh_from_db()
    assert grant.expires_at == old_expiry


def test_revoke_with_a_reason(client, django_user_model, grants):
    staff = make_staff(django_user_model, "sam", ["entitlements.view_entitlement", "entitlements.change_entitlement"])
    client.force_login(staff)
    grant = grants["active"]
    change = reverse("admin:entitlements_entitlement_change", args=[grant.pk])
    revoke = reverse("admin:entitlements_entitlement_revoke", args=[grant.pk])
    assert revoke in client.get(change).content.decode()
    page = client.get(revoke)
    assert page.status_code == 200 and 'name="reason"' in page.content.decode()

    assert client.post(revoke, {"reason": ""}).status_code == 200  # reason required
    grant.refresh_from_db()
    assert grant.revoked_at is None

    response = client.post(revoke, {"reason": "abuse of the service"}, follow=True)
    assert response.redirect_chain[-1][0] == change
    grant.refresh_from_db()
    # The same service call and reason format as the customer page's Revoke, with its audit event.
    assert grant.revoked_at is not None and grant.revoke_reason == "manual: abuse of the service"
    event = StripeEvent.objects.get(event_type="manual.revoke")
    assert event.customer_id == str(grant.user_id) and event.initiated_by == staff
    assert event.payload["revoked"] == [grant.event_id] and event.payload["reason"] == "abuse of the service"
    entry = LogEntry.objects.get()
    assert entry.user == staff and entry.object_id == str(grant.pk) and "abuse" in entry.change_message
    assert revoke not in client.get(change).content.decode()  # no button on a revoked grant


def test_revoke_needs_the_change_permission(client, django_user_model, grants):
    client.force_login(make_staff(django_user_model, "vic", ["entitlements.view_entitlement"]))
    grant = grants["active"]
    revoke = reverse("admin:entitlements_entitlement_revoke", args=[grant.pk])
    assert revoke not in client.get(reverse("admin:entitlements_entitlement_change", args=[grant.pk])).content.decode()
    assert client.get(revoke).status_code == 403
    assert client.post(revoke, {"reason": "x"}).status_code == 403
    grant.refresh_from_db()
    assert grant.revoked_at is None


def test_revoking_a_revoked_grant_changes_nothing(admin_client, grants):
    grant = grants["revoked"]
    response = admin_client.post(reverse("admin:entitlements_entitlement_revoke", args=[grant.pk]), {"reason": "x"})
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.revoke_reason == ""
