"""manage.py load_demo_history: a few customers' payments, a refund and a failed payment, for a
development database (DEBUG=1 only). Loading twice adds nothing."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from telegram_payments.management.demo import CatalogMissing, load_demo_history


class Command(BaseCommand):
    help = ("Record a small demo history (payments, a refund, a failed payment) through the payment services, "
            "so the admin is not empty. Development only: refuses to run unless DEBUG is on. Idempotent.")

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("load_demo_history is for development databases only: it runs with DEBUG=1.")
        try:
            added = load_demo_history()
        except CatalogMissing as exc:
            raise CommandError(f"{exc}: run `manage.py loaddata demo_catalog` first.") from None
        if added:
            self.stdout.write(f"Demo history: {added} events recorded (payments, a refund, a failed payment).")
        else:
            self.stdout.write("Demo history: already loaded, nothing added.")
