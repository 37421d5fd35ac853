"""Production serving end to end: gunicorn with gunicorn.conf.py and two workers, WhiteNoise after
collectstatic, health probes, and /metrics summed over the workers (PROMETHEUS_MULTIPROC_DIR).

Runs the real commands of README "Deploying" as subprocesses, on a SQLite file of its own.
"""

import http.client
import os
import re
import runpy
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))


HTTPS = {"X-Forwarded-Proto": "https"}


def unfollowed(url) -> tuple[int, str]:
    """The status and Location of a GET, without following a redirect."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", parts.path, headers={"Connection": "close"})
        response = connection.getresponse()
        return response.status, response.getheader("Location", "")
    finally:
        connection.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, headers=None):
    request = urllib.request.Request(url, headers={"Connection": "close", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def healthz_count(metrics_text: str) -> float:
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if (sample.name == "telegram_stars_http_request_duration_seconds_count"
                    and sample.labels.get("view") == "healthz"):
                return sample.value
    return 0.0


@pytest.fixture
def deployment(tmp_path):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")},
        "DJANGO_SETTINGS_MODULE": "payments_project.settings",
        "DEBUG": "0",
        "SECRET_KEY": "serving-test-secret-key-" + "s" * 26 + "-0123456789",
        "TELEGRAM_WEBHOOK_SECRET": "serving-test-webhook-secret-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "LOG_FORMAT": "json",
        "SECURE_SSL_REDIRECT": "1",  # the production default (tests/settings.py turns it off for the test client)
        "HOME": str(tmp_path / "home"),  # where gunicorn would put a control socket by default
    }
    env.pop("XDG_RUNTIME_DIR", None)
    env.pop("GUNICORN_CONTROL_SOCKET", None)
    (tmp_path / "home").mkdir()
    (tmp_path / "prometheus").mkdir()
    (tmp_path / "prometheus" / "counter_999999.db").write_bytes(b"stale")  # emptied at start
    subprocess.run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    log = open(tmp_path / "gunicorn.log", "w+")
    server = subprocess.Popen([GUNICORN, "-c", "gunicorn.conf.py", "payments_project.wsgi"], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # wait for the server to listen (up to ~30 s on a busy machine)
            try:
                if get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start:\n" + (tmp_path / "gunicorn.log").read_text())
        yield {"base": base, "env": env, "tmp": tmp_path, "log": tmp_path / "gunicorn.log", "healthz_calls": 1,
               "home": tmp_path / "home"}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def test_gunicorn_serves_probes_static_files_and_summed_metrics(deployment):
    base, env, tmp = deployment["base"], deployment["env"], deployment["tmp"]

    # A fresh database: alive but not ready until `migrate` has run.
    status, _, body = get(f"{base}/readyz")
    assert status == 503 and b"unapplied" in body
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    for _ in range(4):  # every worker answers ready now
        assert get(f"{base}/readyz")[0] == 200

    # The admin's static files, from STATIC_ROOT through WhiteNoise, with hashed, cacheable names.
    # Pages come through the TLS proxy (gunicorn trusts its X-Forwarded-Proto from loopback); plain
    # http is redirected, except the probes and /metrics above and below.
    status, location = unfollowed(f"{base}/admin/login/")
    assert status == 301 and location.startswith("https://")
    status, _, login = get(f"{base}/admin/login/", HTTPS)
    assert status == 200
    css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.decode()).group(1)
    status, headers, _ = get(f"{base}{css}", {"Accept-Encoding": "gzip", **HTTPS})
    assert status == 200
    assert "immutable" in headers["Cache-Control"] and headers.get("Content-Encoding") == "gzip"

    # Requests spread over both workers; any worker's /metrics counts them all.
    # Which worker accepts a connection is up to the kernel; keep going until both have answered.
    calls = deployment["healthz_calls"]
    for _ in range(500):
        assert get(f"{base}/healthz")[0] == 200
        calls += 1
        if calls >= 30 and len(list((tmp / "prometheus").glob("histogram_*.db"))) >= 2:
            break
    for _ in range(4):
        status, _, text = get(f"{base}/metrics")
        assert status == 200
        assert healthz_count(text.decode()) == calls
    worker_files = {p.name for p in (tmp / "prometheus").glob("histogram_*.db")}
    assert len(worker_files) == 2, worker_files  # two workers wrote, and the scrape summed them
    assert not (tmp / "prometheus" / "counter_999999.db").exists()

    # Access log on stdout, one line per request, no query string.
    get(f"{base}/healthz?token=should-not-be-logged")
    for _ in range(100):  # the worker writes its access line just after answering
        log = deployment["log"].read_text()
        if log.count('"GET /healthz HTTP/1.1" 200') >= calls + 1:
            break
        time.sleep(0.1)
    assert log.count('"GET /healthz HTTP/1.1" 200') == calls + 1
    assert "should-not-be-logged" not in log


def test_gunicorn_conf_trusts_only_the_proxys_scheme_and_has_no_shared_control_socket(monkeypatch):
    from gunicorn.config import Config

    monkeypatch.delenv("GUNICORN_CONTROL_SOCKET", raising=False)
    values = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = Config()
    for name in ("forwarder_headers", "secure_scheme_headers", "control_socket_disable", "forwarded_allow_ips"):
        config.set(name, values[name])  # also proves each name is one gunicorn knows
    assert config.forwarder_headers == []
    assert config.secure_scheme_headers == {"X-FORWARDED-PROTO": "https"}
    assert config.control_socket_disable is True
    assert config.forwarded_allow_ips == ["127.0.0.1"]


def test_gunicorn_conf_control_socket_at_a_given_path(monkeypatch, tmp_path):
    monkeypatch.setenv("GUNICORN_CONTROL_SOCKET", str(tmp_path / "payments.ctl"))
    values = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert values["control_socket"] == str(tmp_path / "payments.ctl") and values["control_socket_disable"] is False


def test_the_access_log_masks_a_bots_webhook_path(deployment):
    """A stored bot's unguessable path never reaches gunicorn's access log (the request still does)."""
    base, env = deployment["base"], deployment["env"]
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    path = "Zq3-unguessable-bot-path-of-43-characters_x"
    request = urllib.request.Request(f"{base}/webhook/bot/{path}/successful_payment", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json", **HTTPS})
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 404  # no such bot
    for _ in range(100):  # the access line comes after the app's own line
        log = deployment["log"].read_text()
        if '"POST /webhook/' in log:
            break
        time.sleep(0.1)
    access = [line for line in log.splitlines() if '"POST /webhook/' in line]
    assert access == [line for line in access if '"POST /webhook/bot/…/successful_payment HTTP/1.1" 404' in line] != []
    assert not [line for line in access if path in line]


def test_gunicorn_does_not_take_script_name_from_a_header(deployment):
    """`SCRIPT_NAME: /public` from a trusted (loopback) peer must not make /public/metrics serve /metrics."""
    base = deployment["base"]
    assert get(f"{base}/metrics")[0] == 200
    status, _, body = get(f"{base}/public/metrics", {"SCRIPT_NAME": "/public", **HTTPS})
    assert status == 404, body[:200]
    assert not (deployment["home"] / ".gunicorn").exists()  # no control socket in $HOME
