"""How one Bot API Update went: what every handler returns to `updates.process_update`."""

from dataclasses import dataclass

from ..models import PreCheckoutAnswer
from ..payments.events import EventOutcome


@dataclass(frozen=True)
class UpdateResult:
    """How one update went. `body` is the webhook's HTTP answer (a Bot API method call or a status)."""

    status: str  # processed | duplicate | failed (payments, refunds) | answered | ignored
    kind: str  # pre_checkout_query | successful_payment | refunded_payment | command | callback_query | other
    update_id: int
    body: dict
    outcome: EventOutcome | None = None
    pre_checkout_answer: PreCheckoutAnswer | None = None


ANSWERED, IGNORED = "answered", "ignored"


def ignored(update_id: int, kind: str) -> UpdateResult:
    return UpdateResult(IGNORED, kind, update_id, {"ok": True, "status": IGNORED})
