"""The support staff's admin. Importing this package registers its ModelAdmins and names the site."""

from telegram_payments.admin import catalog, customers, events, grants, site  # noqa: F401
