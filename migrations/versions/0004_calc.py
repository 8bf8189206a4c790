"""Tables of the calc area: plans, calculation runs, results, result lines and balances.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("period_kind", sa.String(16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("document_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_plans_name")),
    )
    op.create_table(
        "calc_runs",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=True),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("finished_at", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("input_fingerprint", sa.String(64), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("versions", sa.Text(), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("results_hash", sa.String(64), nullable=False),
        sa.Column("lines_hash", sa.String(64), nullable=False),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calc_runs")),
    )
    op.create_index(op.f("ix_calc_runs_period"), "calc_runs", ["period"])
    op.create_table(
        "results",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("row_kind", sa.String(16), nullable=False),
        sa.Column("participant_id", sa.String(64), nullable=False),
        sa.Column("participant_name", sa.String(200), nullable=True),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("plan", sa.String(200), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=True),
        sa.Column("component", sa.String(200), nullable=False),
        sa.Column("metric_key", sa.String(128), nullable=True),
        sa.Column("metric_version", sa.Integer(), nullable=True),
        sa.Column("metric_unit", sa.String(16), nullable=True),
        sa.Column("metric_value", sa.Text(), nullable=True),
        sa.Column("quota", sa.Text(), nullable=True),
        sa.Column("attainment", sa.Text(), nullable=True),
        sa.Column("earnings_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["calc_runs.id"], name=op.f("fk_results_run_id_calc_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_results")),
    )
    op.create_index(op.f("ix_results_run_id"), "results", ["run_id"])
    op.create_index("ix_results_run_id_participant_id", "results", ["run_id", "participant_id"])
    op.create_table(
        "result_lines",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=True),
        sa.Column("participant_id", sa.String(64), nullable=False),
        sa.Column("plan", sa.String(200), nullable=False),
        sa.Column("component", sa.String(200), nullable=False),
        sa.Column("line_kind", sa.String(16), nullable=False),
        sa.Column("deal_row_id", sa.Integer(), nullable=True),
        sa.Column("deal_id", sa.String(128), nullable=True),
        sa.Column("line_id", sa.String(128), nullable=True),
        sa.Column("credit_date", sa.Date(), nullable=True),
        sa.Column("share", sa.Text(), nullable=True),
        sa.Column("credit_kind", sa.String(16), nullable=True),
        sa.Column("via_participant_id", sa.String(64), nullable=True),
        sa.Column("amount", sa.Text(), nullable=True),
        sa.Column("deal_currency", sa.String(3), nullable=True),
        sa.Column("credited", sa.Text(), nullable=True),
        sa.Column("fx_rate", sa.Text(), nullable=True),
        sa.Column("bands", sa.Text(), nullable=True),
        sa.Column("rates", sa.Text(), nullable=True),
        sa.Column("exact_earnings", sa.Text(), nullable=True),
        sa.Column("earnings_minor", sa.Integer(), nullable=False),
        sa.Column("paid_now_minor", sa.Integer(), nullable=False),
        sa.Column("held_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("source_batch", sa.Integer(), nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["calc_runs.id"], name=op.f("fk_result_lines_run_id_calc_runs")),
        sa.ForeignKeyConstraint(["result_id"], ["results.id"], name=op.f("fk_result_lines_result_id_results")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result_lines")),
    )
    op.create_index(op.f("ix_result_lines_run_id"), "result_lines", ["run_id"])
    op.create_index(op.f("ix_result_lines_result_id"), "result_lines", ["result_id"])
    op.create_table(
        "calc_balances",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(64), nullable=False),
        sa.Column("plan", sa.String(200), nullable=False),
        sa.Column("component", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("amount", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["calc_runs.id"], name=op.f("fk_calc_balances_run_id_calc_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calc_balances")),
    )
    op.create_index(op.f("ix_calc_balances_run_id"), "calc_balances", ["run_id"])


def downgrade() -> None:
    op.drop_table("calc_balances")
    op.drop_table("result_lines")
    op.drop_table("results")
    op.drop_table("calc_runs")
    op.drop_table("plans")
