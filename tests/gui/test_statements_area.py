"""The Statements area driven through its widgets: choose, preview, export and payroll."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QFileDialog, QLabel, QLineEdit, QPushButton, QTableView

from spm_desktop.gui.areas.statements import NO_WORKSPACE, StatementsArea
from spm_desktop.services import close_service, statement_service
from spm_desktop.services.context import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "exporting"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "statements"))
from long_statement_workspace import create_long_statement_workspace
from statement_processes import cli_statement_pdf
from statement_workspace import PERIOD, create_statement_workspace


@pytest.fixture
def prepared_path(tmp_path: Path) -> Path:
    path = tmp_path / "statements.spm"
    create_statement_workspace(path).close()
    return path


@pytest.fixture
def area(qtbot, app_context, prepared_path: Path) -> StatementsArea:
    app_context.set_workspace(Workspace.open(prepared_path, "tester"))
    widget = StatementsArea(app_context)
    qtbot.addWidget(widget)
    widget.resize(1280, 820)
    widget.show()
    return widget


def _click(qtbot, area: StatementsArea, name: str) -> None:
    qtbot.mouseClick(area.findChild(QPushButton, name), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=30_000)


def _select_row(qtbot, area: StatementsArea, row: int) -> None:
    view = area.findChild(QTableView, "statementParticipants")
    index = view.model().index(row, 0)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())
    qtbot.waitUntil(lambda: area.preview_page_count > 0, timeout=30_000)


def _set_output(area: StatementsArea, folder: Path) -> None:
    edit = area.findChild(QLineEdit, "statementOutput")
    edit.setText(str(folder))


def test_without_workspace_shows_hint(qtbot, app_context) -> None:
    widget = StatementsArea(app_context)
    qtbot.addWidget(widget)
    assert widget.empty.text() == NO_WORKSPACE


def test_lists_calculated_period_and_participants(area: StatementsArea) -> None:
    assert area.findChild(QComboBox, "statementPeriod").currentText() == PERIOD
    model = area.findChild(QTableView, "statementParticipants").model()
    assert model.rowCount() == 2
    assert model.index(0, 0).data() == "P-1007"
    assert model.index(0, 3).data() == "Draft"


def test_preview_renders_selected_statement(qtbot, area: StatementsArea) -> None:
    _select_row(qtbot, area, 0)
    pixmap = area.findChild(QLabel, "statementPreview").pixmap()
    assert not pixmap.isNull()
    assert pixmap.width() > 400
    assert area.findChild(QLabel, "previewPageLabel").text() == "Page 1 of 1"


def test_export_selected_writes_one_statement(qtbot, area: StatementsArea, tmp_path: Path) -> None:
    _set_output(area, tmp_path / "out")
    area.findChild(QCheckBox, "formatXlsx").setChecked(False)
    _select_row(qtbot, area, 0)
    _click(qtbot, area, "exportSelected")
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["statement_2017-Q3_P-1007.pdf"]
    assert "1 of them marked DRAFT" in area.findChild(QLabel, "statementStatus").text()


def test_preview_pages_through_statement(qtbot, app_context, tmp_path: Path) -> None:
    path = tmp_path / "long.spm"
    create_long_statement_workspace(path)
    app_context.set_workspace(Workspace.open(path, "tester"))
    widget = StatementsArea(app_context)
    qtbot.addWidget(widget)
    widget.resize(1280, 820)
    widget.show()
    label = widget.findChild(QLabel, "previewPageLabel")
    _select_row(qtbot, widget, 0)
    assert label.text() == "Page 1 of 3"

    qtbot.mouseClick(widget.findChild(QPushButton, "nextPage"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: label.text() == "Page 2 of 3", timeout=30_000)
    assert not widget.findChild(QLabel, "statementPreview").pixmap().isNull()
    assert widget.findChild(QPushButton, "previousPage").isEnabled()

    qtbot.mouseClick(widget.findChild(QPushButton, "previousPage"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: label.text() == "Page 1 of 3", timeout=30_000)
    assert not widget.findChild(QPushButton, "previousPage").isEnabled()


def test_exported_pdf_matches_cli(qtbot, area: StatementsArea, prepared_path: Path, tmp_path: Path) -> None:
    _set_output(area, tmp_path / "gui")
    area.findChild(QCheckBox, "formatXlsx").setChecked(False)
    _select_row(qtbot, area, 0)
    _click(qtbot, area, "exportSelected")
    from_gui = (tmp_path / "gui" / "statement_2017-Q3_P-1007.pdf").read_bytes()

    from_cli = cli_statement_pdf(prepared_path, tmp_path / "cli")

    assert from_gui == from_cli


def test_export_all_writes_every_format(qtbot, area: StatementsArea, tmp_path: Path) -> None:
    _set_output(area, tmp_path / "all")
    _click(qtbot, area, "exportAll")
    assert len(list((tmp_path / "all").iterdir())) == 4
    assert len(statement_service.issued_statements(area.context.workspace, PERIOD)) == 4


def test_payroll_of_unapproved_period_shows_error(qtbot, area: StatementsArea, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(tmp_path / "p.csv"), ""))
    _click(qtbot, area, "exportPayroll")
    assert "not approved" in str(area.context.last_error)
    area.context.last_error_dialog.close()
    assert not (tmp_path / "p.csv").exists()


def test_payroll_of_approved_period_written(qtbot, area: StatementsArea, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    close_service.approve(area.context.workspace.as_user("checker"), PERIOD)
    area.context.notify_changed({"periods"})
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(tmp_path / "p.csv"), ""))
    _click(qtbot, area, "exportPayroll")
    assert (tmp_path / "p.csv").exists()
    assert "Wrote 2 payroll rows" in area.findChild(QLabel, "statementStatus").text()
    assert area.findChild(QTableView, "statementParticipants").model().index(0, 3).data() == "Approved"


def test_screenshot_of_preview(qtbot, area: StatementsArea, tmp_path: Path) -> None:
    """Grab the area; with SPM_SCREENSHOTS=1 the picture also replaces docs/img/statements-area.png."""
    _set_output(area, Path("/home/finance/Statements/2017-Q3"))
    _select_row(qtbot, area, 0)
    target = tmp_path / "statements-area.png"
    assert area.grab().save(str(target))
    if os.environ.get("SPM_SCREENSHOTS"):
        shutil.copyfile(target, Path(__file__).resolve().parents[2] / "docs" / "img" / "statements-area.png")


def test_open_missing_folder_explains(qtbot, area: StatementsArea, tmp_path: Path) -> None:
    _set_output(area, tmp_path / "not-yet")
    qtbot.mouseClick(area.findChild(QPushButton, "openOutput"), Qt.MouseButton.LeftButton)
    assert "does not exist yet" in area.findChild(QLabel, "statementStatus").text()


def test_export_without_format_explains(qtbot, area: StatementsArea, tmp_path: Path) -> None:
    _set_output(area, tmp_path / "none")
    area.findChild(QCheckBox, "formatPdf").setChecked(False)
    area.findChild(QCheckBox, "formatXlsx").setChecked(False)
    _click(qtbot, area, "exportAll")
    assert area.findChild(QLabel, "statementStatus").text() == "Choose PDF, XLSX or both before exporting."
    assert not (tmp_path / "none").exists()
