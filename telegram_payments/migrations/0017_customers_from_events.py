"""Every user id with an event is a customer: a Customer row for each one recorded before this rule,
named from their latest event that is an Update carrying a name (`bot.customers.update_user`)."""

from django.db import migrations

from telegram_payments.bot.customers import update_user
from telegram_payments.validation import user_id_from

NEWEST_EVENTS_READ = 20  # of each user, for a name


def customers_from_events(apps, schema_editor):
    Customer = apps.get_model("telegram_payments", "Customer")
    StripeEvent = apps.get_model("telegram_payments", "StripeEvent")
    known = set(Customer.objects.values_list("user_id", flat=True))
    for customer_id in StripeEvent.objects.order_by().values_list("customer_id", flat=True).distinct().iterator():
        user_id = user_id_from(customer_id)
        if user_id is None or user_id in known:
            continue
        names, sent, seen = {}, None, None
        newest = StripeEvent.objects.filter(customer_id=customer_id).order_by("-received_at", "-pk")
        for event in newest.only("payload", "received_at")[:NEWEST_EVENTS_READ]:
            seen = seen or event.received_at
            names, sent = update_user(event.payload)
            if names:
                break
        Customer.objects.create(user_id=user_id, last_seen_at=sent or seen, **names)
        known.add(user_id)


class Migration(migrations.Migration):

    dependencies = [("telegram_payments", "0016_failure_resolution")]

    operations = [migrations.RunPython(customers_from_events, migrations.RunPython.noop)]
