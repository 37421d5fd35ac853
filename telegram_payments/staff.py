"""The two staff roles as groups, for a project that wants them (`manage.py create_support_groups`):
Support (look at everything, refund, replay, grant, revoke, dismiss a failed payment, stop or resume
renewals, export; not edit the catalog) and Catalog managers (view, add and change products).

A project that has its own roles gives these permissions its own way; the app creates no group by itself.
"""

from django.contrib.auth.models import Group, Permission

SUPPORT = {
    "telegram_payments": [
        "view_stripeevent", "change_stripeevent", "refund_payment", "manage_subscription", "grant_entitlement",
        "resolve_failure", "view_refundevent", "view_customer", "view_invoice", "view_precheckoutanswer",
        "view_product", "view_subscription",
    ],
    "entitlements": ["view_entitlement", "change_entitlement", "view_outboxmessage", "view_deliveryattempt"],
}
CATALOG_MANAGERS = {"telegram_payments": ["view_product", "add_product", "change_product"]}
GROUPS = {"Support": SUPPORT, "Catalog managers": CATALOG_MANAGERS}


def create_support_groups() -> dict[str, Group]:
    """Create the groups (or add the permissions to existing ones of these names); running it again
    changes nothing. Needs the apps' permissions, which `migrate` creates."""
    groups = {}
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, names in codenames.items():
            permissions = Permission.objects.filter(content_type__app_label=app_label, codename__in=names)
            missing = set(names) - set(permissions.values_list("codename", flat=True))
            if missing:
                raise LookupError(f"permissions {sorted(missing)} of {app_label} not found: run migrate first")
            group.permissions.add(*permissions)
        groups[name] = group
    return groups
