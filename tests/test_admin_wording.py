"""One way of saying things across the admin: the audit trail's pages are titled "Payments & refunds"
(and "Refunds"), a failed event still waiting is "failing" everywhere it is counted, an empty value
reads "—", and money going back reads with a real minus sign."""

import pytest
from django.urls import reverse

from telegram_payments.models import EventSource
from telegram_payments.payments.pipeline import handle_successful_payment
from telegram_payments.reads.money import nanostars_number, signed_stars, stars_out, usd_estimate
from tests.factories import customer_page

pytestmark = pytest.mark.django_db


def test_the_audit_trail_pages_say_what_they_list(admin_client, catalog):
    for name, title in (("stripeevent", "Payments &amp; refunds"), ("refundevent", "Refunds")):
        html = admin_client.get(reverse(f"admin:telegram_payments_{name}_changelist")).content.decode()
        assert f"<h1>{title}</h1>" in html and "Select audit event" not in html
    event = handle_successful_payment(user_id=31, telegram_payment_charge_id="w1", total_amount=250, currency="XTR",
                                      entitlement_type="premium_monthly", source=EventSource.RELAY, payload={}).event
    html = admin_client.get(reverse("admin:telegram_payments_stripeevent_change", args=[event.pk])).content.decode()
    assert "<h1>Payment</h1>" in html and "audit event" not in html.split("<h1>", 1)[1].split("</h1>", 1)[0]


def test_failing_is_the_one_word_where_failed_events_are_counted(admin_client, catalog):
    handle_successful_payment(user_id=32, telegram_payment_charge_id="w2", total_amount=1, currency="XTR",
                              entitlement_type="premium_monthly", source=EventSource.RELAY, payload={})
    pages = [admin_client.get(url).content.decode() for url in (
        "/admin/", reverse("admin:telegram_payments_glance"), customer_page(32))]
    assert all("failing event" in html.lower() for html in pages)
    assert not any("failed events waiting" in html for html in pages)


def test_empty_values_and_signs_read_the_same_everywhere(admin_client, catalog):
    assert admin_client.get(reverse("admin:telegram_payments_customer_changelist")).status_code == 200
    from django.contrib import admin

    assert admin.site.empty_value_display == "—"
    assert (stars_out(250), signed_stars(-250), signed_stars(None)) == ("−250 XTR", "−250 XTR", "—")
    assert nanostars_number(-1_500_000_000) == "−1.5" and usd_estimate(-100).startswith("≈ −$")
