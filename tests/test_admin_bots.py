"""The admin with several bots: a staff member sees the bots they are a member of (superusers and holders
of `view_all_bots`: every bot), and nothing of the others: no row in any list, no change, history or
action page (404), no customer page, no search match, no figure At a glance or in a CSV.

Real admin views through the Django test client, on the real database; bots A and B beside the default
one (`other_bots`), one user a customer of both, and one charge id paid to both bots (refunded at B only).
"""

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from entitlements.models import Entitlement, OutboxMessage
from telegram_payments.models import (
    EVENT_PAYMENT,
    EVENT_REFUND,
    BotMembership,
    Customer,
    EventSource,
    Invoice,
    PreCheckoutAnswer,
    Product,
    StripeEvent,
)
from telegram_payments.payments.pipeline import handle_refund, handle_successful_payment
from telegram_payments.reads import revenue
from telegram_payments.reads.customer_history import customer_history
from telegram_payments.reads.customer_search import find_customers
from telegram_payments.registry import access
from telegram_payments.registry import bots as registry

pytestmark = [pytest.mark.django_db, pytest.mark.bot_memberships_by_hand]

USER = 777001  # a customer of both bots
ONLY_A, ONLY_B = 777002, 777003
SHARED = "stxSHARED-charge-id-at-both-bots-0001"
PRICE = {"a": 100, "b": 300}
PASSWORD = "pw-for-tests-only"


def pay(bot, slug, charge, user_id, amount=None):
    return handle_successful_payment(
        bot=bot, user_id=user_id, telegram_payment_charge_id=charge, total_amount=amount or PRICE[slug],
        currency="XTR", source=EventSource.RELAY, entitlement_type=f"{slug}_plan", payload={}).event


@pytest.fixture
def world(other_bots, staff_groups):
    """Bots A and B with a product each, payments (one charge id at both, refunded at B), customers,
    invoices, pre-checkout answers and outbox messages; agents limited to A, to B, and to no bot."""
    bot_a, bot_b = other_bots["a"][0], other_bots["b"][0]
    found = {"a": bot_a, "b": bot_b}
    for slug, bot in found.items():
        product = Product.objects.create(bot=bot, entitlement_type=f"{slug}_plan", title=f"Plan {slug.upper()}",
                                         description="A month", price_stars=PRICE[slug], duration_days=30)
        Customer.objects.update_or_create(bot=bot, user_id=USER, defaults={
            "first_name": f"Name{slug.upper()}", "last_name": "Both", "username": f"both_at_{slug}"})
        invoice = Invoice.objects.create(bot=bot, product=product, user_id=USER, price_stars=PRICE[slug],
                                         payload=f"inv_{slug}_both")
        PreCheckoutAnswer.objects.create(bot=bot, query_id=f"q-{slug}", user_id=USER, currency="XTR",
                                         total_amount=PRICE[slug], ok=True, invoice=invoice,
                                         invoice_payload=invoice.payload)
        OutboxMessage.objects.create(user_id=USER, scope=bot.entitlement_scope, kind="entitlement.granted",
                                     payload={"marker": f"outbox-{slug}"})
    events = {
        "a_shared": pay(bot_a, "a", SHARED, USER),
        "b_shared": pay(bot_b, "b", SHARED, USER),
        "a_own": pay(bot_a, "a", "stxONLY-A-charge-0001", ONLY_A),
        "b_own": pay(bot_b, "b", "stxONLY-B-charge-0001", ONLY_B),
    }
    Customer.objects.update_or_create(bot=bot_a, user_id=ONLY_A, defaults={"first_name": "Alonso"})
    Customer.objects.update_or_create(bot=bot_b, user_id=ONLY_B, defaults={"first_name": "Bertrand"})
    events["b_refund"] = handle_refund(bot=bot_b, user_id=USER, telegram_payment_charge_id=SHARED,
                                       source=EventSource.TELEGRAM, payload={}).event

    def agent(username, *member_of):
        user = django_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True)
        user.groups.add(staff_groups["Support"])
        for bot in member_of:
            BotMembership.objects.create(user=user, bot=bot)
        client = Client()
        client.force_login(user)
        return client

    return {"bots": found, "events": events,
            "agent_a": agent("agent-a", bot_a), "agent_b": agent("agent-b", bot_b), "nobody": agent("nobody"),
            "make_agent": agent}


