"""Support: revoke a user's entitlement by hand, recorded in the audit trail as manual with its reason."""

from django.core.management.base import BaseCommand, CommandError

from entitlements.management import argtypes
from telegram_payments.management.cli import add_bot_argument, chosen_bot
from telegram_payments.management.commands.grant_entitlement import os_user, staff_user
from telegram_payments.payments.manual import ManualActionRefused, revocable_grants, revoke_manually


class Command(BaseCommand):
    help = (
        "Revoke TYPE from USER_ID for a support case (--reason required): every grant of that type the "
        "user holds or has waiting. Recorded as a manual event (manual:revoke:<uuid>) in one transaction."
    )

    def add_arguments(self, parser):
        parser.add_argument("user_id", type=argtypes.user_id, metavar="USER_ID", help="Telegram user id")
        parser.add_argument("entitlement_type", metavar="TYPE", help="entitlement type")
        parser.add_argument("--reason", required=True, help="why (kept in the audit trail)")
        parser.add_argument("--operator", metavar="USERNAME", help="your staff username, recorded as initiated_by")
        parser.add_argument("--dry-run", action="store_true", help="list what would be revoked, change nothing")
        add_bot_argument(parser)

    def handle(self, *args, **options):
        operator = staff_user(options["operator"])
        bot = chosen_bot(options)
        if options["dry_run"]:
            grants = revocable_grants(user_id=options["user_id"], entitlement_type=options["entitlement_type"],
                                      bot=bot)
            self.stdout.write(
                f"Dry run: would revoke {grants.count()} {options['entitlement_type']} grant(s) of "
                f"{options['user_id']} at {bot.slug}; nothing changed."
            )
            return
        try:
            outcome = revoke_manually(
                user_id=options["user_id"], entitlement_type=options["entitlement_type"],
                reason=options["reason"], operator=operator,
                operator_name=options["operator"] or os_user(), bot=bot,
            )
        except ManualActionRefused as exc:
            raise CommandError(f"Not revoked: {exc}.") from None
        self.stdout.write(self.style.SUCCESS(f"{outcome.event.note} Audit event: {outcome.event.event_id}"))
