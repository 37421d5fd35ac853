"""The support desk's customer page: what it shows, who may act, the actions, and its query count."""

from datetime import UTC, timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from entitlements.models import Entitlement
from telegram_payments.models import (
    Customer,
    EventSource,
    EventStatus,
    Invoice,
    PreCheckoutAnswer,
    Product,
    StripeEvent,
    Subscription,
)
from telegram_payments.payments.pipeline import handle_refund, handle_successful_payment
from tests.factories import EntitlementFactory, StripeEventFactory, customer_page, default_bot_pk
from tests.test_admin_refund import make_staff

pytestmark = pytest.mark.django_db

USER = 4242
SUPPORT_PERMS = [
    "telegram_payments.view_stripeevent", "telegram_payments.change_stripeevent", "telegram_payments.refund_payment",
    "telegram_payments.manage_subscription", "telegram_payments.grant_entitlement", "entitlements.change_entitlement",
]


def page_url(user_id=USER):
    return customer_page(user_id)


@pytest.fixture
def history(catalog):
    """A customer with a processed payment, a refunded one, a failed one, an invoice and two pre-checkout answers."""
    Customer.objects.create(user_id=USER, first_name="Grace", last_name="Hopper", username="grace_h")
    paid = handle_successful_payment(
        user_id=USER, telegram_payment_charge_id="stxPAID0001", total_amount=250, currency="XTR",
        entitlement_type="premium_monthly", source=EventSource.TELEGRAM, payload={},
    ).event
    refunded = handle_successful_payment(
        user_id=USER, telegram_payment_charge_id="stxREFUNDED1", total_amount=2500, currency="XTR",
        entitlement_type="premium_yearly", source=EventSource.TELEGRAM, payload={},
    ).event
    handle_refund(user_id=USER, telegram_payment_charge_id="stxREFUNDED1", source=EventSource.TELEGRAM, payload={},
                  entitlement_type="premium_yearly", total_amount=2500)
    Product.objects.create(entitlement_type="team_plan", title="Team plan", description="For teams",
                           price_stars=900, duration_days=30, is_active=False)
    failed = handle_successful_payment(
        user_id=USER, telegram_payment_charge_id="stxFAILED01", total_amount=900, currency="XTR",
        entitlement_type="team_plan", source=EventSource.TELEGRAM, payload={},
    ).event
    assert failed.status == EventStatus.FAILED
    invoice = Invoice.objects.create(payload="inv_grace_1", user_id=USER, product=catalog["premium_monthly"],
                                     price_stars=250)
    PreCheckoutAnswer.objects.create(query_id="q1", user_id=USER, invoice_payload=invoice.payload, invoice=invoice,
                                     currency="XTR", total_amount=250, ok=True)
    PreCheckoutAnswer.objects.create(query_id="q2", user_id=USER, invoice_payload="inv_gone", currency="XTR",
                                     total_amount=250, ok=False, reason="unknown_invoice",
                                     error_message="This invoice is no longer valid.")
    return {"paid": paid, "refunded": refunded, "failed": failed, "invoice": invoice}


@pytest.fixture
def support(client, django_user_model):
    client.force_login(make_staff(django_user_model, "sam", SUPPORT_PERMS))
    return client


@pytest.fixture
def viewer(client, django_user_model):
    client.force_login(make_staff(django_user_model, "vic", ["telegram_payments.view_stripeevent"]))
    return client


# --- what it shows ---------------------------------------------------------------------------------
def test_the_page_shows_who_what_they_have_and_everything_that_happened(support, history):
    html = support.get(page_url()).content.decode()
    assert "Grace Hopper" in html and "@grace_h" in html and '<code id="customer-user-id">4242</code>' in html
    # What they have now, worded as everywhere else.
    grant = Entitlement.objects.get(event_id=history["paid"].event_id)
    assert f'<span class="until">until {grant.expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC</span>' in html
    assert 'data-type="premium_yearly"' not in html  # refunded: revoked
    # The timeline: signed amounts in plain text, the failure's reason, pre-checkout answers both ways.
    assert "+250 XTR" in html and "\u2212" + "2,500 XTR" in html
    assert "Payment for team_plan (failed)" in html and "not on sale" in html.lower()
    assert "Pre-checkout accepted" in html and "Pre-checkout declined" in html
    assert "unknown_invoice: This invoice is no longer valid." in html
    assert "Invoice issued for" in html and "inv_grace_1" in html
    assert "⭐" not in html  # no emoji font needed
    # Newest first: the failed payment was the last event.
    assert html.index("Payment for team_plan") < html.index("Payment for premium_monthly")


