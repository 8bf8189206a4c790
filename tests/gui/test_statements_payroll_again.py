"""A second payroll export from the Statements area requests confirmation first."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox, QPushButton

from spm_desktop.gui.areas.statements import StatementsArea
from spm_desktop.services import close_service, payroll_service
from spm_desktop.services.context import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "exporting"))
from statement_workspace import PERIOD, create_statement_workspace


@pytest.fixture
def area(qtbot, app_context, tmp_path: Path) -> StatementsArea:
    path = tmp_path / "statements.spm"
    with create_statement_workspace(path) as created:
        close_service.approve(created.as_user("checker"), PERIOD)
        payroll_service.export_payroll(created.as_user("finance"), PERIOD, tmp_path / "first.csv")
    app_context.set_workspace(Workspace.open(path, "tester"))
    widget = StatementsArea(app_context)
    qtbot.addWidget(widget)
    widget.resize(1280, 820)
    widget.show()
    return widget


def _export_to(qtbot, area: StatementsArea, target: Path, monkeypatch: pytest.MonkeyPatch) -> QMessageBox:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    qtbot.mouseClick(area.findChild(QPushButton, "exportPayroll"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: area.payroll_again_dialog is not None and area.payroll_again_dialog.isVisible())
    return area.payroll_again_dialog


def test_repeat_asks_and_no_keeps_file_unwritten(qtbot, area: StatementsArea, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    dialog = _export_to(qtbot, area, tmp_path / "second.csv", monkeypatch)
    assert "exported before" in dialog.text()
    assert "first.csv" in dialog.text()
    qtbot.mouseClick(dialog.button(QMessageBox.StandardButton.No), Qt.MouseButton.LeftButton)
    assert not (tmp_path / "second.csv").exists()
    assert "not exported again" in area.findChild(QLabel, "statementStatus").text()


def test_repeat_confirmed_writes_file(qtbot, area: StatementsArea, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    dialog = _export_to(qtbot, area, tmp_path / "second.csv", monkeypatch)
    qtbot.mouseClick(dialog.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=30_000)
    assert (tmp_path / "second.csv").exists()
    assert "It repeats 1 earlier export(s)." in area.findChild(QLabel, "statementStatus").text()
