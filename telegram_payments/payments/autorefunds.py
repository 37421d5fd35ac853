"""The `AUTO_REFUND_UNFULFILLABLE` policy's worker: refund the payments queued as unfulfillable.

The pipeline queues an `AutoRefund` with the failed payment (never calling the Bot API inside a
webhook). `refund_one` claims the oldest due one (`SELECT ... FOR UPDATE SKIP LOCKED`, so workers
never take the same one), locks its payment (a replay waits), and refunds it through the same Bot API
call and record as a staff refund (`refunds.refund_through_bot`, source `policy`), then tells the
buyer why. A payment replayed meanwhile is left alone; a Bot API failure is retried with backoff.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from entitlements.outbox import BACKOFF_BASE_SECONDS, BACKOFF_MAX_SECONDS, backoff
from telegram_payments.models import AutoRefund, EventSource, EventStatus, StripeEvent
from telegram_payments.payments.notices import tell_refunded
from telegram_payments.payments.refunds import refund_problem, refund_through_bot
from telegram_payments.telegram_api.client import BotApiError

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
REFUNDED_BY = "AUTO_REFUND_UNFULFILLABLE"


@dataclass(frozen=True)
class AutoRefundResult:
    payment_event_id: str
    refunded: bool
    done: bool
    outcome: str


def refund_one(*, due_before: datetime | None = None, backoff_base: float = BACKOFF_BASE_SECONDS,
               backoff_max: float = BACKOFF_MAX_SECONDS, max_attempts: int = MAX_ATTEMPTS,
               bots=None) -> AutoRefundResult | None:
    """Claim and refund one due payment (`bots`: of these bots only; None: of any); None when nothing is
    due (or all due are claimed)."""
    with transaction.atomic():
        now = timezone.now()
        jobs = AutoRefund.objects.filter(done_at__isnull=True, next_attempt_at__lte=due_before or now,
                                         attempt_count__lt=max_attempts)
        if bots is not None:
            jobs = jobs.filter(payment__bot__in=list(bots))
        # of=self: with --bot the query joins the payment, whose row is locked next, in that order.
        job = jobs.order_by("next_attempt_at", "id").select_for_update(skip_locked=True, of=("self",)).first()
        if job is None:
            return None
        payment = StripeEvent.objects.select_for_update().get(pk=job.payment_id)
        job.attempt_count += 1
        refunded = False
        if payment.status != EventStatus.FAILED:
            job.outcome = f"Left alone: the payment is {payment.get_status_display()} now (replayed)."
        elif (problem := refund_problem(payment)) is not None:
            job.outcome = f"Left alone: {problem}"
        else:
            try:
                refund = refund_through_bot(event=payment, source=EventSource.POLICY, by=REFUNDED_BY,
                                            reason=f"automatic: {job.reason}")
            except BotApiError as exc:
                job.last_error = exc.description
                job.next_attempt_at = timezone.now() + backoff(job.attempt_count, base=backoff_base, cap=backoff_max)
            else:
                refunded = True
                job.outcome = f"Refunded as {refund.event.event_id}."
                tell_refunded(payment=payment, reason=job.buyer_reason)  # sent after this transaction commits
        done = bool(job.outcome)
        if done:
            job.done_at = timezone.now()
            job.last_error = ""
        job.save()
    if not done:
        logger.warning("automatic refund of %s failed (attempt %s of %s): %s; next try at %s", payment.event_id,
                       job.attempt_count, max_attempts, job.last_error, job.next_attempt_at.isoformat())
    return AutoRefundResult(payment.event_id, refunded, done, job.outcome or job.last_error)


def refund_due(**options) -> tuple[int, int, int]:
    """Refund every payment due when this call started; returns (refunded, left alone, failed)."""
    due_before = options.pop("due_before", None) or timezone.now()
    refunded = left_alone = failed = 0
    while (result := refund_one(due_before=due_before, **options)) is not None:
        if result.refunded:
            refunded += 1
        elif result.done:
            left_alone += 1
        else:
            failed += 1
    return refunded, left_alone, failed
