"""Two staff roles as groups: Support (look at everything, refund, replay, grant, revoke, stop or resume
renewals, export; not edit the catalog) and Catalog managers (view, add and change products).

Permissions are created here first (Django creates them only after all migrations have run), so the
groups are complete on a fresh database too. Existing groups of these names get the permissions added.
Running it again changes nothing (tests that empty the database call it again).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPPORT = {
    "telegram_payments": [
        "view_stripeevent", "change_stripeevent", "refund_payment", "manage_subscription", "grant_entitlement",
        "view_refundevent", "view_customer", "view_invoice", "view_precheckoutanswer", "view_product",
        "view_subscription",
    ],
    "entitlements": ["view_entitlement", "change_entitlement", "view_outboxmessage", "view_deliveryattempt"],
}
CATALOG_MANAGERS = {"telegram_payments": ["view_product", "add_product", "change_product"]}
GROUPS = {"Support": SUPPORT, "Catalog managers": CATALOG_MANAGERS}


def create_groups(apps, schema_editor):
    for label in ("telegram_payments", "entitlements"):
        app_config = apps.get_app_config(label)
        previous = getattr(app_config, "models_module", None)
        app_config.models_module = previous or True  # create_permissions skips an app without a models module
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = previous
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, names in codenames.items():
            group.permissions.add(*Permission.objects.filter(content_type__app_label=app_label, codename__in=names))


class Migration(migrations.Migration):

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("entitlements", "0005_event_id_constraint"),
        ("telegram_payments", "0014_customer"),
    ]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