def django_user_model():
    from django.contrib.auth import get_user_model

    return get_user_model()


# Each list of the admin, and how its rows name their bot.
LISTS = {
    "telegram_payments_stripeevent": (StripeEvent, "bot"),
    "telegram_payments_refundevent": (StripeEvent, "bot"),
    "telegram_payments_customer": (Customer, "bot"),
    "telegram_payments_product": (Product, "bot"),
    "telegram_payments_invoice": (Invoice, "bot"),
    "telegram_payments_precheckoutanswer": (PreCheckoutAnswer, "bot"),
    "entitlements_entitlement": (Entitlement, "scope"),
    "entitlements_outboxmessage": (OutboxMessage, "scope"),
}


def rows_of(client, name, query=None):
    """What a changelist shows: its rows' bots (pks) or scopes."""
    response = client.get(reverse(f"admin:{name}_changelist"), query or {})
    assert response.status_code == 200, (name, response.status_code)
    lookup = LISTS[name][1]
    return set(response.context["cl"].queryset.values_list(lookup, flat=True)), response


def owner(world, slug):
    bot = world["bots"][slug]
    return {"bot": bot.pk, "scope": bot.entitlement_scope}


@pytest.mark.parametrize("name", list(LISTS))
def test_an_agent_of_a_sees_only_as_rows_in_every_list(world, name):
    lookup = LISTS[name][1]
    seen, response = rows_of(world["agent_a"], name)
    # (A refunded nothing: its list of refunds is empty.)
    assert seen == ({owner(world, "a")[lookup]} if name != "telegram_payments_refundevent" else set())
    html = response.content.decode()
    assert "stxONLY-B" not in html and "NameB" not in html and "Bertrand" not in html and "b_plan" not in html
    # One visible bot: no bot filter (nothing to choose).
    assert 'data-filter-title="bot"' not in html and "?bot=" not in html
    seen_b, _ = rows_of(world["agent_b"], name)
    assert seen_b == {owner(world, "b")[lookup]}


@pytest.mark.parametrize("name", list(LISTS))
def test_staff_without_a_membership_see_nothing(world, name):
    seen, _ = rows_of(world["nobody"], name)
    assert seen == set()


@pytest.mark.parametrize("name", list(LISTS))
def test_a_superuser_sees_every_bot_and_filters_by_one(world, admin_client, name):
    lookup = LISTS[name][1]
    seen, response = rows_of(admin_client, name)
    assert owner(world, "b")[lookup] in seen
    assert "?bot=a" in response.content.decode()  # the bot filter, first
    only_a, _ = rows_of(admin_client, name, {"bot": "a"})
    assert only_a == ({owner(world, "a")[lookup]} if name != "telegram_payments_refundevent" else set())
    only_b, _ = rows_of(admin_client, name, {"bot": "b"})
    assert only_b == {owner(world, "b")[lookup]}


def test_the_bot_filter_lists_only_the_visible_bots(world):
    client = world["make_agent"]("agent-ab", world["bots"]["a"], world["bots"]["b"])
    html = client.get(reverse("admin:telegram_payments_stripeevent_changelist")).content.decode()
    assert "?bot=a" in html and "?bot=b" in html and "?bot=default" not in html
    seen, _ = rows_of(client, "telegram_payments_stripeevent", {"bot": "b"})
    assert seen == {world["bots"]["b"].pk}


