"""Who our customers are, as Telegram last showed them: one upsert per live Update that carries a user.

The support desk's customer page shows these names; nothing here ever calls the Bot API.
"""

from django.utils import timezone
from telegram import Update

from telegram_payments.models import Customer

NAME_FIELDS = ("first_name", "last_name", "username", "last_seen_at")


def sender(update: Update):
    """The Telegram user who sent this update (`message.from`, `pre_checkout_query.from`,
    `callback_query.from`), or None."""
    for part in (update.message, update.pre_checkout_query, update.callback_query):
        if part is not None and part.from_user is not None:
            return part.from_user
    return None


def remember(update: Update) -> None:
    """Record the sender's id, name and username as seen now: one INSERT ... ON CONFLICT statement."""
    user = sender(update)
    if user is None:
        return
    Customer.objects.bulk_create(
        [Customer(
            user_id=user.id,
            first_name=_text(user.first_name),
            last_name=_text(user.last_name),
            username=_text(user.username),
            last_seen_at=timezone.now(),
        )],
        update_conflicts=True, unique_fields=["user_id"], update_fields=list(NAME_FIELDS),
    )


def _text(value) -> str:
    """A name as we can store it: a string (anything else is dropped), no NUL, valid UTF-8, at most 255."""
    if not isinstance(value, str):
        return ""
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")[:255]
