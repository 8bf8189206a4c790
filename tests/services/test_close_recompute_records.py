"""Closed periods recomputed for the first open period reuse the records it read, with the same outcome.

One monthly plan at a flat 5%, quota 10,000 per participant and month. January and
February 2017 are calculated, approved and closed. Then a late deal of 2,000 lands in
each closed month, so the calculation of March recomputes both and carries 100.00 for
each (2,000 x 5%).
"""

from __future__ import annotations

import ast
import inspect
import json
from decimal import Decimal

import pytest

from spm_desktop.domain.records import RECORD_SETS
from spm_desktop.services import calc_service, close_service, metric_service, plan_service, prior_period, record_service
from spm_desktop.services.context import Workspace
from spm_desktop.store.tables.records import RECORD_TABLES, column_name

METRICS = """\
metrics:
  - key: bookings
    name: Bookings
    owner: Finance
    tier: primary
    description: Won deal value, credited on the close date.
    source: deals
    filter: stage == "Won"
    value: sum(amount)
    date: close_date
    unit: currency
    status: approved
"""

PLAN = """\
plan: AE monthly
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31
currency: USD
period: month
participants: {role: AE}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    quota: bookings
    tiers:
      method: marginal
      by: attainment
      bands:
        - {from: 0, rate: 0.05}
"""

MONTHS = ("2017-01", "2017-02", "2017-03")


def _insert(connection, record_set: str, rows: list[dict]) -> None:
    spec = RECORD_SETS[record_set]
    stored = []
    for row in rows:
        values = {column_name(field): row.get(field.name) for field in spec.fields}
        values["record_key"] = json.dumps([record_set, *[row.get(name) for name in spec.natural_key]])
        stored.append(values)
    connection.execute(RECORD_TABLES[record_set].insert(), stored)


def _deal(deal_id: str, owner: str, amount: int, day: str) -> dict:
    return {"deal_id": deal_id, "owner": owner, "amount": amount * 10_000, "currency": "USD", "close_date": day,
            "stage": "Won", "type": "sale"}


@pytest.fixture
def late_deals(tmp_path):
    """A workspace with January and February closed, and a late deal in each of them."""
    workspace = Workspace.create(tmp_path / "late.spm", user="maker")
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN)
    with workspace.transaction() as unit:
        _insert(unit.connection, "participants", [
            {"participant_id": pid, "name": f"Rep {pid}", "role": "AE", "currency": "USD", "hire_date": "2016-01-04"}
            for pid in ("P1", "P2")])
        _insert(unit.connection, "quotas", [
            {"participant_id": pid, "quota_key": "bookings", "period": month, "amount": 10_000 * 10_000,
             "currency": "USD"} for pid in ("P1", "P2") for month in MONTHS])
        _insert(unit.connection, "deals", [
            _deal("D1", "P1", 4_000, "2017-01-10"), _deal("D2", "P2", 6_000, "2017-02-12"),
            _deal("D3", "P1", 3_000, "2017-03-03")])
    checker = workspace.as_user("checker")
    for month in MONTHS[:2]:
        calc_service.calculate(workspace, month)
        close_service.approve(checker, month)
        close_service.close(checker, month)
    with workspace.transaction() as unit:
        _insert(unit.connection, "deals", [_deal("L1", "P1", 2_000, "2017-01-20"), _deal("L2", "P2", 2_000, "2017-02-20")])
    yield workspace
    workspace.close()


def _prior_adjustments(workspace: Workspace, *, share_records: bool) -> list:
    with workspace.read() as connection:
        inputs = calc_service.read_inputs(connection, "2017-03")
        if not share_records:
            inputs.records = None
        return prior_period.apply_prior_period_adjustments(connection, inputs).get("2017-03", [])


def _summary(found: list) -> list[tuple]:
    return sorted((item.participant_id, item.source_period, item.component, item.amount_minor, item.causes)
                  for item in found)


def test_late_deals_paid_in_march(late_deals):
    found = _summary(_prior_adjustments(late_deals, share_records=True))
    assert found == [("P1", "2017-01", "Bookings commission", 10_000, ("late deal",)),
                     ("P2", "2017-02", "Bookings commission", 10_000, ("late deal",))]


def test_shared_records_match_reloaded(late_deals):
    shared = _summary(_prior_adjustments(late_deals, share_records=True))
    reloaded = _summary(_prior_adjustments(late_deals, share_records=False))
    assert shared == reloaded


def test_records_read_once_per_calculation(late_deals, monkeypatch):
    loaded: list[str] = []
    original = record_service.load_frame

    def counting_load_frame(connection, name, *args, **kwargs):
        loaded.append(name)
        return original(connection, name, *args, **kwargs)

    monkeypatch.setattr(record_service, "load_frame", counting_load_frame)
    [summary] = calc_service.calculate(late_deals, "2017-03")
    assert summary.period == "2017-03"
    assert sorted(loaded) == sorted(calc_service.RECORD_SETS)


def test_march_pays_both_months(late_deals):
    calc_service.calculate(late_deals, "2017-03")
    rows = {(row.participant_id, row.component): row.earnings
            for row in calc_service.period_results(late_deals, "2017-03")}
    # P1: 3,000 x 5% = 150.00 plus 100.00 carried from January.
    assert rows[("P1", "Adjustments")] == Decimal("100.00")
    assert rows[("P1", "TOTAL")] == Decimal("250.00")
    assert rows[("P2", "Adjustments")] == Decimal("100.00")


def test_calculation_leaves_record_frames_unchanged(late_deals):
    with late_deals.read() as connection:
        records = calc_service.load_records(connection)
        before = {name: calc_service.frame_fingerprint(records[name]) for name in calc_service.RECORD_SETS}
        for month in MONTHS:
            plans = {"AE monthly": plan_service.plan_for_calculation(connection, "AE monthly")}
            calc_service.recompute(connection, month, plans, records=records)
    after = {name: calc_service.frame_fingerprint(records[name]) for name in calc_service.RECORD_SETS}
    assert after == before


@pytest.mark.parametrize("module", [close_service, prior_period], ids=["close_service", "prior_period"])
def test_close_uses_public_calc_names(module):
    tree = ast.parse(inspect.getsource(module))
    private = sorted({node.attr for node in ast.walk(tree)
                      if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                      and node.value.id == "calc_service" and node.attr.startswith("_")})
    assert private == []


@pytest.mark.parametrize("name", [
    "OFFICIAL", "SCENARIO", "RUN_ACTION", "RUN_ENTITY", "MAX_SUGGESTED_PERIODS", "PreparedRun", "RunSummary",
    "StoredResult", "StoredLine", "LineSource", "calculate", "recompute", "store_run", "verify_stored_results",
    "list_runs", "get_run", "run_details", "current_runs", "results_of_runs", "period_results", "run_results",
    "export_csv", "format_csv", "format_rows", "lines_of_result", "line_source", "iter_lines", "digest_cells",
    "row_digest", "chain_digest", "frame_fingerprint", "suggested_periods",
])
def test_calc_service_keeps_public_name(name):
    assert hasattr(calc_service, name)
