"""Once created a PostgreSQL function holding a second copy of the payment rules. It is dropped by
0009: every route now runs the same Python (docs/decisions/0001-one-implementation-of-the-money-rules.md).
Kept, empty, so that the migration graph of existing databases stays whole."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("telegram_payments", "0004_admin_refund_proxy"),
        ("entitlements", "0002_outbox"),
    ]

    operations = []
