"""Several bots in one deployment: the Bot table, with the bot configured in TELEGRAM_STARS as its
default row (pk 1, created here); every table of a bot's data gets a non-null `bot`, filled with the
default bot for the rows already there (their event ids, locks and scopes stay as they were); every
staff member who is not a superuser is made a member of the default bot, so nobody loses what they see.
"""
import secrets

from django.core.management.color import no_style


import django.db.models.deletion
import django.utils.timezone
import telegram_payments.models
from django.conf import settings
from django.db import migrations, models


def create_default_bot(apps, schema_editor):
    Bot = apps.get_model("telegram_payments", "Bot")
    if not Bot.objects.filter(is_default=True).exists():
        Bot.objects.create(pk=1, name="Default bot", slug="default", is_default=True, event_namespace="",
                           entitlement_scope="", webhook_path=secrets.token_urlsafe(32))
    # pk 1 was given (the rows already there point at it): the next bot added must not be given it too.
    with schema_editor.connection.cursor() as cursor:
        for sql in schema_editor.connection.ops.sequence_reset_sql(no_style(), [Bot]):
            cursor.execute(sql)


def make_staff_members(apps, schema_editor):
    Bot = apps.get_model("telegram_payments", "Bot")
    BotMembership = apps.get_model("telegram_payments", "BotMembership")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    default = Bot.objects.get(is_default=True)
    fields = {f.name for f in User._meta.get_fields()}
    if not {"is_staff", "is_superuser"} <= fields:
        return
    BotMembership.objects.bulk_create(
        [BotMembership(user_id=pk, bot=default)
         for pk in User.objects.filter(is_staff=True, is_superuser=False).values_list("pk", flat=True)],
        ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('telegram_payments', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Bot',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(help_text='What staff call it.', max_length=100)),
                ('slug', models.SlugField(help_text='Its name in commands (--bot), filters and metrics.', max_length=40, unique=True)),
                ('telegram_id', models.BigIntegerField(blank=True, editable=False, help_text="The bot's user id, from getMe.", null=True, unique=True)),
                ('username', models.CharField(blank=True, default='', editable=False, help_text='From getMe.', max_length=64)),
                ('is_default', models.BooleanField(default=False, editable=False)),
                ('token_sealed', models.TextField(blank=True, default='', editable=False)),
                ('secret_sealed', models.TextField(blank=True, default='', editable=False)),
                ('webhook_path', models.CharField(default=telegram_payments.models.new_webhook_path, editable=False, max_length=64, unique=True)),
                ('event_namespace', models.CharField(editable=False, max_length=40, unique=True)),
                ('entitlement_scope', models.CharField(editable=False, max_length=40, unique=True)),
                ('is_active', models.BooleanField(default=True, help_text="An inactive bot's webhook answers 404.")),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('token_set_at', models.DateTimeField(blank=True, editable=False, null=True)),
            ],
            options={
                'ordering': ['-is_default', 'name'],
                'permissions': [('view_all_bots', 'Can see the data of every bot')],
            },
        ),
        migrations.CreateModel(
            name='BotMembership',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
            ],
        ),
        migrations.RunPython(create_default_bot, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name='customer',
            name='customer_user_id_unique',
        ),
        migrations.RemoveConstraint(
            model_name='precheckoutanswer',
            name='pre_checkout_query_id_unique',
        ),
        migrations.RemoveConstraint(
            model_name='starbalance',
            name='star_balance_single_row',
        ),
        migrations.RemoveConstraint(
            model_name='subscription',
            name='subscription_user_invoice_unique',
        ),
        migrations.RemoveIndex(
            model_name='stripeevent',
            name='stripe_events_customer',
        ),
        migrations.AddField(
            model_name='product',
            name='shared_access',
            field=models.SlugField(blank=True, default='', help_text="Empty: what it grants counts for this bot only. A name: it counts for every bot whose products share that name (e.g. one subscription across a studio's bots).", max_length=30),
        ),
        migrations.AlterField(
            model_name='product',
            name='entitlement_type',
            field=models.SlugField(max_length=100),
        ),
        migrations.AddField(
            model_name='buyermessage',
            name='bot',
            field=models.ForeignKey(db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='telegram_payments.bot'),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='buyermessage',
            name='bot',
            field=models.ForeignKey(db_index=False, default=telegram_payments.models.default_bot_id, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='telegram_payments.bot'),
        ),
        migrations.AddField(
            model_name='customer',
            name='bot',
            field=models.ForeignKey(db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='telegram_payments.bot'),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='customer',
            name='bot',
            field=models.ForeignKey(db_index=False, default=telegram_payments.models.default_bot_id, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='telegram_payments.bot'),
        ),
        migrations.AddField(
            model_name='invoice',
            name='bot',
            field=models.ForeignKey(default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='telegram_payments.bot'),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='invoice',
            name='bot',
            field=models.ForeignKey(default=telegram_payments.models.default_bot_id, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='telegram_payments.bot'),
        ),
        migrations.AddField(
            model_name='precheckoutanswer',
            name='bot',
            field=models.ForeignKey(db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='telegram_payments.bot'),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='precheckoutanswer',
            name='bot',
            field=models.ForeignKey(db_index=False, default=telegram_payments.models.default_bot_id, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='telegram_payments.bot'),
        ),
        migrations.AddField(
            model_name='product',
            name='bot',
            field=models.ForeignKey(db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='products', to='telegram_payments.bot'),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='product',
            name='bot',
            field=models.ForeignKey(db_index=False, default=telegram_payments.models.default_bot_id, on_delete=django.db.models.deletion.PROTECT, related_name='products', to='telegram_payments.bot'),
        ),
        migrations.AddField(
            model_name='starbalance',
            name='bot',
            field=models.OneToOneField(default=1, on_delete=django.db.models.deletion.PROTECT, related_name='star_balance', to='telegram_payments.bot'),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='starbalance',
            name='bot',
            field=models.OneToOneField(default=telegram_payments.models.default_bot_id, on_delete=django.db.models.deletion.PROTECT, related_name='star_balance', to='telegram_payments.bot'),
        ),
        migrations.AddField(
            model_name='stripeevent',
            name='bot',
            field=models.ForeignKey(db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='telegram_payments.bot'),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='stripeevent',
            name='bot',
            field=models.ForeignKey(db_index=False, default=telegram_payments.models.default_bot_id, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='telegram_payments.bot'),
        ),
        migrations.AddField(
            model_name='subscription',
            name='bot',
            field=models.ForeignKey(db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='telegram_payments.bot'),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='subscription',
            name='bot',
            field=models.ForeignKey(db_index=False, default=telegram_payments.models.default_bot_id, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='telegram_payments.bot'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['user_id'], name='customer_user'),
        ),
        migrations.AddIndex(
            model_name='stripeevent',
            index=models.Index(fields=['customer_id', 'bot'], name='stripe_events_customer_bot'),
        ),
        migrations.AddIndex(
            model_name='stripeevent',
            index=models.Index(fields=['bot', 'received_at'], name='stripe_events_bot_received'),
        ),
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.UniqueConstraint(fields=('bot', 'user_id'), name='customer_bot_user_unique'),
        ),
        migrations.AddConstraint(
            model_name='precheckoutanswer',
            constraint=models.UniqueConstraint(fields=('bot', 'query_id'), name='pre_checkout_bot_query_unique'),
        ),
        migrations.AddConstraint(
            model_name='product',
            constraint=models.UniqueConstraint(fields=('bot', 'entitlement_type'), name='product_bot_type_unique'),
        ),
        migrations.AddConstraint(
            model_name='subscription',
            constraint=models.UniqueConstraint(fields=('bot', 'user_id', 'invoice_payload'), name='subscription_bot_user_invoice_unique'),
        ),
        migrations.AddField(
            model_name='botmembership',
            name='bot',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='telegram_payments.bot'),
        ),
        migrations.AddField(
            model_name='botmembership',
            name='user',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='bot_memberships', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='bot',
            name='staff',
            field=models.ManyToManyField(blank=True, help_text="Staff who see this bot's data.", related_name='telegram_bots', through='telegram_payments.BotMembership', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddConstraint(
            model_name='botmembership',
            constraint=models.UniqueConstraint(fields=('user', 'bot'), name='bot_membership_unique'),
        ),
        migrations.AddConstraint(
            model_name='bot',
            constraint=models.UniqueConstraint(condition=models.Q(('is_default', True)), fields=('is_default',), name='bot_one_default'),
        ),
        migrations.AddConstraint(
            model_name='bot',
            constraint=models.CheckConstraint(condition=models.Q(('is_default', True), models.Q(models.Q(('token_sealed', ''), _negated=True), models.Q(('secret_sealed', ''), _negated=True)), _connector='OR'), name='bot_credentials_sealed'),
        ),
        migrations.RunPython(make_staff_members, migrations.RunPython.noop),
    ]
