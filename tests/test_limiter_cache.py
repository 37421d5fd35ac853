"""The auth-failure limiter's counts: kept in a shared cache (CACHE_URL, Redis) so that they are one
count across processes and are not evicted; IPv6 clients counted by /64; a cache outage is no 500."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from payments_project.settings import cache_from_url
from telegram_payments.models import StripeEvent
from telegram_payments.webhooks.guards import failure_key

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
PAY_URL = "/webhook/telegram/successful_payment"
SECRET_HEADER = "HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")  # a database of its own


def payment(charge):
    return {"user_id": "42", "entitlement_type": "premium_monthly", "telegram_payment_charge_id": charge,
            "total_amount": 250, "currency": "XTR"}


@pytest.fixture
def send(client, webhook_secret):
    def send(*, ip, secret=None, charge="limiter-charge"):
        headers = {"REMOTE_ADDR": ip, SECRET_HEADER: webhook_secret if secret is None else secret}
        return client.post(PAY_URL, json.dumps(payment(charge)), content_type="application/json", **headers)

    return send


@pytest.fixture
def limit(stars):
    stars.WEBHOOK_AUTH_FAILURE_LIMIT = 3
    stars.WEBHOOK_AUTH_FAILURE_WINDOW = 60
    stars.TRUSTED_PROXY_COUNT = 0
    return 3


@pytest.fixture
def redis_cache(settings):
    """The default cache on the real Redis at REDIS_URL, under a key prefix of this test's own;
    only keys with that prefix are deleted afterwards."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"needs a real Redis (REDIS_URL, default redis://127.0.0.1:6379/...): none answers at {REDIS_URL}")
    prefix = f"test-limiter-{uuid.uuid4().hex}"
    settings.CACHES = {"default": cache_from_url(REDIS_URL, key_prefix=prefix)}
    yield prefix
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(key)
    client.close()


def test_cache_url_selects_django_redis_backend():
    assert cache_from_url("", key_prefix="p") == {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    config = cache_from_url("redis://127.0.0.1:6379/0", key_prefix="p")
    assert config["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert config["LOCATION"] == "redis://127.0.0.1:6379/0"
    assert config["KEY_PREFIX"] == "p"


def test_cache_url_of_another_kind_refuses_to_start():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                            env={**env, "DEBUG": "1", "CACHE_URL": "memcached://127.0.0.1:11211"}, timeout=60)
    assert result.returncode != 0
    assert "CACHE_URL must be a redis://, rediss:// or unix:// URL" in result.stderr


@pytest.mark.parametrize(("ip", "key"), [
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
    ("::ffff:198.51.100.4", "198.51.100.4"),
    ("198.51.100.4", "198.51.100.4"),
    ("not-an-address", "unknown"),
])
def test_failure_keys_fold_ipv6_by_64(ip, key):
    assert failure_key(ip) == f"webhook-auth-failures:{key}"


def test_ipv6_clients_are_counted_by_64(send, catalog, limit):
    for i in range(limit):  # a new address of the same /64 for every guess
        assert send(ip=f"2001:db8:1:2::{i + 1:x}", secret="guess").status_code == 401
    assert send(ip="2001:db8:1:2:abcd:ef01:2345:6789", secret="guess").status_code == 429
    assert send(ip="2001:db8:1:3::1", secret="guess").status_code == 401  # the next /64 is someone else
    assert send(ip="2001:db8:1:2::99").status_code == 200  # the right secret is always served


def test_a_cache_outage_is_no_500(send, catalog, limit, settings):
    settings.CACHES = {"default": cache_from_url("redis://127.0.0.1:9/0", key_prefix="closed")}  # nothing listens
    assert [send(ip="198.51.100.30", secret="guess").status_code for _ in range(limit + 2)] == [401] * (limit + 2)
    assert send(ip="198.51.100.30").status_code == 200
    assert StripeEvent.objects.count() == 1


@pytest.mark.redis
def test_with_redis_many_addresses_do_not_unblock_a_blocked_one(send, catalog, limit, redis_cache):
    blocked = "198.51.100.77"
    for i in range(limit + 1):
        send(ip=blocked, secret=f"guess-{i}")
    assert send(ip=blocked, secret="guess").status_code == 429
    # The local-memory cache culls at 300 entries, which let 300 throwaway addresses free this one.
    for i in range(1200):
        send(ip=f"10.{i // 250}.{i % 250}.1", secret="guess")
    assert send(ip=blocked, secret="guess").status_code == 429


@pytest.mark.redis
def test_with_redis_one_key_per_ipv6_64(send, catalog, limit, redis_cache):
    import redis

    for i in range(10):
        send(ip=f"2001:db8:aa:bb::{i + 1:x}", secret="guess")
    client = redis.Redis.from_url(REDIS_URL)
    keys = [key.decode() for key in client.scan_iter(match=f"{redis_cache}:*")]
    assert len(keys) == 1 and keys[0].endswith("webhook-auth-failures:2001:db8:aa:bb::/64")
    assert send(ip="2001:db8:aa:bb::ff", secret="guess").status_code == 429


@pytest.mark.redis
def test_with_redis_failures_counted_by_another_process_count_here(send, catalog, limit, redis_cache):
    """Workers and servers share one count: failures counted in another process block this one."""
    code = ("import django; django.setup(); from telegram_payments.webhooks.guards import count_auth_failure\n"
            "for _ in range(3): count_auth_failure('198.51.100.88')")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "payments_project.settings", "DEBUG": "1",
           "CACHE_URL": REDIS_URL, "CACHE_KEY_PREFIX": redis_cache}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
    assert send(ip="198.51.100.88", secret="guess").status_code == 429
    assert send(ip="198.51.100.89", secret="guess").status_code == 401


def test_a_cache_outage_is_counted_logged_once_a_minute_and_readyz_says_degraded(send, catalog, limit, settings,
                                                                                caplog, client):
    """With Redis unreachable the limiter stops limiting: a metric rises with every miss, one log line
    says so (not one per request), and /readyz reports the cache degraded (200: payments go on)."""
    from prometheus_client import REGISTRY

    from telegram_payments.webhooks import guards

    guards._last_limiter_warning = None
    settings.CACHES = {"default": cache_from_url("redis://127.0.0.1:9/0", key_prefix="closed")}  # nothing listens
    metric = "telegram_stars_auth_limiter_cache_errors_total"
    before = REGISTRY.get_sample_value(metric) or 0
    for _ in range(5):
        assert send(ip="198.51.100.31", secret="guess").status_code == 401
    assert REGISTRY.get_sample_value(metric) - before >= 5
    warnings = [r for r in caplog.records if "limiter: cache unavailable" in r.getMessage()]
    assert len(warnings) == 1 and "not limited" in warnings[0].getMessage()
    guards._last_limiter_warning -= guards.LIMITER_WARNING_INTERVAL  # a minute later: said again
    send(ip="198.51.100.31", secret="guess")
    assert len([r for r in caplog.records if "limiter: cache unavailable" in r.getMessage()]) == 2
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "degraded", "checks": {"database": "ok", "migrations": "ok",
                                                            "cache": "unavailable"}}
