"""Calculation runs on a real workspace file: storage, layout, atomicity, audit, periods, scenarios, lineage."""

from __future__ import annotations

import dataclasses
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from spm_desktop.domain.progress import Cancelled, CancelToken
from spm_desktop.services import (
    audit_service,
    calc_service,
    close_service,
    import_service,
    metric_service,
    plan_service,
)
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import NotFoundError, PeriodLockedError, ValidationError

PARTICIPANTS = """\
participant_id,name,role,manager_id,hire_date,termination_date,currency
P1,Ana Diaz,Sales Agent,M1,2016-01-01,,USD
P2,Ben Ode,Sales Agent,M1,2016-01-01,2018-06-30,USD
M1,Mia Park,Manager,,2015-01-01,,USD
"""

DEALS = """\
deal_id,owner,amount,currency,close_date,stage,product
D1,P1,40000,USD,2017-01-15,Won,GTX
D2,P1,30000,USD,2017-02-10,Won,GTX
D3,P2,20000,USD,2017-03-05,Won,MG
D4,P2,5000,USD,2017-03-06,Lost,MG
D5,P1,10000,USD,2017-04-10,Won,GTX
"""

QUOTAS = """\
participant_id,quota_key,period,amount
P1,bookings,2017-Q1,50000
P2,bookings,2017-Q1,50000
P1,bookings,2017-Q2,50000
P2,bookings,2017-Q2,50000
"""

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
plan: AE 2017
version: 1
effective_from: 2017-01-01
effective_to: 2017-06-30
currency: USD
period: quarter
participants: {role: Sales Agent}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    quota: bookings
    tiers:
      method: marginal
      bands:
        - {from: 0, rate: 0.03}
        - {from: 0.5, rate: 0.06}
        - {from: 1.0, rate: 0.09}
