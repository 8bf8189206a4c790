"""The review service on stored results: four participants of one quarterly plan, values worked out by hand.

The results are written straight into the calculation tables (as a stored official run
would leave them), so these tests check how the review reads runs, rows, participants
and deals, independently of the calculation engine.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from decimal import Decimal as D  # noqa: N817  (short for hand-computed tables)
from pathlib import Path

import pytest

from spm_desktop.domain.money import CONTEXT
from spm_desktop.domain.records import RECORD_SETS
from spm_desktop.services import metric_service, plan_service, review_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import NotFoundError, ValidationError
from spm_desktop.store.tables.calc import calc_runs, results
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
  - key: meetings
    name: Meetings
    owner: Sales Ops
    tier: supporting
    description: Meetings held.
    source: activities
    filter: type == "meeting"
    value: count()
    date: date
    unit: count
    status: approved
"""

PLAN = """\
plan: AE
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31
currency: USD
period: quarter
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
        - {from: 1.0, rate: 0.08}
  - name: Meetings SPIF
    type: spif
    metric: meetings
    amount_per_unit: 10
"""

# participant, name, region, annual target incentive
PEOPLE = [("P1", "Ana", "East", 40000), ("P2", "Ben", "East", 40000), ("P3", "Cai", "West", None),
          ("P4", "Dee", "West", 40000)]
# participant: (bookings credit, quota, commission, meetings, SPIF)
OUTCOMES = {
    "P1": ("50000", "100000", 2500, "10", 100),
    "P2": ("120000", "100000", 6600, "0", 0),
    "P3": ("90000", "100000", 4500, "5", 50),
    "P4": ("30000", "60000", 1500, "20", 200),
}
DEALS = [("D1", "P1", 50000, "2017-03-24", "Won"), ("D2", "P2", 120000, "2017-01-15", "Won"),
         ("D3", "P3", 90000, "2017-02-10", "Won"), ("D4", "P4", 30000, "2017-03-30", "Won"),
         ("D5", "P4", 99999, "2017-03-31", "Lost")]


def insert_records(connection, record_set: str, rows: list[dict]) -> None:
    """Write record rows the way an import stores them (money in 1/10,000 units)."""
    spec = RECORD_SETS[record_set]
    table = RECORD_TABLES[record_set]
    stored = []
    for row in rows:
        values = {column_name(field): row.get(field.name) for field in spec.fields}
        for field in spec.fields:
            if field.kind == "money" and row.get(field.name) is not None:
                values[column_name(field)] = int(row[field.name]) * 10_000
        values["record_key"] = json.dumps([row.get(name) for name in spec.natural_key])
        values["row_hash"] = "0" * 32
        stored.append(values)
    connection.execute(table.insert(), stored)


def result_row(run_id: int, row_id: int, participant: str, component: str, kind: str, earnings: int, **extra) -> dict:
    values = {"id": row_id, "run_id": run_id, "row_kind": kind, "participant_id": participant,
              "participant_name": {p[0]: p[1] for p in PEOPLE}[participant], "period": "2017-Q1",
              "plan": "AE", "plan_version": 1, "component": component, "metric_key": None, "metric_version": None,
              "metric_unit": None, "metric_value": None, "quota": None, "attainment": None,
              "earnings_minor": earnings * 100, "currency": "USD", "row_hash": "0" * 64}
    values.update(extra)
    return values


def store_official_run(connection, run_id: int = 1, superseded: bool = False) -> None:
    connection.execute(calc_runs.insert().values(
        id=run_id, period="2017-Q1", period_start=dt.date(2017, 1, 1), period_end=dt.date(2017, 3, 31),
        kind="official", scenario_id=None, user="tester", started_at="2018-01-02T00:00:00",
        finished_at="2018-01-02T00:00:01", status="complete", input_fingerprint="0" * 64, inputs="{}",
        versions="{}", problems="[]", results_hash="0" * 64, lines_hash="0" * 64, superseded=superseded))
    rows = []
    for participant, (credit, quota, commission, meetings, spif) in OUTCOMES.items():
        attainment = str(D(credit) / D(quota))
        rows.append(result_row(run_id, len(rows) + 1 + run_id * 100, participant, "Bookings commission",
                               "component", commission, metric_key="bookings", metric_unit="currency",
                               metric_value=credit, quota=quota, attainment=attainment))
        rows.append(result_row(run_id, len(rows) + 1 + run_id * 100, participant, "Meetings SPIF", "component",
                               spif, metric_key="meetings", metric_unit="count", metric_value=meetings))
        rows.append(result_row(run_id, len(rows) + 1 + run_id * 100, participant, "TOTAL", "total",
                               commission + spif))
    connection.execute(results.insert(), rows)


