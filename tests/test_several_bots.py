"""Three bots in one deployment, over real HTTP against a real PostgreSQL and the fake Bot API: the
default bot (configured in TELEGRAM_STARS) and two added as staff add them, each at its own webhook
path with its own secret, catalog, token and data.

`registry.bots.default` is made to raise in these tests, so a route that forgot which bot it serves
(and would fall back to the default one) fails instead of quietly using the wrong catalog or token.
Every bot here, the default one included, is reached through its own path.
"""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.urls import reverse

from entitlements.models import Entitlement
from entitlements.selectors import current_access
from telegram_payments.devtools.botapi import star_payment
from telegram_payments.models import EVENT_PAYMENT, EVENT_SUBSCRIPTION, EventStatus, Invoice, Product, StripeEvent
from telegram_payments.payments.refunds import refund_payment
from telegram_payments.reads.revenue import money_totals
from telegram_payments.reconcile.run import CLEAN, MISSING, reconcile_stars
from telegram_payments.registry import bots
from telegram_payments.webhooks.guards import failure_key
from tests.http import post

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SHARED_CHARGE = "stxSHARED-charge-id-the-same-at-every-bot-0001"
PRICE = {"default": 250, "a": 100, "b": 300}


@pytest.fixture
def three(live_server, other_bots, fake_bot_api, catalog, stars, monkeypatch):
    """{slug: (Bot, its FakeBotApi, its Update URL, its relay URL prefix)} for the three bots; the default
    bot's premium_monthly costs 250 (the demo catalog), A's 100 and B's 300."""
    stars.THANK_BUYERS = True
    found = {"default": (bots.default(), fake_bot_api), **other_bots}
    Product.objects.filter(bot=found["default"][0], entitlement_type="premium_monthly").update(
        price_stars=PRICE["default"])
    for slug in ("a", "b"):
        Product.objects.create(bot=found[slug][0], entitlement_type="premium_monthly", title=f"Premium {slug}",
                               description="A month of premium", price_stars=PRICE[slug], duration_days=30)

    def forgotten():
        raise AssertionError("a route fell back to the default bot instead of naming its own")

    monkeypatch.setattr(bots, "default", forgotten)
    return {slug: (bot, fake, live_server.url + reverse("bot-webhook", args=[bot.webhook_path]),
                   live_server.url + reverse("bot-relay-successful-payment", args=[bot.webhook_path]))
            for slug, (bot, fake) in found.items()}


def payment_update(update_id: int, *, charge: str, user_id: int, amount: int, payload: str = "") -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 1795000000,
        "from": {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"},
        "chat": {"id": user_id, "type": "private", "first_name": f"User {user_id}"},
        "successful_payment": {"currency": "XTR", "total_amount": amount, "invoice_payload": payload,
                               "telegram_payment_charge_id": charge, "provider_payment_charge_id": ""}}}


def relay_payment(*, charge: str, user_id: int, amount: int) -> dict:
    return {"user_id": user_id, "entitlement_type": "premium_monthly", "invoice_id": "",
            "telegram_payment_charge_id": charge, "total_amount": amount, "currency": "XTR"}


def invoice_of(bot, user_id: int) -> Invoice:
    product = Product.objects.get(bot=bot, entitlement_type="premium_monthly")
    return Invoice.objects.create(bot=bot, product=product, user_id=user_id, price_stars=product.price_stars)


def test_each_bots_payment_arrives_at_its_own_path_and_grants_in_its_own_scope(three):
    for n, (slug, (bot, _fake, url, _relay)) in enumerate(three.items()):
        invoice = invoice_of(bot, user_id=42)
        status, body = post(url, payment_update(100 + n, charge=f"own-{slug}", user_id=42, amount=PRICE[slug],
                                                payload=invoice.payload), bot.webhook_secret())
        assert status == 200 and body["method"] == "sendMessage" and "Premium" in body["text"], body
        event = StripeEvent.objects.get(telegram_payment_charge_id=f"own-{slug}")
        assert (event.bot_id, event.status) == (bot.pk, EventStatus.PROCESSED)
        assert Entitlement.objects.get(event_id=event.event_id).scope == bot.entitlement_scope
        invoice.refresh_from_db()
        assert invoice.status == "paid"
    # One user, three bots: their access is per bot.
    for bot, *_rest in three.values():
        assert [a.entitlement_type for a in current_access(42, scope=bot.entitlement_scope)] == ["premium_monthly"]
    assert len({e.scope for e in Entitlement.objects.all()}) == 3


