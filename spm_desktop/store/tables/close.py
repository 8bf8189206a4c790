"""Tables of the close area: period states, payout adjustments and participant inquiries.

Timestamps are UTC ISO 8601 text with microseconds, as in the audit trail, so they sort
as text. Money is integer minor units of the row's currency (suffix ``_minor``).
Run and result-line ids point into the calc area's tables without a foreign key, so the
close tables do not depend on the order in which areas migrate.
"""

from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Integer, String, Table, Text

from spm_desktop.store.tables.base import metadata

PERIOD_STATES = ("open", "calculated", "approved", "closed")
ADJUSTMENT_STATUSES = ("pending", "approved", "rejected")
ADJUSTMENT_SOURCES = ("manual", "prior_period", "inquiry", "import")
INQUIRY_STATES = ("open", "answered", "resolved")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


period_states = Table(
    "period_states",
    metadata,
    Column("label", String(32), primary_key=True),
    Column("state", String(16), nullable=False),
    # First and last day (inclusive) of the period, read from the label; NULL when the
    # label could not be read (then the period sorts by label).
    Column("start_date", Date),
    Column("end_date", Date),
    Column("latest_run_id", Integer),
    Column("calculated_by", String(128)),
    Column("calculated_at", String(32)),
    Column("approved_run_id", Integer),
    Column("approved_by", String(128)),
    Column("approved_at", String(32)),
    Column("closed_by", String(128)),
    Column("closed_at", String(32)),
    # SHA-256 of the records that can change the period's earnings, taken when it closed,
    # so a later calculation recomputes the closed period only when they changed.
    Column("closed_inputs", String(64)),
    CheckConstraint(_one_of("state", PERIOD_STATES), name="state"),
)

inquiries = Table(
    "inquiries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("participant_id", String(128), nullable=False, index=True),
    Column("period", String(32), nullable=False, index=True),
    # The statement line asked about (calc area's result_lines.id); NULL for a question
    # about the statement as a whole.
    Column("result_line_id", Integer),
    Column("text", Text, nullable=False),
    Column("raised_by", String(128), nullable=False),
    Column("raised_at", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("answer", Text),
    Column("answered_by", String(128)),
    Column("answered_at", String(32)),
    Column("resolution", Text),
    Column("resolved_by", String(128)),
    Column("resolved_at", String(32)),
    CheckConstraint(_one_of("state", INQUIRY_STATES), name="state"),
)

adjustments = Table(
    "adjustments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("participant_id", String(128), nullable=False, index=True),
    Column("period", String(32), nullable=False, index=True),
    Column("amount_minor", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason_code", String(64), nullable=False),
    Column("note", Text),
    Column("author", String(128), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    # Who approved or rejected the adjustment, and when.
    Column("approved_by", String(128)),
    Column("approved_at", String(32)),
    Column("decision_note", Text),
    Column("source", String(16), nullable=False),
    # Prior-period adjustments: the closed period they correct and the calculation run
    # of the open period that carried them.
    Column("source_period", String(32)),
    Column("run_id", Integer),
    Column("inquiry_id", Integer, ForeignKey("inquiries.id")),
    # Canonical JSON: cause, components and affected deals of a prior-period adjustment.
    Column("detail", Text),
    CheckConstraint(_one_of("status", ADJUSTMENT_STATUSES), name="status"),
    CheckConstraint(_one_of("source", ADJUSTMENT_SOURCES), name="source"),
)
