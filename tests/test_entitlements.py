from datetime import timedelta

import pytest
from django.utils import timezone

from entitlements.models import Entitlement
from entitlements.selectors import current_access, has_entitlement
from entitlements.services import grant_entitlement, revoke_entitlement

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def test_duration_grant_is_active_until_its_end():
    now = timezone.now()
    grant = grant_entitlement(user_id=1, entitlement_type="pro", event_id="e1", duration=30 * DAY, now=now)
    assert grant.expires_at == now + 30 * DAY
    assert has_entitlement(1, "pro")
    assert not has_entitlement(1, "pro", at=now + 31 * DAY)
    assert not has_entitlement(2, "pro")


def test_buying_again_while_active_stacks():
    now = timezone.now()
    grant_entitlement(user_id=1, entitlement_type="pro", event_id="e1", duration=30 * DAY, now=now)
    second = grant_entitlement(user_id=1, entitlement_type="pro", event_id="e2", duration=30 * DAY,
                               now=now + 10 * DAY)
    assert second.starts_at == now + 30 * DAY
    assert second.expires_at == now + 60 * DAY
    [active] = current_access(1, at=now + 11 * DAY)
    assert (active.entitlement_type, active.expires_at) == ("pro", now + 60 * DAY)
    assert has_entitlement(1, "pro", at=now + 45 * DAY)


def test_buying_after_expiry_starts_now():
    now = timezone.now()
    grant_entitlement(user_id=1, entitlement_type="pro", event_id="e1", duration=DAY, now=now - 5 * DAY)
    fresh = grant_entitlement(user_id=1, entitlement_type="pro", event_id="e2", duration=DAY, now=now)
    assert fresh.starts_at == now


def test_lifetime_grant_never_expires():
    grant = grant_entitlement(user_id=1, entitlement_type="lifetime", event_id="e1")
    assert grant.expires_at is None
    [active] = current_access(1, at=timezone.now() + 3650 * DAY)
    assert active.expires_at is None


def test_fixed_end_grant_for_subscriptions():
    end = timezone.now() + 30 * DAY
    grant = grant_entitlement(user_id=1, entitlement_type="sub", event_id="e1", expires_at=end)
    assert grant.expires_at == end
    assert has_entitlement(1, "sub")


def test_revoke_ends_access_at_once_and_moves_stacked_grants_up():
    now = timezone.now()
    first = grant_entitlement(user_id=1, entitlement_type="pro", event_id="e1", duration=30 * DAY, now=now)
    second = grant_entitlement(user_id=1, entitlement_type="pro", event_id="e2", duration=30 * DAY, now=now)
    revoke_entitlement(entitlement=first, reason="refund", now=now + 10 * DAY)
    second.refresh_from_db()
    assert second.starts_at == now + 10 * DAY
    assert second.expires_at == now + 40 * DAY
    first.refresh_from_db()
    assert first.state == "revoked" and first.revoke_reason == "refund"
    assert has_entitlement(1, "pro", at=now + 11 * DAY)
    assert not has_entitlement(1, "pro", at=now + 41 * DAY)


def test_revoking_the_only_grant_removes_access_and_twice_is_harmless():
    grant = grant_entitlement(user_id=1, entitlement_type="pro", event_id="e1", duration=30 * DAY)
    revoke_entitlement(entitlement=grant, reason="first")
    revoke_entitlement(entitlement=grant, reason="second")
    grant.refresh_from_db()
    assert grant.revoke_reason == "first"
    assert not has_entitlement(1, "pro")
    assert current_access(1) == []


def test_one_grant_per_event():
    from django.db import IntegrityError

    grant_entitlement(user_id=1, entitlement_type="pro", event_id="e1", duration=DAY)
    with pytest.raises(IntegrityError):
        grant_entitlement(user_id=1, entitlement_type="pro", event_id="e1", duration=DAY)
    assert Entitlement.objects.count() == 1