def test_an_invoice_of_one_bot_is_not_another_bots(three):
    bot_a, _, url_a, _ = three["a"]
    bot_b, _, url_b, _ = three["b"]
    invoice = invoice_of(bot_a, user_id=42)
    query = {"update_id": 7, "pre_checkout_query": {
        "id": "query-1", "from": {"id": 42, "is_bot": False, "first_name": "U"}, "currency": "XTR",
        "total_amount": PRICE["a"], "invoice_payload": invoice.payload}}
    assert post(url_b, query, bot_b.webhook_secret())[1]["ok"] is False  # B never issued it
    assert post(url_a, query, bot_a.webhook_secret())[1]["ok"] is True  # the same query id, A's own answer
    # A payment at B's path for A's invoice is not B's to grant (recorded as failed, for B's staff).
    status, body = post(url_b, payment_update(8, charge="cross", user_id=42, amount=PRICE["a"],
                                              payload=invoice.payload), bot_b.webhook_secret())
    assert status == 200 and StripeEvent.objects.get(telegram_payment_charge_id="cross").status == EventStatus.FAILED


def test_buy_goes_out_through_the_right_bots_token(three):
    bot_a, fake_a, url_a, _ = three["a"]
    _, fake_default, _, _ = three["default"]
    command = {"update_id": 9, "message": {"message_id": 9, "date": 1795000000, "text": "/buy premium_monthly",
                                           "from": {"id": 42, "is_bot": False, "first_name": "U"},
                                           "chat": {"id": 42, "type": "private"}}}
    assert post(url_a, command, bot_a.webhook_secret())[0] == 200
    assert [c["prices"][0]["amount"] for c in fake_a.calls_of("sendInvoice")] == [PRICE["a"]]
    assert fake_default.calls_of("sendInvoice") == [] and three["b"][1].calls_of("sendInvoice") == []
    assert Invoice.objects.get().bot_id == bot_a.pk


def test_racing_copies_across_bots_stay_exactly_once_per_bot(three):
    jobs = []
    for slug, (bot, _fake, _url, relay) in three.items():
        jobs += [(relay, relay_payment(charge=SHARED_CHARGE, user_id=77, amount=PRICE[slug]), bot)] * 20
    results = run_many(jobs)
    assert [status for status, _ in results] == [200] * 60
    assert sorted(body["status"] for _, body in results).count("processed") == 3
    events = StripeEvent.objects.filter(telegram_payment_charge_id=SHARED_CHARGE)
    assert sorted(events.values_list("bot_id", flat=True)) == sorted(bot.pk for bot, *_ in three.values())
    assert Entitlement.objects.filter(user_id=77).count() == 3
    assert sorted(Entitlement.objects.values_list("scope", flat=True)) == sorted(
        bot.entitlement_scope for bot, *_ in three.values())


