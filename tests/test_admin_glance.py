"""The "At a glance" page: revenue you can trust (gross, refunded, net, per product, beside the previous
period), the USD estimate, Telegram's 21-day hold, the stored Star balance and its refresh, a fixed
number of queries."""

import csv
import io
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from telegram_payments.models import EVENT_REFUND, EventSource, EventStatus, StarBalance
from telegram_payments.payments.events import refund_event_id
from telegram_payments.payments.pipeline import handle_refund, handle_successful_payment
from telegram_payments.reads.revenue import revenue
from telegram_payments.reconcile.balance import refresh_star_balance
from telegram_payments.registry import bots
from tests.factories import StripeEventFactory

pytestmark = pytest.mark.django_db

GLANCE = "/admin/telegram_payments/stripeevent/at-a-glance/"
REFRESH = "/admin/telegram_payments/stripeevent/at-a-glance/refresh-balance/"


def paid(charge, stars, *, days_ago=0.0, product="premium_monthly", **kw):
    return StripeEventFactory(telegram_payment_charge_id=charge, amount_cents=stars, entitlement_type=product,
                              received_at=timezone.now() - timedelta(days=days_ago), **kw)


def refunded(charge, *, days_ago=0.0, stars=None, product=""):
    """A processed refund of `charge` as the pipeline stores it (amount completed from the payment, if any)."""
    return StripeEventFactory(event_type=EVENT_REFUND, event_id=refund_event_id(charge),
                              telegram_payment_charge_id=charge, amount_cents=stars, entitlement_type=product,
                              received_at=timezone.now() - timedelta(days=days_ago))


def test_gross_refunded_and_net_beside_the_previous_period(admin_client, catalog):
    paid("a", 10000, days_ago=1, product="lifetime")
    paid("b", 2500, days_ago=2, product="premium_yearly")
    paid("c", 250, days_ago=3)
    refunded("c", days_ago=1, stars=250, product="premium_monthly")
    paid("old", 250, days_ago=40)  # the previous 30 days
    refunded("old", days_ago=35, stars=250)
    paid("older", 999, days_ago=65)  # before both periods
    paid("failed", 500, days_ago=1, status=EventStatus.FAILED)  # Telegram took these Stars too
    paid("dollars", 500, days_ago=1, currency="USD")  # not Stars

    response = admin_client.get(GLANCE)
    assert response.status_code == 200
    stats = response.context["stats"]
    current, previous = stats["current"], stats["previous"]
    assert (current.gross, current.refunded, current.net, current.payments, current.refunds) == (
        13250, 250, 13000, 4, 1)
    assert (current.failed_gross, current.failed_payments) == (500, 1)
    assert (previous.gross, previous.refunded, previous.net, previous.payments, previous.refunds) == (
        250, 250, 0, 1, 1)
    today = stats["days"][-1]
    assert len(stats["days"]) == 30 and today.day == timezone.localdate()
    yesterday = stats["days"][-2]
    assert (yesterday.gross, yesterday.refunded, yesterday.net) == (10500, 250, 10250)

    html = response.content.decode()
    assert "13,000" in html and "13,250 XTR" in html  # thousands separators
    assert "of which 500 XTR in failed payments (1)" in html
    assert "⭐" not in html  # no emoji font needed
    assert 'id="period-comparison"' in html


def test_a_refund_of_a_charge_never_recorded_counts_apart_and_in_net(admin_client, catalog):
    for n in range(4):
        paid(f"p{n}", 250, days_ago=1)
    refunded("p0", days_ago=1, stars=250)
    # Telegram's refund of a charge we never saw (its payment never arrived), with and without an amount.
    handle_refund(user_id=5, telegram_payment_charge_id="never_seen", source=EventSource.TELEGRAM, payload={},
                  total_amount=700)
    refunded("never_seen_either", days_ago=2)
    # ... and of a payment that failed here: received (Telegram took it) and refunded.
    paid("failed_here", 250, days_ago=1, status=EventStatus.FAILED)
    refunded("failed_here", days_ago=1, stars=250)

    stats = admin_client.get(GLANCE).context["stats"]
    current = stats["current"]
    assert (current.payments, current.refunds, current.refunded, current.gross) == (5, 2, 500, 1250)
    assert (current.unseen_refunds, current.unseen_refunded, current.net) == (2, 700, 50)
    assert current.refund_rate == 40.0 and stats["refund_rate"] == 40.0
    assert stats["unmatched_refunds"] == 2
    html = admin_client.get(GLANCE).content.decode()
    assert "40.0%" in html and 'id="unmatched-refunds"' in html and "−700 XTR" in html


