"""Tables of the metric catalog: one row per metric, its immutable versions and its events.

A change to what a metric counts adds a ``metric_versions`` row with the next version
number, its author, time and reason. The service never updates or deletes version rows.
The status (draft, approved, retired) belongs to the metric and changes in place. Every
status change, adoption and new version is also written to ``metric_events``.
"""

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from spm_desktop.store.tables.base import metadata

metrics = Table(
    "metrics",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("current_version", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # draft | approved | retired
    Column("created_at", String(32), nullable=False),  # UTC, ISO 8601
    Column("updated_at", String(32), nullable=False),
)

metric_versions = Table(
    "metric_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(100), ForeignKey("metrics.key"), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("tier", String(16), nullable=False),  # primary | supporting
    Column("description", Text, nullable=False),
    Column("source", String(32), nullable=False),
    Column("filter", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("date_field", String(64), nullable=False),
    Column("unit", String(16), nullable=False),
    Column("extra", Text),  # canonical JSON of the document keys the application does not know
    Column("content_hash", String(64), nullable=False),  # SHA-256 of the canonical JSON of the content
    Column("author", String(128), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("reason", Text),
    UniqueConstraint("key", "version"),
)

metric_events = Table(
    "metric_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(100), ForeignKey("metrics.key"), nullable=False, index=True),
    Column("action", String(32), nullable=False),  # created | changed | status | adopted | superseded
    Column("version", Integer, nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16)),
    Column("other_key", String(100)),  # the other metric of an adoption
    Column("author", String(128), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("reason", Text),
)
