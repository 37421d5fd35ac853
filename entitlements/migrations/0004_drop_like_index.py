"""Once dropped an index through private schema-editor calls; the constraint declared in the model
since (entitlements 0005) creates none. Kept, empty, so the migration graph stays whole."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("entitlements", "0003_drop_unused_indexes"),
    ]

    operations = []
