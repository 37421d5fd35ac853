"""The three confirmation pages (refund, subscription renewals, revoke) share one base template:
breadcrumbs back to the object, the admin's form styles, a body class naming the page."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from entitlements.models import Entitlement
from telegram_payments.models import EventSource
from telegram_payments.payments.pipeline import handle_successful_payment

pytestmark = pytest.mark.django_db


def breadcrumbs(html: str) -> list[str]:
    (crumbs,) = re.findall(r'<div class="breadcrumbs">(.*?)</div>', html, re.S)
    return [re.sub(r"<[^>]+>", "", part).strip() for part in crumbs.split("&rsaquo;")]


@pytest.fixture
def payment(subscription_catalog):
    return handle_successful_payment(
        user_id=77, telegram_payment_charge_id="stxCONFIRM", total_amount=200, currency="XTR",
        entitlement_type="premium_subscription", source=EventSource.TELEGRAM, payload={},
        subscription_expires_at=timezone.now() + timedelta(days=30),
    ).event


def test_refund_and_subscription_pages_lead_back_to_the_event(admin_client, payment):
    change_url = reverse("admin:telegram_payments_stripeevent_change", args=[payment.pk])
    for name, crumb, page_class in (("refund", "Refund", "refund-confirmation"),
                                    ("subscription", "Subscription renewals", "subscription-confirmation")):
        response = admin_client.get(reverse(f"admin:telegram_payments_stripeevent_{name}", args=[payment.pk]))
        html = response.content.decode()
        assert [t.name for t in response.templates][:2] == [
            f"admin/telegram_payments/stripeevent/{name}.html", "telegram_payments/admin/confirmation.html"]
        assert breadcrumbs(html) == ["Home", "Telegram Stars payments", "Payments &amp; refunds", payment.event_id,
                                     crumb]
        assert f'href="{change_url}"' in html
        assert 'href="/admin/telegram_payments/stripeevent/"' in html
        assert "admin/css/forms.css" in html
        assert re.search(rf'<body class="[^"]*app-telegram_payments model-stripeevent {page_class}', html)


def test_revoke_page_leads_back_to_the_grant(admin_client, payment):
    grant = Entitlement.objects.get(event_id=payment.event_id)
    response = admin_client.get(reverse("admin:entitlements_entitlement_revoke", args=[grant.pk]))
    html = response.content.decode()
    assert [t.name for t in response.templates][:2] == [
        "admin/entitlements/entitlement/revoke.html", "telegram_payments/admin/confirmation.html"]
    assert breadcrumbs(html) == ["Home", "Entitlements", "Entitlements", "premium_subscription for 77", "Revoke"]
    assert f'href="{reverse("admin:entitlements_entitlement_change", args=[grant.pk])}"' in html
    assert 'href="/admin/entitlements/entitlement/"' in html
    assert "admin/css/forms.css" in html
    assert re.search(r'<body class="[^"]*app-entitlements model-entitlement revoke-confirmation', html)
    assert 'id="revoke-form"' in html
