"""manage.py refresh_star_balance: ask Telegram for the bot's Stars balance and store it for the admin."""

from django.core.management.base import BaseCommand, CommandError

from telegram_payments.reads.money import nanostars_as_stars
from telegram_payments.reconcile.balance import refresh_star_balance
from telegram_payments.registry import bots


class Command(BaseCommand):
    help = ("Store the bot's Stars balance (getMyStarBalance) for the admin's \"At a glance\" page, which "
            "never calls Telegram itself. Run it from cron every few minutes; exit 1 when Telegram did not answer "
            "(the last known balance is kept).")

    def handle(self, *args, **options):
        balance, _ = refresh_star_balance(bot=bots.default())
        if balance.error:
            raise CommandError(f"getMyStarBalance failed: {balance.error}")
        self.stdout.write(f"Balance: {nanostars_as_stars(balance.nanostars)} "
                          f"as of {balance.fetched_at:%Y-%m-%d %H:%M:%S %Z}")
