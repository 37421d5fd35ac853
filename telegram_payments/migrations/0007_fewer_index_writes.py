"""Fewer index writes per event, for queries no index served better:

* the prefix-search (`_like`) indexes of the ids we only ever look up exactly (the audit trail's
  event and charge ids, invoice payloads, pre-checkout query ids): payments_project/pgindexes.py;
* (status, received_at) only for the events waiting for staff, failed or pending: a processed event,
  nearly every one, adds nothing to it. "Processed since" reads use the received_at index.
"""

from django.db import migrations, models

from payments_project.pgindexes import drop_like_indexes


class Migration(migrations.Migration):

    dependencies = [
        ("telegram_payments", "0006_event_indexes"),
    ]

    operations = [
        drop_like_indexes("telegram_payments", "StripeEvent", "event_id", "telegram_payment_charge_id"),
        drop_like_indexes("telegram_payments", "Invoice", "payload"),
        drop_like_indexes("telegram_payments", "PreCheckoutAnswer", "query_id"),
        migrations.RemoveIndex(model_name="stripeevent", name="stripe_events_status_received"),
        migrations.AddIndex(
            model_name="stripeevent",
            index=models.Index(
                condition=models.Q(("status__in", [0, 2])), fields=["status", "received_at"],
                name="stripe_events_unsettled",
            ),
        ),
    ]
