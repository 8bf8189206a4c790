"""Period states and the lock of a closed period, on real workspace files."""

import datetime as dt

import pytest
from sqlalchemy import select

from spm_desktop.services import period_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import PeriodLockedError
from spm_desktop.store.tables.close import period_states
from spm_desktop.store.tables.core import audit_log


@pytest.fixture
def workspace(tmp_path):
    with Workspace.create(tmp_path / "close.spm", user="maker") as created:
        yield created


def _force_closed(workspace, label):
    # Closing normally goes through close_service; these tests only need the lock.
    with workspace.transaction() as unit:
        before = period_service.state(unit.connection, label)
        after = period_service.PeriodState(**{**before.as_dict(), "state": "closed", "closed_by": "checker",
                                               "closed_at": "2017-04-05T10:00:00.000000+00:00"})
        period_service.write_state(unit, before, after, "period.close")


def test_unknown_period_is_open(workspace):
    with workspace.read() as connection:
        current = period_service.state(connection, "2017-Q1")
    assert current.state == "open"
    assert current.start_date == dt.date(2017, 1, 1)
    assert current.end_date == dt.date(2017, 3, 31)


def test_record_calculation_sets_calculated(workspace):
    with workspace.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q1", 7)
    with workspace.read() as connection:
        current = period_service.state(connection, "2017-Q1")
    assert current.state == "calculated"
    assert current.latest_run_id == 7
    assert current.calculated_by == "maker"
    assert current.calculated_at is not None


def test_record_calculation_audited_in_same_transaction(workspace):
    with workspace.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q1", 7)
    with workspace.read() as connection:
        actions = connection.execute(select(audit_log.c.action, audit_log.c.entity_id)).all()
    assert ("period.calculate", "2017-Q1") in actions


def _calculate_then_fail(workspace):
    with workspace.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q1", 7)
        raise RuntimeError("calculation failed after storing")


def test_record_calculation_rolls_back_with_caller(workspace):
    with pytest.raises(RuntimeError):
        _calculate_then_fail(workspace)
    with workspace.read() as connection:
        rows = connection.execute(select(period_states)).all()
    assert rows == []


def test_recalculation_clears_approval(workspace):
    with workspace.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q1", 1)
    with workspace.transaction() as unit:
        before = period_service.state(unit.connection, "2017-Q1")
        approved = period_service.PeriodState(**{**before.as_dict(), "state": "approved", "approved_by": "checker",
                                                  "approved_at": "x", "approved_run_id": 1})
        period_service.write_state(unit, before, approved, "period.approve")
    with workspace.as_user("maker2").transaction() as unit:
        period_service.record_calculation(unit, "2017-Q1", 2)
    with workspace.read() as connection:
        current = period_service.state(connection, "2017-Q1")
    assert current.state == "calculated"
    assert current.approved_by is None
    assert current.approved_run_id is None
    assert current.calculated_by == "maker2"


def test_record_calculation_rejects_closed(workspace):
    with workspace.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q1", 1)
    _force_closed(workspace, "2017-Q1")
    with pytest.raises(PeriodLockedError, match="2017-Q1 is closed"), workspace.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q1", 2)
    with workspace.read() as connection:
        current = period_service.state(connection, "2017-Q1")
    assert current.latest_run_id == 1


def test_assert_period_open_names_first_open_period(workspace):
    for run_id, label in enumerate(("2017-Q1", "2017-Q2"), start=1):
        with workspace.transaction() as unit:
            period_service.record_calculation(unit, label, run_id)
    _force_closed(workspace, "2017-Q1")
    with workspace.read() as connection, pytest.raises(PeriodLockedError) as raised:
        period_service.assert_period_open(connection, "2017-Q1")
    assert "adjustment in the first open period (2017-Q2)" in str(raised.value)
    assert "cannot be reopened" in str(raised.value)


def test_assert_period_open_passes_open_and_unknown(workspace):
    with workspace.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q1", 1)
    with workspace.read() as connection:
        period_service.assert_period_open(connection, "2017-Q1")
        period_service.assert_period_open(connection, "2019-Q4")


def test_labels_are_normalised(workspace):
    with workspace.transaction() as unit:
        period_service.record_calculation(unit, " 2017-q1 ", 1)
    with workspace.read() as connection:
        current = period_service.state(connection, "2017-Q1")
    assert current.label == "2017-Q1"
    assert current.state == "calculated"


def test_fiscal_labels_use_workspace_setting(workspace):
    workspace.set_setting(period_service.FISCAL_START_SETTING, 7)
    with workspace.transaction() as unit:
        period_service.record_calculation(unit, "fy2018-q1", 1)
    with workspace.read() as connection:
        current = period_service.state(connection, "FY2018-Q1")
    assert current.start_date == dt.date(2017, 7, 1)
    assert current.end_date == dt.date(2017, 9, 30)


def test_list_periods_sorted_by_start(workspace):
    for run_id, label in enumerate(("2017-Q3", "2017-01", "2017-Q1"), start=1):
        with workspace.transaction() as unit:
            period_service.record_calculation(unit, label, run_id)
    with workspace.read() as connection:
        labels = [period.label for period in period_service.list_periods(connection)]
    assert labels == ["2017-01", "2017-Q1", "2017-Q3"]


def test_assert_dates_open_rejects_overlap(workspace):
    with workspace.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q1", 1)
    _force_closed(workspace, "2017-Q1")
    with workspace.read() as connection, pytest.raises(PeriodLockedError) as raised:
        period_service.assert_dates_open(connection, dt.date(2017, 3, 1), None, "plan AE 2017 version 2")
    assert "inside closed period 2017-Q1" in str(raised.value)
    assert "effective from 2017-04-01 or later" in str(raised.value)


def test_assert_dates_open_allows_later_dates(workspace):
    with workspace.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q1", 1)
    _force_closed(workspace, "2017-Q1")
    with workspace.read() as connection:
        period_service.assert_dates_open(connection, dt.date(2017, 4, 1), dt.date(2017, 12, 31))


def test_week_label_with_explicit_period(workspace):
    from spm_desktop.domain.periods import parse_period

    cycle = parse_period("2024-01-17", "two_weeks", period_start=dt.date(2024, 1, 3))
    with workspace.transaction() as unit:
        period_service.record_calculation(unit, cycle.label, 1, period=cycle)
    with workspace.read() as connection:
        current = period_service.state(connection, "2024-01-17")
    assert current.end_date == dt.date(2024, 1, 30)