def test_buttons_for_what_this_user_may_do(support, history):
    html = support.get(page_url()).content.decode()
    refund = reverse("admin:telegram_payments_stripeevent_refund", args=[history["paid"].pk])
    assert f'href="{refund}?next=' in html
    assert reverse("admin:telegram_payments_stripeevent_refund", args=[history["refunded"].pk]) not in html
    assert reverse("admin:telegram_payments_customer_replay",
                   args=[default_bot_pk(), USER, history["failed"].pk]) in html
    # A failed payment was still paid: it may be refunded too.
    assert reverse("admin:telegram_payments_stripeevent_refund", args=[history["failed"].pk]) in html
    assert 'id="grant-button"' in html and "revoke-action" in html


def test_an_unknown_user_has_an_empty_page_not_a_404(support, db):
    response = support.get(page_url(777))
    assert response.status_code == 200
    assert "Nothing is recorded about this user yet" in response.content.decode()


# --- permissions ----------------------------------------------------------------------------------
def test_staff_without_the_audit_trail_gets_403(client, django_user_model, history):
    client.force_login(make_staff(django_user_model, "cat", ["telegram_payments.view_product"]))
    assert client.get(page_url()).status_code == 403
    assert client.get(reverse("admin:telegram_payments_customer_search"), {"q": "4242"}).status_code == 403


def test_a_viewer_sees_no_action_buttons_and_gets_403_on_every_action(viewer, history):
    html = viewer.get(page_url()).content.decode()
    assert "Grace Hopper" in html
    for button in ("grant-button", "grant-action", "revoke-action", "replay-action", "refund-action",
                   "subscription-action"):
        assert button not in html
    action_urls = [
        reverse("admin:telegram_payments_customer_grant", args=[default_bot_pk(), USER]),
        reverse("admin:telegram_payments_customer_revoke", args=[default_bot_pk(), USER]),
        reverse("admin:telegram_payments_customer_replay", args=[default_bot_pk(), USER, history["failed"].pk]),
        reverse("admin:telegram_payments_stripeevent_refund", args=[history["paid"].pk]),
        reverse("admin:telegram_payments_stripeevent_subscription", args=[history["paid"].pk]),
    ]
    for url in action_urls:
        assert viewer.get(url).status_code == 403, url
        assert viewer.post(url, {"reason": "x", "entitlement_type": "premium_monthly", "days": 30,
                                 "renewals": "stop"}).status_code == 403, url
    assert StripeEvent.objects.count() == 4 and not LogEntry.objects.exists()


# --- actions --------------------------------------------------------------------------------------
def test_grant_a_month_with_a_reason(support, history):
    url = reverse("admin:telegram_payments_customer_grant", args=[default_bot_pk(), USER])
    page = support.get(url, {"type": "premium_monthly"})
    assert page.status_code == 200 and 'id="confirm-grant"' in page.content.decode()
    refused = support.post(url, {"entitlement_type": "premium_monthly", "days": 30, "reason": ""})
    assert refused.status_code == 200 and Entitlement.objects.filter(user_id=USER).count() == 2
    before = Entitlement.objects.get(event_id=history["paid"].event_id).expires_at
    response = support.post(url, {"entitlement_type": "premium_monthly", "days": 30, "reason": "Outage in May"})
    assert response.status_code == 302 and response.url == page_url()
    grant = Entitlement.objects.filter(user_id=USER).latest("granted_at")
    assert grant.starts_at == before and grant.expires_at == before + timedelta(days=30)  # extended
    event = StripeEvent.objects.get(event_id=grant.event_id)
    assert event.initiated_by.username == "sam" and event.payload["reason"] == "Outage in May"
    html = support.get(page_url()).content.decode()
    assert "Granted premium_monthly by hand" in html and "Manual (operator): sam" in html and "Outage in May" in html


def test_revoke_a_type_with_a_reason(support, history):
    url = reverse("admin:telegram_payments_customer_revoke", args=[default_bot_pk(), USER])
    response = support.post(url, {"entitlement_type": "premium_monthly", "reason": "Chargeback"})
    assert response.status_code == 302
    assert Entitlement.objects.get(event_id=history["paid"].event_id).revoked_at is not None
    html = support.get(page_url()).content.decode()
    assert "Nothing active." in html and "Revoked premium_monthly by hand" in html and "Chargeback" in html


