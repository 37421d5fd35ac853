"""How access is put into words, the same in notes, chat replies and commands."""

from datetime import UTC, datetime

from entitlements.models import Entitlement


def until(expires_at: datetime | None) -> str:
    """`until 2027-01-03 14:00 UTC`, or `for life` for access that never ends."""
    if expires_at is None:
        return "for life"
    return f"until {expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def granted(grant: Entitlement) -> str:
    """`Granted <type> to <user> until ... UTC` (no final full stop: callers may add a reason)."""
    return f"Granted {grant.entitlement_type} to {grant.user_id} {until(grant.expires_at)}"
