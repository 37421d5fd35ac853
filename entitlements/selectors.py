"""Reads of entitlements: what a user may use now. One indexed query each."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from entitlements.models import Entitlement


@dataclass(frozen=True)
class ActiveEntitlement:
    entitlement_type: str
    expires_at: datetime | None  # None: never


def current_access(user_id: int, *, entitlement_type: str | None = None, scope: str = "",
                   at: datetime | None = None) -> list[ActiveEntitlement]:
    """What `user_id` may use at `at` (now) within `scope` (`Entitlement.scope`), one entry per type
    with when the access ends.

    One query on the (user_id, scope, entitlement_type) index: the user's unrevoked grants not yet
    expired; stacked grants (each starting where the previous ends) are joined in Python.
    `expires_at` None means never.
    """
    at = at or timezone.now()
    grants = Entitlement.objects.filter(user_id=user_id, scope=scope, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=at)
    )
    if entitlement_type is not None:
        grants = grants.filter(entitlement_type=entitlement_type)
    by_type: dict[str, list[tuple[datetime, datetime | None]]] = {}
    for kind, starts_at, expires_at in grants.order_by("entitlement_type", "starts_at").values_list(
        "entitlement_type", "starts_at", "expires_at"
    ):
        by_type.setdefault(kind, []).append((starts_at, expires_at))
    result = []
    for kind, spans in by_type.items():
        if not any(starts_at <= at for starts_at, _ in spans):
            continue  # only scheduled grants: not in force yet
        if any(expires_at is None and starts_at <= at for starts_at, expires_at in spans):
            result.append(ActiveEntitlement(kind, None))
            continue
        end = at
        for starts_at, expires_at in spans:
            if expires_at is None:
                continue
            if starts_at > end:
                break
            end = max(end, expires_at)
        result.append(ActiveEntitlement(kind, end))
    return result


def has_entitlement(user_id: int, entitlement_type: str, *, scope: str = "", at: datetime | None = None) -> bool:
    """Whether `user_id` may use `entitlement_type` at `at` (now) within `scope`."""
    return bool(current_access(user_id, entitlement_type=entitlement_type, scope=scope, at=at))
