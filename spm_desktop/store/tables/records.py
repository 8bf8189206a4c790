"""Tables of imported records, their import batches, value aliases and saved mappings.

Every record set of ``domain.records`` has one table, named ``records_<set>`` (so
``records_deals``), with a column per field:

* ``id`` and ``text`` fields are TEXT, so identifiers keep leading zeros;
* ``money`` fields are INTEGER counts of 1/10,000 named ``<field>_e4``;
* ``decimal`` fields (shares, rates, quantities) are TEXT holding the exact decimal;
* ``date`` fields are TEXT ``YYYY-MM-DD`` and ``datetime`` fields TEXT ``YYYY-MM-DD HH:MM:SS``;
* ``integer`` fields are INTEGER.

Each row also stores ``batch_id`` (the import that last wrote it, NULL for rows that
no import wrote), ``source_row`` (the 1-based row in that file), ``attributes`` (a JSON
object of the columns the mapping did not name, values as text, NULL when there are
none) and ``record_key`` (unique per table: ``json.dumps`` of the natural key's values
as a list, such as ``["D-1", null, "sale"]``, or a digest of the whole record for sets
without a natural key; see ``importing.records.record_key``). ``stage_history`` and ``activities`` carry
``generated``, true for rows that the demo generator made up.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from spm_desktop.domain.records import RECORD_SETS, FieldSpec
from spm_desktop.store.tables.base import metadata

import_batches = Table(
    "import_batches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("record_set", String(32), nullable=False, index=True),
    Column("file_name", Text, nullable=False),
    Column("file_sha256", String(64), nullable=False, index=True),
    Column("sheet", Text),
    Column("mapping", Text, nullable=False),  # canonical JSON of the mapping document
    Column("imported_at", String(32), nullable=False),  # UTC, ISO 8601
    Column("imported_by", String(128), nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("added", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),  # totals, subtotals and blank rows
    Column("problem_count", Integer, nullable=False),
    # Canonical JSON list of the first problems (see import_service.STORED_PROBLEMS).
    Column("problems", Text),
)

aliases = Table(
    "aliases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("record_set", String(32), nullable=False),
    Column("field", String(64), nullable=False),
    Column("from_value", Text, nullable=False),
    Column("to_value", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(128), nullable=False),
    UniqueConstraint("record_set", "field", "from_value", name="uq_aliases_record_set"),
)

saved_mappings = Table(
    "saved_mappings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("record_set", String(32), nullable=False, index=True),
    Column("name", Text, nullable=False),
    # Glob of file names the mapping was saved for, such as "sales_pipeline*.csv".
    Column("file_pattern", Text),
    # Normalised header cells joined by "|", to find the mapping for a file of the same shape.
    Column("header_signature", Text, nullable=False),
    Column("headers", Text, nullable=False),  # canonical JSON list of the header cells
    Column("mapping", Text, nullable=False),  # canonical JSON of the mapping document
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("updated_by", String(128), nullable=False),
    UniqueConstraint("record_set", "name", name="uq_saved_mappings_record_set"),
)

# Indexes per record set besides the unique record_key index. Each index costs time on
# every import, so only lookups that other areas make are indexed.
INDEXED_FIELDS: dict[str, tuple[str, ...]] = {
    "participants": ("manager_id",),
    "hierarchy": ("participant_id",),
    "deals": ("close_date",),
    "credit_splits": ("deal_id", "participant_id"),
    "quotas": ("participant_id", "period"),
    "stage_history": ("deal_id",),
    "activities": ("participant_id", "date"),
    "fx_rates": ("date",),
    "adjustments": ("participant_id", "period"),
}

# Record sets whose tables carry the ``generated`` flag.
GENERATED_FLAG_SETS = ("stage_history", "activities")


def column_name(field: FieldSpec) -> str:
    """Return the table column of a field: money fields get the ``_e4`` suffix."""
    return f"{field.name}_e4" if field.kind == "money" else field.name


def table_name(record_set: str) -> str:
    """Return the table name of a record set: ``records_`` and the canonical set name."""
    return f"records_{record_set}"


def _field_column(field: FieldSpec, indexed: bool) -> Column:
    if field.kind in ("money", "integer"):
        column_type = BigInteger
    elif field.kind == "date":
        column_type = String(10)
    elif field.kind == "datetime":
        column_type = String(19)
    else:
        column_type = Text
    return Column(column_name(field), column_type, nullable=not field.required, index=indexed)


def _record_table(name: str) -> Table:
    spec = RECORD_SETS[name]
    indexed = INDEXED_FIELDS.get(name, ())
    columns = [Column("id", Integer, primary_key=True)]
    columns += [_field_column(field, field.name in indexed) for field in spec.fields]
    columns += [
        Column("attributes", Text),
        Column("batch_id", Integer, ForeignKey("import_batches.id")),
        Column("source_row", Integer),
        # A unique index rather than a constraint, so a large import can drop and rebuild it.
        Column("record_key", Text, nullable=False, unique=True, index=True),
    ]
    if name in GENERATED_FLAG_SETS:
        columns.append(Column("generated", Boolean, nullable=False, server_default="0"))
    return Table(table_name(name), metadata, *columns)


RECORD_TABLES: dict[str, Table] = {name: _record_table(name) for name in RECORD_SETS}

participants = RECORD_TABLES["participants"]
hierarchy = RECORD_TABLES["hierarchy"]
deals = RECORD_TABLES["deals"]
credit_splits = RECORD_TABLES["credit_splits"]
quotas = RECORD_TABLES["quotas"]
stage_history = RECORD_TABLES["stage_history"]
activities = RECORD_TABLES["activities"]
fx_rates = RECORD_TABLES["fx_rates"]
adjustments = RECORD_TABLES["adjustments"]
