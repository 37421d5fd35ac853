"""A support person's day in a real browser: Playwright drives Debian's Chromium against a live server.

Log in, find a payment by its charge id, refund it through the confirmation page (against the fake
Bot API), see the refund and the revoked entitlement; put a product back on sale and replay the
payment that failed because of it; read the chart. Screenshots go to the test's tmp dir.

The database is only touched before and after the browser runs: Playwright's sync API keeps an
asyncio loop on this thread, where Django refuses ORM calls.
"""

from contextlib import contextmanager

import pytest
from django.contrib.auth.models import Permission

from entitlements.models import Entitlement
from telegram_payments.models import EventSource, EventStatus, StripeEvent
from telegram_payments.payments.events import refund_event_id
from telegram_payments.payments.pipeline import handle_refund, handle_successful_payment
from tests.browser import launch, needs_chromium
from tests.factories import ProductFactory

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                                             "(pip install -r requirements-dev.txt)")

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]

STAFF_PERMS = [
    "telegram_payments.view_stripeevent", "telegram_payments.change_stripeevent",
    "telegram_payments.refund_payment", "telegram_payments.view_product", "telegram_payments.change_product",
    "entitlements.view_entitlement",
]
PASSWORD = "correct-horse-battery-staple"


@contextmanager
def chromium_page():
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(20_000)
            yield page
        finally:
            browser.close()


@pytest.fixture
def support_data(catalog, django_user_model):
    staff = django_user_model.objects.create_user(username="sophie", password=PASSWORD, is_staff=True)
    for perm in STAFF_PERMS:
        app_label, codename = perm.split(".")
        staff.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    for n in range(6):
        handle_successful_payment(
            user_id=500 + n, telegram_payment_charge_id=f"stxOTHER{n}", total_amount=250, currency="XTR",
            entitlement_type="premium_monthly", source=EventSource.TELEGRAM, payload={"n": n},
        )
    payment = handle_successful_payment(
        user_id=424242, telegram_payment_charge_id="stxBROWSER42", total_amount=2500, currency="XTR",
        entitlement_type="premium_yearly", source=EventSource.TELEGRAM, payload={"charge": "stxBROWSER42"},
    ).event
    ProductFactory(entitlement_type="team_plan", title="Team plan", price_stars=900, is_active=False)
    failed = handle_successful_payment(
        user_id=31337, telegram_payment_charge_id="stxTEAM1", total_amount=900, currency="XTR",
        entitlement_type="team_plan", source=EventSource.TELEGRAM, payload={},
    ).event
    assert failed.status == EventStatus.FAILED
    return {"payment": payment, "failed": failed}


@pytest.mark.django_db(transaction=True)
def test_support_person_refunds_a_payment_and_replays_a_failed_one(
    live_server, fake_bot_api, support_data, tmp_path
):
    with chromium_page() as page:
        support_day_in_the_browser(page, live_server.url, tmp_path)

    # After the browser: what the database says (the ORM is usable on this thread again).
    refund = StripeEvent.objects.get(event_id=refund_event_id("stxBROWSER42"))
    assert refund.source == EventSource.STAFF and refund.initiated_by.username == "sophie"
    assert Entitlement.objects.get(event_id=support_data["payment"].event_id).revoked_at is not None
    assert fake_bot_api.calls_of("refundStarPayment") == [
        {"user_id": 424242, "telegram_payment_charge_id": "stxBROWSER42"}
    ]
    support_data["failed"].refresh_from_db()
    assert support_data["failed"].status == EventStatus.PROCESSED
    assert all((tmp_path / name).stat().st_size > 0 for name in ("1-search.png", "2-refund-confirmation.png"))


