"""Tables of the statements area: issued statement files and their hashes.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "statements",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(128), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("draft", sa.Boolean(), nullable=False),
        sa.Column("page_size", sa.String(8), nullable=True),
        sa.Column("issued_by", sa.String(128), nullable=False),
        sa.Column("issued_at", sa.String(32), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("format IN ('pdf', 'xlsx')", name=op.f("ck_statements_format")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statements")),
    )
    op.create_index(op.f("ix_statements_run_id"), "statements", ["run_id"])
    op.create_index("ix_statements_period_participant_id", "statements", ["period", "participant_id"])


def downgrade() -> None:
    op.drop_index("ix_statements_period_participant_id", table_name="statements")
    op.drop_index(op.f("ix_statements_run_id"), table_name="statements")
    op.drop_table("statements")
