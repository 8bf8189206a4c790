"""Tables of the close area: period states, inquiries and adjustments.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Kept equal to the tuples in spm_desktop/store/tables/close.py; a migration must not
# import application code that later versions may change.
PERIOD_STATES = "state IN ('open', 'calculated', 'approved', 'closed')"
INQUIRY_STATES = "state IN ('open', 'answered', 'resolved')"
ADJUSTMENT_STATUSES = "status IN ('pending', 'approved', 'rejected')"
ADJUSTMENT_SOURCES = "source IN ('manual', 'prior_period', 'inquiry', 'import')"


def upgrade() -> None:
    op.create_table(
        "period_states",
        sa.Column("label", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("latest_run_id", sa.Integer(), nullable=True),
        sa.Column("calculated_by", sa.String(128), nullable=True),
        sa.Column("calculated_at", sa.String(32), nullable=True),
        sa.Column("approved_run_id", sa.Integer(), nullable=True),
        sa.Column("approved_by", sa.String(128), nullable=True),
        sa.Column("approved_at", sa.String(32), nullable=True),
        sa.Column("closed_by", sa.String(128), nullable=True),
        sa.Column("closed_at", sa.String(32), nullable=True),
        sa.Column("closed_inputs", sa.String(64), nullable=True),
        sa.CheckConstraint(PERIOD_STATES, name=op.f("ck_period_states_state")),
        sa.PrimaryKeyConstraint("label", name=op.f("pk_period_states")),
    )
    op.create_table(
        "inquiries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("participant_id", sa.String(128), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("result_line_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("raised_by", sa.String(128), nullable=False),
        sa.Column("raised_at", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(128), nullable=True),
        sa.Column("answered_at", sa.String(32), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(128), nullable=True),
        sa.Column("resolved_at", sa.String(32), nullable=True),
        sa.CheckConstraint(INQUIRY_STATES, name=op.f("ck_inquiries_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inquiries")),
    )
    op.create_index(op.f("ix_inquiries_participant_id"), "inquiries", ["participant_id"])
    op.create_index(op.f("ix_inquiries_period"), "inquiries", ["period"])
    op.create_table(
        "adjustments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("participant_id", sa.String(128), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason_code", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approved_by", sa.String(128), nullable=True),
        sa.Column("approved_at", sa.String(32), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_period", sa.String(32), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("inquiry_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.CheckConstraint(ADJUSTMENT_STATUSES, name=op.f("ck_adjustments_status")),
        sa.CheckConstraint(ADJUSTMENT_SOURCES, name=op.f("ck_adjustments_source")),
        sa.ForeignKeyConstraint(["inquiry_id"], ["inquiries.id"], name=op.f("fk_adjustments_inquiry_id_inquiries")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adjustments")),
    )
    op.create_index(op.f("ix_adjustments_participant_id"), "adjustments", ["participant_id"])
    op.create_index(op.f("ix_adjustments_period"), "adjustments", ["period"])


def downgrade() -> None:
    op.drop_table("adjustments")
    op.drop_table("inquiries")
    op.drop_table("period_states")
