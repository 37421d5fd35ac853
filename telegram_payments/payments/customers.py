"""Who our customers are, as Telegram last showed them: one upsert per live Update that carries a user,
and a row for every user id an event is recorded for (`note_event_user`), named from that event's
Update if it is one: every user with an event is a customer.

The support desk's customer page shows these names; nothing here ever calls the Bot API.
"""

from datetime import UTC, datetime

from django.utils import timezone
from telegram import Update

from telegram_payments.models import Customer
from telegram_payments.telegram_api.limits import user_id_from

NAME_FIELDS = ("first_name", "last_name", "username", "last_seen_at")


def sender(update: Update):
    """The Telegram user who sent this update (`message.from`, `pre_checkout_query.from`,
    `callback_query.from`), or None."""
    for part in (update.message, update.pre_checkout_query, update.callback_query):
        if part is not None and part.from_user is not None:
            return part.from_user
    return None


def remember(update: Update, *, bot) -> None:
    """Record the sender's id, name and username as a customer of `bot`, as seen now: one
    INSERT ... ON CONFLICT statement."""
    user = sender(update)
    if user is None:
        return
    Customer.objects.bulk_create(
        [Customer(
            bot=bot,
            user_id=user.id,
            first_name=_text(user.first_name),
            last_name=_text(user.last_name),
            username=_text(user.username),
            last_seen_at=timezone.now(),
        )],
        update_conflicts=True, unique_fields=["bot", "user_id"], update_fields=list(NAME_FIELDS),
    )


def _text(value) -> str:
    """A name as we can store it: a string (anything else is dropped), no NUL, valid UTF-8, at most 255."""
    if not isinstance(value, str):
        return ""
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")[:255]


def update_user(payload) -> tuple[dict, datetime | None]:
    """The user an Update (as stored: a JSON object) is from, as a dict with `first_name`, `last_name`
    and `username` (the sender, or for a refund, whose `from` is the bot, the chat; a subscription's
    user), and when Telegram says it was sent (`message.date`), else ({}, None)."""
    if not isinstance(payload, dict):
        return {}, None
    message = payload.get("message")
    candidates = []
    if isinstance(message, dict):
        sender = message.get("from")
        if isinstance(sender, dict) and not sender.get("is_bot"):
            candidates.append(sender)
        candidates.append(message.get("chat"))
    for kind, key in (("pre_checkout_query", "from"), ("callback_query", "from"), ("subscription", "user")):
        part = payload.get(kind)
        if isinstance(part, dict):
            candidates.append(part.get(key))
    user = next((c for c in candidates if isinstance(c, dict) and any(c.get(f) for f in ("first_name", "username"))),
                {})
    date = message.get("date") if isinstance(message, dict) else None
    sent = datetime.fromtimestamp(date, UTC) if isinstance(date, int) and 0 < date < 2**40 else None
    return {field: _text(user.get(field)) for field in ("first_name", "last_name", "username")} if user else {}, sent


def note_event_user(event) -> None:
    """Make the event's user a customer if they are not one yet (one INSERT ... ON CONFLICT DO NOTHING),
    named from the event's Update if it carries a name. Names already known are never overwritten here:
    `remember` keeps them as the latest live Update shows them."""
    user_id = user_id_from(event.customer_id)
    if user_id is None:
        return
    names, sent = update_user(event.payload)
    Customer.objects.bulk_create(
        [Customer(bot_id=event.bot_id, user_id=user_id, last_seen_at=sent or event.received_at or timezone.now(),
                  **names)],
        ignore_conflicts=True,
    )
