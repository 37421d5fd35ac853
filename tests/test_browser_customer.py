"""The support desk in a real browser (Playwright, Debian's Chromium, the fake Bot API): search a user id from
the header box, land on the customer page, see a failed payment and its reason, refund it, grant a month
with a reason, and see the timeline update. The page is shot at 1400 and 390 pixels wide.

The database is only touched before and after the browser runs (Playwright's sync API keeps an asyncio loop
on this thread, where Django refuses ORM calls).
"""

import pytest
from django.contrib.auth.models import Group

from entitlements.models import Entitlement
from telegram_payments.models import Customer, EventSource, EventStatus, Product, StripeEvent
from telegram_payments.payments.events import refund_event_id
from telegram_payments.payments.pipeline import handle_successful_payment
from tests.browser import launch, needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                                             "(pip install -r requirements-dev.txt)")

pytestmark = [pytest.mark.browser, needs_chromium]

PASSWORD = "correct-horse-battery-staple"
USER = 31337


@pytest.fixture
def desk_data(catalog, django_user_model, staff_groups):
    staff = django_user_model.objects.create_user(username="sophie", password=PASSWORD, is_staff=True)
    staff.groups.add(Group.objects.get(name="Support"))
    Customer.objects.create(user_id=USER, first_name="Grace", last_name="Hopper", username="grace_h")
    paid = handle_successful_payment(
        user_id=USER, telegram_payment_charge_id="stxDESK0001", total_amount=250, currency="XTR",
        entitlement_type="premium_monthly", source=EventSource.TELEGRAM, payload={},
    ).event
    Product.objects.create(entitlement_type="team_plan", title="Team plan", description="For teams",
                           price_stars=900, duration_days=30, is_active=False)
    failed = handle_successful_payment(
        user_id=USER, telegram_payment_charge_id="stxDESK0002", total_amount=900, currency="XTR",
        entitlement_type="team_plan", source=EventSource.TELEGRAM, payload={},
    ).event
    assert failed.status == EventStatus.FAILED
    return {"paid": paid, "failed": failed}


@pytest.mark.django_db(transaction=True)
def test_a_support_agents_day_on_the_customer_page(live_server, fake_bot_api, desk_data, tmp_path):
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(20_000)
            agents_day(page, live_server.url, tmp_path)
        finally:
            browser.close()

    refund = StripeEvent.objects.get(event_id=refund_event_id("stxDESK0002"))
    assert refund.initiated_by.username == "sophie" and refund.refund_reason == "Team plan is off sale"
    assert fake_bot_api.calls_of("refundStarPayment") == [
        {"user_id": USER, "telegram_payment_charge_id": "stxDESK0002"}
    ]
    paid, grant = Entitlement.objects.filter(user_id=USER, revoked_at__isnull=True).order_by("starts_at")
    assert paid.event_id == desk_data["paid"].event_id
    assert grant.starts_at == paid.expires_at and (grant.expires_at - grant.starts_at).days == 30  # extended
    assert StripeEvent.objects.get(event_id=grant.event_id).payload["reason"] == "Sorry for the wait"
    for name in ("1-customer-1400.png", "1-customer-390.png", "grant-confirmation-1400.png",
                 "grant-confirmation-390.png", "2-after-1400.png", "2-after-390.png"):
        assert (tmp_path / name).stat().st_size > 0


def agents_day(page, base: str, shots):
    expect = sync_api.expect

    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "sophie")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")

    # Search the user id from the header's box: straight to the customer page.
    page.fill("#customer-search-box", str(USER))
    page.press("#customer-search-box", "Enter")
    expect(page.locator("#customer-name")).to_have_text("Grace Hopper")
    expect(page.locator("#customer-username")).to_have_text("@grace_h")

    # The failed payment and why it failed.
    failed_row = page.locator("tr.timeline-row.failed")
    expect(failed_row).to_have_count(1)
    expect(failed_row).to_contain_text("Payment for team_plan (failed)")
    expect(failed_row.locator(".reason")).to_contain_text("not on sale")
    expect(failed_row.locator(".replay-action")).to_be_visible()
    expect(page.locator(".access-row[data-type=premium_monthly]")).to_contain_text("until")
    shoot(page, shots, "1-customer")

    # Refund the failed payment (Telegram took the Stars) through its confirmation page; back on the
    # customer page after, where it can no longer be replayed.
    failed_row.locator(".refund-action").click()
    expect(page.locator("#refund-user")).to_have_text(str(USER))
    page.fill("textarea[name=reason]", "Team plan is off sale")
    page.click("#confirm-refund")
    expect(page.locator(".messagelist .success")).to_contain_text("Refunded")
    expect(page.locator("#customer-name")).to_have_text("Grace Hopper")
    refund_row = page.locator("tr.timeline-row.refund")
    expect(refund_row).to_contain_text("\u2212900 XTR")
    expect(refund_row).to_contain_text("Staff (admin): sophie")
    expect(refund_row).to_contain_text("Team plan is off sale")
    expect(page.locator("#figure-received")).to_contain_text("1,150 XTR")  # the failed payment was paid too
    expect(page.locator("#figure-net")).to_have_text("250 XTR")
    expect(failed_row).to_contain_text("refunded")
    expect(failed_row.locator(".replay-action")).to_have_count(0)

    # Grant a month with a reason.
    page.click("#grant-button")
    page.select_option("#id_entitlement_type", "premium_monthly")
    page.fill("#id_days", "30")
    page.fill("#id_reason", "Sorry for the wait")
    shoot(page, shots, "grant-confirmation")
    page.click("#confirm-grant")
    expect(page.locator(".messagelist .success")).to_contain_text("Granted premium_monthly to 31337 until")
    expect(page.locator(".access-row[data-type=premium_monthly]")).to_contain_text("until")
    newest = page.locator("tr.timeline-row").first
    expect(newest).to_contain_text("Granted premium_monthly by hand")
    expect(newest).to_contain_text("Sorry for the wait")
    shoot(page, shots, "2-after")


def shoot(page, shots, name: str) -> None:
    """The page at a desktop width and at a phone's, then back to the desktop."""
    page.set_viewport_size({"width": 1400, "height": 900})
    page.screenshot(path=shots / f"{name}-1400.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=shots / f"{name}-390.png", full_page=True)
    # Usable on a phone: nothing wider than the screen (no sideways scrolling).
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > 392)
        .map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 8)""")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, wide
    page.set_viewport_size({"width": 1400, "height": 900})
