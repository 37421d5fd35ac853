"""Grant, extend and revoke entitlements: how grants of one type stack, and how a revoke moves the
grants stacked behind it. Callers own the transaction around a grant. Reads are in `selectors`."""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from entitlements import outbox
from entitlements.locks import lock_for_transaction
from entitlements.models import Entitlement
from entitlements.signals import entitlement_extended, entitlement_granted, entitlement_revoked, send_on_commit


def stack_lock(user_id: int, scope: str = "") -> str:
    """The lock that orders a user's grants and revokes in one scope: two grants for one user must not
    both read the same "current end". A caller that takes it with its own locks (`lock_for_transaction(mine,
    stack_lock(user, scope))`, one statement) passes `locked=True` below."""
    return f"entitlement:{scope}:{user_id}" if scope else f"entitlement:{user_id}"


def grant_entitlement(
    *,
    user_id: int,
    entitlement_type: str,
    event_id: str,
    scope: str = "",
    duration: timedelta | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
    savepoint: bool = True,
    locked: bool = False,
) -> Entitlement:
    """Grant `entitlement_type` to `user_id` for the event `event_id`, within `scope` (whose access:
    "" unless the caller serves several, see `Entitlement.scope`).

    `duration` stacks: the grant starts when the user's current grant of that type ends.
    `expires_at` instead fixes the end (subscriptions: Telegram says when the period ends);
    it extends the user's access to that moment. Neither: a lifetime grant.

    `savepoint=False`, for a caller whose transaction must roll back as a whole if this fails
    (the payment pipeline): no savepoint, and an error here breaks the caller's transaction.
    With the default, a caller may catch the error (a second grant for one event: IntegrityError) and go on.
    `locked=True`: the caller holds `stack_lock(user_id, scope)` in this transaction already.
    """
    now = now or timezone.now()
    with transaction.atomic(savepoint=savepoint):
        if not locked:
            lock_for_transaction(stack_lock(user_id, scope))
        starts_at = now
        current_end = _current_end(user_id, entitlement_type, scope, now) if duration or expires_at else None
        if duration is not None:
            if current_end:
                starts_at = current_end
            expires_at = starts_at + duration
        elif expires_at is not None and expires_at <= now:
            # A subscription whose period already ended (late delivery): record it, grant nothing usable.
            starts_at = expires_at - timedelta(seconds=1)
        grant = Entitlement.objects.create(
            user_id=user_id,
            entitlement_type=entitlement_type,
            scope=scope,
            event_id=event_id,
            granted_at=now,
            starts_at=starts_at,
            expires_at=expires_at,
        )
        outbox.enqueue_change(entitlement=grant, kind=outbox.GRANTED, now=now)  # same transaction
        send_on_commit(entitlement_extended if current_end else entitlement_granted, sender=Entitlement,
                       entitlement=grant, user_id=user_id, entitlement_type=entitlement_type,
                       starts_at=grant.starts_at, expires_at=grant.expires_at, event_id=event_id, scope=scope)
        return grant


def _current_end(user_id: int, entitlement_type: str, scope: str, now: datetime) -> datetime | None:
    """The latest end of the user's unrevoked grants of a type in a scope still running at `now`: where
    a new grant stacks."""
    return (
        Entitlement.objects.not_revoked()
        .filter(user_id=user_id, scope=scope, entitlement_type=entitlement_type, expires_at__gt=now)
        .aggregate(end=Max("expires_at"))["end"]
    )


def revoke_entitlement(
    *, entitlement: Entitlement, reason: str, now: datetime | None = None, savepoint: bool = True,
    locked: bool = False,
) -> Entitlement:
    """Revoke one grant at once. Grants stacked behind it move up by the time it had left.

    Revoking twice is a no-op that keeps the first reason. `savepoint`: as in `grant_entitlement`.
    `locked=True`: the caller holds `stack_lock(entitlement.user_id, entitlement.scope)` in this transaction and read
    `entitlement` in it with `select_for_update()`, so it is not read again.
    """
    now = now or timezone.now()
    with transaction.atomic(savepoint=savepoint):
        if not locked:
            lock_for_transaction(stack_lock(entitlement.user_id, entitlement.scope))
            entitlement = Entitlement.objects.select_for_update().get(pk=entitlement.pk)
        if entitlement.revoked_at:
            return entitlement
        entitlement.revoked_at = now
        entitlement.revoke_reason = reason
        entitlement.save(update_fields=["revoked_at", "revoke_reason"])
        if entitlement.expires_at and entitlement.expires_at > now:
            unused = entitlement.expires_at - max(entitlement.starts_at, now)
            stacked = Entitlement.objects.not_revoked().filter(
                user_id=entitlement.user_id,
                scope=entitlement.scope,
                entitlement_type=entitlement.entitlement_type,
                starts_at__gte=entitlement.expires_at,
                expires_at__isnull=False,
            )
            for later in stacked.order_by("starts_at"):
                later.starts_at -= unused
                later.expires_at -= unused
                later.save(update_fields=["starts_at", "expires_at"])
        outbox.enqueue_change(entitlement=entitlement, kind=outbox.REVOKED, now=now)  # same transaction
        send_on_commit(entitlement_revoked, sender=Entitlement, entitlement=entitlement,
                       user_id=entitlement.user_id, entitlement_type=entitlement.entitlement_type, reason=reason,
                       scope=entitlement.scope)
        return entitlement
