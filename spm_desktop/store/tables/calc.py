"""Tables of the calc area: plan versions, calculation runs, results and result lines.

Plan versions are immutable: saving a change adds a row with the next version number,
and only ``status`` changes in place. A calculation run and all its results, lines and
balances are written in one transaction together with the run's audit entry, so a run
exists completely or not at all. Every result and line carries ``row_hash``, the SHA-256
of its content, and the audit entry of the run records a hash over all row hashes.

Money that the engine calculated is stored in the currency's minor unit (``_minor``).
Exact decimals (metric values, quotas, attainment, shares, FX rates, unrounded earnings)
are stored as text, so nothing passes through binary floating point.
"""

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from spm_desktop.store.tables.base import metadata

PLAN_STATUSES = ("draft", "active", "retired")
RUN_KINDS = ("official", "scenario")
RESULT_ROW_KINDS = ("component", "draw", "adjustments", "total")
# A line's kind: a credited sale, a reversal, a clawback, a hold release, the draw or an
# adjustment. The engine also adds component-level lines: a year-to-date true-up, the
# part a cap or gate removed, and a bonus or formula payout.
LINE_KINDS = ("sale", "reversal", "clawback", "release", "draw", "adjustment", "true_up", "cap", "gate", "bonus",
              "formula")

plans = Table(
    "plans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("effective_to", Date),  # inclusive; NULL means open-ended
    Column("period_kind", String(16), nullable=False),  # week | two_weeks | month | quarter | year
    Column("period_start", Date),  # first day of a week or two-week cycle
    Column("currency", String(3), nullable=False),
    Column("document", Text, nullable=False),  # the plan YAML exactly as loaded or saved
    Column("document_hash", String(64), nullable=False),  # SHA-256 of document (UTF-8)
    Column("status", String(16), nullable=False),
    Column("author", String(128), nullable=False),
    Column("created_at", String(32), nullable=False),  # UTC, ISO 8601
    Column("reason", Text),
    UniqueConstraint("name", "version"),
)

calc_runs = Table(
    "calc_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("period", String(32), nullable=False, index=True),  # the plan period's label
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),  # inclusive
    Column("kind", String(16), nullable=False),  # official | scenario
    Column("scenario_id", Integer),  # set for scenario runs only
    Column("user", String(128), nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32), nullable=False),
    Column("status", String(32), nullable=False),  # complete | complete_with_problems
    Column("input_fingerprint", String(64), nullable=False),  # SHA-256 over the per-input fingerprints
    Column("inputs", Text, nullable=False),  # JSON: input name -> SHA-256 of what was read
    Column("versions", Text, nullable=False),  # JSON: plan and metric versions used
    Column("problems", Text, nullable=False),  # JSON list of problem records
    Column("results_hash", String(64), nullable=False),  # SHA-256 over the ordered result row hashes
    Column("lines_hash", String(64), nullable=False),  # SHA-256 over the ordered line row hashes
    Column("superseded", Boolean, nullable=False, default=False),
)

results = Table(
    "results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", Integer, ForeignKey("calc_runs.id"), nullable=False, index=True),
    Column("row_kind", String(16), nullable=False),  # component | draw | adjustments | total
    Column("participant_id", String(64), nullable=False),
    Column("participant_name", String(200)),
    Column("period", String(32), nullable=False),
    Column("plan", String(200), nullable=False),
    Column("plan_version", Integer),
    Column("component", String(200), nullable=False),
    Column("metric_key", String(128)),
    Column("metric_version", Integer),
    Column("metric_unit", String(16)),  # currency | count | ratio | days; decides how metric_value prints
    Column("metric_value", Text),
    Column("quota", Text),
    Column("attainment", Text),
    Column("earnings_minor", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("row_hash", String(64), nullable=False),
    Index("ix_results_run_id_participant_id", "run_id", "participant_id"),
)

result_lines = Table(
    "result_lines",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", Integer, ForeignKey("calc_runs.id"), nullable=False, index=True),
    Column("result_id", Integer, ForeignKey("results.id"), index=True),
    Column("participant_id", String(64), nullable=False),
    Column("plan", String(200), nullable=False),
    Column("component", String(200), nullable=False),
    Column("line_kind", String(16), nullable=False),  # one of LINE_KINDS
    Column("deal_row_id", Integer),  # the deals row the line was calculated from
    Column("deal_id", String(128)),
    Column("line_id", String(128)),
    Column("credit_date", Date),
    Column("share", Text),
    Column("credit_kind", String(16)),  # owner | split | overlay | team
    Column("via_participant_id", String(64)),  # the team member whose credit rolled up to a manager
    Column("amount", Text),  # the deal amount in the deal's currency, exact
    Column("deal_currency", String(3)),
    Column("credited", Text),  # credited amount in the plan currency, exact
    Column("fx_rate", Text),
    Column("bands", Text),  # JSON list of the bands the line fell in
    Column("rates", Text),  # JSON list of the rates applied
    Column("exact_earnings", Text),
    Column("earnings_minor", Integer, nullable=False),  # the statement line (largest remainder)
    Column("paid_now_minor", Integer, nullable=False),  # the part paid in this period
    Column("held_minor", Integer, nullable=False),  # the part held back until a later period
    Column("currency", String(3), nullable=False),
    Column("source_batch", Integer),
    Column("source_row", Integer),
    Column("note", Text),
    Column("row_hash", String(64), nullable=False),
)

# Balances a run carries into later periods of the plan year (draw balances and held
# amounts), one row per participant, plan, component and kind.
calc_balances = Table(
    "calc_balances",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", Integer, ForeignKey("calc_runs.id"), nullable=False, index=True),
    Column("participant_id", String(64), nullable=False),
    Column("plan", String(200), nullable=False),
    Column("component", String(200)),
    Column("kind", String(32), nullable=False),  # draw_balance | held | ...
    Column("amount", Text, nullable=False),  # exact decimal in the plan currency
    Column("currency", String(3), nullable=False),
    Column("detail", Text),  # JSON
    Column("row_hash", String(64), nullable=False),
)
