"""No admin input reaches the database unchecked: a NUL character (which PostgreSQL refuses in any
text, a 500 before) in a search, a filter or an action form is a 400 naming the parameter, on every
admin page, and changes nothing."""

import pytest
from django.contrib import admin
from django.urls import reverse

from entitlements.models import Entitlement
from telegram_payments.models import EventSource, StripeEvent
from telegram_payments.payments.pipeline import handle_successful_payment
from tests.factories import default_bot_pk

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(catalog):
    return handle_successful_payment(
        user_id=5150, telegram_payment_charge_id="stxNUL1", total_amount=250, currency="XTR",
        entitlement_type="premium_monthly", source=EventSource.TELEGRAM, payload={}).event


def _refused(response):
    body = response.content.decode()
    return response.status_code == 400 and body.startswith("nul_character") and "\x00" not in body


def changelists():
    for model in admin.site._registry:
        yield reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


@pytest.mark.parametrize("url", list(changelists()) + [reverse("admin:index")])
def test_a_nul_in_any_list_search_or_filter_is_a_400(admin_client, paid, url):
    for query in ({"q": "\x00"}, {"q": "ab\x00c"}, {"status": "\x00"}, {"entitlement_type": "x\x00"},
                  {"customer_id": "\x00"}, {"user_id__exact": "\x00"}, {"\x00": "1"}):
        assert _refused(admin_client.get(url, query)), (url, query)


def test_the_customer_search_refuses_a_nul(admin_client, paid):
    url = reverse("admin:telegram_payments_customer_search")
    assert _refused(admin_client.get(url, {"q": "\x00"}))
    assert admin_client.get(url, {"q": "5150"}).status_code == 302  # the search itself still works


def test_every_action_form_refuses_a_nul_and_changes_nothing(admin_client, paid):
    before = (StripeEvent.objects.count(), Entitlement.objects.filter(revoked_at__isnull=True).count())
    posts = [
        (reverse("admin:telegram_payments_customer_grant", args=[default_bot_pk(), 5150]),
         {"entitlement_type": "premium_monthly", "days": "30", "reason": "goodwill\x00"}),
        (reverse("admin:telegram_payments_customer_revoke", args=[default_bot_pk(), 5150]),
         {"entitlement_type": "premium_monthly", "reason": "\x00"}),
        (reverse("admin:telegram_payments_stripeevent_refund", args=[paid.pk]), {"reason": "a\x00b"}),
        (reverse("admin:telegram_payments_stripeevent_changelist"),
         {"action": "replay_failed", "_selected_action": ["\x00"]}),
        (reverse("admin:telegram_payments_stripeevent_changelist"),
         {"action": "export_csv\x00", "_selected_action": [str(paid.pk)]}),
    ]
    for url, data in posts:
        assert _refused(admin_client.post(url, data)), url
    assert (StripeEvent.objects.count(), Entitlement.objects.filter(revoked_at__isnull=True).count()) == before