def test_a_refund_recorded_before_its_payment_counts_once_the_payment_is_recorded(catalog):
    handle_refund(user_id=7, telegram_payment_charge_id="late", source=EventSource.TELEGRAM, payload={})
    assert revenue().unmatched_refunds == 1
    handle_successful_payment(user_id=7, telegram_payment_charge_id="late", total_amount=250, currency="XTR",
                              entitlement_type="premium_monthly", source=EventSource.RELAY, payload={})
    figures = revenue()
    # The refund carried no amount: its payment's is what went back.
    assert (figures.unmatched_refunds, figures.current.refunds, figures.current.refunded) == (0, 1, 250)


def test_revenue_per_product(admin_client, catalog):
    paid("m1", 250, days_ago=1)
    paid("m2", 250, days_ago=2)
    paid("y1", 2500, days_ago=3, product="premium_yearly")
    # The refund row names no product: the payment's is the one that lost the Stars.
    refunded("m2", days_ago=1, stars=250)
    paid("m_old", 250, days_ago=45)  # previous period: not in this table

    response = admin_client.get(GLANCE)
    products = {p.entitlement_type: p for p in response.context["stats"]["products"]}
    assert set(products) == {"premium_monthly", "premium_yearly"}
    monthly, yearly = products["premium_monthly"], products["premium_yearly"]
    assert (monthly.payments, monthly.gross, monthly.refunds, monthly.refunded, monthly.net) == (2, 500, 1, 250, 250)
    assert (yearly.title, yearly.net) == ("Premium, 1 year", 2500)
    assert [p.entitlement_type for p in response.context["stats"]["products"]] == ["premium_yearly", "premium_monthly"]
    html = response.content.decode()
    assert "Premium, 1 year" in html and "2,500 XTR" in html


def test_stars_in_the_21_day_hold_and_older(admin_client, catalog):
    paid("recent", 1000, days_ago=5)
    paid("recent_refunded", 300, days_ago=10)
    refunded("recent_refunded", days_ago=9, stars=300)
    paid("old", 4000, days_ago=30)
    paid("old_refunded", 700, days_ago=25)
    refunded("old_refunded", days_ago=2, stars=700)  # the refund is recent, its payment is not
    refunded("never_seen", days_ago=1, stars=50)  # no payment here: counted when it was made

    stats = admin_client.get(GLANCE).context["stats"]
    assert (stats["in_hold"], stats["past_hold"]) == (950, 4000)
    html = admin_client.get(GLANCE).content.decode()
    assert "21-day hold" in html and "950" in html and "4,000" in html


def test_usd_estimate_at_the_configured_rate_is_labelled_an_estimate(admin_client, catalog, stars):
    paid("big", 12500, days_ago=1, product="lifetime")
    html = admin_client.get(GLANCE).content.decode()
    assert "≈ $162.50" in html and "estimate" in html  # 12,500 x 0.013, Telegram's withdrawal rate

    stars.STARS_USD_RATE = Decimal("0.02")
    html = admin_client.get(GLANCE).content.decode()
    assert "≈ $250.00" in html and "0.02 USD per Star" in html


def test_the_page_makes_a_fixed_number_of_queries(admin_client, catalog):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(GLANCE).status_code == 200
        return len(captured.captured_queries)

    paid("first", 250, days_ago=1)
    few = queries()
    for n in range(60):  # many events, days, products, refunds and failures
        paid(f"many{n}", 250 + n, days_ago=n % 70, product=["premium_monthly", "premium_yearly", "lifetime"][n % 3])
        if n % 4 == 0:
            refunded(f"many{n}", days_ago=max(0, n % 70 - 1), stars=250 + n)
        if n % 7 == 0:
            paid(f"failed{n}", 10, status=EventStatus.FAILED)
    StarBalance.objects.create(pk=1, nanostars=5 * 10**9, fetched_at=timezone.now())
    assert queries() == few
    # session + user, the bots this staff member sees, then: revenue per day/product, catalog titles, hold,
    # waiting, the bots' shared scopes, entitlements, balances
    assert few == 10