def test_view_all_bots_sees_every_bot(world):
    client = world["make_agent"]("manager")
    user = django_user_model().objects.get(username="manager")
    user.user_permissions.add(Permission.objects.get(codename="view_all_bots"))
    seen, _ = rows_of(client, "telegram_payments_stripeevent")
    assert {world["bots"]["a"].pk, world["bots"]["b"].pk} <= seen
    assert len(access.visible_bots(user)) == 3


def test_another_bots_pages_answer_404(world):
    agent = world["agent_a"]
    events = world["events"]
    b_payment, b_refund = events["b_own"], events["b_refund"]
    grant_b = Entitlement.objects.get(event_id=b_payment.event_id)
    product_b = Product.objects.get(bot=world["bots"]["b"])
    customer_b = Customer.objects.get(bot=world["bots"]["b"], user_id=ONLY_B)
    urls = [
        reverse("admin:telegram_payments_stripeevent_change", args=[b_payment.pk]),
        reverse("admin:telegram_payments_stripeevent_history", args=[b_payment.pk]),
        reverse("admin:telegram_payments_stripeevent_refund", args=[b_payment.pk]),
        reverse("admin:telegram_payments_stripeevent_subscription", args=[b_payment.pk]),
        reverse("admin:telegram_payments_stripeevent_by_event_id", args=[b_payment.event_id]),
        reverse("admin:telegram_payments_refundevent_change", args=[b_refund.pk]),
        reverse("admin:entitlements_entitlement_change", args=[grant_b.pk]),
        reverse("admin:entitlements_entitlement_history", args=[grant_b.pk]),
        reverse("admin:entitlements_entitlement_revoke", args=[grant_b.pk]),
        reverse("admin:telegram_payments_product_change", args=[product_b.pk]),
        reverse("admin:telegram_payments_customer_change", args=[customer_b.pk]),
        reverse("admin:telegram_payments_customer_bot", args=[world["bots"]["b"].pk, ONLY_B]),
        reverse("admin:telegram_payments_customer_bot", args=[world["bots"]["b"].pk, USER]),
        reverse("admin:telegram_payments_customer_grant", args=[world["bots"]["b"].pk, USER]),
        reverse("admin:telegram_payments_customer_revoke", args=[world["bots"]["b"].pk, USER]),
        reverse("admin:telegram_payments_customer_replay", args=[world["bots"]["b"].pk, ONLY_B, b_payment.pk]),
        reverse("admin:telegram_payments_customer_dismiss", args=[world["bots"]["b"].pk, ONLY_B, b_payment.pk]),
        # A's page naming B's payment: not A's, so not found either.
        reverse("admin:telegram_payments_customer_replay", args=[world["bots"]["a"].pk, ONLY_B, b_payment.pk]),
    ]
    for url in urls:
        response = agent.get(url)
        # Our pages answer 404; Django's own change and history pages send to the index ("does not exist").
        assert response.status_code == 404 or (response.status_code, response.url) == (302, "/admin/"), url
    posts = [
        (reverse("admin:telegram_payments_stripeevent_replay", args=[b_payment.pk]), {}),
        (reverse("admin:telegram_payments_stripeevent_refund", args=[b_payment.pk]), {"reason": "no"}),
        (reverse("admin:entitlements_entitlement_revoke", args=[grant_b.pk]), {"reason": "no"}),
        (reverse("admin:telegram_payments_customer_grant", args=[world["bots"]["b"].pk, ONLY_B]),
         {"entitlement_type": "b_plan", "days": "3", "reason": "no"}),
        (reverse("admin:telegram_payments_customer_revoke", args=[world["bots"]["b"].pk, ONLY_B]),
         {"entitlement_type": "b_plan", "reason": "no"}),
    ]
    before = (StripeEvent.objects.count(), Entitlement.objects.filter(revoked_at__isnull=True).count())
    for url, data in posts:
        assert agent.post(url, data).status_code == 404, url
    assert (StripeEvent.objects.count(), Entitlement.objects.filter(revoked_at__isnull=True).count()) == before
    # The list's action on B's rows by pk: the admin's queryset holds none of them, nothing is replayed.
    response = agent.post(reverse("admin:telegram_payments_stripeevent_changelist"),
                          {"action": "export_csv", "_selected_action": [b_payment.pk]})
    assert "stxONLY-B" not in text(response)


