"""The audit trail in the admin: list, search, filters, detail page, read-only, replay, CSV export, refunds list."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from entitlements.models import Entitlement
from telegram_payments.models import EVENT_PAYMENT, EVENT_REFUND, EventSource, EventStatus, StripeEvent
from telegram_payments.payments.pipeline import handle_refund, handle_successful_payment
from tests.factories import InvoiceFactory, StripeEventFactory, customer_page

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/telegram_payments/stripeevent/"
REFUNDS = "/admin/telegram_payments/refundevent/"


def make_staff(django_user_model, username="support", perms=()):
    user = django_user_model.objects.create_user(username=username, password="pw-for-tests-only", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def pay(charge="ch_1", user_id=7, entitlement_type="premium_monthly", amount=250, **kw):
    return handle_successful_payment(
        user_id=user_id, telegram_payment_charge_id=charge, total_amount=amount, currency="XTR",
        entitlement_type=entitlement_type, source=EventSource.RELAY, payload={"charge": charge}, **kw,
    ).event


@pytest.fixture
def staff_client(client, django_user_model):
    def login(*perms):
        username = f"support{django_user_model.objects.count()}"
        client.force_login(make_staff(django_user_model, username=username, perms=perms))
        return client

    return login


# --- list ------------------------------------------------------------------------------------------
def test_list_shows_columns_amount_in_stars_and_coloured_status(admin_client, catalog):
    pay(charge="ch_list")
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert "250 XTR" in html and "⭐" not in html  # no emoji font needed
    assert "ch_list" in html and "premium_monthly" in html
    assert 'class="status-label status-processed"' in html
    assert "#1a7f37" in html  # processed is green


def test_search_by_charge_id_finds_exactly_that_payment(admin_client, catalog):
    pay(charge="ch_wanted")
    pay(charge="ch_other", user_id=8)
    response = admin_client.get(CHANGELIST, {"q": "ch_wanted"})
    assert list(response.context["cl"].result_list.values_list("telegram_payment_charge_id", flat=True)) == [
        "ch_wanted"
    ]


@pytest.mark.parametrize("query", ["8", "tg_stars:payment:ch_b", "inv_part"])
def test_search_by_user_event_id_and_invoice_payload(admin_client, query):
    StripeEventFactory(telegram_payment_charge_id="ch_a", customer_id="7")
    StripeEventFactory(telegram_payment_charge_id="ch_b", customer_id="8", invoice_payload="inv_partial_xyz")
    response = admin_client.get(CHANGELIST, {"q": query})
    assert [e.telegram_payment_charge_id for e in response.context["cl"].result_list] == ["ch_b"]


def test_an_exact_id_that_matches_is_the_whole_answer(admin_client):
    """A user id is not also matched inside other events' invoice payloads (the slow, scanning part)."""
    StripeEventFactory(telegram_payment_charge_id="ch_user", customer_id="8")
    StripeEventFactory(telegram_payment_charge_id="ch_payload", customer_id="9", invoice_payload="order-8")
    response = admin_client.get(CHANGELIST, {"q": " 8 "})
    assert [e.telegram_payment_charge_id for e in response.context["cl"].result_list] == ["ch_user"]
    response = admin_client.get(CHANGELIST, {"q": "order-"})  # no id matches: the payload is searched
    assert [e.telegram_payment_charge_id for e in response.context["cl"].result_list] == ["ch_payload"]


@pytest.mark.postgres
def test_the_exact_id_search_can_use_the_indexes():
    StripeEventFactory(customer_id="8")
    query = StripeEvent.objects.filter(
        Q(customer_id="8") | Q(event_id="8") | Q(telegram_payment_charge_id="8")).values("pk").query
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table is scanned anyway: ask what else
        sql, params = query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan" not in plan, plan
    assert "stripe_events_customer" in plan, plan


@pytest.mark.parametrize("params", [
    {"status__exact": "1"}, {"event_type": EVENT_PAYMENT}, {"payment_method": "telegram_stars"},
    {"currency": "XTR"}, {"entitlement_type": "premium_monthly"}, {"source__exact": "relay"},
    {"received_at__year": str(timezone.now().year)},
])
def test_filters_and_date_hierarchy_are_accepted(admin_client, params):
    StripeEventFactory()
    response = admin_client.get(CHANGELIST, params)
    assert response.status_code == 200  # an unknown lookup would redirect to ?e=1
    assert response.context["cl"].result_count == 1


