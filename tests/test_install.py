"""The package as a Django developer adds it to a project of their own (README "Add it to your project").

Builds the wheel from this repository, installs it into a fresh virtualenv, creates a brand-new
project with `django-admin startproject`, adds exactly the settings and urls lines the README shows
(plus the host's own receiver and DRF view, and its database), migrates on PostgreSQL, runs the host
with `runserver`, and posts a relay payment and a Bot API payment Update over HTTP. Slow (it installs
from the package index): marked `install`, and it needs PostgreSQL.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECRET = "host-webhook-secret-0123456789-abcdefghijk"
TOKEN = "123456789:HOST-token-never-real_abcdefghijklmn"

pytestmark = [pytest.mark.install, pytest.mark.postgres]


def readme_block(first_line: str) -> str:
    """The code block of README's "Add it to your project" section that starts with `first_line`."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Add it to your project", 1)[1].split("\n## ", 1)[0]
    for block in re.findall(r"```python\n(.*?)```", section, flags=re.S):
        if block.startswith(first_line + "\n"):
            return block
    raise AssertionError(f"README's section has no block starting {first_line!r}")


def run(*args, cwd=None, env=None, timeout=600):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body, headers=None):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


HOST_CODE = '''
# --- the host project's own code (not the README's) ---
import json as _json
import os as _os

from django.dispatch import receiver as _receiver
from rest_framework import serializers as _serializers
from rest_framework.decorators import api_view as _api_view
from rest_framework.decorators import permission_classes as _permission_classes
from rest_framework.permissions import AllowAny as _AllowAny

from telegram_payments.signals import entitlement_granted as _entitlement_granted


@_receiver(_entitlement_granted)
def _heard(sender, *, user_id, entitlement_type, event_id, **kwargs):
    with open(_os.environ["HOST_SIGNAL_LOG"], "a") as log:
        log.write(_json.dumps({"user_id": user_id, "type": entitlement_type, "event_id": event_id}) + "\\n")


@_api_view(["POST"])
@_permission_classes([_AllowAny])
def _host_view(request):
    raise _serializers.ValidationError({"name": ["This field is required."]})


urlpatterns += [path("host-api/thing/", _host_view)]
'''

CHECK_ADMIN = '''
from django.contrib.auth import get_user_model
from django.test import Client
from telegram_payments.models import StripeEvent
from entitlements.models import Entitlement
import json
user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-not-used-0000")
client = Client(HTTP_HOST="localhost")
client.force_login(user)
index = client.get("/admin/").content.decode()
events_page = client.get("/admin/telegram_payments/stripeevent/").content.decode()
print(json.dumps({
    "events": sorted(StripeEvent.objects.values_list("event_id", "status")),
    "grants": sorted(Entitlement.objects.values_list("user_id", "entitlement_type")),
    "index_title": index.split("<title>", 1)[1].split("</title>", 1)[0],
    "events_title": events_page.split("<title>", 1)[1].split("</title>", 1)[0],
    "search_box": 'id="customer-search"' in events_page,
    "site_header_on_events": "Django administration" in events_page,
}))
'''


