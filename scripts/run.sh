#!/usr/bin/env bash
# Set up and run the service for development: a virtualenv in .venv, SQLite in db.sqlite3,
# the demo catalog and a small demo history loaded, a local admin login (created once, its password
# printed then), Django's server on http://127.0.0.1:8000 (PORT to change it).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
export DEBUG=${DEBUG:-1}
export TELEGRAM_WEBHOOK_SECRET=${TELEGRAM_WEBHOOK_SECRET:-dev-webhook-secret}
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py loaddata demo_catalog demo_subscription
.venv/bin/python manage.py create_support_groups
.venv/bin/python manage.py load_demo_history
.venv/bin/python manage.py create_dev_admin --url "http://127.0.0.1:${PORT:-8000}/admin/"
echo "Webhooks need the header X-Telegram-Bot-Api-Secret-Token: the value of TELEGRAM_WEBHOOK_SECRET (default dev-webhook-secret)."
exec .venv/bin/python manage.py runserver "127.0.0.1:${PORT:-8000}"
