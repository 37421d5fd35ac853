"""PostgreSQL: no `*_like` indexes on the columns we only ever match exactly.

For every indexed or unique CharField, Django's PostgreSQL backend adds a second index beside the
plain one, `<table>_<column>_<hash>_like` (varchar_pattern_ops), which serves `LIKE 'prefix%'`
(startswith) and nothing else. We never search those columns by prefix: the admin searches ids
with `=` (exact), which the plain index serves. Each such index is written on every insert, and
a payment inserts into two such tables (pgbench, same run: the payment function ran about 12% more
calls per second without the three on its tables).

Django looks for them with DROP INDEX IF EXISTS when it alters such a column, so a later
AlterField works; if one changes a field's `db_index`/`unique`, it may add the index again: drop it
in the same migration.
"""

from django.db import migrations


def drop_like_indexes(app_label: str, model_name: str, *field_names: str) -> migrations.RunPython:
    """A migration operation that drops those indexes of these fields (and adds them back on reverse)."""

    def each_field(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        model = apps.get_model(app_label, model_name)
        for name in field_names:
            yield model, model._meta.get_field(name)

    def drop(apps, schema_editor):
        for model, field in each_field(apps, schema_editor):
            index = schema_editor._create_index_name(model._meta.db_table, [field.column], suffix="_like")
            schema_editor.execute(schema_editor._delete_index_sql(model, index))

    def add_back(apps, schema_editor):
        for model, field in each_field(apps, schema_editor):
            schema_editor.execute(schema_editor._create_like_index_sql(model, field))

    return migrations.RunPython(drop, add_back, elidable=False)
