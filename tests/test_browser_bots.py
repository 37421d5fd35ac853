"""Support agents limited to one bot, in a real browser (Playwright, Debian's Chromium) under live_server:
each logs in through the real login page and sees their bot's payment and customer, and nothing of the
other bot's: lists, search, the customer page of a user who is a customer of both, the other bot's
URLs (404), At a glance. The agent of B sees the mirror image.

The database is only touched before the browser runs (Playwright's sync API keeps an asyncio loop on
this thread, where Django refuses ORM calls).
"""

import pytest
from django.urls import reverse

from telegram_payments.models import BotMembership, Customer, EventSource, Product
from telegram_payments.payments.pipeline import handle_successful_payment
from tests.browser import launch, needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.bot_memberships_by_hand]

PASSWORD = "correct-horse-battery-staple"
USER = 424242
PRICE = {"a": 111, "b": 333}


@pytest.fixture
def agents(other_bots, django_user_model, staff_groups):
    found = {}
    for slug, (bot, _fake) in other_bots.items():
        Product.objects.create(bot=bot, entitlement_type=f"{slug}_plan", title=f"Plan {slug.upper()}",
                               description="A month", price_stars=PRICE[slug], duration_days=30)
        event = handle_successful_payment(bot=bot, user_id=USER, telegram_payment_charge_id=f"stxBROWSER-{slug}",
                                          total_amount=PRICE[slug], currency="XTR", source=EventSource.RELAY,
                                          entitlement_type=f"{slug}_plan", payload={}).event
        Customer.objects.update_or_create(bot=bot, user_id=USER, defaults={"first_name": f"Name{slug.upper()}"})
        staff = django_user_model.objects.create_user(username=f"agent-{slug}", password=PASSWORD, is_staff=True)
        staff.groups.add(staff_groups["Support"])
        BotMembership.objects.create(user=staff, bot=bot)
        found[slug] = {"bot_pk": bot.pk, "event_pk": event.pk,
                       "page": reverse("admin:telegram_payments_customer_bot", args=[bot.pk, USER])}
    return found


@pytest.mark.django_db(transaction=True)
def test_each_agent_sees_their_bot_only(live_server, agents):
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for mine, theirs in (("a", "b"), ("b", "a")):
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                page = context.new_page()
                page.set_default_timeout(20_000)
                look_around(page, live_server.url, agents, mine, theirs)
                context.close()
        finally:
            browser.close()


def look_around(page, base, agents, mine, theirs):
    expect = sync_api.expect
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", f"agent-{mine}")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#failing-count")).to_have_text("0")

    page.goto(f"{base}/admin/telegram_payments/stripeevent/")
    body = page.locator("#result_list")
    expect(body).to_contain_text(f"{PRICE[mine]} XTR")
    expect(body).not_to_contain_text(f"{PRICE[theirs]} XTR")
    page.goto(f"{base}/admin/telegram_payments/customer/")
    expect(page.locator("#result_list")).to_contain_text(f"Name{mine.upper()}")
    expect(page.locator("#result_list")).not_to_contain_text(f"Name{theirs.upper()}")

    # The header's search box: the user of both bots lands on this agent's bot's page only.
    page.fill("#customer-search input[name=q]", str(USER))
    page.click("#customer-search-button")
    expect(page).to_have_url(f"{base}{agents[mine]['page']}")
    expect(page.locator("#customer-name")).to_have_text(f"Name{mine.upper()}")
    expect(page.locator("#content")).not_to_contain_text(f"stxBROWSER-{theirs}")
    page.fill("#customer-search input[name=q]", f"stxBROWSER-{theirs}")
    page.click("#customer-search-button")
    expect(page.locator("#search-nothing")).to_be_visible()

    for url in (agents[theirs]["page"],
                reverse("admin:telegram_payments_stripeevent_refund", args=[agents[theirs]["event_pk"]])):
        response = page.goto(f"{base}{url}")
        assert response.status == 404, url

    page.goto(f"{base}/admin/telegram_payments/stripeevent/at-a-glance/")
    expect(page.locator("#period-comparison")).to_contain_text(f"{PRICE[mine]} XTR")
    expect(page.locator("#period-comparison")).not_to_contain_text(f"{PRICE[theirs]} XTR")
