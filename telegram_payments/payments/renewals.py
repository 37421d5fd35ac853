"""Star subscriptions: cancel or re-enable a user's renewal through `editUserStarSubscription`.

Cancelling stops future renewals only: the entitlement already paid for runs to its end. What
changes on our side is the subscription's state (stopped by staff, or renewing again), shown
wherever the subscription is. Re-enabling works while the paid period has not ended.
"""

import logging

from telegram_payments.models import EVENT_PAYMENT, EventSource, StripeEvent
from telegram_payments.payments.subscriptions import record_staff_change
from telegram_payments.registry import bots
from telegram_payments.telegram_api.client import call_bot

logger = logging.getLogger(__name__)


class UnknownSubscription(Exception):
    """No subscription payment of this user with this charge id is on record."""


def set_subscription_cancelled(*, user_id: int, charge_id: str, cancelled: bool,
                               source: str = EventSource.STAFF, bot=None) -> bool:
    """Cancel (`cancelled=True`) or re-enable (`False`) the subscription paid by `charge_id` to `bot`
    (None: the default bot).

    The charge must be a subscription payment of `user_id` in our audit trail (a typo must not reach
    Telegram as some other user's subscription). Bot API refusals raise `BotApiError` with
    Telegram's description, and nothing is recorded. `source`: staff (the admin) or manual (the command).
    """
    bot = bot or bots.default()
    payment = StripeEvent.objects.filter(
        bot=bot,
        event_type=EVENT_PAYMENT,
        telegram_payment_charge_id=charge_id,
        customer_id=str(user_id),
        subscription_expires_at__isnull=False,
    ).only("invoice_payload", "entitlement_type").first()
    if payment is None:
        raise UnknownSubscription(f"no subscription payment {charge_id!r} of user {user_id} on record")
    result = call_bot(
        "editUserStarSubscription",
        lambda api: api.edit_user_star_subscription(user_id, charge_id, cancelled),
        bot=bot,
    )
    record_staff_change(bot=bot, user_id=user_id, invoice_payload=payment.invoice_payload,
                        entitlement_type=payment.entitlement_type, stopped=cancelled, source=source)
    logger.info("subscription %s of user %s %s", charge_id, user_id, "cancelled" if cancelled else "re-enabled")
    return bool(result)
