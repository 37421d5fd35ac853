"""HTTPS and browser hardening: the production environment of .env.example passes
`manage.py check --deploy` without a warning; plain http is redirected except the probes and
/metrics; HTML pages carry a Content-Security-Policy."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAY_URL = "/webhook/telegram/successful_payment"


def documented_production_env(tmp_path, **overrides) -> dict:
    """.env.example as an operator fills it in: its placeholders replaced, nothing else changed."""
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DEBUG"}
           and not k.startswith(("SECURE_", "SESSION_", "CSRF_", "BEHIND_", "TRUSTED_"))}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    env.update(SECRET_KEY=secrets.token_urlsafe(45), TELEGRAM_WEBHOOK_SECRET=secrets.token_urlsafe(48),
               DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
               **overrides)
    return env


def manage(env, *args):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_check_deploy_passes_without_a_warning_in_the_documented_production_environment(tmp_path):
    result = manage(documented_production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_without_the_hardening_check_deploy_warns(tmp_path):
    env = documented_production_env(tmp_path, SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="0")
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


SHOW = ("from django.conf import settings as s; print(getattr(s, 'SECURE_PROXY_SSL_HEADER', None), "
        "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)")


@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, "('HTTP_X_FORWARDED_PROTO', 'https') True 31536000 True True True True"),
    # Defaults without DEBUG (only the required settings given): no proxy assumed, no preload.
    ({"BEHIND_TLS_PROXY": "", "SECURE_SSL_REDIRECT": "", "SECURE_HSTS_SECONDS": "", "SECURE_HSTS_PRELOAD": "",
      "SECURE_HSTS_INCLUDE_SUBDOMAINS": "", "SESSION_COOKIE_SECURE": "", "CSRF_COOKIE_SECURE": ""},
     "None True 31536000 True False True True"),
    ({"BEHIND_TLS_PROXY": "", "TRUSTED_PROXY_COUNT": "1"}, "('HTTP_X_FORWARDED_PROTO', 'https') True"),
    ({"DEBUG": "1", "BEHIND_TLS_PROXY": "0"}, "None False 0 False False False False"),
])
def test_https_settings_from_the_environment(tmp_path, overrides, expected):
    env = documented_production_env(tmp_path, **overrides)
    for name in [k for k, v in env.items() if v == ""]:
        del env[name]
    result = manage(env, "shell", "-c", SHOW)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith(expected), result.stdout


@pytest.fixture
def https_site(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https(client, https_site):
    response = client.get("/admin/login/")
    assert response.status_code == 301 and response["Location"].startswith("https://")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/metrics/"])
def test_probes_and_metrics_over_plain_http_from_loopback_are_not_redirected(client, https_site, path):
    assert client.get(path, REMOTE_ADDR="127.0.0.1").status_code == 200


@pytest.mark.django_db
def test_webhooks_through_the_tls_proxy_are_served_with_hsts(client, webhook_secret, catalog, https_site):
    body = {"user_id": "42", "entitlement_type": "premium_monthly", "telegram_payment_charge_id": "https-1",
            "total_amount": 250, "currency": "XTR"}
    response = client.post(PAY_URL, json.dumps(body), content_type="application/json",
                           HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=webhook_secret, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200 and response.json()["status"] == "processed"
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Content-Security-Policy" not in response  # JSON, not a page


@pytest.mark.django_db
def test_html_pages_carry_the_content_security_policy(client):
    response = client.get("/admin/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "unsafe-eval" not in policy and "script-src 'self' 'unsafe-inline'" not in policy
