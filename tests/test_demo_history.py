"""The development start: `load_demo_history` (through the payment services, once, DEBUG only),
`create_dev_admin`, and `scripts/run.sh` running both before the server."""

import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from entitlements.models import Entitlement
from telegram_payments.models import EVENT_PAYMENT, EVENT_REFUND, EventStatus, StripeEvent
from telegram_payments.reads.revenue import revenue

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def test_demo_history_payments_a_refund_and_a_failure_once(settings, catalog, capsys):
    settings.DEBUG = True
    call_command("load_demo_history")
    assert "7 events recorded" in capsys.readouterr().out
    events = StripeEvent.objects.all()
    assert events.filter(event_type=EVENT_PAYMENT, status=EventStatus.PROCESSED).count() == 5
    assert events.filter(event_type=EVENT_REFUND, status=EventStatus.PROCESSED).count() == 1
    failed = events.get(status=EventStatus.FAILED)
    assert "premium_weekly" in failed.error
    assert len(set(events.values_list("customer_id", flat=True))) == 4
    assert events.filter(payload__message__from__first_name="Ana").count() == 2  # names, as Telegram sends them
    # Through the services: grants made and the refunded one revoked; spread over days for the charts.
    assert Entitlement.objects.count() == 5 and Entitlement.objects.filter(revoked_at__isnull=False).count() == 1
    figures = revenue()
    assert figures.current.refunds == 1 and figures.past_hold > 0 and figures.in_hold > 0
    assert sum(1 for d in figures.days if d.payments) >= 3

    rows = list(StripeEvent.objects.values_list("pk", "received_at"))
    call_command("load_demo_history")
    assert "already loaded, nothing added" in capsys.readouterr().out
    assert list(StripeEvent.objects.values_list("pk", "received_at")) == rows
    assert Entitlement.objects.count() == 5


def test_demo_history_refuses_without_debug(settings, catalog):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="development databases only"):
        call_command("load_demo_history")
    assert not StripeEvent.objects.exists()


def test_demo_history_needs_the_demo_catalog(settings):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="loaddata demo_catalog"):
        call_command("load_demo_history")


def test_dev_admin_is_created_once_and_its_password_printed_once(settings, capsys, client):
    settings.DEBUG = True
    call_command("create_dev_admin")
    out = capsys.readouterr().out
    password = out.split("password '")[1].split("'")[0]
    assert client.login(username="admin", password=password)
    call_command("create_dev_admin")
    again = capsys.readouterr().out
    assert password not in again and "changepassword admin" in again
    assert get_user_model().objects.filter(username="admin", is_superuser=True).count() == 1


def test_dev_admin_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="development databases only"):
        call_command("create_dev_admin")
    assert not get_user_model().objects.exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_sh_loads_the_demo_and_prints_the_login_before_the_server(tmp_path):
    """scripts/run.sh on a copy of the project, with a .venv whose pip does nothing and whose python runs
    everything but `runserver`, which only reports where it would listen."""
    project = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.sqlite3")
    for folder in ("scripts", "payments_project", "telegram_payments", "entitlements"):
        shutil.copytree(ROOT / folder, project / folder, ignore=ignore)
    for name in ("manage.py", "requirements.txt"):
        shutil.copy(ROOT / name, project / name)
    venv_bin = project / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").write_text(
        "#!/usr/bin/env bash\n"
        'if [ "$2" = runserver ]; then echo "RUNSERVER $3"; exit 0; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    (venv_bin / "pip").write_text("#!/usr/bin/env bash\nexit 0\n")
    for script in venv_bin.iterdir():
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY", "TELEGRAM_WEBHOOK_SECRET",
                        "TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL", "ENV_FILE"}}
    bot_api_port = free_port()
    env.update(PORT="8123", DATABASE_URL=f"sqlite:///{project / 'db.sqlite3'}", BOT_API_PORT=str(bot_api_port))

    def run():
        result = subprocess.run(["bash", "scripts/run.sh"], cwd=project, env=env, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    first = run()
    assert "Demo history: 7 events recorded" in first
    assert "Admin login created: http://127.0.0.1:8123/admin/ user 'admin' password '" in first
    assert first.rstrip().endswith("RUNSERVER 127.0.0.1:8123")
    second = run()
    assert "already loaded, nothing added" in second and "password '" not in second
    assert second.rstrip().endswith("RUNSERVER 127.0.0.1:8123")

    # Any later manage.py command finds the development settings run.sh wrote, without DEBUG=1 typed.
    settings_file = (project / ".env.dev").read_text()
    assert "DEBUG=1" in settings_file and f"TELEGRAM_API_BASE_URL=http://127.0.0.1:{bot_api_port}" in settings_file
    check = subprocess.run([sys.executable, "manage.py", "changepassword", "--help"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr[-2000:]
    with socket.socket() as s:  # the stand-in stopped with the script
        s.bind(("127.0.0.1", bot_api_port))