draw: {amount: 1000, recoverable: true, year_end: carry_forward}
"""

# Ana: 25,000 at 3% + 25,000 at 6% + 20,000 at 9% = 4,050.00 on 70,000 against 50,000.
# Ben: 20,000 at 3% = 600.00, below the 1,000.00 draw, so the draw tops up 400.00.
RESULTS_Q1 = """\
participant_id,participant_name,period,plan,component,metric_value,quota,attainment,earnings,currency
P1,Ana Diaz,2017-Q1,AE 2017,Bookings commission,70000.00,50000.00,1.4000,4050.00,USD
P1,Ana Diaz,2017-Q1,AE 2017,Draw,,,,0.00,USD
P1,Ana Diaz,2017-Q1,AE 2017,TOTAL,,,,4050.00,USD
P2,Ben Ode,2017-Q1,AE 2017,Bookings commission,20000.00,50000.00,0.4000,600.00,USD
P2,Ben Ode,2017-Q1,AE 2017,Draw,,,,400.00,USD
P2,Ben Ode,2017-Q1,AE 2017,TOTAL,,,,1000.00,USD
"""

CALC_TABLES = ("calc_runs", "results", "result_lines", "calc_balances", "period_states", "audit_log")


def _import(workspace: Workspace, folder: Path, record_set: str, content: str) -> None:
    path = folder / f"{record_set}.csv"
    path.write_text(content, encoding="utf-8")
    import_service.commit(workspace, import_service.ImportRequest(record_set, path))


@pytest.fixture
def calc_workspace(tmp_path: Path) -> Workspace:
    workspace = Workspace.create(tmp_path / "calc.spm", "maker")
    _import(workspace, tmp_path, "participants", PARTICIPANTS)
    _import(workspace, tmp_path, "deals", DEALS)
    _import(workspace, tmp_path, "quotas", QUOTAS)
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN, source="plan.yaml")
    yield workspace
    workspace.close()


def _counts(workspace: Workspace) -> dict[str, int]:
    with workspace.read() as connection:
        return {name: connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one() for name in CALC_TABLES}


def _table_dump(workspace: Workspace) -> dict[str, list[tuple]]:
    with workspace.read() as connection:
        return {name: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {name} ORDER BY 1"))]
                for name in CALC_TABLES}


def _edit(workspace: Workspace, statement: str) -> None:
    connection = sqlite3.connect(workspace.path)
    connection.execute(statement)
    connection.commit()
    connection.close()


def test_run_stores_results_and_lines(calc_workspace):
    [summary] = calc_service.calculate(calc_workspace, "2017-Q1")
    assert summary.period == "2017-Q1"
    assert summary.participants == 2
    assert summary.result_count == 6
    assert summary.line_count == 5
    assert summary.totals == {"USD": Decimal("5050.00")}
    assert summary.status == "complete"
    assert len(summary.input_fingerprint) == 64


def test_results_csv_layout_exact(calc_workspace):
    calc_service.calculate(calc_workspace, "2017-Q1")
    rows = calc_service.period_results(calc_workspace, "2017-Q1")
    assert calc_service.format_csv(rows) == RESULTS_Q1


def test_period_marked_calculated(calc_workspace):
    from spm_desktop.services import period_service

    [summary] = calc_service.calculate(calc_workspace, "2017-Q1")
    with calc_workspace.read() as connection:
        state = period_service.state(connection, "2017-Q1")
    assert state.state == "calculated"
    assert state.latest_run_id == summary.run_id
    assert state.calculated_by == "maker"


def test_recalculation_supersedes_earlier_run(calc_workspace):
    [first] = calc_service.calculate(calc_workspace, "2017-Q1")
    [second] = calc_service.calculate(calc_workspace, "2017-Q1")
    runs = {run.run_id: run for run in calc_service.list_runs(calc_workspace, period="2017-Q1")}
    assert runs[first.run_id].superseded
    assert not runs[second.run_id].superseded
    assert {row.run_id for row in calc_service.period_results(calc_workspace, "2017-Q1")} == {second.run_id}


def test_year_label_calculates_each_quarter(calc_workspace):
    summaries = calc_service.calculate(calc_workspace, "2017")
    assert [summary.period for summary in summaries] == ["2017-Q1", "2017-Q2"]
    rows = calc_service.period_results(calc_workspace, "2017")
    assert [row.period for row in rows if row.participant_id == "P1" and row.component == "TOTAL"] == [
        "2017-Q1", "2017-Q2"]


def test_month_label_shorter_than_plan_rejected(calc_workspace):
    with pytest.raises(ValidationError, match="shorter than the plan's quarter"):
        calc_service.calculate(calc_workspace, "2017-02")


def test_period_without_plan_rejected(calc_workspace):
    with pytest.raises(NotFoundError, match="no active plan is in force in 2018-Q1"):
        calc_service.calculate(calc_workspace, "2018-Q1")


def test_cancel_while_storing_changes_nothing(calc_workspace):
    calc_service.calculate(calc_workspace, "2017-Q1")
    before = _table_dump(calc_workspace)
    token = CancelToken()

    def cancel_on_lines(done: int, total: int, message: str) -> None:
        if "storing lines" in message:
            token.cancel()

    with pytest.raises(Cancelled):
        calc_service.calculate(calc_workspace, "2017-Q1", cancel_on_lines, token)
    assert _table_dump(calc_workspace) == before


def test_cancel_before_engine_changes_nothing(calc_workspace):
    before = _table_dump(calc_workspace)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        calc_service.calculate(calc_workspace, "2017-Q1", cancel=token)
    assert _table_dump(calc_workspace) == before


def test_failure_while_storing_changes_nothing(calc_workspace):
    before = _table_dump(calc_workspace)

    def failing_progress(done: int, total: int, message: str) -> None:
        if "storing balances" in message:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        calc_service.calculate(calc_workspace, "2017-Q1", failing_progress)
    assert _table_dump(calc_workspace) == before


def test_verify_names_edited_result_row(calc_workspace):
    [summary] = calc_service.calculate(calc_workspace, "2017-Q1")
    row = next(row for row in calc_service.period_results(calc_workspace, "2017-Q1")
               if row.participant_id == "P2" and row.component == "TOTAL")
    _edit(calc_workspace, f"UPDATE results SET earnings_minor = 150000 WHERE id = {row.id}")
    report = audit_service.verify(calc_workspace)
    assert not report.ok
    assert f"result row {row.id} of calculation run {summary.run_id} was changed outside SPM Desktop" in (
        report.content_problems[0])


def test_verify_detects_deleted_line(calc_workspace):
    [summary] = calc_service.calculate(calc_workspace, "2017-Q1")
    _edit(calc_workspace, f"DELETE FROM result_lines WHERE id = (SELECT max(id) FROM result_lines "
                          f"WHERE run_id = {summary.run_id})")
    report = audit_service.verify(calc_workspace)
    expected = (f"the result lines of calculation run {summary.run_id} do not match the audit trail "
                "(rows were added, deleted or re-hashed outside SPM Desktop)")
    assert expected in report.content_problems


def test_verify_passes_untouched_runs(calc_workspace):
    calc_service.calculate(calc_workspace, "2017")
    assert audit_service.verify(calc_workspace).ok


def test_closed_period_rejected_and_skipped(calc_workspace):
    calc_service.calculate(calc_workspace, "2017-Q1")
    checker = calc_workspace.as_user("checker")
    close_service.approve(checker, "2017-Q1")
    close_service.close(checker, "2017-Q1")
    closed_rows = calc_service.period_results(calc_workspace, "2017-Q1")
    with pytest.raises(PeriodLockedError, match="2017-Q1 is closed"):
        calc_service.calculate(calc_workspace, "2017-Q1")
    summaries = calc_service.calculate(calc_workspace, "2017")
    assert [summary.period for summary in summaries] == ["2017-Q2"]
    assert any(problem.code == "calc.period_closed" for problem in summaries[0].problems)
    assert calc_service.period_results(calc_workspace, "2017-Q1") == closed_rows


def test_drill_down_to_source_row(calc_workspace):
    calc_service.calculate(calc_workspace, "2017-Q1")
    row = next(row for row in calc_service.period_results(calc_workspace, "2017-Q1")
               if row.participant_id == "P1" and row.component == "Bookings commission")
    lines = calc_service.lines_of_result(calc_workspace, row.id)
    assert [line.deal_id for line in lines] == ["D1", "D2"]
    assert sum(line.earnings for line in lines) == row.earnings
    source = calc_service.line_source(calc_workspace, lines[1].id)
    assert source.file_name == "deals.csv"
    assert source.source_row == 3
    assert source.record["amount"] == Decimal("30000")


def test_total_row_lists_every_line_of_participant(calc_workspace):
    calc_service.calculate(calc_workspace, "2017-Q1")
    total = next(row for row in calc_service.period_results(calc_workspace, "2017-Q1")
                 if row.participant_id == "P2" and row.component == "TOTAL")
    lines = calc_service.lines_of_result(calc_workspace, total.id)
    assert sorted(line.line_kind for line in lines) == ["draw", "sale"]
    assert sum(line.earnings for line in lines) == total.earnings


def test_fingerprint_follows_deals(calc_workspace, tmp_path):
    [first] = calc_service.calculate(calc_workspace, "2017-Q1")
    _import(calc_workspace, tmp_path, "deals", DEALS.replace("D5,P1,10000", "D5,P1,12000"))
    [second] = calc_service.calculate(calc_workspace, "2017-Q1")
    first_inputs = calc_service.run_details(calc_workspace, first.run_id)["inputs"]
    second_inputs = calc_service.run_details(calc_workspace, second.run_id)["inputs"]
    assert first_inputs["records.deals"] != second_inputs["records.deals"]
    assert first_inputs["plans"] == second_inputs["plans"]


def test_run_records_versions(calc_workspace):
    [summary] = calc_service.calculate(calc_workspace, "2017-Q1")
    versions = calc_service.run_details(calc_workspace, summary.run_id)["versions"]
    assert versions["plans"] == {"AE 2017": 1}
    assert versions["metrics"] == {"bookings": 1}


def test_scenario_run_kept_apart(calc_workspace):
    [official] = calc_service.calculate(calc_workspace, "2017-Q1")
    official_rows = calc_service.period_results(calc_workspace, "2017-Q1")
    with calc_workspace.read() as connection:
        plan = plan_service.get_plan(connection, "AE 2017")
    component = plan.components[0]
    bands = list(component.tiers.bands)
    bands[0] = dataclasses.replace(bands[0], rate=Decimal("0.05"))
    richer = dataclasses.replace(plan, components=(dataclasses.replace(
        component, tiers=dataclasses.replace(component.tiers, bands=tuple(bands))),))
    [scenario] = calc_service.calculate(calc_workspace, "2017-Q1", plans_override={plan.name: richer},
                                        kind="scenario", scenario_id=7)
    assert calc_service.period_results(calc_workspace, "2017-Q1") == official_rows
    scenario_rows = calc_service.period_results(calc_workspace, "2017-Q1", kind="scenario", scenario_id=7)
    ben = next(row for row in scenario_rows if row.participant_id == "P2" and row.component == "Bookings commission")
    assert ben.earnings == Decimal("1000.00")
    from spm_desktop.services import period_service

    with calc_workspace.read() as connection:
        assert period_service.state(connection, "2017-Q1").latest_run_id == official.run_id
        scenario_runs = connection.execute(select(func.count()).select_from(text("calc_runs"))
                                           .where(text("kind = 'scenario'"))).scalar_one()
    assert scenario_runs == 1
    assert scenario.kind == "scenario"


def test_scenario_quota_override(calc_workspace):
    import pandas as pd

    calc_service.calculate(calc_workspace, "2017-Q1")
    with calc_workspace.read() as connection:
        plan = plan_service.get_plan(connection, "AE 2017")
    # Ben's quota cut to 20,000 puts his 20,000 at 100%: 10,000 at 3% + 10,000 at 6% = 900.00.
    override = pd.DataFrame({"participant_id": ["P2"], "quota_key": ["bookings"], "period": ["2017-Q1"],
                             "amount": pd.array([200_000_000], dtype="Int64"), "currency": [None]})
    calc_service.calculate(calc_workspace, "2017-Q1", plans_override={plan.name: plan}, kind="scenario",
                           scenario_id=3, quota_overrides=override)
    scenario = calc_service.period_results(calc_workspace, "2017-Q1", kind="scenario", scenario_id=3)
    official = calc_service.period_results(calc_workspace, "2017-Q1")
    ben_scenario = next(row for row in scenario if row.participant_id == "P2" and row.component == "Bookings commission")
    ben_official = next(row for row in official if row.participant_id == "P2" and row.component == "Bookings commission")
    assert ben_scenario.earnings == Decimal("900.00")
    assert ben_scenario.quota == Decimal("20000")
    assert ben_official.earnings == Decimal("600.00")


def test_official_run_rejects_overrides(calc_workspace):
    with pytest.raises(ValueError, match="scenario runs only"):
        calc_service.calculate(calc_workspace, "2017-Q1", plans_override={"AE 2017": object()})


def test_recompute_matches_stored_run_without_writing(calc_workspace):
    calc_service.calculate(calc_workspace, "2017-Q1")
    before = _counts(calc_workspace)
    with calc_workspace.read() as connection:
        plan = plan_service.get_plan(connection, "AE 2017", 1)
        [again] = calc_service.recompute(connection, "2017-Q1", {plan.name: plan})
    stored = calc_service.period_results(calc_workspace, "2017-Q1")
    assert sorted(row["earnings_minor"] for row in again.result_rows) == sorted(
        int(row.earnings * 100) for row in stored)
    assert again.line_count == 5
    assert _counts(calc_workspace) == before