def test_replay_a_failed_payment_with_a_reason(support, history):
    Product.objects.filter(entitlement_type="team_plan").update(is_active=True)
    url = reverse("admin:telegram_payments_customer_replay", args=[default_bot_pk(), USER, history["failed"].pk])
    assert "not on sale" in support.get(url).content.decode().lower()
    response = support.post(url, {"reason": "Back on sale"})
    assert response.status_code == 302
    history["failed"].refresh_from_db()
    assert history["failed"].status == EventStatus.PROCESSED
    html = support.get(page_url()).content.decode()
    assert "Staff (admin): sam" in html and "Back on sale" in html


def test_replay_of_another_users_event_is_a_404(support, history):
    url = reverse("admin:telegram_payments_customer_replay", args=[default_bot_pk(), 999, history["failed"].pk])
    assert support.get(url).status_code == 404


def test_a_refund_from_the_page_comes_back_to_it(support, history, fake_bot_api):
    refund = reverse("admin:telegram_payments_stripeevent_refund", args=[history["paid"].pk])
    response = support.post(f"{refund}?next={page_url()}", {"reason": "Wrong plan"})
    assert response.status_code == 302 and response.url == page_url()
    html = support.get(page_url()).content.decode()
    assert "Staff (admin): sam" in html and "Wrong plan" in html and html.count("\u2212250 XTR") == 1
    # The refund's own admin log line is not repeated in the timeline: the refund event says it.
    assert "Refunded through the Bot API" not in html


def test_refund_next_must_stay_on_this_site(support, history, fake_bot_api):
    refund = reverse("admin:telegram_payments_stripeevent_refund", args=[history["paid"].pk])
    response = support.post(f"{refund}?next=https://evil.example/", {"reason": "Wrong plan"})
    assert response.status_code == 302 and "evil" not in response.url


# --- a fixed number of queries -------------------------------------------------------------------
@pytest.mark.parametrize("count", [3, 30])
def test_the_page_takes_a_fixed_number_of_queries(support, catalog, count, django_user_model,
                                                  django_assert_num_queries):
    staff = django_user_model.objects.get(username="sam")
    Customer.objects.create(user_id=USER, first_name="Grace")
    for n in range(count):
        event = StripeEventFactory(customer_id=str(USER), subscription_expires_at=timezone.now() + timedelta(days=n),
                                   status=EventStatus.FAILED if n % 3 == 0 else EventStatus.PROCESSED,
                                   error="boom" if n % 3 == 0 else "", initiated_by=staff if n % 2 else None,
                                   source=EventSource.STAFF if n % 2 else EventSource.RELAY)
        EntitlementFactory(user_id=USER, event_id=event.event_id)
        Invoice.objects.create(payload=f"inv_{n}", user_id=USER, product=catalog["premium_monthly"], price_stars=250)
        Subscription.objects.create(user_id=USER, invoice_payload=f"inv_{n}", product=catalog["premium_monthly"],
                                    source=EventSource.TELEGRAM)
        PreCheckoutAnswer.objects.create(query_id=f"q{n}", user_id=USER, currency="XTR", total_amount=250, ok=True)
        LogEntry.objects.create(user=staff, content_type=ContentType.objects.get_for_model(StripeEvent),
                                object_id=str(event.pk), object_repr=event.event_id, action_flag=CHANGE,
                                change_message=f"Replayed {n}")
    support.get(page_url())  # warm up: the session and the permission cache
    with django_assert_num_queries(QUERIES) as captured:
        response = support.get(page_url())
    assert response.status_code == 200
    assert response.content.decode().count('class="timeline-row') == 4 * count
    assert len(captured.captured_queries) == QUERIES


QUERIES = 17  # the totals: one count, one sum of Stars (revenue.money_totals); the bots the staff member
# sees (registry.access), and the shared scopes of the page's bot (selectors.bot_scopes)


# --- staff roles ----------------------------------------------------------------------------------
def test_the_support_and_catalog_groups(staff_groups):
    support = set(Group.objects.get(name="Support").permissions.values_list("codename", flat=True))
    assert {"view_stripeevent", "change_stripeevent", "refund_payment", "manage_subscription", "grant_entitlement",
            "view_precheckoutanswer", "view_invoice", "view_product", "view_entitlement",
            "change_entitlement", "resolve_failure"} <= support
    assert not {"add_product", "change_product", "delete_product"} & support
    catalog = set(Group.objects.get(name="Catalog managers").permissions.values_list("codename", flat=True))
    assert catalog == {"view_product", "add_product", "change_product"}


