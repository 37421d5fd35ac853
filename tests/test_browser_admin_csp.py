"""The admin under its Content-Security-Policy, in a real browser: every page a support person uses
renders, the admin's own scripts run, and the browser reports no CSP violation.

Data is made before the browser starts: Playwright's sync API keeps an asyncio loop on this thread,
where Django refuses ORM calls.
"""

import pytest

from entitlements.models import Entitlement
from telegram_payments.models import EventSource
from telegram_payments.payments.pipeline import handle_successful_payment
from tests.browser import csp_violations, launch, needs_chromium, watch_csp_violations

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                                             "(pip install -r requirements-dev.txt)")

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-staple"


def test_admin_pages_work_without_csp_violations(live_server, catalog, django_user_model):
    django_user_model.objects.create_superuser(username="csp", password=PASSWORD, email="")
    event = handle_successful_payment(
        user_id=777, telegram_payment_charge_id="stxCSP1", total_amount=250, currency="XTR",
        entitlement_type="premium_monthly", source=EventSource.TELEGRAM, payload={},
    ).event
    entitlement = Entitlement.objects.get(user_id=777)
    events = "/admin/telegram_payments/stripeevent"
    pages = ["/admin/", "/admin/telegram_payments/", f"{events}/", f"{events}/at-a-glance/",
             f"{events}/{event.pk}/change/", f"{events}/{event.pk}/refund/",
             "/admin/entitlements/entitlement/", f"/admin/entitlements/entitlement/{entitlement.pk}/change/",
             f"/admin/entitlements/entitlement/{entitlement.pk}/revoke/", "/admin/telegram_payments/product/add/"]
    statuses, policies = {}, set()
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(20_000)
            seen = watch_csp_violations(page)
            page.goto(f"{live_server.url}/admin/login/")
            page.fill("#id_username", "csp")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_selector("#user-tools")
            reported = csp_violations(page, [])  # the page's own events, per document
            for path in pages:
                response = page.goto(f"{live_server.url}{path}")
                statuses[path] = response.status
                policies.add(response.headers.get("content-security-policy"))
                reported += csp_violations(page, [])
            # The changelist's "select all" box is the admin's actions.js at work.
            page.goto(f"{live_server.url}{events}/")
            page.check("#action-toggle")
            counter = page.locator(".action-counter").inner_text()
            reported += csp_violations(page, [])
        finally:
            browser.close()
    assert statuses == {path: 200 for path in pages}
    assert len(policies) == 1 and "script-src 'self';" in policies.pop()
    assert counter.startswith("1 of 1 selected"), counter
    assert seen == [] and reported == []  # console messages, securitypolicyviolation events
