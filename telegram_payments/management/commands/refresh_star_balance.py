"""manage.py refresh_star_balance [--bot BOT]: ask Telegram for each bot's Stars balance and store it for
the admin."""

from django.core.management.base import BaseCommand, CommandError

from telegram_payments.management.cli import add_bot_argument, chosen_bots
from telegram_payments.reads.money import nanostars_as_stars
from telegram_payments.reconcile.balance import refresh_star_balance


class Command(BaseCommand):
    help = ("Store each bot's Stars balance (getMyStarBalance; every active bot, or --bot) for the admin's "
            "\"At a glance\" page, which never calls Telegram itself. Run it from cron every few minutes; exit 1 "
            "when Telegram did not answer for some bot (its last known balance is kept).")

    def add_arguments(self, parser):
        add_bot_argument(parser, all_bots=True)

    def handle(self, *args, **options):
        chosen = chosen_bots(options)
        failed = []
        for bot in chosen:
            balance, _ = refresh_star_balance(bot=bot)
            if balance.error:
                failed.append(f"{bot.slug}: getMyStarBalance failed: {balance.error}")
                continue
            self.stdout.write(f"Balance: {nanostars_as_stars(balance.nanostars)} "
                              f"as of {balance.fetched_at:%Y-%m-%d %H:%M:%S %Z} bot={bot.slug}")
        if failed:
            raise CommandError("; ".join(failed))
