"""Each bot's Stars balance, kept in the database so that pages read it without calling Telegram.

`refresh_star_balance` asks `getMyStarBalance` and stores the answer (or why there was none, keeping
the last good figure); `manage.py refresh_star_balance` runs it from cron and the "At a glance" page's
"refresh now" button runs it with a short timeout. `stored_star_balance` is the read.
"""

from datetime import datetime, timedelta

from django.utils import timezone

from telegram_payments.models import StarBalance
from telegram_payments.reconcile.transactions import fetch_star_balance
from telegram_payments.telegram_api.client import BotApiError

# A person waits on "refresh now": give up well before a proxy's or browser's patience runs out.
INTERACTIVE_TIMEOUT = 3.0
# Two clicks (or a click and the cron job) this close together make one call to Telegram.
MIN_INTERVAL = timedelta(seconds=30)
ERROR_CHARS = 255


def stored_star_balance(*, bot) -> StarBalance | None:
    """`bot`'s last stored balance, or None when nobody has asked Telegram yet."""
    return StarBalance.objects.filter(bot=bot).first()


def refresh_star_balance(*, bot, timeout: float | None = None, min_interval: timedelta = timedelta(0),
                         now: datetime | None = None) -> tuple[StarBalance, bool]:
    """Ask Telegram for `bot`'s balance and store it; (the stored row, whether Telegram was asked).

    Telegram is not asked when the last attempt is younger than `min_interval`. A failed call is
    stored as `error` beside the last good balance, which stays as it was.
    """
    now = now or timezone.now()
    balance, _ = StarBalance.objects.get_or_create(bot=bot)
    if balance.attempted_at is not None and now - balance.attempted_at < min_interval:
        return balance, False
    try:
        nanostars = fetch_star_balance(bot=bot, timeout=timeout)
    except BotApiError as exc:
        balance.attempted_at, balance.error = now, exc.description[:ERROR_CHARS] or "no answer"
        balance.save(update_fields=["attempted_at", "error"])
        return balance, True
    balance.nanostars, balance.fetched_at, balance.attempted_at, balance.error = nanostars, now, now, ""
    balance.save()
    return balance, True
