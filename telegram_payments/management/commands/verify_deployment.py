"""Check that this deployment is configured and connected as production needs; exit 1 unless all pass."""

from django.core.management.base import BaseCommand, CommandError

from telegram_payments.management.cli import add_bot_argument, chosen_bots
from telegram_payments.management.deployment import run_checks


class Command(BaseCommand):
    help = (
        "Check settings (SECRET_KEY, bot token format, webhook secret strength, https webhook URL, DEBUG off), "
        "the database and migrations, that the stored bots' credentials open with CREDENTIAL_KEYS, and for "
        "every active bot (or --bot) its catalog, the Bot API (getMe), the registered webhook "
        "(getWebhookInfo) and waiting failed events. One line per check and bot; exits 1 unless all pass."
    )

    def add_arguments(self, parser):
        add_bot_argument(parser, all_bots=True)

    def handle(self, *args, **options):
        checks = run_checks(bots_to_check=chosen_bots(options) if options.get("bot") is not None else None)
        for check in checks:
            mark = self.style.SUCCESS("✓") if check.ok else self.style.ERROR("✗")
            self.stdout.write(f"{mark} {check.name}: {check.reason}")
        passed = sum(check.ok for check in checks)
        self.stdout.write(f"Checks passed: {passed}/{len(checks)}")
        if passed != len(checks):
            raise CommandError(f"{len(checks) - passed} check(s) failed.")
