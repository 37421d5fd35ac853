"""/metrics: business counters counted where outcomes are known, request latency, and access control."""

import random
import string

import pytest
from prometheus_client.parser import text_string_to_metric_families

from telegram_payments.registry import bots
from telegram_payments.telegram_api.client import BotApiError, call_bot
from tests.factories import InvoiceFactory

PAY_URL = "/webhook/telegram/successful_payment"
REFUND_URL = "/webhook/telegram/refund"

pytestmark = pytest.mark.django_db


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before, after, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


def payment(charge, **overrides):
    body = {"user_id": "4242", "entitlement_type": "premium_monthly", "invoice_id": "",
            "telegram_payment_charge_id": charge, "total_amount": 250, "currency": "XTR"}
    body.update(overrides)
    return body


def test_payments_stars_duplicates_and_failures_are_counted(client, post_json, catalog):
    before = scrape(client)
    assert post_json(PAY_URL, payment("m-1")).json()["status"] == "processed"
    assert post_json(PAY_URL, payment("m-1")).json()["status"] == "duplicate"
    assert post_json(PAY_URL, payment("m-2", entitlement_type="lifetime", total_amount=10000)).status_code == 200
    assert post_json(PAY_URL, payment("m-3", entitlement_type="no_such_thing")).json()["status"] == "failed"
    after = scrape(client)

    assert delta(before, after, "telegram_stars_payments_total", bot="default", product="premium_monthly") == 1
    assert delta(before, after, "telegram_stars_payments_total", bot="default", product="lifetime") == 1
    assert delta(before, after, "telegram_stars_received_stars_total", bot="default", product="premium_monthly") == 250
    assert delta(before, after, "telegram_stars_received_stars_total", bot="default", product="lifetime") == 10000
    assert delta(before, after, "telegram_stars_duplicate_events_total", bot="default", kind="payment") == 1
    assert delta(before, after, "telegram_stars_failed_events_total", bot="default", kind="payment") == 1
    # The gauge is read from the database at scrape time: one failed event is waiting.
    assert value(after, "telegram_stars_failed_events_waiting", bot="default") == 1


def test_refunds_are_counted_by_source(client, post_json, catalog):
    from telegram_payments.models import EventSource
    from telegram_payments.payments.pipeline import handle_refund

    post_json(PAY_URL, payment("r-1"))
    post_json(PAY_URL, payment("r-2"))
    before = scrape(client)
    response = post_json(REFUND_URL, {"user_id": "4242", "telegram_payment_charge_id": "r-1"})
    assert response.json()["status"] == "processed"
    handle_refund(user_id=4242, telegram_payment_charge_id="r-2", source=EventSource.STAFF, payload={})
    after = scrape(client)
    assert delta(before, after, "telegram_stars_refunds_total", bot="default", source="relay") == 1
    assert delta(before, after, "telegram_stars_refunds_total", bot="default", source="staff") == 1
    assert delta(before, after, "telegram_stars_refunds_total", bot="default", source="telegram") == 0


def test_bot_api_calls_are_counted_by_method_and_result(client, fake_bot_api, stars):
    before = scrape(client)
    call_bot("getMe", lambda api: api.get_me(), bot=bots.default())
    fake_bot_api.respond("refundStarPayment", error=(400, "Bad Request: CHARGE_ALREADY_REFUNDED"))
    with pytest.raises(BotApiError):
        call_bot("refundStarPayment", lambda api: api.refund_star_payment(7, "c1"), bot=bots.default())
    fake_bot_api.respond("refundStarPayment", http_status=500)
    with pytest.raises(BotApiError):
        call_bot("refundStarPayment", lambda api: api.refund_star_payment(7, "c1"), bot=bots.default())
    stars.BOT_TOKEN = ""
    with pytest.raises(BotApiError):
        call_bot("getStarTransactions", lambda api: api.get_star_transactions(), bot=bots.default())
    after = scrape(client)
    assert delta(before, after, "telegram_bot_api_calls_total", bot="default", method="getMe", result="ok") == 1
    assert delta(before, after, "telegram_bot_api_calls_total", bot="default", method="refundStarPayment",
                 result="error") == 1
    assert delta(before, after, "telegram_bot_api_calls_total", bot="default", method="refundStarPayment",
                 result="transient_error") == 1
    assert delta(before, after, "telegram_bot_api_calls_total", bot="default", method="getStarTransactions",
                 result="not_configured") == 1


