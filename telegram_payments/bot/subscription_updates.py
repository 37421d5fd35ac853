"""Subscription updates (`Update.subscription`): a user cancelled or re-enabled renewals, or a renewal failed.

Each is recorded once through the payment pipeline (`handle_subscription_update`). A renewal that
failed now is answered with a message telling the user how to keep what they have
(`TELEGRAM_STARS["THANK_BUYERS"]`, like the thank-you); a copy, or an update older than the subscription's
state, gets the status body.
"""

from dataclasses import dataclass

from telegram import User

from telegram_payments.bot.results import UpdateResult
from telegram_payments.conf import stars_settings
from telegram_payments.models import EventSource, SubscriptionState
from telegram_payments.payments.events import EventOutcome, Outcome
from telegram_payments.payments.pipeline import handle_subscription_update
from telegram_payments.payments.subscriptions import paid_until_text
from telegram_payments.reads.selectors import subscription_of
from telegram_payments.telegram_api.replies import text

SUBSCRIPTION_FIELDS = ("user", "invoice_payload", "state")

RENEWAL_FAILED_TEXT = (
    "We could not renew {title}: the payment for the next period did not go through. You keep it until "
    "{until}. To keep it after that, add Stars to your balance and renew the subscription in Telegram "
    "(Settings > My Stars), or send /buy."
)


@dataclass(frozen=True)
class BotSubscriptionUpdated:
    """The Bot API's `BotSubscriptionUpdated` (Bot API 10.2), read from the Update's JSON.

    python-telegram-bot has no class for it yet; this one has the same fields and `de_json`, so that
    the library's can take its place. The fields are checked in `updates` first, like every other kind.
    """

    user: User
    invoice_payload: str
    state: str  # canceled | active | failed: what it means is read from the stored update (telegram_state)

    @classmethod
    def de_json(cls, data: dict) -> "BotSubscriptionUpdated":
        """Raises KeyError/TypeError (as the library does) on a missing or mistyped field."""
        return cls(user=User.de_json(data["user"], None), invoice_payload=data["invoice_payload"],
                   state=data["state"])


def subscription_update(update: BotSubscriptionUpdated, *, bot, update_id: int, data: dict, source: str
                        ) -> UpdateResult:
    outcome = handle_subscription_update(
        bot=bot,
        update_id=update_id,
        user_id=update.user.id,
        invoice_payload=update.invoice_payload,
        source=source,
        payload=data,
    )
    reply = None
    if source == EventSource.TELEGRAM and stars_settings.THANK_BUYERS:
        reply = _renewal_failed_reply(outcome, chat_id=update.user.id)
    return UpdateResult(outcome.status, "subscription", update_id, reply or outcome.answer(), outcome=outcome)


def _renewal_failed_reply(outcome: EventOutcome, *, chat_id: int) -> dict | None:
    """How to renew, for an update recorded now that set the subscription's state to "renewal failed"
    (else None: another state, or a later update, a renewal that went through, already set it)."""
    if outcome.status != Outcome.PROCESSED or outcome.product is None:
        return None
    subscription = subscription_of(outcome.event)
    if (subscription is None or subscription.last_event_id != outcome.event_id
            or subscription.state != SubscriptionState.RENEWAL_FAILED):
        return None
    return text(chat_id, RENEWAL_FAILED_TEXT.format(title=outcome.product.title,
                                                    until=paid_until_text(subscription.paid_until)))
