"""Abuse: requests failing the secret check are rate limited per client address; an optional allowlist."""

import json

import pytest

from entitlements.models import Entitlement
from telegram_payments.models import StripeEvent

pytestmark = pytest.mark.django_db

PAY_URL = "/webhook/telegram/successful_payment"
REFUND_URL = "/webhook/telegram/refund"
SECRET_HEADER = "HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN"


def payment(charge):
    return {"user_id": "42", "entitlement_type": "premium_monthly", "telegram_payment_charge_id": charge,
            "total_amount": 250, "currency": "XTR"}


@pytest.fixture
def send(client, webhook_secret):
    def send(*, ip="198.51.100.1", secret=None, forwarded=None, url=PAY_URL, charge="abuse-charge"):
        headers = {"REMOTE_ADDR": ip}
        if secret is not False:
            headers[SECRET_HEADER] = webhook_secret if secret is None else secret
        if forwarded is not None:
            headers["HTTP_X_FORWARDED_FOR"] = forwarded
        return client.post(url, json.dumps(payment(charge)), content_type="application/json", **headers)

    return send


@pytest.fixture
def limit(stars):
    stars.WEBHOOK_AUTH_FAILURE_LIMIT = 3
    stars.WEBHOOK_AUTH_FAILURE_WINDOW = 60
    stars.TRUSTED_PROXY_COUNT = 0
    return 3


def test_failures_over_the_limit_get_429_with_a_machine_readable_body(send, catalog, limit):
    assert [send(secret=f"guess-{i}").status_code for i in range(limit)] == [401] * limit
    response = send(secret="guess-x")
    assert response.status_code == 429
    body = response.json()
    assert body["ok"] is False
    assert body["error"] == "too_many_auth_failures"
    assert "60 seconds" in body["detail"]
    assert response["Retry-After"] == "60"
    assert send(secret=False).status_code == 429  # a missing secret is a failure too
    assert send(secret="guess-y", url=REFUND_URL).status_code == 429  # the count is per address, not per URL
    assert not StripeEvent.objects.exists()


def test_a_blocked_address_with_the_right_secret_is_served(send, catalog, limit):
    for i in range(limit + 2):
        send(secret=f"guess-{i}")
    assert send(secret="guess-z").status_code == 429
    # The limiter only slows guessing; it never refuses the right secret (Telegram may share the
    # address, e.g. behind a proxy, with whoever floods it). Guessing is hopeless by length instead.
    response = send()
    assert response.status_code == 200 and response.json()["status"] == "processed"
    assert Entitlement.objects.count() == 1


def test_a_flood_of_wrong_secrets_does_not_lock_telegram_out(send, catalog, stars):
    stars.TRUSTED_PROXY_COUNT = 0
    ip = "149.154.167.1"
    answers = [send(ip=ip, secret=f"wrong-{i}").status_code for i in range(150)]
    assert answers.count(429) == 150 - stars.WEBHOOK_AUTH_FAILURE_LIMIT
    paid = [send(ip=ip, charge=f"real-{i}") for i in range(10)]
    assert [r.status_code for r in paid] == [200] * 10
    assert StripeEvent.objects.count() == 10


def test_successful_requests_do_not_count(send, catalog, limit):
    for i in range(limit * 5):
        assert send(charge=f"ok-{i}").status_code == 200
    assert send(secret="wrong").status_code == 401
    assert StripeEvent.objects.count() == limit * 5


def test_the_limit_is_per_client_address(send, catalog, limit):
    for i in range(limit + 1):
        send(ip="198.51.100.7", secret=f"guess-{i}")
    assert send(ip="198.51.100.7", secret="guess").status_code == 429
    assert send(ip="198.51.100.8", secret="guess").status_code == 401


def test_without_trusted_proxies_x_forwarded_for_is_ignored(send, catalog, limit):
    for i in range(limit):
        send(ip="198.51.100.9", secret="guess", forwarded=f"203.0.113.{i}")
    assert send(ip="198.51.100.9", secret="guess", forwarded="203.0.113.200").status_code == 429


def test_behind_a_trusted_proxy_the_client_is_the_address_the_proxy_saw(send, catalog, limit, stars):
    stars.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    for i in range(limit):
        # The leftmost entries are whatever the client claimed; the proxy appended the real one.
        send(ip=proxy, secret="guess", forwarded=f"1.2.3.{i}, 203.0.113.5")
    assert send(ip=proxy, secret="guess", forwarded="9.9.9.9, 203.0.113.5").status_code == 429
    assert send(ip=proxy, secret="guess", forwarded="203.0.113.6").status_code == 401  # another client


def test_two_trusted_proxies_take_the_second_entry_from_the_right(send, catalog, limit, stars):
    stars.TRUSTED_PROXY_COUNT = 2
    for _ in range(limit):
        send(ip="10.0.0.3", secret="guess", forwarded="spoof, 203.0.113.9, 10.0.0.1")
    assert send(ip="10.0.0.3", secret="guess", forwarded="other, 203.0.113.9, 10.0.0.7").status_code == 429
    assert send(ip="10.0.0.3", secret="guess", forwarded="203.0.113.10, 10.0.0.1").status_code == 401


def test_allowlist_is_off_by_default(send, catalog, stars):
    assert stars.IP_ALLOWLIST is False
    assert send(ip="8.8.8.8").status_code == 200


@pytest.mark.parametrize("ip", ["149.154.160.1", "149.154.167.220", "149.154.175.254", "91.108.4.1", "91.108.7.250"])
def test_allowlist_admits_telegrams_ranges(send, catalog, stars, ip):
    stars.IP_ALLOWLIST = True
    assert send(ip=ip).status_code == 200


@pytest.mark.parametrize("ip", ["8.8.8.8", "149.154.176.1", "91.108.8.1", "127.0.0.1", "::1", "not-an-ip", ""])
def test_allowlist_forbids_everyone_else_with_403_even_with_the_right_secret(send, catalog, stars, ip):
    stars.IP_ALLOWLIST = True
    response = send(ip=ip)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden_source"
    assert not StripeEvent.objects.exists()


def test_allowlist_behind_a_proxy_checks_the_forwarded_address(send, catalog, stars):
    stars.IP_ALLOWLIST = True
    stars.TRUSTED_PROXY_COUNT = 1
    assert send(ip="10.0.0.2", forwarded="149.154.167.220").status_code == 200
    assert send(ip="10.0.0.2", forwarded="149.154.167.220, 8.8.8.8", charge="other").status_code == 403


def test_allowlist_ranges_are_configurable(send, catalog, stars):
    stars.IP_ALLOWLIST = True
    stars.IP_RANGES = ["10.1.0.0/16"]  # e.g. a relay inside the network
    assert send(ip="10.1.2.3").status_code == 200
    assert send(ip="149.154.167.220", charge="other").status_code == 403