def test_status_filter_narrows_the_list(admin_client):
    StripeEventFactory(status=EventStatus.FAILED, telegram_payment_charge_id="ch_failed", error="boom")
    StripeEventFactory(telegram_payment_charge_id="ch_ok")
    response = admin_client.get(CHANGELIST, {"status__exact": EventStatus.FAILED})
    assert [e.telegram_payment_charge_id for e in response.context["cl"].result_list] == ["ch_failed"]


def test_list_query_count_does_not_grow_with_rows(admin_client, django_user_model, django_assert_max_num_queries):
    staff = make_staff(django_user_model, username="alice")
    for _ in range(3):
        StripeEventFactory(event_type=EVENT_REFUND, source=EventSource.STAFF, initiated_by=staff)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(CHANGELIST).status_code == 200
    StripeEventFactory.create_batch(97, initiated_by=staff, source=EventSource.STAFF)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 100
    assert response.content.decode().count('class="status-label') == 100


def test_refunds_list_query_count_does_not_grow_with_rows(admin_client, django_user_model):
    staff = make_staff(django_user_model, username="alice")
    StripeEventFactory(event_type=EVENT_REFUND, source=EventSource.STAFF, initiated_by=staff)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(REFUNDS)
    StripeEventFactory.create_batch(99, event_type=EVENT_REFUND, source=EventSource.STAFF, initiated_by=staff)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(REFUNDS)
    assert len(response.context["cl"].result_list) == 100
    assert len(many.captured_queries) == len(few.captured_queries)


# --- read-only, even for superusers --------------------------------------------------------------
def test_audit_trail_is_read_only_for_superusers(admin_client, catalog):
    event = pay()
    change = reverse("admin:telegram_payments_stripeevent_change", args=[event.pk])
    assert admin_client.get(reverse("admin:telegram_payments_stripeevent_add")).status_code == 403
    assert admin_client.get(reverse("admin:telegram_payments_stripeevent_delete", args=[event.pk])).status_code == 403
    assert admin_client.post(change, {"customer_id": "666", "amount_cents": 1}).status_code == 403
    page = admin_client.get(change)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    event.refresh_from_db()
    assert (event.customer_id, event.amount_cents) == ("7", 250)


