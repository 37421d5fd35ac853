"""The admin says what it is: the site's name, the audit trail's name, the failing events on the index,
and a "View site" link that leads somewhere (the service's front page)."""

import pytest
from django.contrib import admin
from django.urls import reverse

from telegram_payments.models import EventStatus, StripeEvent
from tests.factories import StripeEventFactory

pytestmark = pytest.mark.django_db


def test_the_site_is_called_stars_payments(admin_client, client):
    html = admin_client.get("/admin/").content.decode()
    assert "<title>Support desk | Stars payments</title>" in html
    assert 'id="site-name"><a href="/admin/">Stars payments</a>' in html
    assert "Django administration" not in html and "Django site admin" not in html
    login = client.get("/admin/login/?next=/admin/").content.decode()
    assert "Stars payments" in login


def test_the_audit_trail_is_called_payments_and_refunds(admin_client):
    assert StripeEvent._meta.verbose_name_plural == "Payments & refunds"
    index = admin_client.get("/admin/").content.decode()
    assert "Payments &amp; refunds" in index
    changelist = admin_client.get(reverse("admin:telegram_payments_stripeevent_changelist")).content.decode()
    assert "Payments &amp; refunds" in changelist


def test_the_index_shows_how_many_events_are_failing_and_links_to_them(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert 'id="failing-count">0<' in html and "nothing waits for staff" in html
    StripeEventFactory.create_batch(3, status=EventStatus.FAILED, error="unknown product")
    StripeEventFactory(status=EventStatus.PENDING)
    StripeEventFactory()
    html = admin_client.get("/admin/").content.decode()
    failed_list = reverse("admin:telegram_payments_stripeevent_changelist") + "?failing=yes"
    assert f'<a href="{failed_list}" id="failing-link">' in html
    assert 'id="failing-count" class="failing">3<' in html
    listed = admin_client.get(failed_list)
    assert listed.context["cl"].result_count == 3


def test_staff_without_the_audit_trail_do_not_see_the_count(client, django_user_model):
    user = django_user_model.objects.create_user(username="catalog", password="pw-for-tests-only", is_staff=True)
    client.force_login(user)
    html = client.get("/admin/").content.decode()
    assert "failing-link" not in html


def test_view_site_leads_to_a_page_naming_the_service(admin_client, client):
    assert admin.site.site_url == "/"
    assert 'href="/">View site</a>' in admin_client.get("/admin/").content.decode()
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Telegram Stars payments" in html
    assert 'href="/admin/"' in html and 'href="/api/docs/"' in html
    assert "<script" not in html  # the CSP allows no inline script
    assert client.get("/api/docs/").status_code == 200


def test_a_failed_payment_whose_refund_is_recorded_is_not_failing_any_more(admin_client, catalog):
    from telegram_payments.models import EventSource
    from telegram_payments.payments.pipeline import handle_refund, handle_successful_payment

    for charge in ("stuck", "refunded"):
        handle_successful_payment(user_id=9, telegram_payment_charge_id=charge, total_amount=250, currency="XTR",
                                  entitlement_type="no_such_product", source=EventSource.RELAY, payload={})
    handle_refund(user_id=9, telegram_payment_charge_id="refunded", source=EventSource.RELAY, payload={})
    assert 'id="failing-count" class="failing">1<' in admin_client.get("/admin/").content.decode()
    assert admin_client.get("/admin/telegram_payments/stripeevent/at-a-glance/").context["stats"]["failed_waiting"] == 1