def test_the_customer_page_of_a_customer_of_both_shows_only_the_agents_bot(world):
    bot_a = world["bots"]["a"]
    agent = world["agent_a"]
    chooser = agent.get(reverse("admin:telegram_payments_customer", args=[USER]))
    assert chooser.status_code == 302
    assert chooser.url == reverse("admin:telegram_payments_customer_bot", args=[bot_a.pk, USER])
    response = agent.get(chooser.url)
    html = response.content.decode()
    assert response.status_code == 200 and "NameA" in html and "NameB" not in html
    assert response.context["money"].gross == PRICE["a"] and response.context["money"].refunded == 0
    assert [a["type"] for a in response.context["access"]] == ["a_plan"]
    assert {e.bot_id for e in response.context["history"].events} == {bot_a.pk}
    assert "inv_b_both" not in html and "q-b" not in html and "b_plan" not in html
    # A user B knows and A does not: no page of A's is offered for them... but they may be granted.
    assert agent.get(reverse("admin:telegram_payments_customer", args=[ONLY_B])).url == reverse(
        "admin:telegram_payments_customer_bot", args=[bot_a.pk, ONLY_B])
    assert "Bertrand" not in agent.get(reverse("admin:telegram_payments_customer_bot",
                                               args=[bot_a.pk, ONLY_B])).content.decode()
    # The agent of B: the mirror image.
    html_b = world["agent_b"].get(reverse("admin:telegram_payments_customer", args=[USER]), follow=True)
    assert "NameB" in html_b.content.decode() and "NameA" not in html_b.content.decode()
    assert html_b.context["money"].gross == PRICE["b"] and html_b.context["money"].refunded == PRICE["b"]
    assert html_b.context["access"] == []  # refunded: revoked


def test_no_membership_no_customer_page(world):
    assert world["nobody"].get(reverse("admin:telegram_payments_customer", args=[USER])).status_code == 404
    for slug in ("a", "b"):
        url = reverse("admin:telegram_payments_customer_bot", args=[world["bots"][slug].pk, USER])
        assert world["nobody"].get(url).status_code == 404


def test_a_superuser_chooses_the_bot_of_a_customer_of_both(world, admin_client):
    response = admin_client.get(reverse("admin:telegram_payments_customer", args=[USER]))
    assert response.status_code == 200
    assert [c["bot"].slug for c in response.context["choices"]] == ["a", "b"]
    page = admin_client.get(response.context["choices"][1]["url"])
    html = page.content.decode()
    assert "Customer of <strong>Bot B</strong>" in html and "NameB" in html and "NameA" not in html
    assert 'class="other-bot"' in html  # also a customer of A, linked


def test_grant_and_revoke_on_a_bots_customer_page_act_in_that_bots_scope(world, fake_bot_api):
    bot_a = world["bots"]["a"]
    agent = world["agent_a"]
    grant = reverse("admin:telegram_payments_customer_grant", args=[bot_a.pk, ONLY_A])
    assert agent.get(grant).content.decode().count("b_plan") == 0  # A's catalog only
    response = agent.post(grant, {"entitlement_type": "a_plan", "days": "5", "reason": "goodwill"})
    assert response.status_code == 302
    assert Entitlement.objects.filter(user_id=ONLY_A, scope=bot_a.entitlement_scope).count() == 2
    manual = StripeEvent.objects.filter(bot=bot_a, customer_id=str(ONLY_A)).exclude(event_type=EVENT_PAYMENT)
    assert manual.count() == 1
    revoke = reverse("admin:telegram_payments_customer_revoke", args=[bot_a.pk, ONLY_A])
    response = agent.post(revoke, {"entitlement_type": "a_plan", "reason": "asked to"})
    assert response.status_code == 302
    assert not Entitlement.objects.filter(user_id=ONLY_A, revoked_at__isnull=True).exists()
    # A grant of B's user in B's scope is untouched.
    assert Entitlement.objects.get(user_id=ONLY_B).revoked_at is None