@pytest.fixture
def host_database():
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    name = f"stars_install_{uuid.uuid4().hex[:8]}"
    admin = dict(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"],
                 dbname="postgres", autocommit=True)
    with psycopg.connect(**admin) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield {**db, "NAME": name}
    with psycopg.connect(**admin) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_new_project_with_the_readme_lines_takes_payments_and_keeps_its_own_admin_and_errors(
        tmp_path, host_database):
    index = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "Django"], capture_output=True,
                           text=True, timeout=120)
    if index.returncode != 0:
        pytest.skip("the package index is unreachable: the wheel's dependencies cannot be installed")
    dist, venv, project = tmp_path / "dist", tmp_path / "venv", tmp_path / "host"
    run(sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT), cwd=tmp_path)
    wheel = next(dist.glob("django_telegram_stars-*.whl"))
    run(sys.executable, "-m", "venv", str(venv))
    python = str(venv / "bin" / "python")
    run(python, "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{wheel}[postgres]")
    assert "payments_project" not in run(python, "-m", "pip", "show", "-f", "django-telegram-stars")

    project.mkdir()
    run(str(venv / "bin" / "django-admin"), "startproject", "host", str(project))
    settings_py, urls_py = project / "host" / "settings.py", project / "host" / "urls.py"
    settings_py.write_text(settings_py.read_text() + "\n" + readme_block("# settings.py") + f"""
# --- the host's own API defaults, which must not reach the apps' views ---
REST_FRAMEWORK = {{
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {{"anon": "1/day"}},
}}
# --- the host's own database ---
DATABASES = {{"default": {{"ENGINE": "django.db.backends.postgresql", "NAME": {host_database["NAME"]!r},
    "HOST": {host_database["HOST"] or "127.0.0.1"!r}, "PORT": {str(host_database["PORT"] or 5432)!r},
    "USER": {host_database["USER"]!r}, "PASSWORD": {host_database["PASSWORD"] or ""!r}}}}}
""")
    urls_py.write_text(urls_py.read_text() + "\n" + readme_block("# urls.py") + HOST_CODE)

    signal_log = tmp_path / "signals.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET, HOST_SIGNAL_LOG=str(signal_log),
               PYTHONPATH="")
    manage = [python, str(project / "manage.py")]
    run(*manage, "check", cwd=project, env=env)
    run(*manage, "migrate", "--noinput", cwd=project, env=env)
    run(*manage, "loaddata", "demo_catalog", cwd=project, env=env)
    run(*manage, "shell", "-c",
        "from telegram_payments.models import Invoice, Product; Invoice.objects.create(payload='inv_host_1', "
        "product=Product.objects.get(entitlement_type='premium_monthly'), price_stars=250, user_id=555000111)",
        cwd=project, env=env)

    port = free_port()
    server = subprocess.Popen([*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=project, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/admin/login/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        secret = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        relay = {"user_id": "123456789", "entitlement_type": "premium_monthly", "invoice_id": "inv_tg_123",
                 "telegram_payment_charge_id": "tg_charge_123", "provider_payment_charge_id": "",
                 "total_amount": 250, "currency": "XTR"}
        url = f"{base}/telegram-stars/webhook/telegram/successful_payment"
        assert post(url, relay, secret) == (200, {"ok": True, "status": "processed",
                                                  "event_id": "tg_stars:payment:tg_charge_123",
                                                  "event_status": "processed"})
        assert post(url, relay, secret)[1]["status"] == "duplicate"
        assert post(url, relay, {"X-Telegram-Bot-Api-Secret-Token": "wrong"})[0] == 401

        update = json.loads((ROOT / "tests" / "fixtures" / "updates" / "successful_payment.json").read_text())
        update["message"]["successful_payment"]["invoice_payload"] = "inv_host_1"
        status, answer = post(f"{base}/telegram-stars/webhook/telegram", update, secret)
        assert status == 200 and answer["method"] == "sendMessage", answer  # the thank-you, in the answer

        # The host's own DRF view keeps DRF's error format and the host's throttle: no takeover either way.
        assert post(f"{base}/host-api/thing/", {}) == (400, {"name": ["This field is required."]})
        assert post(f"{base}/host-api/thing/", {})[0] == 429  # the host's throttle, on the host's view only
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert "Traceback" not in output, output[-3000:]

    seen = json.loads(run(*manage, "shell", "-c", CHECK_ADMIN, cwd=project, env=env).strip().splitlines()[-1])
    charge = update["message"]["successful_payment"]["telegram_payment_charge_id"]
    assert seen["events"] == sorted([[f"tg_stars:payment:{charge}", 1], ["tg_stars:payment:tg_charge_123", 1]])
    assert seen["grants"] == [[123456789, "premium_monthly"], [555000111, "premium_monthly"]]
    heard = [json.loads(line) for line in signal_log.read_text().splitlines()]
    assert sorted((h["user_id"], h["event_id"]) for h in heard) == sorted(
        [(123456789, "tg_stars:payment:tg_charge_123"), (555000111, f"tg_stars:payment:{charge}")])  # once each
    # The host's admin keeps its own names; the app's pages still carry the support desk's search box.
    assert seen["index_title"] == "Site administration | Django site admin"
    assert seen["events_title"].endswith("| Django site admin") and seen["site_header_on_events"]
    assert seen["search_box"]
