"""Print a user's entitlements (active, scheduled, expired, revoked) with dates and the event behind each."""

from django.core.management.base import BaseCommand

from entitlements.management import argtypes
from entitlements.selectors import current_access
from telegram_payments.management.cli import add_bot_argument, chosen_bot
from telegram_payments.models import EventSource
from telegram_payments.reads.selectors import bot_scopes, user_entitlements


def _when(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


class Command(BaseCommand):
    help = ("Show every entitlement of USER_ID with a bot (--bot, default the default bot; its own scope and "
            "the shared ones its products grant): state, dates, and the payment (or manual grant) behind it.")

    def add_arguments(self, parser):
        parser.add_argument("user_id", type=argtypes.user_id, metavar="USER_ID", help="Telegram user id")
        add_bot_argument(parser)

    def handle(self, *args, **options):
        user_id = options["user_id"]
        bot = chosen_bot(options)
        scopes = bot_scopes(bot)
        records = user_entitlements(user_id, scopes=scopes)
        if not records:
            self.stdout.write(f"User {user_id} has no entitlements at {bot.slug}.")
            return
        self.stdout.write(f"Entitlements of user {user_id} at {bot.slug} (times UTC):")
        for record in records:
            grant, event = record.entitlement, record.event
            ends = _when(grant.expires_at) if grant.expires_at else "never"
            self.stdout.write(
                f"- {grant.entitlement_type:<20} {record.state.upper():<9} granted {_when(grant.granted_at)}  "
                f"from {_when(grant.starts_at)}  until {ends}"
            )
            if grant.revoked_at:
                self.stdout.write(f"    revoked {_when(grant.revoked_at)}: {grant.revoke_reason}")
            if event is None:
                self.stdout.write(f"    event {grant.event_id} (not in the audit trail)")
            else:
                amount = f", {event.amount_cents} {event.currency}" if event.amount_cents is not None else ""
                manual = event.source == EventSource.MANUAL and isinstance(event.payload, dict)
                reason = f", reason: {event.payload.get('reason')}" if manual else ""
                self.stdout.write(
                    f"    event {event.event_id} ({event.get_source_display()}, {event.get_status_display()}"
                    f"{amount}{reason})"
                )
            if record.revoking_event is not None:
                self.stdout.write(
                    f"    refund {record.revoking_event.event_id} ({record.revoking_event.get_source_display()})"
                )
        active = [access for scope in scopes for access in current_access(user_id, scope=scope)]
        summary = ", ".join(f"{a.entitlement_type} until {_when(a.expires_at) if a.expires_at else 'never'}"
                            for a in active)
        self.stdout.write(f"Active now: {summary or 'nothing'}.")
