"""Plans and the workspace's fiscal year: a plan without a fiscal start follows the workspace setting.

The workspace's fiscal year starts in July (``fiscal_year.start_month`` 7). One deal of
10,000 on 2017-08-10 at a flat 5% pays 500.00 in the quarter that contains August:
FY2018-Q1 (July to September 2017).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from spm_desktop.domain.records import RECORD_SETS
from spm_desktop.services import calc_service, metric_service, period_service, plan_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ValidationError
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
{fiscal}participants: {{role: AE}}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    tiers:
      method: marginal
      by: amount
      bands:
        - {{from: 0, rate: 0.05}}
"""


def _plan(fiscal_line: str = "") -> str:
    return PLAN.format(fiscal=fiscal_line)


def _insert(connection, record_set: str, rows: list[dict]) -> None:
    spec = RECORD_SETS[record_set]
    stored = []
    for row in rows:
        values = {column_name(field): row.get(field.name) for field in spec.fields}
        values["record_key"] = json.dumps([record_set, *[row.get(name) for name in spec.natural_key]])
        stored.append(values)
    connection.execute(RECORD_TABLES[record_set].insert(), stored)


@pytest.fixture
def july_workspace(tmp_path):
    workspace = Workspace.create(tmp_path / "fiscal.spm", user="maker")
    workspace.set_setting(period_service.FISCAL_START_SETTING, 7)
    metric_service.load_yaml(workspace, METRICS)
    with workspace.transaction() as unit:
        _insert(unit.connection, "participants", [
            {"participant_id": "P1", "name": "Rep P1", "role": "AE", "currency": "USD", "hire_date": "2016-01-04"}])
        _insert(unit.connection, "deals", [
            {"deal_id": "D1", "owner": "P1", "amount": 10_000 * 10_000, "currency": "USD",
             "close_date": "2017-08-10", "stage": "Won", "type": "sale"}])
    yield workspace
    workspace.close()


def _plan_in_force(workspace: Workspace):
    with workspace.read() as connection:
        [(_version, plan)] = plan_service.plans_in_force(connection, dt.date(2017, 7, 1), dt.date(2017, 9, 30))
    return plan


def test_plan_without_fiscal_start_follows_workspace(july_workspace):
    plan_service.load(july_workspace, _plan())
    assert _plan_in_force(july_workspace).fiscal_start_month == 7


def test_plan_following_workspace_loads_cleanly(july_workspace):
    loaded = plan_service.load(july_workspace, _plan())
    assert loaded.warnings == []


def test_plan_following_workspace_calculates_fiscal_quarter(july_workspace):
    plan_service.load(july_workspace, _plan())
    [summary] = calc_service.calculate(july_workspace, "FY2018-Q1")
    assert summary.period == "FY2018-Q1"
    assert summary.totals == {"USD": Decimal("500.00")}


def test_calendar_label_of_fiscal_quarter_accepted(july_workspace):
    plan_service.load(july_workspace, _plan())
    [summary] = calc_service.calculate(july_workspace, "2017-Q3")
    assert summary.period == "FY2018-Q1"


def test_stated_matching_fiscal_start_accepted(july_workspace):
    loaded = plan_service.load(july_workspace, _plan("fiscal_start_month: 7\n"))
    [summary] = calc_service.calculate(july_workspace, "FY2018-Q1")
    assert loaded.warnings == []
    assert summary.totals == {"USD": Decimal("500.00")}


def test_stated_other_fiscal_start_warns_at_load(july_workspace):
    loaded = plan_service.load(july_workspace, _plan("fiscal_start_month: 4\n"))
    codes = [problem.code for problem in loaded.warnings]
    assert codes == ["plan.fiscal_start_mismatch"]
    assert "sets fiscal_start_month 4" in loaded.warnings[0].message
    assert "starts in month 7" in loaded.warnings[0].message


def test_stated_other_fiscal_start_rejects_calculation(july_workspace):
    plan_service.load(july_workspace, _plan("fiscal_start_month: 4\n"))
    with pytest.raises(ValidationError, match=r"sets fiscal_start_month 4.*starts in month 7") as raised:
        calc_service.calculate(july_workspace, "FY2018-Q1")
    assert [problem.code for problem in raised.value.problems] == ["plan.fiscal_start_mismatch"]
    assert calc_service.list_runs(july_workspace) == []


def test_stated_january_differs_from_july(july_workspace):
    plan_service.load(july_workspace, _plan("fiscal_start_month: 1\n"))
    assert _plan_in_force(july_workspace).fiscal_start_month == 1
    with pytest.raises(ValidationError, match="sets fiscal_start_month 1"):
        calc_service.calculate(july_workspace, "2017-Q3")


def test_check_text_reports_mismatch(july_workspace):
    _plan_obj, problems = plan_service.check_text(july_workspace, _plan("fiscal_start_month: 10\n"))
    assert [problem.severity for problem in problems if problem.code == "plan.fiscal_start_mismatch"] == ["warning"]


def test_workspace_without_setting_keeps_january(tmp_path):
    with Workspace.create(tmp_path / "plain.spm", user="maker") as workspace:
        metric_service.load_yaml(workspace, METRICS)
        loaded = plan_service.load(workspace, _plan())
        assert loaded.warnings == []
        assert _plan_in_force(workspace).fiscal_start_month == 1


def test_stored_document_unchanged(july_workspace):
    text = _plan()
    plan_service.load(july_workspace, text)
    with july_workspace.read() as connection:
        assert plan_service.document(connection, "AE") == text
        assert plan_service.get_plan(connection, "AE").fiscal_start_month == 1
        assert plan_service.plan_for_calculation(connection, "AE").fiscal_start_month == 7


@pytest.mark.parametrize(("text", "stated"), [
    ("plan: A\nfiscal_start_month: 7\n", True),
    ("plan: A\n# fiscal_start_month: 7 is left to the workspace\n", False),
    ("plan: A\ncomponents:\n  - {name: X, fiscal_start_month: 7}\n", False),
    ("plan: A\n", False),
])
def test_states_fiscal_start(text, stated):
    assert plan_service.states_fiscal_start(text) is stated


def test_scenario_plan_follows_workspace(july_workspace):
    from spm_desktop.services import scenario_service

    plan_service.load(july_workspace, _plan())
    scenario_service.create(july_workspace, "Higher rate", "AE")
    with july_workspace.read() as connection:
        assert scenario_service.scenario_plan(connection, "Higher rate").fiscal_start_month == 7