def test_delete_action_is_not_offered(admin_client):
    StripeEventFactory()
    actions = [name for name, _ in admin_client.get(CHANGELIST).context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions
    assert "replay_failed" in actions and "export_csv" in actions


def test_staff_without_view_permission_cannot_see_the_audit_trail(staff_client):
    client = staff_client()
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(REFUNDS).status_code == 403
    assert client.get(reverse("admin:telegram_payments_glance")).status_code == 403


# --- detail page ---------------------------------------------------------------------------------
def test_detail_shows_pretty_payload_without_secrets(admin_client, stars):
    event = StripeEventFactory(payload={
        "message": {"text": f"token is {stars.BOT_TOKEN}"},
        "secret_token": "abc", "echo": stars.WEBHOOK_SECRET, "other_bot": "987654321:" + "Z" * 35,
        "amount": 250,
    })
    html = admin_client.get(reverse("admin:telegram_payments_stripeevent_change", args=[event.pk])).content.decode()
    assert '<pre class="event-payload"' in html
    assert "&quot;amount&quot;: 250" in html  # indented JSON
    assert stars.BOT_TOKEN not in html
    assert stars.BOT_TOKEN.split(":")[1] not in html
    assert stars.WEBHOOK_SECRET not in html
    assert "Z" * 35 not in html
    assert "abc" not in html
    assert html.count("[redacted]") >= 4


def test_detail_of_failed_event_shows_its_error(admin_client, catalog):
    event = pay(charge="ch_bad", entitlement_type="no_such_product")
    assert event.status == EventStatus.FAILED
    html = admin_client.get(reverse("admin:telegram_payments_stripeevent_change", args=[event.pk])).content.decode()
    assert "unknown product &#x27;no_such_product&#x27;" in html
    assert 'class="status-label status-failed"' in html


def test_payment_and_refund_link_to_each_other_and_to_the_entitlement(admin_client, catalog):
    payment = pay(charge="ch_linked")
    grant = Entitlement.objects.get(event_id=payment.event_id)
    payment_page = admin_client.get(reverse("admin:telegram_payments_stripeevent_change", args=[payment.pk]))
    html = payment_page.content.decode()
    assert reverse("admin:entitlements_entitlement_change", args=[grant.pk]) in html
    assert "no refund recorded" in html

    refund = handle_refund(user_id=7, telegram_payment_charge_id="ch_linked", source=EventSource.TELEGRAM,
                           payload={}, refund_reason="changed mind").event
    html = admin_client.get(reverse("admin:telegram_payments_stripeevent_change", args=[payment.pk])).content.decode()
    assert reverse("admin:telegram_payments_stripeevent_change", args=[refund.pk]) in html
    refund_html = admin_client.get(
        reverse("admin:telegram_payments_stripeevent_change", args=[refund.pk])
    ).content.decode()
    assert reverse("admin:telegram_payments_stripeevent_change", args=[payment.pk]) in refund_html
    assert reverse("admin:entitlements_entitlement_change", args=[grant.pk]) in refund_html
    assert "revoked by this refund; now revoked" in refund_html


def test_by_event_id_redirects_to_the_event(admin_client):
    event = StripeEventFactory(telegram_payment_charge_id="ch_redirect")
    response = admin_client.get(reverse("admin:telegram_payments_stripeevent_by_event_id",
                                        args=["tg_stars:payment:ch_redirect"]))
    assert response.status_code == 302
    assert response.url == reverse("admin:telegram_payments_stripeevent_change", args=[event.pk])
    assert admin_client.get(reverse("admin:telegram_payments_stripeevent_by_event_id",
                                    args=["tg_stars:payment:nope"])).status_code == 404


# --- refunds list ----------------------------------------------------------------------------------
def test_refunds_list_shows_only_refunds_with_reason_and_initiator(client, django_user_model, catalog):
    alice = make_staff(django_user_model, username="alice")
    pay(charge="ch_r1")
    pay(charge="ch_r2", user_id=8)
    handle_refund(user_id=7, telegram_payment_charge_id="ch_r1", source=EventSource.STAFF, payload={},
                  refund_reason="duplicate purchase", initiated_by=alice)
    handle_refund(user_id=8, telegram_payment_charge_id="ch_r2", source=EventSource.TELEGRAM, payload={},
                  refund_reason="")
    # One permission for the whole audit trail: view_stripeevent shows the refunds list too.
    client.force_login(make_staff(django_user_model, perms=["telegram_payments.view_stripeevent"]))
    response = client.get(REFUNDS)
    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert {e.telegram_payment_charge_id for e in rows} == {"ch_r1", "ch_r2"}
    assert all(e.event_type == EVENT_REFUND for e in rows)
    html = response.content.decode()
    assert "duplicate purchase" in html
    assert "Staff (admin): alice" in html and "Telegram update" in html
    assert client.get(REFUNDS, {"source__exact": "staff"}).context["cl"].result_count == 1


# --- replay action -------------------------------------------------------------------------------
def test_replay_action_reports_replayed_and_still_failing(admin_client, catalog):
    fixable = pay(charge="ch_fix", entitlement_type="later_product")
    hopeless = pay(charge="ch_hopeless", entitlement_type="never_product")
    done = pay(charge="ch_done")
    assert fixable.status == hopeless.status == EventStatus.FAILED
    from tests.factories import ProductFactory

    ProductFactory(entitlement_type="later_product", price_stars=100)
    response = admin_client.post(CHANGELIST, {
        "action": "replay_failed", "_selected_action": [fixable.pk, hopeless.pk, done.pk],
    }, follow=True)
    assert "Replayed 1, still failing 1" in [str(m) for m in response.context["messages"]][0]
    fixable.refresh_from_db()
    hopeless.refresh_from_db()
    assert fixable.status == EventStatus.PROCESSED and hopeless.status == EventStatus.FAILED
    assert hopeless.attempts == 2
    assert Entitlement.objects.filter(event_id=fixable.event_id).exists()
    assert LogEntry.objects.filter(object_id=str(fixable.pk), change_message__startswith="Replayed").exists()


def test_replay_action_needs_the_change_permission(staff_client, catalog):
    failed = pay(charge="ch_nope", entitlement_type="later_product")
    client = staff_client("telegram_payments.view_stripeevent")
    page = client.get(CHANGELIST)
    actions = [name for name, _ in page.context["action_form"].fields["action"].choices]
    assert "replay_failed" not in actions and "export_csv" in actions
    client.post(CHANGELIST, {"action": "replay_failed", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert failed.attempts == 1

    client = staff_client("telegram_payments.view_stripeevent", "telegram_payments.change_stripeevent")
    response = client.post(CHANGELIST, {"action": "replay_failed", "_selected_action": [failed.pk]}, follow=True)
    assert ("Replayed 0, still failing 1. Still failing: tg_stars:payment:ch_nope: unknown product 'later_product'."
            in [str(m) for m in response.context["messages"]])


# --- CSV export ----------------------------------------------------------------------------------
def read_csv(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_export_action_downloads_selected_rows(admin_client):
    a = StripeEventFactory(telegram_payment_charge_id="ch_csv_a", refund_reason="=HYPERLINK(\"x\")")
    StripeEventFactory(telegram_payment_charge_id="ch_csv_b")
    response = admin_client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [a.pk]})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    assert [r["telegram_payment_charge_id"] for r in rows] == ["ch_csv_a"]
    assert rows[0]["amount"] == "100" and rows[0]["status"] == "processed"
    assert rows[0]["refund_reason"].startswith("'=")  # a spreadsheet will not run it


def test_export_link_downloads_the_filtered_rows(staff_client):
    StripeEventFactory(telegram_payment_charge_id="ch_f", status=EventStatus.FAILED, error="boom")
    StripeEventFactory(telegram_payment_charge_id="ch_p")
    client = staff_client("telegram_payments.view_stripeevent")
    page = client.get(CHANGELIST, {"status__exact": "2"})
    assert 'id="export-filtered"' in page.content.decode()
    response = client.get(reverse("admin:telegram_payments_stripeevent_export"), {"status__exact": "2"})
    assert [r["telegram_payment_charge_id"] for r in read_csv(response)] == ["ch_f"]


# --- at a glance ---------------------------------------------------------------------------------
def test_glance_page_is_linked_from_the_index_and_shows_the_figures(admin_client, catalog):
    pay(charge="g1")
    pay(charge="g2", user_id=8, entitlement_type="premium_yearly", amount=2500)
    pay(charge="g3", user_id=9)
    handle_refund(user_id=9, telegram_payment_charge_id="g3", source=EventSource.TELEGRAM, payload={})
    pay(charge="g4", entitlement_type="nope")  # failed
    index = admin_client.get("/admin/").content.decode()
    glance_url = reverse("admin:telegram_payments_glance")
    assert f'href="{glance_url}"' in index

    response = admin_client.get(glance_url)
    assert response.status_code == 200
    stats = response.context["stats"]
    # The failed payment (250 XTR) was paid too: received, of which in failed payments (revenue.money_events).
    assert stats["stars_total"] == 3250 and stats["payments_total"] == 4
    assert stats["current"].failed_gross == 250
    assert stats["refunds_total"] == 1 and round(stats["refund_rate"], 1) == 25.0
    assert stats["failed_waiting"] == 1
    assert {(r["entitlement_type"], r["count"]) for r in stats["active_entitlements"]} == {
        ("premium_monthly", 1), ("premium_yearly", 1),
    }
    html = response.content.decode()
    # Two charts, each drawn wide and narrow (a phone's width shows the narrow one: glance.html's CSS).
    assert html.count('<svg class="bar-chart"') == 4 and html.count("<rect") == 120
    assert 'data-value="3250"' in html  # today's bar
    assert "25.0%" in html
    assert "cdn" not in html.lower() and "<script" not in html.split("</head>")[1]


def test_amounts_read_the_same_on_every_admin_page_without_an_emoji(admin_client, catalog):
    payment = pay(charge="ch_big", entitlement_type="premium_yearly", amount=12500)
    handle_refund(user_id=7, telegram_payment_charge_id="ch_big", source=EventSource.TELEGRAM, payload={})
    refund = StripeEvent.objects.get(event_id="tg_stars:refund:ch_big")
    pages = {
        "list": CHANGELIST,
        "payment": reverse("admin:telegram_payments_stripeevent_change", args=[payment.pk]),
        "refund": reverse("admin:telegram_payments_stripeevent_change", args=[refund.pk]),
        "customer": customer_page(7),
        "catalog": reverse("admin:telegram_payments_product_changelist"),
    }
    html = {name: admin_client.get(url).content.decode() for name, url in pages.items()}
    assert all("⭐" not in page for page in html.values())
    assert "12,500 XTR" in html["payment"] and "\u221212,500 XTR" in html["refund"]
    assert "\u221212,500 XTR" in html["list"] and "\u221212,500 XTR" in html["customer"]
    assert "2,500 XTR" in html["catalog"]  # premium_yearly's price


def test_glance_page_with_no_events(staff_client):
    client = staff_client("telegram_payments.view_stripeevent")
    response = client.get(reverse("admin:telegram_payments_glance"))
    assert response.status_code == 200
    assert response.context["stats"]["refund_rate"] is None


# --- catalog -------------------------------------------------------------------------------------
def test_product_price_change_never_touches_past_events_or_invoices(admin_client, catalog):
    product = catalog["premium_monthly"]
    invoice = InvoiceFactory(product=product, price_stars=250, user_id=7)
    event = pay(charge="ch_before")
    url = reverse("admin:telegram_payments_product_change", args=[product.pk])
    assert "applies to new invoices only" in admin_client.get(url).content.decode()
    response = admin_client.post(url, {
        "title": product.title, "description": product.description, "price_stars": 300,
        "duration_days": 30, "is_active": "on",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    product.refresh_from_db()
    event.refresh_from_db()
    invoice.refresh_from_db()
    assert product.price_stars == 300
    assert (event.amount_cents, invoice.price_stars) == (250, 250)


def test_product_editing_needs_permission(staff_client, catalog):
    product = catalog["premium_monthly"]
    url = reverse("admin:telegram_payments_product_change", args=[product.pk])
    viewer = staff_client("telegram_payments.view_product")
    assert viewer.get(url).status_code == 200
    assert viewer.post(url, {"title": "x", "description": "y", "price_stars": 1}).status_code == 403
    editor = staff_client("telegram_payments.view_product", "telegram_payments.change_product",
                          "telegram_payments.add_product")
    assert editor.get(reverse("admin:telegram_payments_product_add")).status_code == 200
    response = editor.post(reverse("admin:telegram_payments_product_add"), {
        "entitlement_type": "team_plan", "title": "Team", "description": "For teams", "price_stars": 900,
        "duration_days": 30, "is_active": "on",
    })
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.price_stars == 250
    # Nobody deletes a product past events refer to: take it off sale instead.
    assert editor.get(reverse("admin:telegram_payments_product_delete", args=[product.pk])).status_code == 403


def test_glance_counts_only_the_last_30_days(admin_client):
    now = timezone.now()
    StripeEventFactory(amount_cents=111, received_at=now - timedelta(days=29))
    StripeEventFactory(amount_cents=999, received_at=now - timedelta(days=31))
    StripeEventFactory(amount_cents=50, status=EventStatus.FAILED, error="x")  # failed: paid too, today
    stats = admin_client.get(reverse("admin:telegram_payments_glance")).context["stats"]
    assert stats["stars_total"] == 161 and stats["payments_total"] == 2 and stats["current"].failed_gross == 50
    assert [d.stars for d in stats["days"]][0] == 111 and len(stats["days"]) == 30


@pytest.mark.parametrize("url", [
    "/admin/", CHANGELIST, REFUNDS, "/admin/telegram_payments/product/", "/admin/telegram_payments/invoice/",
    "/admin/telegram_payments/product/add/", "/admin/entitlements/entitlement/", "/admin/telegram_payments/",
])
def test_every_admin_list_page_renders(admin_client, catalog, url):
    pay(charge="ch_smoke")
    handle_refund(user_id=7, telegram_payment_charge_id="ch_smoke", source=EventSource.TELEGRAM, payload={})
    assert admin_client.get(url).status_code == 200


def test_refund_event_detail_in_the_refunds_admin(admin_client, catalog):
    pay(charge="ch_proxy")
    refund = handle_refund(user_id=7, telegram_payment_charge_id="ch_proxy", source=EventSource.TELEGRAM,
                           payload={}, refund_reason="not as described").event
    response = admin_client.get(reverse("admin:telegram_payments_refundevent_change", args=[refund.pk]))
    assert response.status_code == 200 and "not as described" in response.content.decode()
    assert admin_client.get(reverse("admin:telegram_payments_refundevent_add")).status_code == 403
