"""Foundation tables: workspace identity, settings and the audit trail."""

from sqlalchemy import Column, Integer, String, Table, Text

from spm_desktop.store.tables.base import metadata

workspace_info = Table(
    "workspace_info",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(128), primary_key=True),
    # Canonical JSON of the value.
    Column("value", Text, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("ts", String(32), nullable=False),  # UTC, ISO 8601 with microseconds
    Column("user", String(128), nullable=False),
    Column("action", String(64), nullable=False, index=True),
    Column("entity_type", String(64), nullable=False, index=True),
    Column("entity_id", String(256), nullable=False, index=True),
    Column("before", Text),  # canonical JSON or NULL
    Column("after", Text),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
