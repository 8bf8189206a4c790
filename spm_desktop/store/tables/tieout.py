"""Tables of the tie-out area: external figures, the id map, tie-outs and their explanations.

External figures (finance's booking report, payroll's register) are kept apart from the
record sets: ``tieout_sources`` contains one row per imported file with its SHA-256, and
``tieout_rows`` its figures, amounts in 1/10,000 units (``_e4``). ``tieout_id_map``
stores confirmed pairs of our id and their id, so a later tie-out matches on id.
``tieouts`` contains one row per tie-out run with its figures. The close area reads
``period``, ``signed_off_by`` and ``signed_off_at`` from it.
"""

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from spm_desktop.store.tables.base import metadata

TIEOUT_KINDS = ("credits", "payouts")

tieout_sources = Table(
    "tieout_sources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # credits | payouts
    Column("period", String(32), nullable=False, index=True),
    Column("file_name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("sheet", Text),
    Column("mapping", Text, nullable=False),  # JSON: the column mapping used
    Column("row_count", Integer, nullable=False),
    Column("imported_by", String(128), nullable=False),
    Column("imported_at", String(32), nullable=False),
)

tieout_rows = Table(
    "tieout_rows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_id", Integer, ForeignKey("tieout_sources.id"), nullable=False, index=True),
    Column("source_row", Integer),
    Column("external_id", Text, nullable=False),
    Column("our_id", Text),
    Column("participant_id", String(128)),
    Column("period", String(32)),
    Column("customer", Text),
    Column("date", String(10)),  # ISO date
    Column("amount_e4", BigInteger, nullable=False),
    Column("currency", String(3)),
    Column("note", Text),
)

tieout_id_map = Table(
    "tieout_id_map",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("their_id", Text, nullable=False),
    Column("our_id", Text, nullable=False),
    Column("confirmed_by", String(128), nullable=False),
    Column("confirmed_at", String(32), nullable=False),
    UniqueConstraint("kind", "their_id", name="uq_tieout_id_map_kind_their_id"),
)

tieouts = Table(
    "tieouts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("period", String(32), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("source_id", Integer, ForeignKey("tieout_sources.id"), nullable=False),
    Column("run_id", Integer),  # the calculation run our side came from; NULL for metric-based credits
    Column("basis", Text, nullable=False),  # where our figures came from, in words
    Column("options", Text, nullable=False),  # JSON: key fields, date window, tolerances
    Column("figures", Text, nullable=False),  # JSON: totals and counts per status
    Column("created_by", String(128), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("signed_off_by", String(128)),
    Column("signed_off_at", String(32)),
)

tieout_explanations = Table(
    "tieout_explanations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tieout_id", Integer, ForeignKey("tieouts.id"), nullable=False),
    Column("line_key", Text, nullable=False),  # "our id|their id" of the finding
    Column("reason_code", String(64), nullable=False),
    Column("note", Text),
    Column("adjustment_id", Integer),  # the close area's adjustments.id when turned into an adjustment
    Column("explained_by", String(128), nullable=False),
    Column("explained_at", String(32), nullable=False),
    Index("ix_tieout_explanations_tieout_id_line_key", "tieout_id", "line_key"),
)
