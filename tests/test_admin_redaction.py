"""No secret reaches an admin page or a CSV export, whatever field of an event it was sent in; one redaction."""

import csv
import io

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from entitlements.models import Entitlement
from telegram_payments.models import EVENT_REFUND, EventStatus, Invoice, PreCheckoutAnswer
from telegram_payments.redaction import REDACTED, redact
from tests.factories import ProductFactory, StripeEventFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/telegram_payments/stripeevent/"
REFUNDS = "/admin/telegram_payments/refundevent/"


def leaks(text: str, stars) -> list[str]:
    token = stars.BOT_TOKEN
    return [secret for secret in (token, token.partition(":")[2], stars.WEBHOOK_SECRET) if secret in text]


@pytest.fixture
def event_carrying_the_token(stars):
    token = stars.BOT_TOKEN
    return StripeEventFactory(
        provider_payment_charge_id=f"prov_{token}", invoice_payload=f"inv {token}",
        entitlement_type=f"x{token}", note=f"note {token}", refund_reason=f"asked {token}",
        customer_id="1001", payload={"text": token},
    )


def test_the_bot_token_in_any_field_is_not_on_the_list_page(admin_client, stars, event_carrying_the_token):
    html = admin_client.get(CHANGELIST).content.decode()
    assert leaks(html, stars) == []
    assert REDACTED in html  # the entitlement type column, redacted
    assert 'class="status-label status-processed"' in html


def test_the_bot_token_in_any_field_is_not_on_the_detail_page(admin_client, stars, event_carrying_the_token):
    html = admin_client.get(
        reverse("admin:telegram_payments_stripeevent_change", args=[event_carrying_the_token.pk])
    ).content.decode()
    assert f"prov_{REDACTED}" in html
    assert f"inv {REDACTED}" in html and f"note {REDACTED}" in html
    assert leaks(html, stars) == []
    # Still shown as Django shows a field: its row, label and help text.
    assert 'class="form-row field-provider_payment_charge_id"' in html
    assert "Provider payment charge id" in html
    assert "What processing did, in words." in html


def test_a_charge_id_carrying_the_token_is_redacted_in_titles_and_breadcrumbs(admin_client, stars):
    event = StripeEventFactory(telegram_payment_charge_id=f"ch_{stars.BOT_TOKEN}")
    assert stars.BOT_TOKEN in str(event)  # its event id, the page's subtitle
    for page in ("change", "history"):
        response = admin_client.get(reverse(f"admin:telegram_payments_stripeevent_{page}", args=[event.pk]))
        assert response.status_code == 200
        assert leaks(response.content.decode(), stars) == [], page
    assert leaks(admin_client.get(CHANGELIST).content.decode(), stars) == []


def test_the_admin_log_of_an_action_on_such_an_event_is_redacted(admin_client, stars, catalog):
    event = StripeEventFactory(telegram_payment_charge_id=f"ch_{stars.BOT_TOKEN}",
                               status=EventStatus.FAILED, entitlement_type="no_such_product")
    admin_client.post(CHANGELIST, {"action": "replay_failed", "_selected_action": [event.pk]})
    entry = LogEntry.objects.get(object_id=str(event.pk))
    assert leaks(entry.object_repr + entry.change_message, stars) == []
    for page in ("/admin/", reverse("admin:telegram_payments_stripeevent_history", args=[event.pk])):
        assert leaks(admin_client.get(page).content.decode(), stars) == [], page


def test_the_bot_token_in_any_field_is_not_in_the_csv_export(admin_client, stars, event_carrying_the_token):
    for response in (
        admin_client.get(reverse("admin:telegram_payments_stripeevent_export")),
        admin_client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [event_carrying_the_token.pk]}),
    ):
        text = b"".join(response.streaming_content).decode()
        assert leaks(text, stars) == []
        (row,) = list(csv.DictReader(io.StringIO(text)))
        assert row["provider_payment_charge_id"] == f"prov_{REDACTED}"
        assert row["invoice_payload"] == f"inv {REDACTED}"


def test_the_bot_token_is_not_on_the_refunds_list_nor_in_its_filters(admin_client, stars):
    token = stars.BOT_TOKEN
    StripeEventFactory(event_type=EVENT_REFUND, event_id="tg_stars:refund:x", refund_reason=f"why {token}",
                       entitlement_type=token)
    StripeEventFactory(entitlement_type="plain_type")
    html = admin_client.get(REFUNDS).content.decode()
    assert f"why {REDACTED}" in html
    assert leaks(html, stars) == []
    html = admin_client.get(CHANGELIST).content.decode()
    assert "plain_type" in html  # the entitlement type filter still offers the ordinary values
    assert leaks(html, stars) == []


def test_invoices_pre_checkout_answers_and_grants_are_redacted_too(admin_client, stars):
    token = stars.BOT_TOKEN
    product = ProductFactory()
    invoice = Invoice.objects.create(payload=f"p{token}", user_id=1, product=product, price_stars=100)
    PreCheckoutAnswer.objects.create(query_id="q1", user_id=1, invoice_payload=f"p{token}", total_amount=100,
                                     currency="XTR", ok=False, reason="declined", error_message=f"m {token}")
    grant = Entitlement.objects.create(user_id=1, entitlement_type=f"t{token}", event_id="e1",
                                       revoke_reason=f"r {token}")
    pages = [
        "/admin/telegram_payments/invoice/",
        reverse("admin:telegram_payments_invoice_change", args=[invoice.pk]),
        "/admin/telegram_payments/precheckoutanswer/",
        "/admin/entitlements/entitlement/",
        reverse("admin:entitlements_entitlement_change", args=[grant.pk]),
        reverse("admin:entitlements_entitlement_revoke", args=[grant.pk]),
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert leaks(response.content.decode(), stars) == [], page


def test_redact_replaces_known_secrets_token_shapes_and_secret_keys(stars):
    token = stars.BOT_TOKEN
    other_bot = "987654321:" + "Z" * 35
    assert redact(f"/bot{token}/getMe") == f"/bot{REDACTED}/getMe"
    assert redact(f"half {token.partition(':')[2]}") == f"half {REDACTED}"
    assert redact(f"x {other_bot} y") == f"x {REDACTED} y"
    assert redact(f"s={stars.WEBHOOK_SECRET}") == f"s={REDACTED}"
    assert redact({"Authorization": "Bearer abc", "items": [token, 5, None], "n": 1}) == {
        "Authorization": REDACTED, "items": [REDACTED, 5, None], "n": 1}
    assert redact("tg_stars:payment:ch_1 at 12:30:00") == "tg_stars:payment:ch_1 at 12:30:00"
    assert redact(42) == 42 and redact(None) is None
