"""The support staff's admin. Importing this package registers its ModelAdmins."""

from . import catalog, customers, events, grants  # noqa: F401