def test_period_choice_and_a_bad_one(admin_client, catalog):
    paid("week", 250, days_ago=10)
    week = admin_client.get(GLANCE, {"days": "7"})
    assert week.status_code == 200
    assert len(week.context["stats"]["days"]) == 7 and week.context["stats"]["previous"].gross == 250
    assert len(admin_client.get(GLANCE, {"days": "90"}).context["stats"]["days"]) == 90
    bad = admin_client.get(GLANCE, {"days": "1000000"})
    assert bad.status_code == 400 and b"days must be one of 7, 30, 90" in bad.content


# --- the bot's balance ---------------------------------------------------------------------------
def test_the_page_only_reads_the_stored_balance(admin_client, fake_bot_api):
    html = admin_client.get(GLANCE).content.decode()
    assert "not fetched yet" in html and 'id="refresh-balance"' in html
    fetched_at = timezone.now() - timedelta(minutes=3)
    StarBalance.objects.create(pk=1, nanostars=1_250 * 10**9 + 500_000_000, fetched_at=fetched_at,
                               attempted_at=fetched_at)
    html = admin_client.get(GLANCE).content.decode()
    assert "1,250.5 <span class=\"xtr\">XTR</span>" in html and "as of " in html and "3\xa0minutes ago" in html
    assert fake_bot_api.calls_of("getMyStarBalance") == []  # the page never asks Telegram


def test_refresh_now_asks_telegram_and_stores_the_answer(admin_client, fake_bot_api):
    fake_bot_api.star_balance = {"amount": 98765, "nanostar_amount": 0}
    response = admin_client.post(REFRESH, {"days": "7"}, follow=True)
    assert response.redirect_chain[-1][0] == GLANCE + "?days=7"
    html = response.content.decode()
    assert "Balance refreshed: 98,765 XTR" in html and "98,765 <span class=\"xtr\">XTR</span>" in html
    balance = StarBalance.objects.get()
    assert balance.nanostars == 98765 * 10**9 and balance.fetched_at and balance.error == ""
    # A second click straight away makes no second call.
    admin_client.post(REFRESH)
    assert len(fake_bot_api.calls_of("getMyStarBalance")) == 1


