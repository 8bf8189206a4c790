"""Scenarios carry prior-period adjustments like the official run, and reject invalid quota overrides."""

from decimal import Decimal

import pytest
from ae_plan import DEALS_HEADER, METRICS, PLAN

from spm_desktop.cli import main
from spm_desktop.services import calc_service, close_service, metric_service, plan_service, scenario_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ValidationError
from spm_desktop.services.scenario_service import QuotaOverride


def _import(path, record_set, text):
    source = path.parent / f"{record_set}-{abs(hash(text))}.csv"
    source.write_text(text, encoding="utf-8")
    assert main(["--user", "maker", "import", str(path), record_set, str(source)]) == 0


@pytest.fixture
def maker(tmp_path):
    path = tmp_path / "scenario.spm"
    workspace = Workspace.create(path, user="maker")
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN)
    _import(path, "participants", "participant_id,name,role,currency,hire_date\n"
            "P1,Ana Diaz,AE,USD,2016-01-04\nP2,Ben Ode,AE,USD,2016-01-04\n")
    _import(path, "quotas", "participant_id,quota_key,period,amount,currency\n"
            "P1,bookings,2017-Q1,100000,USD\nP1,bookings,2017-Q2,100000,USD\n"
            "P2,bookings,2017-Q1,100000,USD\nP2,bookings,2017-Q2,100000,USD\n")
    _import(path, "deals", DEALS_HEADER + "D1,P1,60000,USD,2017-01-10,Won\nD2,P2,30000,USD,2017-04-10,Won\n")
    yield workspace
    workspace.close()


@pytest.fixture
def carried(maker):
    """Q1 closed, then a late Q1 deal of P1: the official Q2 run pays +1,000.00 as a prior-period adjustment."""
    checker = maker.as_user("checker")
    calc_service.calculate(maker, "2017-Q1")
    close_service.approve(checker, "2017-Q1")
    close_service.close(checker, "2017-Q1")
    _import(maker.path, "deals", DEALS_HEADER + "LATE1,P1,20000,USD,2017-02-10,Won\n")
    calc_service.calculate(maker, "2017-Q2")
    return maker


def _changes(report):
    return {change.participant_id: change for change in report.comparison.changes}


def test_official_run_pays_prior_adjustment(carried):
    totals = {row.participant_id: row.earnings for row in calc_service.period_results(carried, "2017-Q2")
              if row.component == "TOTAL"}
    assert totals["P1"] == Decimal("1000.00")


def test_unchanged_copy_has_no_difference(carried):
    scenario_service.create(carried, "same", "AE")
    report = scenario_service.run(carried, "same", "2017-Q2")
    assert report.comparison.cost_difference == Decimal("0")
    assert report.comparison.scenario_cost == Decimal("2500.00")


def test_unchanged_copy_pays_participant_the_same(carried):
    scenario_service.create(carried, "same", "AE")
    report = scenario_service.run(carried, "same", "2017-Q2")
    assert report.comparison.unchanged == 2
    assert "P1" not in {change.participant_id for change in report.comparison.winners + report.comparison.losers}


def test_negative_quota_override_rejected(maker):
    override = QuotaOverride("P1", "bookings", "2017-Q2", Decimal("-5"), "USD")
    with pytest.raises(ValidationError) as raised:
        scenario_service.create(maker, "negative", "AE", overrides=[override])
    assert "a quota cannot be negative; correct the amount" in str(raised.value)
    assert [problem.code for problem in raised.value.problems] == ["scenario.negative_quota"]


def test_unknown_participant_override_rejected(maker):
    override = QuotaOverride("P11", "bookings", "2017-Q2", Decimal("5"), "USD")
    with pytest.raises(ValidationError) as raised:
        scenario_service.create(maker, "unknown", "AE", overrides=[override])
    assert "unknown participant 'P11'; did you mean 'P1'?" in str(raised.value)


def test_invalid_overrides_save_nothing(maker):
    overrides = [QuotaOverride("P1", "bookings", "2017-Q2", Decimal("-5"), "USD"),
                 QuotaOverride("Nobody", "bookings", "2017-Q2", Decimal("1"), "USD")]
    with pytest.raises(ValidationError, match="2 quota overrides are invalid, so none was saved"):
        scenario_service.create(maker, "bad", "AE", overrides=overrides)
    assert scenario_service.list_scenarios(maker) == []


def test_update_rejects_negative_quota(maker):
    scenario_service.create(maker, "valid", "AE")
    override = QuotaOverride("P2", "bookings", "2017-Q2", Decimal("-1"), "USD")
    with pytest.raises(ValidationError, match="a quota cannot be negative"):
        scenario_service.update(maker, "valid", overrides=[override])
    assert scenario_service.get_quota_overrides(maker, "valid") == []
