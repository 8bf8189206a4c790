"""Approve and close reject a run whose records changed after it read them.

A deal imported between the calculation and the close would otherwise count as paid:
the close fingerprints the records as they are then, so a later calculation would
never carry the deal as a prior-period adjustment.
"""

from decimal import Decimal

import pytest
from ae_plan import DEALS_HEADER, METRICS, PLAN

from spm_desktop.cli import main
from spm_desktop.services import (
    adjustment_service,
    calc_service,
    close_service,
    metric_service,
    period_service,
    plan_service,
)
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ConflictError, PermissionDeniedError


def _import(path, tmp_path, record_set, text):
    source = tmp_path / f"{record_set}-{abs(hash(text))}.csv"
    source.write_text(text, encoding="utf-8")
    assert main(["--user", "maker", "import", str(path), record_set, str(source)]) == 0


@pytest.fixture
def maker(tmp_path):
    path = tmp_path / "close.spm"
    workspace = Workspace.create(path, user="maker")
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN)
    _import(path, tmp_path, "participants",
            "participant_id,name,role,currency,hire_date\nP1,Ana Diaz,AE,USD,2016-01-04\n")
    _import(path, tmp_path, "quotas", "participant_id,quota_key,period,amount,currency\n"
            "P1,bookings,2017-Q1,100000,USD\nP1,bookings,2017-Q2,100000,USD\n")
    _import(path, tmp_path, "deals", DEALS_HEADER + "D1,P1,60000,USD,2017-01-10,Won\n")
    yield workspace
    workspace.close()


@pytest.fixture
def checker(maker):
    return maker.as_user("checker")


def _import_late_deal(workspace, tmp_path):
    _import(workspace.path, tmp_path, "deals", DEALS_HEADER + "LATE1,P1,20000,USD,2017-02-10,Won\n")


def _earnings(workspace, period):
    for row in calc_service.period_results(workspace, period):
        if row.participant_id == "P1" and row.component == "Bookings commission":
            return row.earnings
    raise KeyError(period)


def test_unchanged_records_approve_and_close(maker, checker):
    calc_service.calculate(maker, "2017-Q1")
    close_service.approve(checker, "2017-Q1")
    outcome = close_service.close(checker, "2017-Q1")
    assert outcome.period.state == "closed"


def test_approve_after_late_deal_rejected(maker, checker, tmp_path):
    calc_service.calculate(maker, "2017-Q1")
    _import_late_deal(maker, tmp_path)
    with pytest.raises(ConflictError) as raised:
        close_service.approve(checker, "2017-Q1")
    message = str(raised.value)
    assert "deals records changed since run 1 of 2017-Q1" in message
    assert "recalculate 2017-Q1 before approving it" in message


def test_approval_blocker_names_changed_records(maker, tmp_path):
    calc_service.calculate(maker, "2017-Q1")
    _import_late_deal(maker, tmp_path)
    with maker.read() as connection:
        reason = close_service.approval_blocker(connection, "2017-Q1", "checker")
    assert "deals records changed since run 1" in reason


def test_close_after_late_deal_rejected(maker, checker, tmp_path):
    calc_service.calculate(maker, "2017-Q1")
    close_service.approve(checker, "2017-Q1")
    _import_late_deal(maker, tmp_path)
    with pytest.raises(ConflictError, match="recalculate 2017-Q1 and have it approved again before closing it"):
        close_service.close(checker, "2017-Q1")
    with maker.read() as connection:
        assert period_service.state(connection, "2017-Q1").state == "approved"
        assert "deals records changed" in close_service.close_blocker(connection, "2017-Q1")


def test_deal_of_later_quarter_does_not_block(maker, checker, tmp_path):
    calc_service.calculate(maker, "2017-Q1")
    _import(maker.path, tmp_path, "deals", DEALS_HEADER + "Q2DEAL,P1,5000,USD,2017-05-02,Won\n")
    close_service.approve(checker, "2017-Q1")
    assert close_service.close(checker, "2017-Q1").period.state == "closed"


def test_recalculated_period_pays_late_deal(maker, checker, tmp_path):
    calc_service.calculate(maker, "2017-Q1")
    close_service.approve(checker, "2017-Q1")
    _import_late_deal(maker, tmp_path)
    calc_service.calculate(maker, "2017-Q1")
    close_service.approve(checker, "2017-Q1")
    close_service.close(checker, "2017-Q1")
    assert _earnings(maker, "2017-Q1") == Decimal("4000.00")


def test_late_deal_after_close_becomes_prior_adjustment(maker, checker, tmp_path):
    calc_service.calculate(maker, "2017-Q1")
    close_service.approve(checker, "2017-Q1")
    close_service.close(checker, "2017-Q1")
    _import_late_deal(maker, tmp_path)
    calc_service.calculate(maker, "2017-Q2")
    with maker.read() as connection:
        carried = adjustment_service.query(connection, source="prior_period")
    assert [adjustment.amount for adjustment in carried] == [Decimal("1000.00")]


def test_maker_message_names_maker_and_acting_user(maker):
    calc_service.calculate(maker, "2017-Q1")
    with pytest.raises(PermissionDeniedError) as raised:
        close_service.approve(maker.as_user("MAKER"), "2017-Q1")
    assert "maker ran the latest calculation of 2017-Q1 (run 1) and the acting user is MAKER" in str(raised.value)


def test_maker_found_from_audit_when_period_row_edited(maker):
    import sqlite3

    calc_service.calculate(maker, "2017-Q1")
    with sqlite3.connect(maker.path) as connection:
        connection.execute("UPDATE period_states SET calculated_by = 'other' WHERE label = '2017-Q1'")
        connection.execute("UPDATE calc_runs SET user = 'other'")
    with pytest.raises(PermissionDeniedError, match="maker ran the latest calculation"):
        close_service.approve(maker, "2017-Q1")
