"""Messages to a buyer that go out once, after the transaction of what they tell: a thank-you when a
replay or a staff grant completes what they paid for, and why a payment was refunded automatically.

Each message is a `BuyerMessage` row with a unique key, written in (or right after) the transaction
of its effect; it is sent through the Bot API only once that transaction committed, by the one
caller that claims it. A Bot API failure is logged and recorded on the row, never raised: the
effect stays, and staff never see a 500 for a message. Off with `TELEGRAM_STARS["THANK_BUYERS"]`.
"""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from telegram_payments.conf import stars_settings
from telegram_payments.models import BuyerMessage, Product, StripeEvent
from telegram_payments.payments.events import EventOutcome, describe
from telegram_payments.payments.pipeline import replay_event
from telegram_payments.registry import bots
from telegram_payments.telegram_api.client import call_bot

logger = logging.getLogger(__name__)

# After staff completed a payment recorded as failed (a replay) or granted by hand (`tell_delivered`).
DELIVERED_TEXT = "Thank you for waiting! {title} is yours now. Send /status to see what you have and until when."
# After a payment nobody can fulfil was refunded automatically (AUTO_REFUND_UNFULFILLABLE).
REFUNDED_TEXT = (
    "Sorry: we could not deliver what you paid for ({reason}), so your {amount} Stars were refunded. "
    "Send /paysupport if you need help."
)


def replay_and_thank(*, event: StripeEvent) -> EventOutcome:
    """Replay a stored event (`pipeline.replay_event`); if that granted what the buyer paid for, thank them."""
    outcome = replay_event(event=event)
    if outcome.granted and outcome.product is not None:
        tell_delivered(event=outcome.event, product=outcome.product)
    return outcome


def tell_delivered(*, event: StripeEvent, product: Product) -> BuyerMessage | None:
    """Tell the buyer of `event` (a replayed payment or a staff grant) that `product` is theirs now, once."""
    return queue(key=f"delivered:{event.event_id}", bot_id=event.bot_id, user_id=event.customer_id,
                 text=DELIVERED_TEXT.format(title=product.title))


def tell_refunded(*, payment: StripeEvent, reason: str) -> BuyerMessage | None:
    """Tell the buyer of `payment` that it was refunded because it could not be fulfilled, and why, once."""
    return queue(key=f"refunded:{payment.event_id}", bot_id=payment.bot_id, user_id=payment.customer_id,
                 text=REFUNDED_TEXT.format(reason=reason, amount=payment.amount_cents))


def queue(*, key: str, bot_id: int, user_id, text: str) -> BuyerMessage | None:
    """Record a message for the buyer's chat with bot `bot_id` and send it when the current transaction commits (at once
    outside one). None, and nothing sent, if a message with `key` exists, the user id is not a Telegram
    user id, or `TELEGRAM_STARS["THANK_BUYERS"]` is off."""
    if not stars_settings.THANK_BUYERS or not str(user_id).isdigit():
        return None
    try:
        with transaction.atomic():
            message = BuyerMessage.objects.create(key=key, bot_id=bot_id, chat_id=int(user_id), text=text)
    except IntegrityError:  # told already
        return None
    transaction.on_commit(lambda: send(message_id=message.pk), robust=True)
    return message


def send(*, message_id: int) -> bool:
    """Send a recorded message if nobody has tried yet (at most once); True if Telegram took it."""
    if not BuyerMessage.objects.filter(pk=message_id, attempts=0).update(attempts=1):
        return False  # another caller claimed it
    message = BuyerMessage.objects.get(pk=message_id)
    try:
        call_bot("sendMessage", lambda api: api.send_message(message.chat_id, message.text),
                 bot=bots.get(message.bot_id))
    except Exception as exc:  # the Bot API or the network: logged and recorded, never raised to staff
        error = describe(exc)
        logger.warning("buyer message %s to %s not sent: %s", message.key, message.chat_id, error)
        BuyerMessage.objects.filter(pk=message_id).update(error=error)
        return False
    BuyerMessage.objects.filter(pk=message_id).update(sent_at=timezone.now())
    return True
