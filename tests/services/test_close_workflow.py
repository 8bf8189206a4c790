"""Approve and close: maker-checker, close order, locks and warnings (calculation runs stand in by id)."""

import pytest
from sqlalchemy import select

from spm_desktop.services import adjustment_service, close_service, inquiry_service, period_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ConflictError, PeriodLockedError, PermissionDeniedError
from spm_desktop.store.tables.core import audit_log
from spm_desktop.store.tables.records import participants


@pytest.fixture
def maker(tmp_path):
    with Workspace.create(tmp_path / "close.spm", user="maker") as created:
        with created.transaction() as unit:
            unit.connection.execute(participants.insert(), [
                {"participant_id": "P1", "name": "Ana Diaz", "currency": "USD",
                 "record_key": '["P1"]'},
                {"participant_id": "P2", "name": "Ben Ode", "currency": "EUR",
                 "record_key": '["P2"]'},
            ])
        yield created


@pytest.fixture
def checker(maker):
    return maker.as_user("checker")


def _calculated(workspace, label, run_id=1):
    with workspace.transaction() as unit:
        period_service.record_calculation(unit, label, run_id)


def _closed(maker, checker, label, run_id=1):
    _calculated(maker, label, run_id)
    close_service.approve(checker, label)
    return close_service.close(checker, label)


def _state(workspace, label):
    with workspace.read() as connection:
        return period_service.state(connection, label)


def test_approve_by_maker_rejected(maker):
    _calculated(maker, "2017-Q1")
    with pytest.raises(PermissionDeniedError, match="another user must approve"):
        close_service.approve(maker, "2017-Q1")
    assert _state(maker, "2017-Q1").state == "calculated"


def test_approve_by_checker_accepted(maker, checker):
    _calculated(maker, "2017-Q1", run_id=4)
    approved = close_service.approve(checker, "2017-Q1")
    assert approved.state == "approved"
    assert approved.approved_by == "checker"
    assert approved.approved_run_id == 4
    assert _state(maker, "2017-Q1").state == "approved"


def test_approval_blocker_explains_maker(maker):
    _calculated(maker, "2017-Q1")
    with maker.read() as connection:
        reason = close_service.approval_blocker(connection, "2017-Q1", "maker")
        none_for_checker = close_service.approval_blocker(connection, "2017-Q1", "checker")
    assert "maker ran the latest calculation of 2017-Q1" in reason
    assert none_for_checker is None


def test_approve_uncalculated_rejected(checker):
    with pytest.raises(ConflictError, match="has not been calculated"):
        close_service.approve(checker, "2017-Q1")


def test_approve_twice_rejected(maker, checker):
    _calculated(maker, "2017-Q1")
    close_service.approve(checker, "2017-Q1")
    with pytest.raises(ConflictError, match="already approved by checker"):
        close_service.approve(checker.as_user("third"), "2017-Q1")


def test_recalculation_clears_approval(maker, checker):
    _calculated(maker, "2017-Q1", run_id=1)
    close_service.approve(checker, "2017-Q1")
    _calculated(maker, "2017-Q1", run_id=2)
    current = _state(maker, "2017-Q1")
    assert current.state == "calculated"
    assert current.approved_by is None


def test_checker_who_recalculates_cannot_approve(maker, checker):
    _calculated(maker, "2017-Q1", run_id=1)
    _calculated(checker, "2017-Q1", run_id=2)
    with pytest.raises(PermissionDeniedError):
        close_service.approve(checker, "2017-Q1")
    assert close_service.approve(maker, "2017-Q1").approved_by == "maker"


def test_close_requires_approval(maker, checker):
    _calculated(maker, "2017-Q1")
    with pytest.raises(ConflictError, match="not approved"):
        close_service.close(checker, "2017-Q1")


def test_close_sets_closed_and_audits(maker, checker):
    outcome = _closed(maker, checker, "2017-Q1")
    assert outcome.period.state == "closed"
    assert outcome.period.closed_by == "checker"
    with maker.read() as connection:
        actions = [row.action for row in connection.execute(select(audit_log.c.action).order_by(audit_log.c.seq))]
    assert actions[-2:] == ["period.close", "period.close_warning"]
    assert "period.approve" in actions