def _seed(workspace) -> None:
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN)
    with workspace.transaction() as unit:
        insert_records(unit.connection, "participants", [
            {"participant_id": pid, "name": name, "role": "AE", "region": region, "target_incentive": target}
            for pid, name, region, target in PEOPLE])
        insert_records(unit.connection, "deals", [
            {"deal_id": deal, "owner": owner, "amount": amount, "close_date": day, "stage": stage, "currency": "USD"}
            for deal, owner, amount, day, stage in DEALS])
        store_official_run(unit.connection)


def _prepared(tmp_path_factory, build) -> Path:
    path = tmp_path_factory.mktemp("prepared") / "prepared.spm"
    workspace = Workspace.create(path, "tester")
    try:
        build(workspace)
    finally:
        workspace.close()
    return path


def _copy_of(template: Path, tmp_path: Path):
    """Open a fresh copy of a prepared workspace file, so each test starts from the same state."""
    target = tmp_path / "test.spm"
    shutil.copyfile(template, target)
    return Workspace.open(target, "tester")


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory):
    return _prepared(tmp_path_factory, _seed)


@pytest.fixture
def seeded(seeded_file, tmp_path):
    workspace = _copy_of(seeded_file, tmp_path)
    yield workspace
    workspace.close()


def test_review_without_runs_names_the_command(workspace):
    with pytest.raises(NotFoundError, match="spm calc WS --period 2017-Q1"):
        review_service.review(workspace, "2017-Q1")


def test_review_rejects_bad_label(workspace):
    with pytest.raises(ValidationError, match="2017-13"):
        review_service.review(workspace, "2017-13")


def test_review_pay_for_performance(seeded):
    # earnings ranks 2,4,3,1; attainment ranks 1.5,4,3,1.5: 4.5 / sqrt(5 * 4.5)
    result = review_service.review(seeded, "2017-Q1")
    assert abs(result.pay_for_performance.earnings_attainment - D("0.9486832980505137995996680633")) < D("1e-20")


def test_review_reads_total_rows_as_earnings(seeded):
    result = review_service.review(seeded, "2017-Q1")
    earnings = {point.participant_id: point.earnings for point in result.pay_for_performance.points}
    assert earnings == {"P1": D("2600.00"), "P2": D("6600.00"), "P3": D("4550.00"), "P4": D("1700.00")}


def test_review_attainment_from_quota_component(seeded):
    result = review_service.review(seeded, "2017-Q1")
    attainment = {point.participant_id: point.attainment for point in result.pay_for_performance.points}
    assert attainment == {"P1": D("0.5"), "P2": D("1.2"), "P3": D("0.9"), "P4": D("0.5")}


def test_review_reached_quota(seeded):
    result = review_service.review(seeded, "2017-Q1")
    assert result.distributions.reached_quota == 1
    assert result.distributions.reached_share == D("0.25")


def test_review_leverage(seeded):
    # 6,600 against the mean of 2,600, 4,550 and 1,700
    result = review_service.review(seeded, "2017-Q1")
    assert abs(result.distributions.leverage - D(6600) / (D(8850) / 3)) < D("1e-25")


def test_review_quarter_target_incentive(seeded):
    # a quarter's target is a quarter of the annual 40,000
    result = review_service.review(seeded, "2017-Q1")
    band = result.distributions.bands[3]  # 100-125%: Ben alone
    assert band.pay_ratio == D("0.66")


