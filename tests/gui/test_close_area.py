"""The Close area driven through its widgets: approve, close, adjustments and inquiries."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QPushButton, QTableView

from spm_desktop.gui.areas.close import CHECKING, CloseArea
from spm_desktop.services import adjustment_service, inquiry_service, period_service
from spm_desktop.services.context import Workspace
from spm_desktop.store.tables.records import participants


@pytest.fixture
def prepared_path(tmp_path):
    path = tmp_path / "close.spm"
    with Workspace.create(path, user="maker") as created, created.transaction() as unit:
        unit.connection.execute(participants.insert(), [
            {"participant_id": "P1", "name": "Ana Diaz", "currency": "USD",
             "record_key": '["P1"]'},
        ])
    return path


@pytest.fixture
def area(qtbot, app_context, prepared_path):
    app_context.set_workspace(Workspace.open(prepared_path, "tester"))
    widget = CloseArea(app_context)
    qtbot.addWidget(widget)
    widget.resize(1300, 800)
    widget.show()
    return widget


def _calculated_by(workspace, user, label="2017-Q1", run_id=1):
    with workspace.as_user(user).transaction() as unit:
        period_service.record_calculation(unit, label, run_id)


def _find(area, kind, name):
    return area.findChild(kind, name)


def _click(qtbot, area, name):
    qtbot.mouseClick(_find(area, QPushButton, name), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=10_000)


def _click_row(qtbot, view, row):
    index = view.model().index(row, 0)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())
    # Approve and Close wait for the records check, which runs in a worker.
    qtbot.waitUntil(lambda: not view.window().context.busy, timeout=10_000)


def _type(qtbot, area, name, text):
    edit = area.findChild(QLineEdit, name) or area.findChild(QPlainTextEdit, name)
    edit.clear()
    qtbot.keyClicks(edit, text)


def _state(area, label="2017-Q1"):
    with area.context.workspace.read() as connection:
        return period_service.state(connection, label).state


def test_empty_state_without_workspace(qtbot, app_context):
    widget = CloseArea(app_context)
    qtbot.addWidget(widget)
    assert widget.stack.currentIndex() == 0
    assert "Open a workspace" in widget.empty.text()


def test_no_periods_shows_hint(area):
    assert area.periods_panel.stack.currentWidget() is area.periods_panel.empty
    assert "Nothing here yet" in area.periods_panel.empty.text()


def test_maker_sees_approve_disabled_with_reason(qtbot, area):
    _calculated_by(area.context.workspace, "tester")
    area.context.notify_changed({"periods"})
    _click_row(qtbot, _find(area, QTableView, "periodsTable"), 0)
    assert not _find(area, QPushButton, "approveButton").isEnabled()
    assert "another user must approve it" in area.periods_panel.hint.text()


def test_records_check_runs_in_a_worker(qtbot, area):
    _calculated_by(area.context.workspace, "maker")
    area.context.notify_changed({"periods"})
    panel = area.periods_panel
    panel.period_input.setText("2017-Q1")
    qtbot.waitUntil(lambda: not area.context.busy, timeout=10_000)
    panel._blocker_cache.clear()
    panel.update_buttons()
    # The check has started but its result has not reached the GUI thread yet.
    assert area.context.busy
    assert not _find(area, QPushButton, "approveButton").isEnabled()
    assert _find(area, QPushButton, "approveButton").toolTip() == CHECKING
    qtbot.waitUntil(lambda: _find(area, QPushButton, "approveButton").isEnabled(), timeout=10_000)
    assert _find(area, QPushButton, "approveButton").toolTip() == "Approve run 1 of 2017-Q1"


def test_checker_approves_and_closes(qtbot, area):
    _calculated_by(area.context.workspace, "maker")
    area.context.notify_changed({"periods"})
    _click_row(qtbot, _find(area, QTableView, "periodsTable"), 0)
    assert _find(area, QPushButton, "approveButton").isEnabled()
    assert not _find(area, QPushButton, "closeButton").isEnabled()
    _click(qtbot, area, "approveButton")
    assert _state(area) == "approved"
    assert _find(area, QPushButton, "closeButton").isEnabled()
    _click(qtbot, area, "closeButton")
    assert _state(area) == "closed"
    assert "2017-Q1 closed by tester" in area.status.text()
    assert not _find(area, QPushButton, "calculateButton").isEnabled()
    assert area.periods_panel.model.row(0)[1] == "closed"


def test_add_adjustment_pending_and_author_cannot_approve(qtbot, area):
    for name, text in (("adjustmentParticipant", "P1"), ("adjustmentPeriod", "2017-Q2"),
                       ("adjustmentAmount", "-125.50"), ("adjustmentReason", "CLAWBACK_FIX"),
                       ("adjustmentNote", "returned order")):
        _type(qtbot, area, name, text)
    _click(qtbot, area, "addAdjustmentButton")
    table = _find(area, QTableView, "adjustmentsTable")
    assert table.model().rowCount() == 1
    assert table.model().row(0)[2] == "Ana Diaz"
    assert table.model().row(0)[4] == "-125.50 USD"
    assert table.model().row(0)[6] == "pending"
    _click_row(qtbot, table, 0)
    assert not _find(area, QPushButton, "approveAdjustmentButton").isEnabled()
    assert _find(area, QPushButton, "rejectAdjustmentButton").isEnabled()


def test_checker_approves_adjustment(qtbot, area):
    adjustment_service.create(area.context.workspace.as_user("maker"), "P1", "2017-Q2", "300", "SPIF_FIX")
    area.context.notify_changed({"adjustments"})
    table = _find(area, QTableView, "adjustmentsTable")
    _click_row(qtbot, table, 0)
    assert area.adjustments_panel.detail.text() == "Adjustment 1: 300.00 USD SPIF_FIX (manual, pending)"
    _click(qtbot, area, "approveAdjustmentButton")
    assert table.model().row(0)[6] == "approved"
    assert table.model().row(0)[10] == "tester"


def test_invalid_adjustment_shows_error(qtbot, area):
    for name, text in (("adjustmentParticipant", "P1"), ("adjustmentPeriod", "2017-Q2"),
                       ("adjustmentAmount", "12.345"), ("adjustmentReason", "FIX")):
        _type(qtbot, area, name, text)
    _click(qtbot, area, "addAdjustmentButton")
    assert "more decimals than USD allows" in str(area.context.last_error)
    area.context.last_error_dialog.close()


def test_inquiry_from_open_to_resolved_with_adjustment(qtbot, area):
    area.tabs.setCurrentIndex(1)
    _type(qtbot, area, "inquiryParticipant", "P1")
    _type(qtbot, area, "inquiryPeriod", "2017-Q2")
    _type(qtbot, area, "inquiryText", "My May deal D-17 is missing")
    _click(qtbot, area, "logInquiryButton")
    table = _find(area, QTableView, "inquiriesTable")
    assert table.model().row(0)[5] == "open"

    _click_row(qtbot, table, 0)
    _type(qtbot, area, "inquiryResponse", "It was credited to Ben; we will fix it")
    _click(qtbot, area, "answerButton")
    assert table.model().row(0)[5] == "answered"

    _click_row(qtbot, table, 0)
    _type(qtbot, area, "inquiryResponse", "Credited by adjustment")
    _type(qtbot, area, "resolutionAmount", "450")
    _type(qtbot, area, "resolutionReason", "MISSED_CREDIT")
    _click(qtbot, area, "resolveButton")
    assert table.model().row(0)[5] == "resolved"
    assert table.model().row(0)[9] == 1
    assert "adjustment 1 awaits approval" in area.status.text()
    adjustments = _find(area, QTableView, "adjustmentsTable")
    assert adjustments.model().row(0)[7] == "inquiry"


def test_inquiry_state_filter(qtbot, area):
    workspace = area.context.workspace
    first = inquiry_service.raise_inquiry(workspace, "P1", "2017-Q2", "one")
    inquiry_service.raise_inquiry(workspace, "P1", "2017-Q3", "two")
    inquiry_service.resolve(workspace, first.id, "explained")
    area.context.notify_changed({"inquiries"})
    area.tabs.setCurrentIndex(1)
    combo = area.inquiries_panel.state_filter
    combo.setCurrentText("resolved")
    combo.activated.emit(combo.currentIndex())
    table = _find(area, QTableView, "inquiriesTable")
    assert table.model().rowCount() == 1
    assert table.model().row(0)[0] == first.id


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


def _calculable(workspace):
    import json

    from spm_desktop.domain.records import RECORD_SETS
    from spm_desktop.services import metric_service, plan_service
    from spm_desktop.store.tables.records import RECORD_TABLES, column_name

    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN)
    with workspace.transaction() as unit:
        unit.connection.execute(participants.update().values(role="AE", hire_date="2016-01-04"))
        spec = RECORD_SETS["deals"]
        row = {"deal_id": "D1", "owner": "P1", "amount": 20_000 * 10_000, "currency": "USD",
               "close_date": "2017-02-10", "stage": "Won", "type": "sale"}
        values = {column_name(field): row.get(field.name) for field in spec.fields}
        values["record_key"] = json.dumps(["D1", None, "sale"])
        unit.connection.execute(RECORD_TABLES["deals"].insert(), [values])


def test_calculate_button_runs_calculation(qtbot, area):
    _calculable(area.context.workspace)
    _type(qtbot, area, "periodInput", "2017-Q1")
    _click(qtbot, area, "calculateButton")
    assert _state(area) == "calculated"
    assert area.periods_panel.model.row(0)[5] == "tester"
    assert not _find(area, QPushButton, "approveButton").isEnabled()
    assert "tester ran the latest calculation of 2017-Q1" in area.periods_panel.hint.text()


def test_stage_imported_adjustments(qtbot, area):
    import json

    from spm_desktop.domain.records import RECORD_SETS
    from spm_desktop.store.tables.records import RECORD_TABLES, column_name

    row = {"participant_id": "P1", "period": "2017-Q2", "amount": 455_000, "currency": "USD",
           "reason_code": "RETURN", "note": "order 4711"}
    values = {column_name(field): row.get(field.name) for field in RECORD_SETS["adjustments"].fields}
    values["record_key"] = json.dumps(["adjustment", 1])
    with area.context.workspace.transaction() as unit:
        unit.connection.execute(RECORD_TABLES["adjustments"].insert(), [values])
    _click(qtbot, area, "stageImportedButton")
    table = _find(area, QTableView, "adjustmentsTable")
    assert table.model().row(0)[4] == "45.50 USD"
    assert table.model().row(0)[7] == "import"
    assert "Staged 1 imported adjustments" in area.status.text()
