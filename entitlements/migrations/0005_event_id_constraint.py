"""The grant's event id is unique through a declared constraint, which adds no second PostgreSQL
index for prefix searches (ids are only ever matched exactly)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('entitlements', '0004_drop_like_index'),
    ]

    operations = [
        migrations.AlterField(
            model_name='entitlement',
            name='event_id',
            field=models.CharField(max_length=255),
        ),
        migrations.AddConstraint(
            model_name='entitlement',
            constraint=models.UniqueConstraint(fields=('event_id',), name='entitlements_event_id_unique'),
        ),
    ]
