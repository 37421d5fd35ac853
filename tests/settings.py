"""Test settings: the production settings with test secrets filled in where the environment has none."""

import os

os.environ["ENV_FILE"] = ""  # never a developer's .env.dev (run.sh's), here or in the subprocesses tests start
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-never-used-outside-the-test-suite")
os.environ.setdefault("TELEGRAM_WEBHOOK_SECRET", "test-webhook-secret-0123456789-abcdefghij")
os.environ.setdefault("TELEGRAM_BOT_TOKEN", "123456789:TEST-token-never-real_abcdefghijk")
os.environ.setdefault("ALLOWED_HOSTS", "*")
# The test client speaks plain http; tests/test_security_settings.py turns the redirect on.
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")

from payments_project.settings import *  # noqa: E402,F403

# Local memory whatever CACHE_URL says: every test starts with cache.clear(), which on Redis would
# empty the whole database. The Redis tests (tests/test_limiter_cache.py) point at their own.
CACHES = {"default": cache_from_url("", key_prefix="")}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A fake Bot API server on loopback is started per test that needs it (telegram_payments/devtools/botapi.py);
# until then, any call goes to a closed port rather than to Telegram.
TELEGRAM_STARS = {**TELEGRAM_STARS, "API_BASE_URL": "http://127.0.0.1:9"}  # noqa: F405
# Tests render admin pages without running collectstatic first: plain storage, no manifest needed.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_AUTOREFRESH = True  # serve from the apps' static folders (no STATIC_ROOT in tests)
WHITENOISE_USE_FINDERS = True
