"""Drop the index on the owner of deals: no query looks deals up by owner.

Every import of more than 100,000 deals rebuilt it, which took about 0.6 s per
1,000,000 deals, and the calculation reads the deals of a period by close date.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f("ix_records_deals_owner"), table_name="records_deals")


def downgrade() -> None:
    op.create_index(op.f("ix_records_deals_owner"), "records_deals", ["owner"])