def test_close_in_date_order(maker, checker):
    _calculated(maker, "2017-Q1", run_id=1)
    _calculated(maker, "2017-Q2", run_id=2)
    close_service.approve(checker, "2017-Q2")
    with pytest.raises(ConflictError, match="cannot close before 2017-Q1"):
        close_service.close(checker, "2017-Q2")


def test_close_rejects_pending_adjustment(maker, checker):
    _calculated(maker, "2017-Q1")
    close_service.approve(checker, "2017-Q1")
    pending = adjustment_service.create(maker, "P1", "2017-Q1", "100.00", "SPIF_FIX")
    with pytest.raises(ConflictError, match=f"adjustment {pending.id} of 2017-Q1 is still pending"):
        close_service.close(checker, "2017-Q1")


def test_close_warns_about_open_inquiries(maker, checker):
    inquiry_service.raise_inquiry(maker, "P1", "2017-Q1", "Deal D-7 is missing from my statement")
    outcome = _closed(maker, checker, "2017-Q1")
    assert "1 inquiries about 2017-Q1 are not resolved yet" in outcome.warnings


NOT_SIGNED = "no tie-out of 2017-Q1 was signed off; tie credits and payouts out before paying"


def _tieout(workspace, signed_off_by):
    from spm_desktop.store.tables.tieout import tieout_sources, tieouts

    with workspace.transaction() as unit:
        source_id = unit.connection.execute(tieout_sources.insert().values(
            kind="payouts", period="2017-Q1", file_name="payroll.csv", sha256="0" * 64, mapping="{}",
            row_count=0, imported_by="maker", imported_at="2017-04-02T09:00:00+00:00")).inserted_primary_key[0]
        unit.connection.execute(tieouts.insert().values(
            period="2017-Q1", kind="payouts", source_id=source_id, basis="run 1", options="{}", figures="{}",
            created_by="maker", created_at="2017-04-02T09:00:00+00:00", signed_off_by=signed_off_by,
            signed_off_at=None if signed_off_by is None else "2017-04-02T10:00:00+00:00"))


def test_close_warns_without_tieout(maker, checker):
    outcome = _closed(maker, checker, "2017-Q1")
    assert outcome.warnings == [NOT_SIGNED]


def test_close_warns_when_tieout_not_signed(maker, checker):
    _tieout(maker, None)
    outcome = _closed(maker, checker, "2017-Q1")
    assert outcome.warnings == [NOT_SIGNED]


def test_close_with_signed_tieout_has_no_warning(maker, checker):
    _tieout(maker, "controller")
    outcome = _closed(maker, checker, "2017-Q1")
    assert outcome.warnings == []


def test_closed_period_rejects_recalculation(maker, checker):
    _closed(maker, checker, "2017-Q1")
    with pytest.raises(PeriodLockedError, match="2017-Q1 is closed by checker"):
        _calculated(maker, "2017-Q1", run_id=9)


def test_closed_period_rejects_approval_and_second_close(maker, checker):
    _closed(maker, checker, "2017-Q1")
    with pytest.raises(PeriodLockedError):
        close_service.approve(checker.as_user("third"), "2017-Q1")
    with pytest.raises(PeriodLockedError):
        close_service.close(checker, "2017-Q1")


def test_closed_period_rejects_new_adjustment(maker, checker):
    _closed(maker, checker, "2017-Q1")
    with pytest.raises(PeriodLockedError, match="record the change as an adjustment"):
        adjustment_service.create(maker, "P1", "2017-Q1", "50.00", "LATE_DEAL")


def test_closed_period_rejects_adjustment_decision(maker, checker):
    _calculated(maker, "2017-Q1")
    pending = adjustment_service.create(maker, "P1", "2017-Q1", "50.00", "LATE_DEAL")
    adjustment_service.approve(checker, pending.id)
    _calculated(maker, "2017-Q1", run_id=2)
    close_service.approve(checker, "2017-Q1")
    close_service.close(checker, "2017-Q1")
    with pytest.raises(ConflictError, match="already approved"):
        adjustment_service.reject(checker, pending.id)


