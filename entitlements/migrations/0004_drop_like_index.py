"""Drop the prefix-search (`_like`) index of event_id: grants are only ever looked up by their exact
event id (payments_project/pgindexes.py)."""

from django.db import migrations

from payments_project.pgindexes import drop_like_indexes


class Migration(migrations.Migration):

    dependencies = [
        ("entitlements", "0003_drop_unused_indexes"),
    ]

    operations = [
        drop_like_indexes("entitlements", "Entitlement", "event_id"),
    ]
