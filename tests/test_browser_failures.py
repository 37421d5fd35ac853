"""A failed payment ends, in a real browser (Playwright, Debian's Chromium): a support agent fulfils one
failed payment by a grant and dismisses another with a reason, and the index's failing count goes
2 -> 1 -> 0. The database is only touched before and after the browser runs."""

import pytest
from django.contrib.auth.models import Group

from telegram_payments.models import Customer, EventSource, EventStatus, FailureResolution
from telegram_payments.payments.pipeline import handle_successful_payment
from tests.browser import launch, needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                                             "(pip install -r requirements-dev.txt)")

pytestmark = [pytest.mark.browser, needs_chromium]

PASSWORD = "correct-horse-battery-staple"
USER = 42424


@pytest.fixture
def failures(catalog, django_user_model, staff_groups):
    staff = django_user_model.objects.create_user(username="rita", password=PASSWORD, is_staff=True)
    staff.groups.add(Group.objects.get(name="Support"))
    Customer.objects.create(user_id=USER, first_name="Rosalind", last_name="Franklin", username="rosalind")
    events = {}
    for charge, stars in (("stxFULFILME", 200), ("stxDISMISSME", 100)):  # below the price of 250: failed
        events[charge] = handle_successful_payment(
            user_id=USER, telegram_payment_charge_id=charge, total_amount=stars, currency="XTR",
            entitlement_type="premium_monthly", source=EventSource.TELEGRAM, payload={}).event
        assert events[charge].status == EventStatus.FAILED
    return events


@pytest.mark.django_db(transaction=True)
def test_a_failed_payment_walks_to_fulfilled_and_another_to_dismissed(live_server, fake_bot_api, failures):
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(20_000)
            walk(page, live_server.url)
        finally:
            browser.close()
    endings = {r.payment.telegram_payment_charge_id: r for r in FailureResolution.objects.select_related("payment")}
    assert endings["stxFULFILME"].kind == "fulfilled" and endings["stxFULFILME"].grant_event is not None
    assert endings["stxDISMISSME"].kind == "dismissed" and endings["stxDISMISSME"].reason == "Paid by bank transfer"
    assert endings["stxDISMISSME"].resolved_by.username == "rita"


def walk(page, base: str):
    expect = sync_api.expect
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#failing-count")).to_have_text("2")

    page.goto(f"{base}/admin/telegram_payments/customer/{USER}/")
    expect(page.locator("#figure-failed .value")).to_have_text("2")
    to_fulfil = page.locator("tr.timeline-row.failed", has_text="stxFULFILME")
    to_fulfil.locator(".fulfil-action").click()
    expect(page.locator("#grant-fulfils")).to_contain_text("stxFULFILME")
    expect(page.locator("#id_entitlement_type")).to_have_value("premium_monthly")
    expect(page.locator("#id_days")).to_have_value("")
    page.fill("#id_reason", "Paid 200 of 250: close enough")
    page.click("#confirm-grant")
    expect(page.locator(".messagelist .success")).to_contain_text("It fulfils")
    expect(to_fulfil).to_contain_text("fulfilled by a staff grant")
    expect(to_fulfil.locator(".replay-action")).to_have_count(0)
    expect(page.locator("#figure-failed .value")).to_have_text("1")
    page.goto(f"{base}/admin/")
    expect(page.locator("#failing-count")).to_have_text("1")

    page.goto(f"{base}/admin/telegram_payments/customer/{USER}/")
    to_dismiss = page.locator("tr.timeline-row.failed", has_text="stxDISMISSME")
    to_dismiss.locator(".dismiss-action").click()
    expect(page.locator("textarea[name=reason]")).to_have_attribute("required", "")  # a reason is required
    page.fill("textarea[name=reason]", "Paid by bank transfer")
    page.click("#confirm-dismiss")
    expect(page.locator(".messagelist .success")).to_contain_text("no longer counts as failing")
    expect(to_dismiss).to_contain_text("dismissed by rita")
    expect(page.locator("#figure-failed .value")).to_have_text("0")
    page.goto(f"{base}/admin/")
    expect(page.locator("#failing-count")).to_have_text("0")
    page.click("#failing-link")
    expect(page.locator("#result_list")).to_have_count(0)  # the failing list is empty
