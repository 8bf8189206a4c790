"""Tables of the statements area; filled in by the migration of the same area."""

from spm_desktop.store.tables.base import metadata  # noqa: F401