def support_day_in_the_browser(page, base: str, tmp_path):
    expect = sync_api.expect

    # Log in.
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "sophie")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#glance-link")).to_be_visible()

    # Find the payment by its charge id.
    page.get_by_role("link", name="Payments & refunds", exact=True).click()
    page.fill("#searchbar", "stxBROWSER42")
    page.press("#searchbar", "Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("2,500 XTR")
    page.screenshot(path=tmp_path / "1-search.png", full_page=True)

    # Open it and refund it through the confirmation page.
    rows.first.locator(".field-received a").click()
    expect(page.locator(".event-payload")).to_contain_text("stxBROWSER42")
    page.click("#refund-button")
    expect(page.locator("#refund-user")).to_have_text("424242")
    expect(page.locator("#refund-revokes")).to_contain_text("premium_yearly for user 424242")
    page.fill("textarea[name=reason]", "Bought the wrong plan")
    page.screenshot(path=tmp_path / "2-refund-confirmation.png", full_page=True)
    page.click("#confirm-refund")
    expect(page.locator(".messagelist .success")).to_contain_text("Refunded 2,500 XTR to user 424242")
    expect(page.locator("body")).to_contain_text("Staff (admin): sophie")
    page.screenshot(path=tmp_path / "2b-refund-recorded.png", full_page=True)

    # The refund links to the revoked entitlement.
    page.click("a.entitlement-link")
    expect(page.locator(".state-label")).to_have_text("revoked")
    expect(page.locator("body")).to_contain_text("Bought the wrong plan")
    page.screenshot(path=tmp_path / "3-entitlement-revoked.png", full_page=True)

    # Put the product back on sale, then replay the payment that failed because it was not.
    page.goto(f"{base}/admin/telegram_payments/product/")
    page.get_by_role("link", name="team_plan").click()
    page.check("#id_is_active")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist .success")).to_be_visible()
    page.goto(f"{base}/admin/telegram_payments/stripeevent/?status__exact=2")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.check("#action-toggle")
    page.select_option("select[name=action]", "replay_failed")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("Replayed 1, still failing 0")
    page.screenshot(path=tmp_path / "4-replayed.png", full_page=True)

    # Read the chart.
    page.goto(f"{base}/admin/")
    page.click("#glance-link")
    expect(page.locator("svg.bar-chart:visible")).to_have_count(2)  # the wide ones
    expect(page.locator("#figure-refunds")).to_contain_text("1")
    page.screenshot(path=tmp_path / "5-at-a-glance.png", full_page=True)
    # At a phone's width the charts drawn for it show, and their labels stay readable (9 px and more).
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator(".chart-narrow svg.bar-chart:visible")).to_have_count(2)
    smallest = page.evaluate("""() => Math.min(...[...document.querySelectorAll('.chart-narrow svg text')]
        .map(t => t.getBoundingClientRect().height).filter(h => h > 0))""")
    assert smallest >= 9, smallest
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=tmp_path / "5-at-a-glance-390.png", full_page=True)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{base}/admin/telegram_payments/stripeevent/")
    page.screenshot(path=tmp_path / "6-audit-list.png", full_page=True)
    page.goto(f"{base}/admin/telegram_payments/refundevent/")
    page.screenshot(path=tmp_path / "7-refunds-list.png", full_page=True)


LONG_CHARGE = "stxAbCdEfGhIjKlMnOpQrStUvWxYz0123456789aBcDeFgHiJkLmNoPqRsTuVwXyZ_0123456789-LONG"


@pytest.fixture
def desk_data(catalog, django_user_model):
    staff = django_user_model.objects.create_user(username="sophie", password=PASSWORD, is_staff=True)
    for perm in STAFF_PERMS:
        app_label, codename = perm.split(".")
        staff.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    ProductFactory(entitlement_type="team_plan_for_large_organisations", title="Team plan", price_stars=900,
                   is_active=False)
    for n in range(4):
        handle_successful_payment(
            user_id=7000000000 + n, telegram_payment_charge_id=f"{LONG_CHARGE}{n}", total_amount=2500,
            currency="XTR", entitlement_type="premium_yearly", source=EventSource.TELEGRAM, payload={"n": n},
        )
    handle_refund(user_id=7000000000, telegram_payment_charge_id=f"{LONG_CHARGE}0", source=EventSource.TELEGRAM,
                  payload={})
    handle_refund(user_id=7000000009, telegram_payment_charge_id=f"{LONG_CHARGE}never", source=EventSource.TELEGRAM,
                  payload={})
    failed = handle_successful_payment(
        user_id=7000000005, telegram_payment_charge_id=f"{LONG_CHARGE}F", total_amount=900, currency="XTR",
        entitlement_type="team_plan_for_large_organisations", source=EventSource.TELEGRAM, payload={},
    ).event
    return {"failed": failed}


@pytest.mark.django_db(transaction=True)
def test_lists_fit_1400_px_and_an_event_page_fits_a_phone(live_server, desk_data, tmp_path):
    """No clipped list at 1400 px; at 390 px the event page wraps its ids and its buttons sit below the title."""
    failed_url = f"{live_server.url}/admin/telegram_payments/stripeevent/{desk_data['failed'].pk}/change/"
    with chromium_page() as page:
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", "sophie")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.set_viewport_size({"width": 1400, "height": 900})
        for name, path in (("audit", "stripeevent"), ("refunds", "refundevent")):
            page.goto(f"{live_server.url}/admin/telegram_payments/{path}/")
            page.screenshot(path=tmp_path / f"1400-{name}-list.png", full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= 1400, name
            # The results scroll inside their box when too wide: nothing may be hidden there either.
            assert page.evaluate("(r => r.scrollWidth <= r.clientWidth)(document.querySelector('.results'))"), name
        page.goto(f"{live_server.url}/admin/telegram_payments/stripeevent/")
        sync_api.expect(page.locator(".failure-reason")).to_contain_text("is not on sale")
        sync_api.expect(page.locator(".refund-label")).to_have_count(1)
        page.goto(failed_url)
        page.screenshot(path=tmp_path / "1400-failed-event.png", full_page=True)
        assert_tools_below_the_title(page)

        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(failed_url)
        page.screenshot(path=tmp_path / "390-failed-event.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert_tools_below_the_title(page)
        sync_api.expect(page.locator("#replay-button")).to_be_visible()
        page.goto(f"{live_server.url}/admin/telegram_payments/stripeevent/")
        page.screenshot(path=tmp_path / "390-audit-list.png", full_page=True)


def assert_tools_below_the_title(page):
    title_bottom = page.evaluate("document.querySelector('#content h2').getBoundingClientRect().bottom")
    tools_top = page.evaluate("document.querySelector('.object-tools').getBoundingClientRect().top")
    assert tools_top >= title_bottom
