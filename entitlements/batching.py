"""Working through a large selection of rows in short transactions, one batch of ids at a time."""

from collections.abc import Callable

from django.db import transaction
from django.db.models import QuerySet


def in_id_batches(
    selection: QuerySet,
    apply: Callable[[QuerySet], int],
    *,
    batch_size: int,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Run `apply` on the rows of `selection`, `batch_size` at a time, until none is left; returns the sum
    of what `apply` returned (the rows it deleted or changed).

    Each batch is the next `batch_size` ids of `selection` after the last id of the batch before, in id
    order, and is handed to `apply` as `selection` narrowed to those ids, inside one transaction: the
    selection's conditions are checked again at the moment of writing, no transaction is held for long,
    and rows `apply` leaves in place are never taken twice. `on_batch(total so far)` runs after each commit.
    """
    total, after = 0, None
    while True:
        with transaction.atomic():
            remaining = selection if after is None else selection.filter(pk__gt=after)
            ids = list(remaining.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                return total
            total += apply(selection.filter(pk__in=ids))
        after = ids[-1]
        if on_batch:
            on_batch(total)