def test_the_entitlements_revoke_of_another_bots_grant_revokes_in_its_scope(world):
    bot_a = world["bots"]["a"]
    grant = Entitlement.objects.get(event_id=world["events"]["a_own"].event_id)
    url = reverse("admin:entitlements_entitlement_revoke", args=[grant.pk])
    response = world["agent_a"].post(url, {"reason": "fraud"})
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is not None and grant.scope == bot_a.entitlement_scope


def test_search_finds_only_the_agents_bots_customers(world):
    bot_a = world["bots"]["a"]
    search = reverse("admin:telegram_payments_customer_search")
    agent = world["agent_a"]
    for term in ("stxONLY-B-charge-0001", "Bertrand", "@both_at_b", str(ONLY_B), "inv_b_both",
                 world["events"]["b_own"].event_id, "stxONLY-B"):
        response = agent.get(search, {"q": term})
        assert response.status_code == 200 and response.context["matches"] == [], term
        assert "NameB" not in response.content.decode()
    for term in (SHARED, str(USER), "Both", "@both_at_a"):
        response = agent.get(search, {"q": term})
        assert response.status_code == 302, term
        assert response.url == reverse("admin:telegram_payments_customer_bot", args=[bot_a.pk, USER])
    assert world["nobody"].get(search, {"q": SHARED}).context["matches"] == []


def test_a_superusers_search_lists_each_bots_customer(world, admin_client):
    response = admin_client.get(reverse("admin:telegram_payments_customer_search"), {"q": SHARED})
    matches = response.context["matches"]
    assert sorted((m.bot.slug, m.user_id, m.customer.first_name) for m in matches) == [
        ("a", USER, "NameA"), ("b", USER, "NameB")]
    assert find_customers(SHARED, bots=[world["bots"]["b"]])[0].customer.first_name == "NameB"
    assert find_customers(SHARED, bots=[]) == []


def glance(client, query=None):
    response = client.get(reverse("admin:telegram_payments_glance"), query or {})
    assert response.status_code == 200
    return response.context["stats"], response.content.decode()


def test_at_a_glance_shows_the_agents_bot_only(world):
    stats, html = glance(world["agent_a"])
    assert stats["payments_total"] == 2 and stats["stars_total"] == 2 * PRICE["a"]
    assert stats["refunds_total"] == 0 and stats["net_total"] == 2 * PRICE["a"]
    assert [p.entitlement_type for p in stats["products"]] == ["a_plan"]
    assert [r["entitlement_type"] for r in stats["active_entitlements"]] == ["a_plan"]
    assert [row["bot"].slug for row in stats["balances"]] == ["a"]
    assert 'id="bot-chooser"' not in html and "b_plan" not in html
    assert world["agent_a"].get(reverse("admin:telegram_payments_glance"), {"bot": "b"}).status_code == 404
    stats_b, _ = glance(world["agent_b"])
    assert stats_b["payments_total"] == 2 and stats_b["refunded_stars_total"] == PRICE["b"]
    assert stats_b["net_total"] == PRICE["b"]
    nothing, html = glance(world["nobody"])
    assert nothing["payments_total"] == 0 and nothing["active_entitlements"] == [] and nothing["balances"] == []
    assert 'id="no-bots"' in html