def run_many(jobs):
    """`run_at_once` for jobs of several bots, each (url, body, bot) with its bot's own secret."""
    import threading

    from django.db import connections

    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def worker(i, url, body, secret):
        barrier.wait()
        results[i] = post(url, body, secret)

    threads = [threading.Thread(target=worker, args=(i, url, body, bot.webhook_secret()))
               for i, (url, body, bot) in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    connections.close_all()
    return results


def test_a_refund_through_one_bot_never_touches_another_bots_grants(three):
    for slug, (bot, fake, _url, relay) in three.items():
        assert post(relay, relay_payment(charge=SHARED_CHARGE, user_id=77, amount=PRICE[slug]),
                    bot.webhook_secret())[1]["status"] == "processed"
        fake.star_transactions.append(star_payment(SHARED_CHARGE, user_id=77, amount=PRICE[slug],
                                                   invoice_payload=None))
    bot_b, fake_b, _, _ = three["b"]
    staff = get_user_model().objects.create_superuser("owner", "owner@example.com", "pw")
    payment = StripeEvent.objects.get(bot=bot_b, event_type=EVENT_PAYMENT)
    outcome = refund_payment(event=payment, staff_user=staff, reason="asked for it")
    assert outcome.status == "processed" and outcome.event.bot_id == bot_b.pk
    assert fake_b.calls_of("refundStarPayment") == [{"user_id": 77, "telegram_payment_charge_id": SHARED_CHARGE}]
    assert three["a"][1].calls_of("refundStarPayment") == [] and three["default"][1].calls_of("refundStarPayment") == []
    revoked = {grant.scope: grant.revoked_at is not None for grant in Entitlement.objects.filter(user_id=77)}
    assert revoked == {three["default"][0].entitlement_scope: False, three["a"][0].entitlement_scope: False,
                       bot_b.entitlement_scope: True}
    # Telegram's own refunded_payment update for A's charge revokes A's grant only.
    bot_a, _, url_a, _ = three["a"]
    refund = {"update_id": 11, "message": {"message_id": 11, "date": 1795000000,
                                           "from": {"id": 700000001, "is_bot": True, "first_name": "A"},
                                           "chat": {"id": 77, "type": "private"},
                                           "refunded_payment": {"currency": "XTR", "total_amount": PRICE["a"],
                                                                "invoice_payload": "",
                                                                "telegram_payment_charge_id": SHARED_CHARGE}}}
    assert post(url_a, refund, bot_a.webhook_secret())[1]["status"] == "processed"
    assert Entitlement.objects.get(scope=three["default"][0].entitlement_scope).revoked_at is None


def test_a_secret_of_one_bot_on_anothers_path_is_refused_and_counted_there(three):
    bot_a, _, _, _ = three["a"]
    bot_b, _, url_b, relay_b = three["b"]
    cache.clear()
    assert post(relay_b, relay_payment(charge="stolen", user_id=5, amount=PRICE["b"]), bot_a.webhook_secret()) == (
        401, {"ok": False, "error": "unauthorized",
              "detail": "Missing or wrong X-Telegram-Bot-Api-Secret-Token header."})
    assert post(url_b, payment_update(12, charge="stolen", user_id=5, amount=PRICE["b"]),
                three["default"][0].webhook_secret())[0] == 401
    assert not StripeEvent.objects.filter(telegram_payment_charge_id="stolen").exists()
    assert cache.get(failure_key("127.0.0.1", bot_b)) == 2 and cache.get(failure_key("127.0.0.1", bot_a)) is None
    # A path of no bot, and an inactive bot's path: 404, and nothing stored.
    unknown = relay_b.replace(bot_b.webhook_path, "x" * 43)
    assert post(unknown, relay_payment(charge="stolen", user_id=5, amount=1), bot_b.webhook_secret())[0] == 404
    type(bot_b).objects.filter(pk=bot_b.pk).update(is_active=False)
    bots.forget()
    assert post(relay_b, relay_payment(charge="stolen", user_id=5, amount=PRICE["b"]), bot_b.webhook_secret())[0] == 404
    assert not StripeEvent.objects.filter(telegram_payment_charge_id="stolen").exists()


def test_subscription_updates_with_one_update_id_stay_apart(three):
    for slug in ("a", "b"):
        bot, _, url, _ = three[slug]
        update = {"update_id": 900, "subscription": {"user": {"id": 42, "is_bot": False, "first_name": "U"},
                                                     "invoice_payload": "inv_sub", "state": "canceled"}}
        assert post(url, update, bot.webhook_secret())[0] == 200
    events = StripeEvent.objects.filter(event_type=EVENT_SUBSCRIPTION, update_id=900)
    assert sorted(events.values_list("bot_id", flat=True)) == sorted([three["a"][0].pk, three["b"][0].pk])
    assert len(set(events.values_list("event_id", flat=True))) == 2


def test_each_bots_reconciliation_and_revenue_see_only_its_own_events(three):
    bot_a, fake_a, _, relay_a = three["a"]
    bot_b, fake_b, _, _ = three["b"]
    # Both bots were paid with the same charge id; only A's webhook arrived.
    assert post(relay_a, relay_payment(charge=SHARED_CHARGE, user_id=77, amount=PRICE["a"]),
                bot_a.webhook_secret())[1]["status"] == "processed"
    fake_a.star_transactions.append(star_payment(SHARED_CHARGE, user_id=77, amount=PRICE["a"], invoice_payload=None))
    fake_b.star_transactions.append(star_payment(SHARED_CHARGE, user_id=77, amount=PRICE["b"],
                                                 invoice_payload=invoice_of(bot_b, user_id=77).payload))
    assert reconcile_stars(bot=bot_a).outcome == CLEAN  # A's payment is A's; B's list is not A's
    found = reconcile_stars(bot=bot_b)
    assert found.outcome == MISSING and [d.kind for d in found.differences] == ["missing payment"]
    assert reconcile_stars(bot=bot_b, apply=True).differences[0].result == "processed"
    assert reconcile_stars(bot=bot_b).outcome == CLEAN
    assert reconcile_stars(bot=three["default"][0]).outcome == CLEAN  # nothing listed, nothing here
    assert money_totals(StripeEvent.objects.filter(bot=bot_a)).gross == PRICE["a"]
    assert money_totals(StripeEvent.objects.filter(bot=bot_b)).gross == PRICE["b"]
