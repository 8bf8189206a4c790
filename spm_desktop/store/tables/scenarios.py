"""Tables of the scenarios area: what-if copies of plans and their quota overrides.

A scenario stores its own plan document (a copy of a plan version, then edited) and may
override quotas for named participants and periods. Its calculation runs are stored in
``calc_runs`` with kind ``scenario`` and this table's id in ``scenario_id``, so they
never mix with official results.
"""

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from spm_desktop.store.tables.base import metadata

scenarios = Table(
    "scenarios",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("base_plan", String(200), nullable=False),  # the plan name the scenario replaces when it runs
    Column("base_version", Integer, nullable=False),  # the plan version it was copied from
    Column("document", Text, nullable=False),  # the scenario's plan YAML
    Column("document_hash", String(64), nullable=False),  # SHA-256 of document (UTF-8)
    Column("description", Text),
    Column("created_by", String(128), nullable=False),
    Column("created_at", String(32), nullable=False),  # UTC, ISO 8601
    Column("updated_by", String(128), nullable=False),
    Column("updated_at", String(32), nullable=False),
)

scenario_quotas = Table(
    "scenario_quotas",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scenario_id", Integer, ForeignKey("scenarios.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("participant_id", String(64), nullable=False),
    Column("quota_key", String(128), nullable=False),
    Column("period", String(32), nullable=False),  # a label of the plan's period kind
    Column("amount_e4", Integer, nullable=False),  # 1/10,000 units, as imported quotas
    Column("currency", String(3)),
    UniqueConstraint("scenario_id", "participant_id", "quota_key", "period"),
)
