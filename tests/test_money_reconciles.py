"""Money the owner can reconcile: At a glance's net, the customer pages' nets, the sum of the audit
trail and the bot's balance change (getMyStarBalance, from the fake Bot API's transactions) are one
number, with processed, failed, refunded and unseen-refund charges, all through the real routes."""

import copy

import pytest

from telegram_payments.devtools.botapi import star_payment, star_refund
from telegram_payments.models import EVENT_PAYMENT, EVENT_REFUND, EventStatus, StripeEvent
from tests.conftest import load_update
from tests.factories import customer_page

pytestmark = pytest.mark.django_db

GLANCE = "/admin/telegram_payments/stripeevent/at-a-glance/"
REFRESH = "/admin/telegram_payments/stripeevent/at-a-glance/refresh-balance/"
PAY = "/webhook/telegram/successful_payment"
REFUND = "/webhook/telegram/refund"


def relay_payment(post_json, fake, *, user, charge, stars, product="premium_monthly"):
    post_json(PAY, {"user_id": user, "entitlement_type": product, "telegram_payment_charge_id": charge,
                    "total_amount": stars, "currency": "XTR"})
    fake.star_transactions.append(star_payment(charge, user_id=user, amount=stars, invoice_payload=None))


def refund(post_json, fake, *, user, charge, stars):
    post_json(REFUND, {"user_id": user, "telegram_payment_charge_id": charge, "refund_reason": "asked"})
    fake.star_transactions.append(star_refund(charge, user_id=user, amount=stars))


def unseen_refund(post_json, fake, *, user, charge, stars):
    """Telegram's refund Update of a charge whose payment never reached us."""
    update = copy.deepcopy(load_update("refunded_payment"))
    update["update_id"] += 1
    update["message"]["chat"]["id"] = user
    update["message"]["refunded_payment"].update(telegram_payment_charge_id=charge, total_amount=stars)
    assert post_json("/webhook/telegram", update).status_code == 200
    fake.star_transactions.append(star_refund(charge, user_id=user, amount=stars))


def audit_trail_sum() -> int:
    """Stars in minus Stars out, read row by row from the audit trail: every Stars payment, less every
    processed refund (its own amount, else its payment's)."""
    rows = list(StripeEvent.objects.filter(currency="XTR").order_by("pk"))
    paid = {e.telegram_payment_charge_id: e.amount_cents for e in rows if e.event_type == EVENT_PAYMENT}
    total = sum(paid.values())
    for e in rows:
        if e.event_type == EVENT_REFUND and e.status == EventStatus.PROCESSED:
            total -= e.amount_cents or paid.get(e.telegram_payment_charge_id, 0)
    return total


def test_at_a_glance_equals_the_audit_trail_and_the_balance_change(post_json, admin_client, catalog,
                                                                  fake_bot_api):
    relay_payment(post_json, fake_bot_api, user=601, charge="ok-1", stars=2500, product="premium_yearly")
    relay_payment(post_json, fake_bot_api, user=601, charge="short-1", stars=100)  # below the price: failed
    relay_payment(post_json, fake_bot_api, user=602, charge="ok-2", stars=250)
    refund(post_json, fake_bot_api, user=602, charge="ok-2", stars=250)
    relay_payment(post_json, fake_bot_api, user=603, charge="short-2", stars=200)  # failed, then refunded
    refund(post_json, fake_bot_api, user=603, charge="short-2", stars=200)
    unseen_refund(post_json, fake_bot_api, user=604, charge="never-seen", stars=700)
    assert StripeEvent.objects.filter(status=EventStatus.FAILED).count() == 2

    admin_client.post(REFRESH, {"days": "7"})
    stats = admin_client.get(GLANCE, {"days": "7"}).context["stats"]
    balance_change = stats["balance"].nanostars // 10**9  # the bot started at 0
    current = stats["current"]
    assert balance_change == audit_trail_sum() == current.net == 2500 + 100 + 250 - 250 + 200 - 200 - 700
    assert (current.gross, current.failed_gross, current.refunded, current.unseen_refunded) == (3050, 300, 450, 700)

    # The customer pages add up by the same rule: 601 paid 2,600, of which 100 in a failed payment.
    nets = {}
    for user in (601, 602, 603, 604):
        money = admin_client.get(customer_page(user)).context["money"]
        nets[user] = money.net
    assert nets == {601: 2600, 602: 0, 603: 0, 604: -700}
    assert sum(nets.values()) == current.net
    html = admin_client.get(customer_page(601)).content.decode()
    assert "2,600 XTR" in html and "of which 100 XTR in failed payments (1)" in html
    html = admin_client.get(customer_page(604)).content.decode()
    assert "−700 XTR in refunds of payments never seen (1)" in html
