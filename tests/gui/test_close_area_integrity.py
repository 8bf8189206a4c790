"""The Close area explains why a run whose records changed cannot be approved or closed,
and lets the admin withdraw an imported adjustment row that staging rejected."""

import pytest
from ae_plan import METRICS, PLAN
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QPushButton, QTableView

from spm_desktop.cli import main
from spm_desktop.gui.areas.close import CloseArea
from spm_desktop.services import adjustment_service, calc_service, close_service, metric_service, plan_service
from spm_desktop.services.context import Workspace


def _import(path, record_set, text):
    source = path.parent / f"{record_set}-{abs(hash(text))}.csv"
    source.write_text(text, encoding="utf-8")
    assert main(["--user", "maker", "import", str(path), record_set, str(source)]) == 0


@pytest.fixture
def calculated_path(tmp_path):
    path = tmp_path / "close.spm"
    with Workspace.create(path, user="maker") as workspace:
        metric_service.load_yaml(workspace, METRICS)
        plan_service.load(workspace, PLAN)
    _import(path, "participants", "participant_id,name,role,currency,hire_date\nP1,Ana Diaz,AE,USD,2016-01-04\n")
    _import(path, "quotas", "participant_id,quota_key,period,amount,currency\nP1,bookings,2017-Q1,100000,USD\n")
    _import(path, "deals", "deal_id,owner,amount,currency,close_date,stage\nD1,P1,60000,USD,2017-01-10,Won\n")
    with Workspace.open(path, "maker") as workspace:
        calc_service.calculate(workspace, "2017-Q1")
    return path


@pytest.fixture
def area(qtbot, app_context, calculated_path):
    app_context.set_workspace(Workspace.open(calculated_path, "checker"))
    widget = CloseArea(app_context)
    qtbot.addWidget(widget)
    widget.resize(1300, 800)
    widget.show()
    return widget


def _late_deal(qtbot, area):
    _import(area.context.workspace.path, "deals",
            "deal_id,owner,amount,currency,close_date,stage\nLATE1,P1,20000,USD,2017-02-10,Won\n")
    area.context.notify_changed({"records"})
    qtbot.waitUntil(lambda: not area.context.busy, timeout=10_000)


def _show_period(qtbot, area, label="2017-Q1"):
    edit = area.findChild(QLineEdit, "periodInput")
    edit.clear()
    qtbot.keyClicks(edit, label)
    # Approve and Close wait for the records check, which runs in a worker.
    qtbot.waitUntil(lambda: not area.context.busy, timeout=10_000)


def _button(area, name):
    return area.findChild(QPushButton, name)


def test_approve_disabled_after_late_deal(qtbot, area):
    _show_period(qtbot, area)
    assert _button(area, "approveButton").isEnabled()
    _late_deal(qtbot, area)
    assert not _button(area, "approveButton").isEnabled()
    assert "deals records changed since run 1 of 2017-Q1" in area.periods_panel.hint.text()


def test_close_disabled_after_late_deal(qtbot, area):
    close_service.approve(area.context.workspace, "2017-Q1")
    area.context.notify_changed({"periods"})
    _show_period(qtbot, area)
    assert _button(area, "closeButton").isEnabled()
    _late_deal(qtbot, area)
    assert not _button(area, "closeButton").isEnabled()
    assert "have it approved again before closing it" in _button(area, "closeButton").toolTip()
    assert "deals records changed" in area.periods_panel.hint.text()


def test_withdraw_rejected_import_row(qtbot, area):
    _import(area.context.workspace.path, "adjustments",
            "participant_id,period,amount,reason_code\nP1,2017-Q2,10.00,OK\nP1,2017-Q2,0.001,TYPO\n")
    area.context.notify_changed({"records"})
    qtbot.mouseClick(_button(area, "stageImportedButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=10_000)
    assert "1 rows were rejected and stay unstaged" in area.status.text()
    table = area.findChild(QTableView, "unstagedImportsTable")
    assert table.model().rowCount() == 1
    assert table.model().row(0)[6] == "TYPO"
    table.selectRow(0)
    qtbot.mouseClick(_button(area, "withdrawImportButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=10_000)
    assert table.model().rowCount() == 0
    assert "withdrawn; staging skips it from now on" in area.status.text()
    assert adjustment_service.unstaged_imports(area.context.workspace) == []
