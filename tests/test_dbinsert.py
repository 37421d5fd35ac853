"""payments_project.dbinsert.insert: what the payment path uses instead of save(force_insert=True)."""

from datetime import UTC, datetime

import pytest

from entitlements.models import Entitlement
from payments_project.dbinsert import insert
from telegram_payments.models import EventSource, EventStatus, StripeEvent

pytestmark = pytest.mark.django_db


def _field_values(obj):
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.parametrize("make", [
    lambda: StripeEvent(
        event_id="tg_stars:payment:c1", event_type="payment", customer_id="42", amount_cents=250,
        status=EventStatus.PROCESSED, source=EventSource.RELAY, update_id=7, telegram_payment_charge_id="c1",
        entitlement_type="pro", subscription_expires_at=datetime(2027, 1, 2, 3, 4, 5, 600000, tzinfo=UTC),
        payload={"nested": {"list": [1, 2.5, "ü", None, True]}}, note="Granted.", attempts=1,
        processed_at=datetime(2026, 11, 29, 6, 0, tzinfo=UTC),
    ),
    lambda: Entitlement(user_id=2**62, entitlement_type="pro", event_id="e1",
                        expires_at=datetime(2027, 1, 1, tzinfo=UTC)),
], ids=["event", "entitlement"])
def test_insert_stores_every_field_as_save_would(make):
    obj = insert(make())
    assert obj.pk is not None and not obj._state.adding
    stored = type(obj).objects.get(pk=obj.pk)
    assert _field_values(stored) == _field_values(obj)
    # The same instance through the ORM's save() stores the same values (defaults included).
    twin = make()
    for name in ("event_id",):
        setattr(twin, name, getattr(twin, name) + "-orm")
    twin.save(force_insert=True)
    orm = _field_values(type(obj).objects.get(pk=twin.pk))
    ours = _field_values(stored)
    for values in (orm, ours):
        values.pop("id"), values.pop("event_id")
        for auto in ("received_at", "granted_at", "starts_at"):  # timezone.now() defaults: differ by microseconds
            assert values.pop(auto, datetime.now(UTC)) is not None
    assert ours == orm


def test_insert_refuses_a_saved_row():
    obj = insert(Entitlement(user_id=1, entitlement_type="pro", event_id="e2"))
    with pytest.raises(ValueError):
        insert(obj)
