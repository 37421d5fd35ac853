"""Transaction-scoped named locks, for writers that meet on something with no row to lock yet."""

from django.db import connection


def lock_for_transaction(*names: str) -> None:
    """Block until no other transaction holds the locks `names` (taken in the order given, in one
    statement); released at commit or rollback.

    PostgreSQL: an advisory transaction lock on a hash of the name (a collision only serialises
    two unrelated writers, never breaks correctness). SQLite serialises all writers itself, so
    nothing is needed there. Must be called inside transaction.atomic().
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(["pg_advisory_xact_lock(hashtextextended(%s, 0))"] * len(names)),
                           names)
