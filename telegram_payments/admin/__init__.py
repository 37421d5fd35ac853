"""The support staff's admin. Importing this package registers its ModelAdmins."""

from . import catalog, events, grants  # noqa: F401
