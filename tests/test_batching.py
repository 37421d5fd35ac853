"""entitlements.batching: a selection worked through in id order, one short transaction per batch."""

import pytest

from entitlements.batching import in_id_batches
from entitlements.models import Entitlement
from tests.factories import EntitlementFactory

pytestmark = pytest.mark.django_db


def test_every_row_is_handed_over_once_in_id_order_in_batches_of_the_given_size():
    ids = [EntitlementFactory(user_id=n).pk for n in range(7)]
    batches, reported = [], []

    def look(batch):
        batches.append(sorted(batch.values_list("pk", flat=True)))
        return len(batches[-1])

    assert in_id_batches(Entitlement.objects.all(), look, batch_size=3, on_batch=reported.append) == 7
    assert batches == [ids[0:3], ids[3:6], ids[6:7]]  # rows left in place are not taken again
    assert reported == [3, 6, 7]


def test_each_batch_is_checked_against_the_selection_again_when_it_is_written():
    rows = [EntitlementFactory(user_id=n) for n in range(4)]
    selection = Entitlement.objects.filter(revoke_reason="")

    def change_one_meanwhile_then_delete(batch):
        last = max(batch.values_list("pk", flat=True))
        Entitlement.objects.filter(pk=last).update(revoke_reason="changed after it was picked")
        return batch.delete()[0]

    assert in_id_batches(selection, change_one_meanwhile_then_delete, batch_size=2) == 2
    assert list(Entitlement.objects.order_by("pk").values_list("pk", flat=True)) == [rows[1].pk, rows[3].pk]
