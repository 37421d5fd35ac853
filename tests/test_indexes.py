"""PostgreSQL: the ids we look up exactly have their plain index and no prefix-search (`_like`) one
(their uniqueness and indexes are declared in Meta), and each app's migrations can be reversed and applied
again."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from entitlements.models import Entitlement
from telegram_payments.models import Invoice, PreCheckoutAnswer, StripeEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

EXACT_ONLY = [  # (model, column): looked up with `=` only
    (StripeEvent, "event_id"),
    (StripeEvent, "telegram_payment_charge_id"),
    (Invoice, "payload"),
    (Entitlement, "event_id"),
]
MIGRATIONS = {
    "telegram_payments": {"0001_initial", "0002_several_bots"},
    "entitlements": {"0001_initial", "0002_scope"},
}


def indexes_of(model, column) -> dict[str, str]:
    """{index name: operator class} of the one-column indexes on `column`."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, o.opcname
            FROM pg_index i
            JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
            JOIN pg_opclass o ON o.oid = i.indclass[0]
            WHERE i.indrelid = %s::regclass AND i.indnatts = 1 AND a.attname = %s
            """,
            [model._meta.db_table, column],
        )
        return dict(cursor.fetchall())


@pytest.mark.parametrize(("model", "column"), EXACT_ONLY, ids=lambda v: getattr(v, "__name__", v))
def test_exact_ids_have_a_plain_index_and_no_prefix_one(model, column):
    opclasses = set(indexes_of(model, column).values())
    assert "varchar_pattern_ops" not in opclasses
    assert opclasses == {"text_ops"}  # the unique or lookup index (varchar's default class): what `=` uses


def test_a_pre_checkout_query_id_is_unique_per_bot_and_has_no_prefix_index():
    """(bot, query_id) is the unique index `=` uses; no one-column index of either kind on query_id."""
    assert indexes_of(PreCheckoutAnswer, "query_id") == {}
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, PreCheckoutAnswer._meta.db_table)
    assert any(c["unique"] and c["columns"] == ["bot_id", "query_id"] for c in constraints.values())


def test_each_apps_migrations_reverse_and_apply_again():
    loader = MigrationLoader(connection)
    for app, names in MIGRATIONS.items():
        assert {name for label, name in loader.disk_migrations if label == app} == names
    try:
        call_command("migrate", "entitlements", "zero", verbosity=0)
        call_command("migrate", "telegram_payments", "zero", verbosity=0)
        tables = set(connection.introspection.table_names())
        assert not tables & {"stripe_events", "entitlements", "telegram_payments_invoice"}
    finally:
        call_command("migrate", verbosity=0)
    for model, column in EXACT_ONLY:
        assert set(indexes_of(model, column).values()) == {"text_ops"}, (model, column)


def test_events_waiting_for_staff_are_found_through_the_partial_index():
    """Failed and pending events have an index of their own, which processed ones never enter."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN SELECT count(*) FROM stripe_events WHERE status = 2")
        failed_plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT pg_get_indexdef('stripe_events_unsettled'::regclass)")
        (definition,) = cursor.fetchone()
    assert "stripe_events_unsettled" in failed_plan
    assert "WHERE (status = ANY (ARRAY[0, 2]))" in definition