def test_at_a_glance_of_a_superuser_adds_up_every_bot_or_shows_one(world, admin_client):
    every, html = glance(admin_client)
    assert every["payments_total"] == 4 and every["stars_total"] == 2 * PRICE["a"] + 2 * PRICE["b"]
    assert 'id="bot-chooser"' in html and "?days=30&amp;bot=a" in html
    assert [row["bot"].slug for row in every["balances"]] == ["default", "a", "b"]
    one, html = glance(admin_client, {"bot": "b"})
    assert one["payments_total"] == 2 and one["refunds_total"] == 1
    assert [p.entitlement_type for p in one["products"]] == ["b_plan"]
    assert "?days=7&bot=b" in html.replace("&amp;", "&")  # the period links keep the bot


def text(response) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode()


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_csv_exports_hold_the_agents_bot_only(world, admin_client):
    agent = world["agent_a"]
    figures = csv_rows(agent.get(reverse("admin:telegram_payments_glance_csv")))
    products = [row[1] for row in figures if row[0] == "product"]
    assert products == ["a_plan"]
    period = next(row for row in figures if row[0] == "period")
    assert int(period[2]) == 2 and int(period[-1]) == 2 * PRICE["a"]
    assert agent.get(reverse("admin:telegram_payments_glance_csv"), {"bot": "b"}).status_code == 404
    export = text(agent.get(reverse("admin:telegram_payments_stripeevent_export")))
    assert "stxONLY-A" in export and "stxONLY-B" not in export
    everything = text(admin_client.get(reverse("admin:telegram_payments_stripeevent_export")))
    assert "stxONLY-A" in everything and "stxONLY-B" in everything
    only_b = text(admin_client.get(reverse("admin:telegram_payments_stripeevent_export"), {"bot": "b"}))
    assert "stxONLY-B" in only_b and "stxONLY-A" not in only_b
    b_csv = csv_rows(admin_client.get(reverse("admin:telegram_payments_glance_csv"), {"bot": "b"}))
    assert [row[1] for row in b_csv if row[0] == "product"] == ["b_plan"]


def test_two_bots_sharing_a_charge_id_pair_the_refund_with_its_own_bots_payment(world, admin_client):
    bot_a, bot_b = world["bots"]["a"], world["bots"]["b"]
    events = world["events"]
    # The audit trail's refunded annotation: B's payment is refunded, A's (same charge id) is not.
    cl = admin_client.get(reverse("admin:telegram_payments_stripeevent_changelist"),
                          {"q": SHARED}).context["cl"]
    refunded = {e.bot_id: e.is_refunded for e in cl.queryset if e.event_type == EVENT_PAYMENT}
    assert refunded == {bot_a.pk: False, bot_b.pk: True}
    assert set(StripeEvent.objects.filter(pk__in=[events["a_shared"].pk])
               .filter(telegram_payment_charge_id=SHARED).values_list("bot_id", flat=True)) == {bot_a.pk}
    yes = admin_client.get(reverse("admin:telegram_payments_stripeevent_changelist"),
                           {"refunded": "yes", "q": SHARED}).context["cl"]
    assert {e.pk for e in yes.queryset} == {events["b_shared"].pk}
    # The refunds list links B's refund to B's payment, never A's.
    refunds = admin_client.get(reverse("admin:telegram_payments_refundevent_changelist")).context["cl"]
    assert {(r.pk, r.payment_pk) for r in refunds.queryset} == {(events["b_refund"].pk, events["b_shared"].pk)}
    # Revenue: the refund is B's (its amount from B's payment), A refunded nothing, nothing "never seen".
    figures_a = revenue.revenue(bots=[bot_a]).current
    figures_b = revenue.revenue(bots=[bot_b]).current
    assert (figures_a.refunds, figures_a.refunded, figures_a.unseen_refunds) == (0, 0, 0)
    assert (figures_b.refunds, figures_b.refunded, figures_b.unseen_refunds) == (1, PRICE["b"], 0)
    # The customer history of each bot.
    assert customer_history(USER, bot=bot_a).refunded_charges == set()
    assert customer_history(USER, bot=bot_b).refunded_charges == {SHARED}
    # A's grant of that charge stands; B's was revoked by B's refund.
    assert Entitlement.objects.get(event_id=events["a_shared"].event_id).revoked_at is None
    assert Entitlement.objects.get(event_id=events["b_shared"].event_id).revoked_at is not None
    assert StripeEvent.objects.filter(event_type=EVENT_REFUND, telegram_payment_charge_id=SHARED).count() == 1


