"""Settings come from the environment, with safe production defaults."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_check(**env_overrides):
    env = {k: v for k, v in os.environ.items()
           if k not in {"DEBUG", "SECRET_KEY", "TELEGRAM_WEBHOOK_SECRET", "DJANGO_SETTINGS_MODULE"}}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_production_refuses_to_start_without_secrets():
    result = run_check()
    assert result.returncode != 0
    assert "SECRET_KEY, TELEGRAM_WEBHOOK_SECRET must be set when DEBUG is off" in result.stderr


def test_production_starts_with_secrets():
    result = run_check(SECRET_KEY="x" * 50, TELEGRAM_WEBHOOK_SECRET="y" * 32)
    assert result.returncode == 0, result.stderr


def test_debug_starts_without_secrets():
    assert run_check(DEBUG="1").returncode == 0
