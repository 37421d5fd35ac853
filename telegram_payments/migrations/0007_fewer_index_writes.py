"""Fewer index writes per event: (status, received_at) only for the events waiting for staff, failed
or pending: a processed event, nearly every one, adds nothing to it. "Processed since" reads use the received_at index.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("telegram_payments", "0006_event_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="stripeevent", name="stripe_events_status_received"),
        migrations.AddIndex(
            model_name="stripeevent",
            index=models.Index(
                condition=models.Q(("status__in", [0, 2])), fields=["status", "received_at"],
                name="stripe_events_unsettled",
            ),
        ),
    ]
