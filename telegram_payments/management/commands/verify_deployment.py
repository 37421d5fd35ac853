"""Check that this deployment is configured and connected as production needs; exit 1 unless all pass."""

from django.core.management.base import BaseCommand, CommandError

from telegram_payments.management.deployment import run_checks


class Command(BaseCommand):
    help = (
        "Check settings (SECRET_KEY, bot token format, webhook secret strength, https webhook URL, DEBUG off), "
        "the database and migrations, the catalog, the Bot API (getMe), the registered webhook "
        "(getWebhookInfo) and waiting failed events. One line per check; exits 1 unless all pass."
    )

    def handle(self, *args, **options):
        checks = run_checks()
        for check in checks:
            mark = self.style.SUCCESS("✓") if check.ok else self.style.ERROR("✗")
            self.stdout.write(f"{mark} {check.name}: {check.reason}")
        passed = sum(check.ok for check in checks)
        self.stdout.write(f"Checks passed: {passed}/{len(checks)}")
        if passed != len(checks):
            raise CommandError(f"{len(checks) - passed} check(s) failed.")
