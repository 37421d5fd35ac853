"""How one Bot API Update went: what every handler returns to `updates.process_update`."""

from dataclasses import dataclass
from enum import StrEnum

from telegram_payments.models import PreCheckoutAnswer
from telegram_payments.payments.events import EventOutcome, Outcome


@dataclass(frozen=True)
class UpdateResult:
    """How one update went. `body` is the webhook's HTTP answer (a Bot API method call or a status)."""

    status: "Outcome | Reply"  # an event's outcome (or a failed chat reply), or answered | ignored
    kind: str  # pre_checkout_query | successful_payment | refunded_payment | subscription | command
    #            | callback_query | other
    update_id: int
    body: dict
    outcome: EventOutcome | None = None
    pre_checkout_answer: PreCheckoutAnswer | None = None


class Reply(StrEnum):
    """How an update that records no event went."""

    ANSWERED = "answered"  # a reply or an answer was given
    IGNORED = "ignored"  # not for us: acknowledged, nothing stored


def ignored(update_id: int, kind: str) -> UpdateResult:
    return UpdateResult(Reply.IGNORED, kind, update_id, {"ok": True, "status": Reply.IGNORED.value})


def failed(update_id: int, kind: str) -> UpdateResult:
    """A chat interaction that failed (logged); acknowledged so Telegram does not redeliver it."""
    return UpdateResult(Outcome.FAILED, kind, update_id, {"ok": True, "status": Outcome.FAILED.value})