def test_review_cost_of_sales_on_credited_revenue(seeded):
    result = review_service.review(seeded, "2017-Q1")
    assert result.cost_of_sales.total_earnings == D("15450.00")
    assert result.cost_of_sales.revenue == D(290000)


def test_review_cost_of_sales_per_region(seeded):
    rows = {row.group: row for row in review_service.review(seeded, "2017-Q1").cost_of_sales.by_region}
    assert rows["East"].earnings == D("9200.00")
    assert rows["West"].credited == D(120000)


def test_review_plan_complexity(seeded):
    (row,) = review_service.review(seeded, "2017-Q1").plan_complexity.rows
    assert (row.plan, row.components, row.conditional_terms, row.participants, row.one_off) == ("AE", 2, 0, 4, False)


def test_review_late_closing_of_won_deals(seeded):
    # March 18-31 contains D1 (50,000) and D4 (30,000) of 290,000 won; the lost D5 is left out
    result = review_service.review(seeded, "2017-Q1")
    assert result.forecast_distortion.late_value_share == CONTEXT.divide(D(80000), D(290000))


def test_review_late_window_setting(seeded):
    seeded.set_setting(review_service.WINDOW_SETTING, 1)
    result = review_service.review(seeded, "2017-Q1")
    assert result.forecast_distortion.window_weeks == 1
    assert result.forecast_distortion.late_value_share == CONTEXT.divide(D(30000), D(290000))


def test_review_of_year_uses_runs_inside(seeded):
    result = review_service.review(seeded, "2017")
    assert result.period == "2017"
    assert result.cost_of_sales.total_earnings == D("15450.00")


def test_review_skips_superseded_runs(seeded):
    with seeded.transaction() as unit:
        unit.connection.execute(calc_runs.update().values(superseded=True))
    with pytest.raises(NotFoundError):
        review_service.review(seeded, "2017-Q1")


def test_review_headline_csv_rows(seeded):
    rows = review_service.headline_rows(review_service.review(seeded, "2017-Q1"))
    assert rows[0][:4] == ("pay_for_performance", "Pay for performance", "0.9487", "ratio")


def test_review_as_json_keeps_decimals_as_text(seeded):
    data = review_service.review_as_dict(review_service.review(seeded, "2017-Q1"))
    assert data["cost_of_sales"]["revenue"] == "290000"


def test_review_behaviour_gaps_from_catalog(seeded):
    gaps = review_service.review(seeded, "2017-Q1").behaviour_gaps
    assert gaps.unpaid_primary == ()
    assert [(w.component, w.metric, w.reason) for w in gaps.weak_payments] == [
        ("Meetings SPIF", "meetings", "supporting")]


# --- through the calculation engine -----------------------------------------------------

FLAT_PLAN = """\
plan: Flat
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31
currency: USD
period: quarter
participants: {role: AE}
components:
  - name: Commission
    type: commission
    metric: bookings
    quota: bookings
    tiers:
      method: flat
      by: attainment
      bands:
        - {from: 0, rate: 0.10}
"""


def _calculate(workspace) -> None:
    """Calculate 2017-Q1 of a flat 10% plan: D4 is split 50/50 between P1 and P2, and D3 has no cost.

    Credit: P1 10,000 + 5,000; P2 20,000 + 5,000; P3 30,000. Earnings 1,500, 2,500 and 3,000.
    """
    from spm_desktop.services import calc_service

    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, FLAT_PLAN)
    with workspace.transaction() as unit:
        insert_records(unit.connection, "participants", [
            {"participant_id": pid, "name": name, "role": "AE", "region": region} for pid, name, region, _target in PEOPLE[:3]])
        insert_records(unit.connection, "quotas", [
            {"participant_id": pid, "quota_key": "bookings", "period": "2017-Q1", "amount": 50000}
            for pid in ("P1", "P2", "P3")])
        insert_records(unit.connection, "deals", [
            {"deal_id": deal, "owner": owner, "amount": amount, "cost": cost, "close_date": day, "stage": "Won",
             "currency": "USD", "type": "sale"}
            for deal, owner, amount, cost, day in (("D1", "P1", 10000, 6000, "2017-02-01"),
                                                    ("D2", "P2", 20000, 5000, "2017-03-25"),
                                                    ("D3", "P3", 30000, None, "2017-01-10"),
                                                    ("D4", "P1", 10000, 2000, "2017-03-28"))])
        insert_records(unit.connection, "credit_splits", [
            {"deal_id": "D4", "participant_id": pid, "share": "0.5", "kind": "split"} for pid in ("P1", "P2")])
    calc_service.calculate(workspace, "2017-Q1")


