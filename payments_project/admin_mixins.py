"""Admin building blocks shared by the apps (neither app imports the other's admin)."""


class ReadOnlyAdminMixin:
    """Rows written by services only: staff may look, never add, change or delete, superusers included.

    Mix into a ModelAdmin or an inline, before it: `class XAdmin(ReadOnlyAdminMixin, admin.ModelAdmin)`.
    """

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