def test_a_support_group_member_may_grant_and_a_catalog_manager_may_not(client, django_user_model, catalog,
                                                                       staff_groups):
    sue = django_user_model.objects.create_user(username="sue", password="pw-for-tests-only", is_staff=True)
    sue.groups.add(Group.objects.get(name="Support"))
    client.force_login(sue)
    grant = reverse("admin:telegram_payments_customer_grant", args=[default_bot_pk(), USER])
    assert client.get(grant).status_code == 200
    assert client.get(reverse("admin:telegram_payments_product_change", args=[catalog["premium_monthly"].pk])
                      ).content.decode().count('name="_save"') == 0
    carl = django_user_model.objects.create_user(username="carl", password="pw-for-tests-only", is_staff=True)
    carl.groups.add(Group.objects.get(name="Catalog managers"))
    client.force_login(carl)
    assert client.get(page_url()).status_code == 403
    assert 'name="_save"' in client.get(
        reverse("admin:telegram_payments_product_change", args=[catalog["premium_monthly"].pk])).content.decode()


# --- links to the page ----------------------------------------------------------------------------
def test_every_list_links_user_ids_to_the_customer_page(admin_client, history):
    link = f'href="{page_url()}"'
    for name in ("telegram_payments_stripeevent_changelist", "telegram_payments_refundevent_changelist",
                 "telegram_payments_invoice_changelist", "telegram_payments_precheckoutanswer_changelist",
                 "entitlements_entitlement_changelist", "telegram_payments_customer_changelist"):
        assert link in admin_client.get(reverse(f"admin:{name}")).content.decode(), name
    grant = Entitlement.objects.get(event_id=history["paid"].event_id)
    answer = PreCheckoutAnswer.objects.first()
    for name, pk in (("telegram_payments_stripeevent_change", history["paid"].pk),
                     ("telegram_payments_invoice_change", history["invoice"].pk),
                     ("telegram_payments_precheckoutanswer_change", answer.pk),
                     ("entitlements_entitlement_change", grant.pk),
                     ("telegram_payments_stripeevent_refund", history["paid"].pk)):
        assert link in admin_client.get(reverse(f"admin:{name}", args=[pk])).content.decode(), name


def test_the_search_box_is_in_every_admin_page_header(admin_client, viewer, client, db):
    assert 'id="customer-search-box"' in admin_client.get(reverse("admin:index")).content.decode()
    assert 'id="customer-search-box"' in viewer.get(reverse("admin:telegram_payments_stripeevent_changelist")
                                                    ).content.decode()
    client.logout()
    assert 'id="customer-search-box"' not in client.get(reverse("admin:login")).content.decode()


def test_an_id_no_table_can_hold_is_a_404(support, db):
    for user_id in (0, 2**63, 10**30):
        assert support.get(page_url(user_id)).status_code == 404
        assert support.post(reverse("admin:telegram_payments_customer_grant", args=[default_bot_pk(), user_id]),
                            {"entitlement_type": "premium_monthly", "days": 1, "reason": "x"}).status_code == 404


def test_no_secret_reaches_the_page(support, history, stars):
    token = stars.BOT_TOKEN
    Customer.objects.filter(user_id=USER).update(first_name=f"Eve {token}", username=f"u{token}")
    StripeEvent.objects.filter(pk=history["failed"].pk).update(error=f"bad {token}")
    html = support.get(page_url()).content.decode()
    assert token not in html and token.partition(":")[2] not in html
    assert "Eve [redacted]" in html


def test_subscriptions_with_their_state_and_the_renewals_button(support, catalog):
    from telegram_payments.models import SubscriptionState

    until = timezone.now() + timedelta(days=20)
    payment = StripeEventFactory(customer_id=str(USER), invoice_payload="inv_sub_1", subscription_expires_at=until,
                                 entitlement_type="premium_monthly")
    Subscription.objects.create(user_id=USER, invoice_payload="inv_sub_1", product=catalog["premium_monthly"],
                                state=SubscriptionState.CANCELLED, source=EventSource.TELEGRAM, paid_until=until)
    StripeEventFactory(customer_id=str(USER), invoice_payload="inv_old", entitlement_type="premium_monthly",
                       subscription_expires_at=timezone.now() - timedelta(days=1))  # paid before states were kept
    html = support.get(page_url()).content.decode()
    assert html.count('class="subscription-row"') == 2
    assert "cancelled by the user" in html and "lapsed" in html
    assert reverse("admin:telegram_payments_stripeevent_subscription", args=[payment.pk]) in html
