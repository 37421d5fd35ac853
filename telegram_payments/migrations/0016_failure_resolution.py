"""Failed payments end: FailureResolution (fulfilled by a staff grant, or dismissed with a reason), the
resolve_failure permission, given to the Support group."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models


def support_may_resolve(apps, schema_editor):
    """The Support group (0015_staff_groups) may dismiss failed payments too."""
    app_config = apps.get_app_config("telegram_payments")
    previous = getattr(app_config, "models_module", None)
    app_config.models_module = previous or True  # create_permissions skips an app without a models module
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = previous
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.filter(content_type__app_label="telegram_payments", codename="resolve_failure")
    for group in Group.objects.filter(name="Support"):
        group.permissions.add(*permission)


class Migration(migrations.Migration):

    dependencies = [
        ('telegram_payments', '0015_staff_groups'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='stripeevent',
            options={'permissions': [('refund_payment', 'Can refund a Telegram Stars payment'), ('manage_subscription', "Can stop or resume a Star subscription's renewals"), ('grant_entitlement', 'Can grant or extend an entitlement by hand'), ('resolve_failure', 'Can dismiss a failed payment with a reason')], 'verbose_name': 'audit event', 'verbose_name_plural': 'Payments & refunds'},
        ),
        migrations.CreateModel(
            name='FailureResolution',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('fulfilled', 'fulfilled by a staff grant'), ('dismissed', 'dismissed')], max_length=10)),
                ('reason', models.TextField()),
                ('resolved_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('grant_event', models.ForeignKey(blank=True, help_text='The staff grant that fulfilled it.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='telegram_payments.stripeevent')),
                ('payment', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='resolution', to='telegram_payments.stripeevent')),
                ('resolved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'telegram_failure_resolutions',
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('grant_event__isnull', True), ('kind', 'dismissed')), models.Q(('grant_event__isnull', False), ('kind', 'fulfilled')), _connector='OR'), name='failure_resolution_grant_iff_fulfilled')],
            },
        ),
        migrations.RunPython(support_may_resolve, migrations.RunPython.noop),
    ]
