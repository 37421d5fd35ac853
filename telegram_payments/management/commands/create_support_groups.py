"""`manage.py create_support_groups`: the Support and Catalog managers groups (telegram_payments.staff)."""

from django.core.management.base import BaseCommand, CommandError

from telegram_payments.staff import GROUPS, create_support_groups


class Command(BaseCommand):
    help = "Create the staff groups Support and Catalog managers with their permissions (again: no change)."

    def handle(self, *args, **options):
        try:
            groups = create_support_groups()
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        for name in GROUPS:
            self.stdout.write(f"{name}: {groups[name].permissions.count()} permissions")