@pytest.fixture(scope="module")
def calculated_file(tmp_path_factory):
    return _prepared(tmp_path_factory, _calculate)


@pytest.fixture
def calculated(calculated_file, tmp_path):
    workspace = _copy_of(calculated_file, tmp_path)
    yield workspace
    workspace.close()


def test_engine_review_revenue_counted_once(calculated):
    result = review_service.review(calculated, "2017-Q1")
    assert result.cost_of_sales.revenue == D(70000)
    assert result.cost_of_sales.cost_of_sales == D("0.1")


def test_engine_review_credited_includes_split_share(calculated):
    rows = {row.group: row for row in review_service.review(calculated, "2017-Q1").cost_of_sales.by_region}
    assert rows["East"].credited == D(40000)  # P1 15,000 and P2 25,000


def test_engine_review_margin_from_deal_costs(calculated):
    # P1: 10,000 x 0.4 + 5,000 x 0.8; P2: 20,000 x 0.75 + 5,000 x 0.8; P3's deal has no cost
    from spm_desktop.services import record_service

    with calculated.read() as connection:
        span = review_service.review_span(connection, "2017-Q1")
        run_ids = review_service.official_run_ids(connection, span)
        rows = review_service.load_results(connection, run_ids)
        plans = {"Flat": plan_service.get_plan(connection, "Flat")}
        _outcomes, mains = review_service.outcomes_from_results(rows, plans, record_service.load_frame(
            connection, "participants"), span)
        deals = record_service.load_frame(connection, "deals")
        margins, _revenue = review_service.line_facts(connection, run_ids, mains, rows, deals)
    assert margins == {"P1": D(8000), "P2": D(19000)}


def test_engine_review_margin_correlation_needs_three(calculated):
    result = review_service.review(calculated, "2017-Q1")
    assert result.pay_for_performance.earnings_margin is None


def test_engine_review_late_closing(calculated):
    result = review_service.review(calculated, "2017-Q1")
    assert result.forecast_distortion.late_value_share == CONTEXT.divide(D(30000), D(70000))


def test_review_cli_csv(calculated, capsys):
    from spm_desktop.cli import main

    code = main(["review", str(calculated.path), "--period", "2017-Q1", "--format", "csv"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0] == "figure,title,value,unit,explanation"
    assert lines[4].startswith("cost_of_sales,Cost of sales,0.1000,fraction,")


def test_review_cli_unknown_period_exit_code(calculated, capsys):
    from spm_desktop.cli import main

    code = main(["review", str(calculated.path), "--period", "2016-Q1"])
    assert code == 1
    assert "calculate it first" in capsys.readouterr().err


def test_review_counts_run_problems_as_exceptions(seeded):
    problems = [{"code": "calc.missing_quota", "message": "no quota", "participant_id": "P1"},
                {"code": "calc.fx", "message": "no participant"}]
    with seeded.transaction() as unit:
        unit.connection.execute(calc_runs.update().values(problems=json.dumps(problems)))
    (row,) = review_service.review(seeded, "2017-Q1").plan_complexity.rows
    assert row.exceptions == 1


def test_review_cli_json(calculated, capsys):
    from spm_desktop.cli import main

    assert main(["review", str(calculated.path), "--period", "2017-Q1", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cost_of_sales"]["cost_of_sales"] == "0.1"
    assert data["forecast_distortion"]["window_weeks"] == 2


def test_review_cli_rejects_zero_late_weeks(calculated, capsys):
    from spm_desktop.cli import main

    assert main(["review", str(calculated.path), "--period", "2017-Q1", "--late-weeks", "0"]) == 1
    assert "--late-weeks 0 is invalid" in capsys.readouterr().err