@pytest.mark.parametrize("answer", [
    {"error": (400, "Bad Request: method not available")},
    {"http_status": 502},
])
def test_a_failed_refresh_is_a_message_and_keeps_the_last_balance(admin_client, fake_bot_api, answer):
    earlier = timezone.now() - timedelta(hours=1)
    StarBalance.objects.create(pk=1, nanostars=500 * 10**9, fetched_at=earlier, attempted_at=earlier)
    fake_bot_api.respond("getMyStarBalance", **answer)
    response = admin_client.post(REFRESH, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Telegram did not give the balance" in html and 'id="balance-error"' in html
    assert "500 <span class=\"xtr\">XTR</span>" in html
    balance = StarBalance.objects.get()
    assert (balance.nanostars, balance.fetched_at) == (500 * 10**9, earlier) and balance.error


def test_a_slow_telegram_gives_up_after_the_short_timeout(admin_client, fake_bot_api, monkeypatch):
    monkeypatch.setattr("telegram_payments.admin.glance.INTERACTIVE_TIMEOUT", 0.2)
    fake_bot_api.respond("getMyStarBalance", result={"amount": 1}, delay=2)
    response = admin_client.post(REFRESH, follow=True)
    assert response.status_code == 200
    assert "Telegram did not give the balance" in response.content.decode()
    assert StarBalance.objects.get().nanostars is None


def test_refresh_needs_post_and_the_view_permission(client, admin_client, django_user_model, fake_bot_api):
    assert admin_client.get(REFRESH).status_code == 405
    nobody = django_user_model.objects.create_user(username="nobody", password="pw-for-tests-only", is_staff=True)
    client.force_login(nobody)
    assert client.post(REFRESH).status_code == 403
    assert fake_bot_api.calls_of("getMyStarBalance") == []


def test_refresh_star_balance_command(fake_bot_api, capsys):
    fake_bot_api.star_balance = {"amount": 1250, "nanostar_amount": 0}
    call_command("refresh_star_balance")
    assert "Balance: 1,250 XTR as of" in capsys.readouterr().out
    assert StarBalance.objects.get().nanostars == 1250 * 10**9

    fake_bot_api.respond("getMyStarBalance", error=(401, "Unauthorized"))
    with pytest.raises(CommandError, match="getMyStarBalance failed: Unauthorized"):
        call_command("refresh_star_balance")
    assert StarBalance.objects.get().nanostars == 1250 * 10**9  # the last good figure stays


def test_refresh_without_a_bot_token_is_an_error_not_a_crash(stars):
    stars.BOT_TOKEN = ""
    balance, asked = refresh_star_balance(bot=bots.default())
    assert asked and balance.error == "TELEGRAM_BOT_TOKEN is not set" and balance.nanostars is None


# --- any span: a from/to range, a calendar month; the figures as CSV --------------------------------
def test_a_from_to_range_beside_as_many_days_before(admin_client, catalog):
    today = timezone.localdate()
    paid("in-range", 300, days_ago=10)
    paid("before", 120, days_ago=20)
    paid("outside", 999, days_ago=40)
    first, last = today - timedelta(days=14), today - timedelta(days=5)
    response = admin_client.get(GLANCE, {"from": first.isoformat(), "to": last.isoformat()})
    assert response.status_code == 200
    stats = response.context["stats"]
    assert (stats["first_day"], stats["today"], len(stats["days"])) == (first, last, 10)
    assert (stats["current"].gross, stats["previous"].gross) == (300, 120)
    assert f"compared with {first - timedelta(days=10)} to {first - timedelta(days=1)}" in response.content.decode()


def test_a_calendar_month_beside_the_month_before(admin_client, catalog):
    today = timezone.localdate()
    first = today.replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    StripeEventFactory(telegram_payment_charge_id="this-month", amount_cents=400,
                       received_at=timezone.make_aware(datetime.combine(first, time(12))))
    StripeEventFactory(telegram_payment_charge_id="last-month", amount_cents=80,
                       received_at=timezone.make_aware(datetime.combine(previous, time(12))))
    response = admin_client.get(GLANCE, {"month": f"{first:%Y-%m}"})
    stats = response.context["stats"]
    assert (stats["first_day"], stats["today"]) == (first, today)
    assert (stats["current"].gross, stats["previous"].gross) == (400, 80)
    assert stats["span"].previous_first_day == previous
    html = admin_client.get(GLANCE).content.decode()
    assert f'href="?month={first:%Y-%m}"' in html and f'href="?month={previous:%Y-%m}"' in html


@pytest.mark.parametrize("query, reason", [
    ({"from": "2026-02-30", "to": "2026-03-01"}, "from and to must both be dates"),
    ({"from": "2026-03-02", "to": "2026-03-01"}, "from must be on or before to"),
    ({"from": "2020-01-01", "to": "2022-01-01"}, "at most 366 days"),
    ({"from": "2026-01-01"}, "from and to must both be dates"),
    ({"month": "2026-13"}, "month must be"),
    ({"month": "9999-01"}, "month must be"),
    ({"days": "8"}, "days must be one of"),
])
def test_a_span_that_cannot_be_shown_is_a_400_with_its_reason(admin_client, query, reason):
    for url in (GLANCE, GLANCE + "figures.csv"):
        response = admin_client.get(url, query)
        assert response.status_code == 400 and response.content.decode().startswith("invalid_period: ")
        assert reason in response.content.decode()


def test_the_figures_shown_as_csv(admin_client, catalog):
    paid("csv-1", 2500, days_ago=1, product="premium_yearly")
    paid("csv-2", 250, days_ago=1)
    refunded("csv-2", days_ago=0, stars=250)
    paid("csv-failed", 100, days_ago=0, status=EventStatus.FAILED)
    refunded("csv-unseen", days_ago=0, stars=70)
    html = admin_client.get(GLANCE, {"days": "7"}).content.decode()
    assert 'href="/admin/telegram_payments/stripeevent/at-a-glance/figures.csv?days=7"' in html
    response = admin_client.get(GLANCE + "figures.csv", {"days": "7"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["section", "label", "payments", "received"]
    period = rows[1]
    assert period[0] == "period" and period[2:] == ["3", "2850", "100", "1", "-250", "1", "-70", "2530"]
    assert [r[0] for r in rows].count("day") == 7
    products = {r[1]: r for r in rows if r[0] == "product"}
    assert products["premium_yearly"][9] == "2500"
    stats = admin_client.get(GLANCE, {"days": "7"}).context["stats"]
    assert int(period[9]) == stats["current"].net  # the same figures as the page
