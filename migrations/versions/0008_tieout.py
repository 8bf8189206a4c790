"""Tables of the tieout area: external figures, the id map, tie-outs and explanations.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tieout_sources",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("sheet", sa.Text(), nullable=True),
        sa.Column("mapping", sa.Text(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.String(128), nullable=False),
        sa.Column("imported_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tieout_sources")),
    )
    op.create_index(op.f("ix_tieout_sources_period"), "tieout_sources", ["period"])
    op.create_table(
        "tieout_rows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("our_id", sa.Text(), nullable=True),
        sa.Column("participant_id", sa.String(128), nullable=True),
        sa.Column("period", sa.String(32), nullable=True),
        sa.Column("customer", sa.Text(), nullable=True),
        sa.Column("date", sa.String(10), nullable=True),
        sa.Column("amount_e4", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["tieout_sources.id"],
                                name=op.f("fk_tieout_rows_source_id_tieout_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tieout_rows")),
    )
    op.create_index(op.f("ix_tieout_rows_source_id"), "tieout_rows", ["source_id"])
    op.create_table(
        "tieout_id_map",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("their_id", sa.Text(), nullable=False),
        sa.Column("our_id", sa.Text(), nullable=False),
        sa.Column("confirmed_by", sa.String(128), nullable=False),
        sa.Column("confirmed_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tieout_id_map")),
        sa.UniqueConstraint("kind", "their_id", name="uq_tieout_id_map_kind_their_id"),
    )
    op.create_table(
        "tieouts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("signed_off_by", sa.String(128), nullable=True),
        sa.Column("signed_off_at", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["tieout_sources.id"],
                                name=op.f("fk_tieouts_source_id_tieout_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tieouts")),
    )
    op.create_index(op.f("ix_tieouts_period"), "tieouts", ["period"])
    op.create_table(
        "tieout_explanations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tieout_id", sa.Integer(), nullable=False),
        sa.Column("line_key", sa.Text(), nullable=False),
        sa.Column("reason_code", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("adjustment_id", sa.Integer(), nullable=True),
        sa.Column("explained_by", sa.String(128), nullable=False),
        sa.Column("explained_at", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(["tieout_id"], ["tieouts.id"],
                                name=op.f("fk_tieout_explanations_tieout_id_tieouts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tieout_explanations")),
    )
    op.create_index("ix_tieout_explanations_tieout_id_line_key", "tieout_explanations", ["tieout_id", "line_key"])


def downgrade() -> None:
    op.drop_table("tieout_explanations")
    op.drop_table("tieouts")
    op.drop_table("tieout_id_map")
    op.drop_table("tieout_rows")
    op.drop_table("tieout_sources")
