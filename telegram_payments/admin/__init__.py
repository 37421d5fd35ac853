"""The support staff's admin. Importing this package registers its ModelAdmins, and those of the
entitlements app, on the host's admin site (`django.contrib.admin.site`), renaming nothing."""

from telegram_payments.admin import bots, catalog, customers, entitlements, events  # noqa: F401
