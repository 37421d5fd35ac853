"""Support: end a failed payment without a grant or a refund (dismissed), with a reason."""

from django.core.management.base import BaseCommand, CommandError

from telegram_payments.management.commands.grant_entitlement import staff_user
from telegram_payments.models import StripeEvent
from telegram_payments.payments.failures import ResolutionRefused, dismiss_failure, resolution_problem


class Command(BaseCommand):
    help = (
        "Dismiss the failed payment EVENT_ID (--reason required): it ends without a grant or a refund and no "
        "longer counts as failing (the admin's Dismiss does the same)."
    )

    def add_arguments(self, parser):
        parser.add_argument("event_id", metavar="EVENT_ID", help="the failed payment's event id")
        parser.add_argument("--reason", required=True, help="why (kept on the payment)")
        parser.add_argument("--operator", metavar="USERNAME", help="your staff username, recorded with it")
        parser.add_argument("--dry-run", action="store_true", help="say whether it could be dismissed, change nothing")

    def handle(self, *args, **options):
        operator = staff_user(options["operator"])
        event = StripeEvent.objects.filter(event_id=options["event_id"]).defer("payload").first()
        if event is None:
            raise CommandError(f"No event {options['event_id']!r}.")
        if options["dry_run"]:
            problem = resolution_problem(event)
            self.stdout.write(f"Dry run: {'would dismiss it' if problem is None else f'cannot: {problem}'}; "
                              "nothing changed.")
            return
        try:
            dismiss_failure(payment=event, reason=options["reason"], operator=operator)
        except ResolutionRefused as exc:
            raise CommandError(f"Not dismissed: {exc}.") from None
        self.stdout.write(self.style.SUCCESS(f"Dismissed {event.event_id}: it no longer counts as failing."))
