"""The Audit area driven through its widgets: filters, before/after, verify, export, payout trace."""

import csv

import pytest
from ae_plan import METRICS
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QPushButton, QTableView

from spm_desktop.gui.areas.audit import AuditArea
from spm_desktop.services import adjustment_service, close_service, inquiry_service, period_service
from spm_desktop.services.context import Workspace
from spm_desktop.store.tables.records import participants


@pytest.fixture
def prepared_path(tmp_path):
    path = tmp_path / "audit.spm"
    with Workspace.create(path, user="maker") as created:
        with created.transaction() as unit:
            unit.connection.execute(participants.insert(), [
                {"participant_id": "P1", "name": "Ana Diaz", "currency": "USD",
                 "record_key": '["P1"]'},
                {"participant_id": "P2", "name": "Ben Ode", "currency": "USD",
                 "record_key": '["P2"]'},
            ])
            period_service.record_calculation(unit, "2017-Q1", 1)
        checker = created.as_user("checker")
        close_service.approve(checker, "2017-Q1")
        adjustment_service.create(created, "P1", "2017-Q2", "100", "SPIF_FIX")
        adjustment_service.create(created, "P2", "2017-Q2", "50", "SPIF_FIX")
        inquiry_service.raise_inquiry(created, "P2", "2017-Q1", "Where is D-4?")
    return path


@pytest.fixture
def area(qtbot, app_context, prepared_path):
    app_context.set_workspace(Workspace.open(prepared_path, "tester"))
    widget = AuditArea(app_context)
    qtbot.addWidget(widget)
    widget.resize(1300, 800)
    widget.show()
    return widget


def _filter(qtbot, area, name, text):
    edit = area.findChild(QLineEdit, name)
    edit.clear()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def _actions(area):
    return [area.model.row(index)[3] for index in range(area.model.rowCount())]


def test_all_entries_listed_newest_first(area):
    assert _actions(area)[0] == "inquiry.raise"
    assert _actions(area)[-1] == "workspace.create"


def test_period_filter(qtbot, area):
    _filter(qtbot, area, "periodFilter", "2017-Q1")
    assert _actions(area) == ["inquiry.raise", "period.approve", "period.calculate"]


def test_participant_filter(qtbot, area):
    _filter(qtbot, area, "participantFilter", "P2")
    assert _actions(area) == ["inquiry.raise", "adjustment.create"]


def test_period_and_participant_together(qtbot, area):
    _filter(qtbot, area, "periodFilter", "2017-Q2")
    _filter(qtbot, area, "participantFilter", "P1")
    assert _actions(area) == ["adjustment.create"]


def test_user_filter(qtbot, area):
    combo = area.user_filter
    combo.setCurrentText("checker")
    combo.activated.emit(combo.currentIndex())
    assert _actions(area) == ["period.approve"]


def test_before_after_side_by_side(qtbot, area):
    _filter(qtbot, area, "periodFilter", "2017-Q1")
    table = area.findChild(QTableView, "auditTable")
    index = table.model().index(1, 0)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(index).center())
    before = area.findChild(QPlainTextEdit, "beforeView").toPlainText()
    after = area.findChild(QPlainTextEdit, "afterView").toPlainText()
    assert '"state": "calculated"' in before
    assert '"state": "approved"' in after


def test_follow_period_entry_without_run_details(qtbot, area):
    _filter(qtbot, area, "periodFilter", "2017-Q1")
    table = area.findChild(QTableView, "auditTable")
    index = table.model().index(0, 0)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(index).center())
    qtbot.mouseClick(area.findChild(QPushButton, "followRunButton"), Qt.MouseButton.LeftButton)
    assert "names no calculation run" in area.trace_view.toPlainText()


def test_export_shown_entries(qtbot, area, tmp_path):
    _filter(qtbot, area, "participantFilter", "P2")
    target = tmp_path / "shown.csv"
    area.export_to(target)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=10_000)
    with target.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["action"] for row in rows] == ["adjustment.create", "inquiry.raise"]
    assert "Exported 2 entries" in area.status.text()


def test_trace_without_calculation_reports_error(qtbot, area):
    _filter(qtbot, area, "traceParticipant", "P1")
    _filter(qtbot, area, "tracePeriod", "2017-Q3")
    qtbot.mouseClick(area.findChild(QPushButton, "tracePayoutButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=10_000)
    assert "2017-Q3 has not been calculated" in str(area.context.last_error)
    area.context.last_error_dialog.close()


def test_verify_reports_intact_trail(qtbot, area):
    qtbot.mouseClick(area.findChild(QPushButton, "verifyButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=10_000)
    assert area.status.text().startswith("Verified:")



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
    tiers:
      method: flat
      by: amount
      bands:
        - {from: 0, rate: 0.05}
"""


def _calculated_q2(area):
    """Calculate 2017-Q2 with one 20,000.00 deal of P1 at a flat 5% (1,000.00) and return the run."""
    import json

    from spm_desktop.domain.records import RECORD_SETS
    from spm_desktop.services import calc_service, metric_service, plan_service
    from spm_desktop.store.tables.records import RECORD_TABLES, column_name

    workspace = area.context.workspace
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN)
    with workspace.transaction() as unit:
        unit.connection.execute(participants.update().values(role="AE", hire_date="2016-01-04"))
        row = {"deal_id": "D1", "owner": "P1", "amount": 20_000 * 10_000, "currency": "USD",
               "close_date": "2017-05-10", "stage": "Won", "type": "sale"}
        values = {column_name(field): row.get(field.name) for field in RECORD_SETS["deals"].fields}
        values["record_key"] = json.dumps(["D1", None, "sale"])
        unit.connection.execute(RECORD_TABLES["deals"].insert(), [values])
    summary = calc_service.calculate(workspace, "2017-Q2")[0]
    area.context.notify_changed({"results"})
    return summary


def test_trace_payout_follows_run_and_inputs(qtbot, area):
    summary = _calculated_q2(area)
    _filter(qtbot, area, "traceParticipant", "P1")
    _filter(qtbot, area, "tracePeriod", "2017-Q2")
    qtbot.mouseClick(area.findChild(QPushButton, "tracePayoutButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=10_000)
    text = area.trace_view.toPlainText()
    assert "Payout of P1 in 2017-Q2 (calculated)" in text
    assert "Bookings commission: 1,000.00 USD" in text
    assert f"Run {summary.run_id} of 2017-Q2" in text
    assert f"Input fingerprint {summary.input_fingerprint}" in text
    assert "records.deals:" in text
    assert area.period_filter.text() == "2017-Q2"


def test_follow_calc_run_entry(qtbot, area):
    summary = _calculated_q2(area)
    combo = area.action_filter
    combo.setCurrentText("calc.run")
    combo.activated.emit(combo.currentIndex())
    table = area.findChild(QTableView, "auditTable")
    index = table.model().index(0, 0)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(index).center())
    qtbot.mouseClick(area.findChild(QPushButton, "followRunButton"), Qt.MouseButton.LeftButton)
    assert f"Run {summary.run_id} of 2017-Q2" in area.trace_view.toPlainText()
