"""`stars_settings`: this app's keys of the project's `TELEGRAM_STARS` dict, each with its default.

    TELEGRAM_STARS = {
        "BOT_TOKEN": "123456:ABC...",            # from @BotFather
        "WEBHOOK_SECRET": "...",                  # 32-256 of A-Z a-z 0-9 _ -
        "WEBHOOK_URL": "https://example.com/telegram-stars/webhook/telegram",
    }

Every key, its default and meaning is below and in README ("Add it to your project"); the system
checks in `checks.py` report a missing or malformed value by id when the project starts. The
entitlements app's keys (the outbox) live in the same dict: `entitlements.conf`.
"""

from decimal import Decimal

from entitlements.conf import ENTITLEMENTS_DEFAULTS, AppSettings

PAYSUPPORT_TEXT = (
    "Need help with a payment? Write your question in this chat with the date and amount of the "
    "payment, and we will answer within 24 hours. Telegram's support cannot help with purchases made in this bot."
)
TERMS_TEXT = (
    "Purchases are paid in Telegram Stars and unlock digital features of this bot for the period shown "
    "on the invoice (subscriptions renew every 30 days until cancelled). If something you bought does "
    "not work, contact /paysupport: we refund purchases we cannot deliver."
)

DEFAULTS = {
    # The bot: its token (never logged, shown or exported), the secret_token Telegram sends in
    # X-Telegram-Bot-Api-Secret-Token, and the public https URL of the Update webhook (`set_webhook`).
    "BOT_TOKEN": "",
    "WEBHOOK_SECRET": "",
    "WEBHOOK_URL": "",
    # The Bot API server: Telegram's, a self-hosted one, or a test fake.
    "API_BASE_URL": "https://api.telegram.org",
    # Answers to /paysupport and /terms (Telegram requires both of a bot that sells digital goods).
    "PAYSUPPORT_TEXT": PAYSUPPORT_TEXT,
    "TERMS_TEXT": TERMS_TEXT,
    # Tell the buyer in the chat what a payment brought (or why it could not be delivered).
    "THANK_BUYERS": True,
    # Refund payments nobody can fulfil (product off sale, amount below the price, not our invoice)
    # through `manage.py refund_unfulfillable`; False: staff decide each one.
    "AUTO_REFUND_UNFULFILLABLE": False,
    # Webhook bodies larger than this get 413.
    "WEBHOOK_MAX_BODY_BYTES": 64 * 1024,
    # Per worker process: answers to the last N bodies recorded as processed (0: off).
    "WEBHOOK_REDELIVERY_MEMORY": 10_000,
    # Failed secret checks allowed per client address (IPv6: per /64) per window of seconds; more: 429.
    "WEBHOOK_AUTH_FAILURE_LIMIT": 20,
    "WEBHOOK_AUTH_FAILURE_WINDOW": 60,
    # Reverse proxies in front that append to X-Forwarded-For; 0: the client is REMOTE_ADDR.
    "TRUSTED_PROXY_COUNT": 0,
    # True: webhook requests from outside IP_RANGES get 403.
    "IP_ALLOWLIST": False,
    "IP_RANGES": ["149.154.160.0/20", "91.108.4.0/22"],
    # Days processed audit events are kept before `prune_events` may remove them.
    "EVENT_RETENTION_DAYS": 730,
    # US dollars per Star for the admin's revenue estimate (Telegram's withdrawal rate).
    "STARS_USD_RATE": Decimal("0.013"),
    # GET /metrics (telegram_payments.metrics.metrics_view): a bearer token, and networks allowed without one.
    "METRICS_TOKEN": "",
    "METRICS_ALLOWED_NETWORKS": ["127.0.0.1/32", "::1/128"],
    # Fernet keys, newest first, sealing the tokens and secrets of bots added in the admin
    # (`registry/credentials.py`). Not derived from SECRET_KEY, so rotating Django's key loses no token.
    "CREDENTIAL_KEYS": [],
    # How long each worker keeps the list of bots before reading it again; 0: every request. An
    # unknown path or wrong secret reloads it at most once a second.
    "BOT_REGISTRY_SECONDS": 30,
}

stars_settings = AppSettings(DEFAULTS)

ALL_KEYS = frozenset(DEFAULTS) | frozenset(ENTITLEMENTS_DEFAULTS)