def test_closed_period_rejects_plan_dates(maker, checker):
    import datetime as dt

    _closed(maker, checker, "2017-Q1")
    with maker.read() as connection, pytest.raises(PeriodLockedError, match="inside closed period 2017-Q1"):
        period_service.assert_dates_open(connection, dt.date(2017, 2, 1), dt.date(2017, 12, 31), "plan AE")


def test_adjustment_approved_after_calculation_blocks_approval(maker, checker):
    _calculated(maker, "2017-Q1")
    created = adjustment_service.create(maker, "P1", "2017-Q1", "75.00", "SPIF_FIX")
    adjustment_service.approve(checker, created.id)
    with pytest.raises(ConflictError, match="recalculate 2017-Q1"):
        close_service.approve(checker, "2017-Q1")


def test_verify_accepts_close_records(maker, checker):
    from spm_desktop.services import audit_service

    _closed(maker, checker, "2017-Q1")
    created = adjustment_service.create(maker, "P1", "2017-Q2", "10.00", "FIX")
    adjustment_service.approve(checker, created.id)
    report = audit_service.verify(maker)
    assert report.content_problems == []


def test_verify_names_edited_adjustment_and_period(maker, checker):
    import sqlite3

    from spm_desktop.services import audit_service

    _closed(maker, checker, "2017-Q1")
    created = adjustment_service.create(maker, "P1", "2017-Q2", "10.00", "FIX")
    with sqlite3.connect(maker.path) as connection:
        connection.execute("UPDATE adjustments SET amount_minor = 99900 WHERE id = ?", (created.id,))
        connection.execute("UPDATE period_states SET state = 'open' WHERE label = '2017-Q1'")
    problems = audit_service.verify(maker).content_problems
    edited = f"adjustment {created.id} differs from its audit entry in amount_minor; it was edited outside SPM Desktop"
    assert edited in problems
    assert "period state 2017-Q1 differs from its audit entry in state; it was edited outside SPM Desktop" in problems


def test_verify_names_deleted_adjustment(maker):
    import sqlite3

    from spm_desktop.services import audit_service

    created = adjustment_service.create(maker, "P1", "2017-Q2", "10.00", "FIX")
    with sqlite3.connect(maker.path) as connection:
        connection.execute("DELETE FROM adjustments WHERE id = ?", (created.id,))
    problems = audit_service.verify(maker).content_problems
    missing = (f"adjustment {created.id} is in the audit trail but missing from the workspace; "
               "it was deleted outside SPM Desktop")
    assert problems == [missing]


def test_approve_by_maker_in_other_case_rejected(maker):
    _calculated(maker, "2017-Q1")
    with pytest.raises(PermissionDeniedError):
        close_service.approve(maker.as_user("MAKER"), "2017-Q1")


def test_close_rejects_adjustment_approved_after_approval(maker, checker):
    _calculated(maker, "2017-Q1")
    close_service.approve(checker, "2017-Q1")
    created = adjustment_service.create(maker, "P1", "2017-Q1", "40.00", "SPIF_FIX")
    adjustment_service.approve(checker, created.id)
    with pytest.raises(ConflictError, match="closing now would never pay it"):
        close_service.close(checker, "2017-Q1")


def test_year_label_names_plan_periods(maker, checker):
    _calculated(maker, "2017-Q1")
    _calculated(maker, "2017-Q2", run_id=2)
    with pytest.raises(ConflictError) as raised:
        close_service.approve(checker, "2017")
    message = str(raised.value)
    assert "2017 has no state of its own" in message
    assert "plan periods 2017-Q1, 2017-Q2" in message
    assert "'spm approve WORKSPACE --period 2017-Q1'" in message


def test_close_year_label_names_plan_periods(maker, checker):
    _calculated(maker, "2017-Q1")
    with pytest.raises(ConflictError, match="close each of them"):
        close_service.close(checker, "2017")
