"""The support desk: who a customer is (as last seen in their Updates), who may grant by hand, and a
user's pre-checkout answers found by an index."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('telegram_payments', '0013_star_balance_and_names'),
    ]

    operations = [
        migrations.CreateModel(
            name='Customer',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('user_id', models.BigIntegerField()),
                ('first_name', models.CharField(blank=True, default='', max_length=255)),
                ('last_name', models.CharField(blank=True, default='', max_length=255)),
                ('username', models.CharField(blank=True, default='', help_text='Without the @.', max_length=255)),
                ('last_seen_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.AlterModelOptions(
            name='stripeevent',
            options={'permissions': [('refund_payment', 'Can refund a Telegram Stars payment'), ('manage_subscription', "Can stop or resume a Star subscription's renewals"), ('grant_entitlement', 'Can grant or extend an entitlement by hand')], 'verbose_name': 'audit event', 'verbose_name_plural': 'Payments & refunds'},
        ),
        migrations.AddIndex(
            model_name='precheckoutanswer',
            index=models.Index(fields=['user_id'], name='pre_checkout_user'),
        ),
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.UniqueConstraint(fields=('user_id',), name='customer_user_id_unique'),
        ),
    ]
