"""Tables of the statements area: every issued statement file and payroll export, with its hashes.

A row is written when a statement file is issued, in the same transaction as its audit
entry, which records the row's ``row_hash`` (SHA-256 of the row's other columns). So an
edited row no longer matches the trail and ``spm audit verify`` names it by id.
Run ids point into the calc area's ``calc_runs`` without a foreign key, so this area does
not depend on the order in which areas migrate.
"""

from sqlalchemy import Boolean, CheckConstraint, Column, Index, Integer, String, Table

from spm_desktop.store.tables.base import metadata

STATEMENT_FORMATS = ("pdf", "xlsx")

statements = Table(
    "statements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", Integer, nullable=False, index=True),
    Column("participant_id", String(128), nullable=False),
    Column("period", String(32), nullable=False),
    Column("format", String(8), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    # SHA-256 of the statement's canonical content, printed in its audit footer.
    Column("content_sha256", String(64), nullable=False),
    Column("draft", Boolean, nullable=False),
    Column("page_size", String(8)),  # A4 or LETTER for PDF files; NULL for XLSX
    Column("issued_by", String(128), nullable=False),
    Column("issued_at", String(32), nullable=False),  # UTC, ISO 8601 with microseconds
    Column("row_hash", String(64), nullable=False),
    CheckConstraint("format IN ('pdf', 'xlsx')", name="format"),
    Index("ix_statements_period_participant_id", "period", "participant_id"),
)