def test_request_latency_is_labelled_by_view_name_not_path(client, post_json, catalog):
    before = scrape(client)
    post_json(PAY_URL, payment("lat-1"))
    post_json(PAY_URL, payment("lat-1"), secret="wrong")
    client.get("/no/such/page/12345")
    client.get("/static/admin/css/base.css")
    after = scrape(client)
    labels = {"view": "relay-successful-payment", "method": "POST"}
    assert delta(before, after, "telegram_stars_http_request_duration_seconds_count", status="200", **labels) == 1
    assert delta(before, after, "telegram_stars_http_request_duration_seconds_count", status="401", **labels) == 1
    assert delta(before, after, "telegram_stars_http_request_duration_seconds_count", view="unmatched", method="GET",
                 status="404") == 1
    assert delta(before, after, "telegram_stars_http_request_duration_seconds_count", view="static", method="GET",
                 status="200") == 1
    assert not any("12345" in str(key) or "base.css" in str(key) for key in after)


def test_random_methods_and_paths_do_not_grow_the_metrics(client, catalog, stars):
    stars.WEBHOOK_AUTH_FAILURE_LIMIT = 10**6  # no 429 series appearing halfway
    rng = random.Random(7)
    paths = ["/healthz", "/no/such/page", PAY_URL, "/api/docs/"]

    def request(method, path):
        return client.generic(method, path, b"{}", content_type="application/json")

    for path in paths:  # every (view, status) pair exists once before counting lines
        request("WARMUP", path)
    client.get("/metrics")
    lines = len(client.get("/metrics").content.splitlines())
    for _ in range(300):
        method = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 12)))
        path = rng.choice(paths) if rng.random() < 0.7 else f"/no/such/page/{rng.randrange(10**9)}"
        request(method, path)
    text = client.get("/metrics").content.decode()
    assert len(text.splitlines()) == lines
    assert 'method="other"' in text


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD", "OPTIONS"])
def test_common_methods_keep_their_name(client, method):
    before = scrape(client)
    client.generic(method, "/no/such/page")
    after = scrape(client)
    assert delta(before, after, "telegram_stars_http_request_duration_seconds_count", view="unmatched", method=method,
                 status="404") == 1


def test_metrics_from_an_allowed_network_only(client, stars):
    stars.METRICS_TOKEN = ""
    stars.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.9").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    # X-Forwarded-For is not trusted: it is whatever the client says.
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.9", HTTP_X_FORWARDED_FOR="10.0.0.1").status_code == 403


def test_metrics_with_a_bearer_token(client, stars):
    stars.METRICS_TOKEN = "metrics-token-0123456789"
    stars.METRICS_ALLOWED_NETWORKS = []
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7",
                      HTTP_AUTHORIZATION="Bearer not-the-token").status_code == 401
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7",
                      HTTP_AUTHORIZATION="Token metrics-token-0123456789").status_code == 401
    ok = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer metrics-token-0123456789")
    assert ok.status_code == 200
    assert b"telegram_stars_failed_events_waiting" in ok.content


def test_metrics_and_probes_answer_whatever_the_host_header(client, settings):
    # Prometheus and load balancers reach each server by its address, not the public name.
    settings.ALLOWED_HOSTS = ["payments.example.com"]
    assert client.get("/metrics", HTTP_HOST="10.0.0.5:8000").status_code == 200
    assert client.get("/healthz", HTTP_HOST="10.0.0.5:8000").status_code == 200
    assert client.get("/admin/login/", HTTP_HOST="10.0.0.5:8000").status_code == 400


