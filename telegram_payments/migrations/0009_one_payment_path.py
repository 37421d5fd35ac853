"""One implementation of the money rules: drop the PostgreSQL function that held a second copy of
the payment rules (docs/decisions/0001-one-implementation-of-the-money-rules.md), and declare the
uniqueness and indexes of ids as model constraints and indexes, which add no second PostgreSQL
index for prefix searches (the ids are only ever matched exactly)."""

import telegram_payments.models
from django.conf import settings
from django.db import migrations, models


def drop_sql_payment_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS stars_record_payment")


class Migration(migrations.Migration):

    dependencies = [
        ('telegram_payments', '0008_subscription_permission'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(drop_sql_payment_function, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name='invoice',
            name='payload',
            field=models.CharField(default=telegram_payments.models.new_invoice_payload, max_length=128),
        ),
        migrations.AlterField(
            model_name='precheckoutanswer',
            name='query_id',
            field=models.CharField(max_length=255),
        ),
        migrations.AlterField(
            model_name='stripeevent',
            name='event_id',
            field=models.CharField(max_length=255),
        ),
        migrations.AlterField(
            model_name='stripeevent',
            name='telegram_payment_charge_id',
            field=models.CharField(max_length=255),
        ),
        migrations.AddIndex(
            model_name='stripeevent',
            index=models.Index(fields=['telegram_payment_charge_id'], name='stripe_events_charge'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.UniqueConstraint(fields=('payload',), name='invoice_payload_unique'),
        ),
        migrations.AddConstraint(
            model_name='precheckoutanswer',
            constraint=models.UniqueConstraint(fields=('query_id',), name='pre_checkout_query_id_unique'),
        ),
        migrations.AddConstraint(
            model_name='stripeevent',
            constraint=models.UniqueConstraint(fields=('event_id',), name='stripe_events_event_id_unique'),
        ),
    ]