def test_a_failed_payment_is_ended_by_its_own_bots_refund_only(world, admin_client):
    bot_a, bot_b = world["bots"]["a"], world["bots"]["b"]
    failed_a = handle_successful_payment(bot=bot_a, user_id=USER, telegram_payment_charge_id="stxFAIL-both",
                                         total_amount=5, currency="XTR", source=EventSource.RELAY,
                                         entitlement_type="no_such_plan", payload={}).event
    handle_successful_payment(bot=bot_b, user_id=USER, telegram_payment_charge_id="stxFAIL-both", total_amount=5,
                              currency="XTR", source=EventSource.RELAY, entitlement_type="no_such_plan", payload={})
    handle_refund(bot=bot_b, user_id=USER, telegram_payment_charge_id="stxFAIL-both", source=EventSource.TELEGRAM,
                  payload={})
    assert revenue.waiting_counts(bots=[bot_a])["failed"] == 1
    assert revenue.waiting_counts(bots=[bot_b])["failed"] == 0
    failing = admin_client.get(reverse("admin:telegram_payments_stripeevent_changelist"),
                               {"failing": "yes"}).context["cl"]
    assert [e.pk for e in failing.queryset] == [failed_a.pk]


def test_a_product_is_added_for_a_visible_bot_and_shares_no_hidden_name(world):
    bot_a, bot_b = world["bots"]["a"], world["bots"]["b"]
    Product.objects.filter(bot=bot_b).update(shared_access="studio")
    user = django_user_model().objects.create_user(username="catalog-a", password=PASSWORD, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_product", "add_product",
                                                                       "change_product"]))
    BotMembership.objects.create(user=user, bot=bot_a)
    client = Client()
    client.force_login(user)
    add = reverse("admin:telegram_payments_product_add")
    assert 'name="bot"' not in client.get(add).content.decode()  # one bot: the new product is its
    data = {"entitlement_type": "a_extra", "title": "Extra", "description": "More", "price_stars": 10,
            "duration_days": 30, "is_active": "on"}
    response = client.post(add, {**data, "shared_access": "studio"})
    assert response.status_code == 200 and "used by a bot you do not see" in response.content.decode()
    assert client.post(add, {**data, "entitlement_type": "a_plan"}).status_code == 200  # A has one already
    assert client.post(add, data).status_code == 302
    assert Product.objects.get(entitlement_type="a_extra").bot == bot_a
    # Someone who sees two bots chooses among them, and only them.
    BotMembership.objects.create(user=user, bot=bot_b)
    client.force_login(user)
    html = client.get(add).content.decode()
    assert f'value="{bot_a.pk}"' in html and f'value="{bot_b.pk}"' in html
    assert f'value="{registry.default().pk}"' not in html
    response = client.post(add, {**data, "entitlement_type": "b_extra", "bot": registry.default().pk})
    assert response.status_code == 200 and not Product.objects.filter(entitlement_type="b_extra").exists()


def test_the_index_counts_the_failing_events_of_the_visible_bots(world):
    bot_b = world["bots"]["b"]
    handle_successful_payment(bot=bot_b, user_id=ONLY_B, telegram_payment_charge_id="stxFAIL-B", total_amount=5,
                              currency="XTR", source=EventSource.RELAY, entitlement_type="no_such_plan", payload={})
    html_a = world["agent_a"].get(reverse("admin:index")).content.decode()
    html_b = world["agent_b"].get(reverse("admin:index")).content.decode()
    assert '<span id="failing-count">0</span>' in html_a
    assert '<span id="failing-count" class="failing">1</span>' in html_b