def test_default_is_loopback_only(client, stars):
    from payments_project import settings as production_settings

    stars.METRICS_TOKEN = ""
    stars.METRICS_ALLOWED_NETWORKS = production_settings.TELEGRAM_STARS["METRICS_ALLOWED_NETWORKS"]
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.1").status_code == 403


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_scrape_still_answers_without_the_database(client):
    from django.db import connection

    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = "9"  # nothing listens there: the database is "down"
    try:
        response = client.get("/metrics")
    finally:
        connection.close()
        connection.settings_dict.update(original)
    assert response.status_code == 200
    text = response.content.decode()
    assert "telegram_stars_http_request_duration_seconds" in text
    assert "telegram_stars_failed_events_waiting" not in text


def test_no_created_timestamps_series(client):
    text = client.get("/metrics").content.decode()
    assert "_created" not in text


def test_pre_checkout_answers_are_counted_by_outcome(client, post_json, catalog):
    from tests.conftest import load_update

    query = load_update("pre_checkout_query")
    InvoiceFactory(payload=query["pre_checkout_query"]["invoice_payload"],
                   user_id=query["pre_checkout_query"]["from"]["id"],
                   product=catalog["premium_monthly"], price_stars=query["pre_checkout_query"]["total_amount"])
    before = scrape(client)
    assert post_json("/webhook/telegram", query).json()["ok"] is True
    unknown = load_update("pre_checkout_query")
    unknown["update_id"] += 1
    unknown["pre_checkout_query"].update(id="other-query", invoice_payload="inv_nobody_issued")
    assert post_json("/webhook/telegram", unknown).json()["ok"] is False
    after = scrape(client)
    assert delta(before, after, "telegram_stars_pre_checkout_answers_total", bot="default", outcome="ok") == 1
    assert delta(before, after, "telegram_stars_pre_checkout_answers_total", bot="default",
                 outcome="unknown_invoice") == 1


def test_each_bot_is_counted_under_its_slug_and_no_label_holds_a_path(client, other_bots, catalog):
    from django.urls import reverse

    from telegram_payments.models import EventSource, Product
    from telegram_payments.payments.pipeline import handle_successful_payment

    bot_a, fake_a = other_bots["a"]
    Product.objects.create(bot=bot_a, entitlement_type="premium_monthly", title="Premium A", description="A month",
                           price_stars=100, duration_days=30)
    before = scrape(client)
    relay = reverse("bot-relay-successful-payment", args=[bot_a.webhook_path])
    body = payment("bots-1", total_amount=100)
    headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": bot_a.webhook_secret()}
    assert client.post(relay, body, content_type="application/json", **headers).json()["status"] == "processed"
    assert client.post(relay, body, content_type="application/json", **headers).json()["status"] == "duplicate"
    handle_successful_payment(user_id=5, telegram_payment_charge_id="bots-2", total_amount=1, currency="XTR",
                              entitlement_type="no_such_product", source=EventSource.RELAY, payload={}, bot=bot_a)
    call_bot("getMe", lambda api: api.get_me(), bot=bot_a)
    after = scrape(client)
    assert delta(before, after, "telegram_stars_payments_total", bot="a", product="premium_monthly") == 1
    assert delta(before, after, "telegram_stars_payments_total", bot="default", product="premium_monthly") == 0
    assert delta(before, after, "telegram_stars_received_stars_total", bot="a", product="premium_monthly") == 100
    assert delta(before, after, "telegram_stars_duplicate_events_total", bot="a", kind="payment") == 1
    assert delta(before, after, "telegram_stars_failed_events_total", bot="a", kind="payment") == 1
    assert delta(before, after, "telegram_bot_api_calls_total", bot="a", method="getMe", result="ok") == 1
    # The gauge has a series for every bot, at 0 too.
    assert [value(after, "telegram_stars_failed_events_waiting", bot=slug) for slug in ("default", "a", "b")] == [
        0, 1, 0]
    labels = {v for key in after for _, v in key[1]}
    assert {"default", "a", "b"} <= labels
    assert not any(bot.webhook_path in label for bot, _ in other_bots.values() for label in labels)
