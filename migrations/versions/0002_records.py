"""Imported records, import batches, value aliases and saved column mappings.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

RECORD_TABLES = (
    "participants", "hierarchy", "deals", "credit_splits", "quotas",
    "stage_history", "activities", "fx_rates", "adjustments",
)


def upgrade() -> None:
    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_set", sa.String(32), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("sheet", sa.Text(), nullable=True),
        sa.Column("mapping", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.String(32), nullable=False),
        sa.Column("imported_by", sa.String(128), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("problem_count", sa.Integer(), nullable=False),
        sa.Column("problems", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batches")),
    )
    op.create_index(op.f("ix_import_batches_file_sha256"), "import_batches", ["file_sha256"])
    op.create_index(op.f("ix_import_batches_record_set"), "import_batches", ["record_set"])
    op.create_table(
        "aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_set", sa.String(32), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("from_value", sa.Text(), nullable=False),
        sa.Column("to_value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aliases")),
        sa.UniqueConstraint("record_set", "field", "from_value", name=op.f("uq_aliases_record_set")),
    )
    op.create_table(
        "saved_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_set", sa.String(32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("file_pattern", sa.Text(), nullable=True),
        sa.Column("header_signature", sa.Text(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("mapping", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_mappings")),
        sa.UniqueConstraint("record_set", "name", name=op.f("uq_saved_mappings_record_set")),
    )
    op.create_index(op.f("ix_saved_mappings_record_set"), "saved_mappings", ["record_set"])
    op.create_table(
        "records_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("manager_id", sa.Text(), nullable=True),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("territory", sa.Text(), nullable=True),
        sa.Column("hire_date", sa.String(10), nullable=True),
        sa.Column("termination_date", sa.String(10), nullable=True),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("ote_e4", sa.BigInteger(), nullable=True),
        sa.Column("target_incentive_e4", sa.BigInteger(), nullable=True),
        sa.Column("payroll_id", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(),
            sa.ForeignKey("import_batches.id", name=op.f("fk_records_participants_batch_id_import_batches")), nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_participants")),
    )
    op.create_index(op.f("ix_records_participants_record_key"), "records_participants", ["record_key"], unique=True)
    op.create_index(op.f("ix_records_participants_manager_id"), "records_participants", ["manager_id"])
    op.create_table(
        "records_hierarchy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Text(), nullable=False),
        sa.Column("manager_id", sa.Text(), nullable=True),
        sa.Column("territory", sa.Text(), nullable=True),
        sa.Column("start_date", sa.String(10), nullable=False),
        sa.Column("end_date", sa.String(10), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(),
            sa.ForeignKey("import_batches.id", name=op.f("fk_records_hierarchy_batch_id_import_batches")), nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_hierarchy")),
    )
    op.create_index(op.f("ix_records_hierarchy_record_key"), "records_hierarchy", ["record_key"], unique=True)
    op.create_index(op.f("ix_records_hierarchy_participant_id"), "records_hierarchy", ["participant_id"])
    op.create_table(
        "records_deals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Text(), nullable=False),
        sa.Column("line_id", sa.Text(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("amount_e4", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("close_date", sa.String(10), nullable=True),
        sa.Column("created_date", sa.String(10), nullable=True),
        sa.Column("stage", sa.Text(), nullable=True),
        sa.Column("product", sa.Text(), nullable=True),
        sa.Column("customer", sa.Text(), nullable=True),
        sa.Column("type", sa.Text(), nullable=True),
        sa.Column("reference_deal_id", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Text(), nullable=True),
        sa.Column("cost_e4", sa.BigInteger(), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(),
            sa.ForeignKey("import_batches.id", name=op.f("fk_records_deals_batch_id_import_batches")), nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_deals")),
    )
    op.create_index(op.f("ix_records_deals_record_key"), "records_deals", ["record_key"], unique=True)
    op.create_index(op.f("ix_records_deals_close_date"), "records_deals", ["close_date"])
    op.create_index(op.f("ix_records_deals_owner"), "records_deals", ["owner"])
    op.create_table(
        "records_credit_splits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Text(), nullable=False),
        sa.Column("participant_id", sa.Text(), nullable=False),
        sa.Column("share", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(),
            sa.ForeignKey("import_batches.id", name=op.f("fk_records_credit_splits_batch_id_import_batches")), nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_credit_splits")),
    )
    op.create_index(op.f("ix_records_credit_splits_record_key"), "records_credit_splits", ["record_key"], unique=True)
    op.create_index(op.f("ix_records_credit_splits_deal_id"), "records_credit_splits", ["deal_id"])
    op.create_index(op.f("ix_records_credit_splits_participant_id"), "records_credit_splits", ["participant_id"])
    op.create_table(
        "records_quotas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Text(), nullable=False),
        sa.Column("quota_key", sa.Text(), nullable=False),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("amount_e4", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(),
            sa.ForeignKey("import_batches.id", name=op.f("fk_records_quotas_batch_id_import_batches")), nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_quotas")),
    )
    op.create_index(op.f("ix_records_quotas_record_key"), "records_quotas", ["record_key"], unique=True)
    op.create_index(op.f("ix_records_quotas_participant_id"), "records_quotas", ["participant_id"])
    op.create_index(op.f("ix_records_quotas_period"), "records_quotas", ["period"])
    op.create_table(
        "records_stage_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.String(19), nullable=False),
        sa.Column("stage", sa.Text(), nullable=True),
        sa.Column("forecast_category", sa.Text(), nullable=True),
        sa.Column("amount_e4", sa.BigInteger(), nullable=True),
        sa.Column("close_date", sa.String(10), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(),
            sa.ForeignKey("import_batches.id", name=op.f("fk_records_stage_history_batch_id_import_batches")), nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.Column("generated", sa.Boolean(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_stage_history")),
    )
    op.create_index(op.f("ix_records_stage_history_record_key"), "records_stage_history", ["record_key"], unique=True)
    op.create_index(op.f("ix_records_stage_history_deal_id"), "records_stage_history", ["deal_id"])
    op.create_table(
        "records_activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Text(), nullable=False),
        sa.Column("date", sa.String(10), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=True),
        sa.Column("deal_id", sa.Text(), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(),
            sa.ForeignKey("import_batches.id", name=op.f("fk_records_activities_batch_id_import_batches")), nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.Column("generated", sa.Boolean(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_activities")),
    )
    op.create_index(op.f("ix_records_activities_record_key"), "records_activities", ["record_key"], unique=True)
    op.create_index(op.f("ix_records_activities_date"), "records_activities", ["date"])
    op.create_index(op.f("ix_records_activities_participant_id"), "records_activities", ["participant_id"])
    op.create_table(
        "records_fx_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("date", sa.String(10), nullable=False),
        sa.Column("from_currency", sa.Text(), nullable=False),
        sa.Column("to_currency", sa.Text(), nullable=False),
        sa.Column("rate", sa.Text(), nullable=False),
        sa.Column("rate_type", sa.Text(), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(),
            sa.ForeignKey("import_batches.id", name=op.f("fk_records_fx_rates_batch_id_import_batches")), nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_fx_rates")),
    )
    op.create_index(op.f("ix_records_fx_rates_record_key"), "records_fx_rates", ["record_key"], unique=True)
    op.create_index(op.f("ix_records_fx_rates_date"), "records_fx_rates", ["date"])
    op.create_table(
        "records_adjustments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Text(), nullable=False),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("amount_e4", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("reason_code", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(),
            sa.ForeignKey("import_batches.id", name=op.f("fk_records_adjustments_batch_id_import_batches")), nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_adjustments")),
    )
    op.create_index(op.f("ix_records_adjustments_record_key"), "records_adjustments", ["record_key"], unique=True)
    op.create_index(op.f("ix_records_adjustments_participant_id"), "records_adjustments", ["participant_id"])
    op.create_index(op.f("ix_records_adjustments_period"), "records_adjustments", ["period"])


def downgrade() -> None:
    for name in reversed(RECORD_TABLES):
        op.drop_table(f"records_{name}")
    op.drop_table("saved_mappings")
    op.drop_table("aliases")
    op.drop_table("import_batches")
