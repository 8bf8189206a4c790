"""Stored line rows read for the drill-down convert to the same lines that ``lines_of_result`` returns."""

from __future__ import annotations

import json

import pytest

from spm_desktop.domain.records import RECORD_SETS
from spm_desktop.services import calc_service, metric_service, plan_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import NotFoundError
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
plan: AE
version: 1
effective_from: 2017-01-01
currency: USD
period: quarter
participants: {role: AE}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    tiers:
      method: marginal
      by: amount
      bands:
        - {from: 0, rate: 0.05}
        - {from: 5000, rate: 0.08}
"""


def _insert(connection, record_set: str, rows: list[dict]) -> None:
    spec = RECORD_SETS[record_set]
    stored = []
    for row in rows:
        values = {column_name(field): row.get(field.name) for field in spec.fields}
        values["record_key"] = json.dumps([record_set, *[row.get(name) for name in spec.natural_key]])
        stored.append(values)
    connection.execute(RECORD_TABLES[record_set].insert(), stored)


@pytest.fixture
def calculated(tmp_path):
    workspace = Workspace.create(tmp_path / "lines.spm", user="maker")
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN)
    with workspace.transaction() as unit:
        _insert(unit.connection, "participants", [
            {"participant_id": "P1", "name": "Rep P1", "role": "AE", "currency": "USD", "hire_date": "2016-01-04"}])
        _insert(unit.connection, "deals", [
            {"deal_id": f"D{index}", "owner": "P1", "amount": 2_000 * 10_000, "currency": "USD",
             "close_date": f"2017-02-{index:02d}", "stage": "Won", "type": "sale"} for index in range(1, 6)])
    calc_service.calculate(workspace, "2017-Q1")
    yield workspace
    workspace.close()


def _result_id(workspace: Workspace, component: str) -> int:
    return next(row.id for row in calc_service.period_results(workspace, "2017-Q1") if row.component == component)


@pytest.mark.parametrize("component", ["Bookings commission", "TOTAL"])
def test_line_rows_convert_to_lines(calculated, component):
    result_id = _result_id(calculated, component)
    converted = [calc_service.stored_line(row) for row in calc_service.line_rows_of_result(calculated, result_id)]
    assert converted == calc_service.lines_of_result(calculated, result_id)
    assert len(converted) == 5


def test_line_rows_keep_deal_order(calculated):
    rows = calc_service.line_rows_of_result(calculated, _result_id(calculated, "Bookings commission"))
    assert [calc_service.stored_line(row).deal_id for row in rows] == ["D1", "D2", "D3", "D4", "D5"]


def test_line_rows_of_unknown_result(calculated):
    with pytest.raises(NotFoundError, match="result row 999 not found"):
        calc_service.line_rows_of_result(calculated, 999)
