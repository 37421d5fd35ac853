#!/usr/bin/env bash
# Set up and run the test suite: a virtualenv in .venv with requirements-dev.txt, then pytest.
# SQLite by default; DATABASE_URL=postgres://postgres@127.0.0.1:5432/test runs it on PostgreSQL
# (the tests marked `postgres` only run there). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
