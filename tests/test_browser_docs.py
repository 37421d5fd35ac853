"""The API docs page in a real browser: Swagger UI renders every endpoint from /api/schema/, the
browser fetches nothing from any other host (no CDN, no validator badge), and the page works under
its Content-Security-Policy without a violation."""


import pytest

from tests.browser import csp_violations, launch, needs_chromium, watch_csp_violations

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                                             "(pip install -r requirements-dev.txt)")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]


def test_swagger_ui_renders_every_endpoint_from_local_assets_only(live_server, tmp_path):
    requested = []
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(20_000)
            page.on("request", lambda request: requested.append(request.url))
            seen = watch_csp_violations(page)
            response = page.goto(f"{live_server.url}/api/docs/")
            page.wait_for_selector(".opblock")
            page.locator(".opblock-summary").first.click()  # expand an operation: Swagger UI's scripts at work
            page.wait_for_selector(".opblock-body")
            violations = csp_violations(page, seen)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            title = page.locator(".information-container .title").inner_text()
            page.screenshot(path=str(tmp_path / "api-docs.png"), full_page=True)
        finally:
            browser.close()
    assert "script-src 'self';" in response.headers["content-security-policy"]
    assert violations == []
    normalized = {p.replace("\u200b", "").strip() for p in paths}
    assert {"/api/entitlements/{user_id}/", "/api/entitlements/{user_id}/{entitlement_type}/",
            "/webhook/telegram/successful_payment", "/webhook/telegram/refund"} <= normalized
    assert "Telegram Stars payments" in title
    assert any(url.startswith(f"{live_server.url}/api/schema/") for url in requested)
    outside = [url for url in requested if not url.startswith((live_server.url, "data:", "blob:"))]
    assert outside == []
