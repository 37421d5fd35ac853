#!/usr/bin/env bash
# Set up and run the service for development: a virtualenv in .venv, SQLite in db.sqlite3, the demo
# catalog and a small demo history loaded, a local admin login (created once, its password printed
# then), the Bot API stand-in on 127.0.0.1:${BOT_API_PORT:-8081}, and Django's server on
# http://127.0.0.1:8000 (PORT to change it). The development settings are written to .env.dev,
# where every later `manage.py` command finds them.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
if [ ! -f .env.dev ]; then
  (umask 077 && cat > .env.dev <<SETTINGS
# Written by scripts/run.sh for development (never on a server). Variables set in the shell win.
DEBUG=1
TELEGRAM_WEBHOOK_SECRET=${TELEGRAM_WEBHOOK_SECRET:-dev-webhook-secret}
TELEGRAM_BOT_TOKEN=${TELEGRAM_BOT_TOKEN:-1000000001:DEVELOPMENT-ONLY-token-of-the-bot-api-stand-in}
TELEGRAM_API_BASE_URL=${TELEGRAM_API_BASE_URL:-http://127.0.0.1:${BOT_API_PORT:-8081}}
SETTINGS
  )
fi
export ENV_FILE="$PWD/.env.dev"
manage() { .venv/bin/python manage.py "$@"; }
manage migrate --noinput
manage loaddata demo_catalog demo_subscription
manage create_support_groups
manage load_demo_history
manage create_dev_admin --url "http://127.0.0.1:${PORT:-8000}/admin/"
.venv/bin/python manage.py dev_bot_api --port "${BOT_API_PORT:-8081}" &  # (not through manage: $! is then its pid)
stand_in=$!
trap 'kill "$stand_in" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do  # until it listens (5 s at most), so a purchase can be simulated at once
  (echo > "/dev/tcp/127.0.0.1/${BOT_API_PORT:-8081}") 2>/dev/null && break
  sleep 0.1
done
echo "Webhooks need the header X-Telegram-Bot-Api-Secret-Token: the value in .env.dev (dev-webhook-secret)."
echo "Try a purchase: .venv/bin/python manage.py simulate_payment --user 123456789 --product premium_monthly"
manage runserver "127.0.0.1:${PORT:-8000}"
