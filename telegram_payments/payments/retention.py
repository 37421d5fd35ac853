"""Retention of the audit trail: what may be pruned, and pruning it in batches.

Never pruned: failed or pending events (someone must still look at them), an event an entitlement
points to (the proof behind a grant), and a payment or refund whose counterpart is recorded (the
pair explains each other). `payloads_only` keeps every row and clears only the raw body it arrived
with; the columns keep what the audit needs.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from entitlements.batching import in_id_batches
from entitlements.models import Entitlement
from telegram_payments.models import EVENT_PAYMENT, EVENT_REFUND, EventStatus, StripeEvent


@dataclass(frozen=True)
class PruneSummary:
    cutoff: datetime
    selected: int  # rows (or payloads) that are or would be pruned
    pruned: int
    kept_for_entitlements: int
    kept_in_pairs: int
    kept_unfinished: int  # failed or pending, older than the cutoff


def _of_bots(bots) -> QuerySet:
    events = StripeEvent.objects.all()
    return events if bots is None else events.filter(bot__in=list(bots))


def _old_processed(cutoff: datetime, bots=None) -> QuerySet:
    return _of_bots(bots).filter(status=EventStatus.PROCESSED, received_at__lt=cutoff)


def _granting():
    return Exists(Entitlement.objects.filter(event_id=OuterRef("event_id")))


def _counterpart_recorded(other_type: str):
    """An event of `other_type` (the refund of a payment, or the payment of a refund) exists for the charge
    (of the same bot: two bots' charges may share an id)."""
    return Exists(
        StripeEvent.objects.filter(
            event_type=other_type, bot=OuterRef("bot"),
            telegram_payment_charge_id=OuterRef("telegram_payment_charge_id"),
        )
    )


def prunable_events(*, cutoff: datetime, payloads_only: bool = False, bots=None) -> QuerySet:
    """Processed events received before `cutoff` that may go (or, `payloads_only`, lose their payload);
    `bots`: only these bots' events (None: every bot's)."""
    events = _old_processed(cutoff, bots)
    if payloads_only:
        return events.exclude(payload={})
    return (
        events.exclude(_granting())
        .exclude(_counterpart_recorded(EVENT_REFUND), event_type=EVENT_PAYMENT)
        .exclude(_counterpart_recorded(EVENT_PAYMENT), event_type=EVENT_REFUND)
    )


def prune_events(
    *,
    older_than: timedelta,
    payloads_only: bool = False,
    dry_run: bool = False,
    batch_size: int = 1000,
    now: datetime | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    bots=None,
) -> PruneSummary:
    """Delete (or strip the payload of) prunable events older than `older_than`, in batches; `bots`: only
    these bots' events (None: every bot's)."""
    if older_than <= timedelta(0):
        raise ValueError("older_than must be positive")
    cutoff = (now or timezone.now()) - older_than
    selection = prunable_events(cutoff=cutoff, payloads_only=payloads_only, bots=bots)
    selected = selection.count()
    old = _old_processed(cutoff, bots)
    kept_for_entitlements = 0 if payloads_only else old.filter(_granting()).count()
    kept_in_pairs = 0 if payloads_only else (
        old.exclude(_granting()).filter(_counterpart_recorded(EVENT_REFUND), event_type=EVENT_PAYMENT).count()
        + old.exclude(_granting()).filter(_counterpart_recorded(EVENT_PAYMENT), event_type=EVENT_REFUND).count()
    )
    kept_unfinished = _of_bots(bots).filter(received_at__lt=cutoff).exclude(status=EventStatus.PROCESSED).count()

    def prune(batch: QuerySet) -> int:
        return batch.update(payload={}) if payloads_only else batch.delete()[0]

    def report(pruned: int) -> None:
        if on_batch:
            on_batch(pruned, selected)

    # `selection` applies the rules again to each batch, at the moment of writing.
    pruned = 0 if dry_run else in_id_batches(selection, prune, batch_size=batch_size, on_batch=report)
    return PruneSummary(cutoff, selected, pruned, kept_for_entitlements, kept_in_pairs, kept_unfinished)
