"""manage.py subscription USER_ID CHARGE_ID --cancel|--enable: stop or resume a Star subscription's renewals."""

from django.core.management.base import BaseCommand, CommandError

from entitlements.management import argtypes
from telegram_payments.management.cli import add_bot_argument, chosen_bot
from telegram_payments.models import EventSource
from telegram_payments.payments.renewals import UnknownSubscription, set_subscription_cancelled
from telegram_payments.telegram_api.client import BotApiError


class Command(BaseCommand):
    help = (
        "Cancel (--cancel) or re-enable (--enable) a user's Star subscription through editUserStarSubscription. "
        "The access already paid for runs to its end either way."
    )

    def add_arguments(self, parser):
        parser.add_argument("user_id", type=argtypes.user_id, help="Telegram user id of the subscriber.")
        parser.add_argument("charge_id", help="telegram_payment_charge_id of a payment of the subscription.")
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--cancel", action="store_true", help="Stop renewing at the end of the paid period.")
        action.add_argument("--enable", action="store_true", help="Resume renewing a cancelled subscription.")
        add_bot_argument(parser)

    def handle(self, *args, user_id, charge_id, cancel=False, enable=False, **options):
        try:
            set_subscription_cancelled(user_id=user_id, charge_id=charge_id, cancelled=cancel,
                                       source=EventSource.MANUAL, bot=chosen_bot(options))
        except UnknownSubscription as exc:
            raise CommandError(str(exc)) from None
        except BotApiError as exc:
            raise CommandError(f"editUserStarSubscription failed: {exc.description}") from None
        done = "cancelled: it will not renew" if cancel else "re-enabled: it will renew"
        self.stdout.write(self.style.SUCCESS(f"Subscription {charge_id} of user {user_id} {done}."))
