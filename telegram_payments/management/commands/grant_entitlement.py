"""Support: grant an entitlement by hand, recorded in the audit trail as manual with its reason."""

import getpass

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from entitlements.management import argtypes
from telegram_payments.management.cli import add_bot_argument, chosen_bot
from telegram_payments.models import StripeEvent
from telegram_payments.payments.manual import ManualActionRefused, grant_manually


def staff_user(username: str | None):
    """The staff account to record as `initiated_by`, if the operator names one."""
    if not username:
        return None
    user = get_user_model().objects.filter(username=username, is_staff=True).first()
    if user is None:
        raise CommandError(f"No staff user {username!r}.")
    return user


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        return ""


class Command(BaseCommand):
    help = (
        "Grant TYPE to USER_ID for a support case (--reason required; --days, else the product's duration). "
        "Recorded as a manual event (manual:grant:<uuid>) with the grant, in one transaction."
    )

    def add_arguments(self, parser):
        parser.add_argument("user_id", type=argtypes.user_id, metavar="USER_ID", help="Telegram user id")
        parser.add_argument("entitlement_type", metavar="TYPE", help="entitlement type from the catalog")
        parser.add_argument("--reason", required=True, help="why (kept in the audit trail)")
        parser.add_argument("--days", type=argtypes.days,
                            help="length of the grant (default: the product's duration; none for a product for life)")
        parser.add_argument("--fulfils", metavar="EVENT_ID",
                            help="the user's failed payment this grant delivers: it ends as fulfilled, linked to it")
        parser.add_argument("--operator", metavar="USERNAME", help="your staff username, recorded as initiated_by")
        parser.add_argument("--dry-run", action="store_true", help="say what would be granted, change nothing")
        add_bot_argument(parser)

    def handle(self, *args, **options):
        operator = staff_user(options["operator"])
        bot = chosen_bot(options)
        fulfils = None
        if options["fulfils"]:
            fulfils = StripeEvent.objects.filter(event_id=options["fulfils"], bot=bot,
                                                 customer_id=str(options["user_id"])).first()
            if fulfils is None:
                raise CommandError(f"No event {options['fulfils']!r} of user {options['user_id']} at {bot.slug}.")
        if options["dry_run"]:
            length = f"{options['days']} days" if options["days"] else "the product's duration"
            self.stdout.write(
                f"Dry run: would grant {options['entitlement_type']} to {options['user_id']} for {length} "
                f"at {bot.slug}; "
                "nothing changed."
            )
            return
        try:
            outcome = grant_manually(
                user_id=options["user_id"], entitlement_type=options["entitlement_type"],
                reason=options["reason"], days=options["days"], operator=operator,
                operator_name=options["operator"] or os_user(), fulfils=fulfils, bot=bot,
            )
        except ManualActionRefused as exc:
            raise CommandError(f"Not granted: {exc}.") from None
        self.stdout.write(self.style.SUCCESS(f"{outcome.event.note} Audit event: {outcome.event.event_id}"))
