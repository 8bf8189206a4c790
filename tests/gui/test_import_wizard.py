"""The import wizard and the Data area, driven through their widgets offscreen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from spm_desktop.gui.areas.data import DataArea
from spm_desktop.gui.import_wizard import ImportWizard
from spm_desktop.services import import_service, record_service
from spm_desktop.services.context import Workspace

MAVEN = Path(__file__).resolve().parents[1] / "data" / "maven-crm"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
TIMEOUT = 60_000

DEALS_CSV = """Quarterly export
Generated: 2024-04-02

opportunity_id,sales_agent,close_value,close_date,deal_stage,product
D-1,Anna Snelling,"1,200.00",2024-03-05,Won,GTX Pro
D-2,Anna Snelling,abc,2024-03-06,Won,GTX Pro
D-3,Cecily Lampkin,800,2024-03-07,Won,MG Special
D-4,Cecily Lampkin,950,2024-03-31,Won,MG Special
"""


@pytest.fixture
def opened(app_context, workspace_path):
    app_context.set_workspace(Workspace.open(workspace_path, "tester"))
    return app_context


def _wizard(qtbot, context, path: Path, record_set: str = "deals") -> ImportWizard:
    wizard = ImportWizard(context, None, record_set)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.file_page.path_edit.setText(str(path))
    return wizard


def _next(qtbot, wizard: ImportWizard, context) -> None:
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not context.busy, timeout=TIMEOUT)


def _walk_to_preview(qtbot, wizard: ImportWizard, context) -> None:
    _next(qtbot, wizard, context)
    assert wizard.currentPage() is wizard.sheet_page
    _next(qtbot, wizard, context)
    assert wizard.currentPage() is wizard.mapping_page
    _next(qtbot, wizard, context)
    assert wizard.currentPage() is wizard.preview_page


def test_wizard_finds_header_and_suggests_columns(qtbot, opened, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(DEALS_CSV, encoding="utf-8")
    wizard = _wizard(qtbot, opened, path)
    _next(qtbot, wizard, opened)
    assert wizard.sheet_page.header_spin.value() == 4
    _next(qtbot, wizard, opened)
    assert wizard.mapping_page.combos["owner"].currentText().startswith("sales_agent")
    assert wizard.mapping_page.combos["amount"].currentText().startswith("close_value")
    assert wizard.mapping_page.combos["line_id"].currentText() == "(not mapped)"


def test_wizard_blocks_errors_until_valid_rows_accepted(qtbot, opened, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(DEALS_CSV, encoding="utf-8")
    wizard = _wizard(qtbot, opened, path)
    _walk_to_preview(qtbot, wizard, opened)
    finish = wizard.button(QWizard.WizardButton.FinishButton)
    assert "Rejected: 1;" in wizard.preview_page.summary.text()
    assert not finish.isEnabled()
    wizard.preview_page.accept_valid_check.setChecked(True)
    assert finish.isEnabled()
    qtbot.mouseClick(finish, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.result is not None, timeout=TIMEOUT)
    assert wizard.result.counts.added == 3
    with opened.workspace.read() as connection:
        assert record_service.count_records(connection, "deals") == 3


def _problems_page(qtbot, opened, tmp_path):
    """Open the wizard on the deals file with problems, walk to the preview and return it and its problems table."""
    path = tmp_path / "deals.csv"
    path.write_text(DEALS_CSV, encoding="utf-8")
    wizard = _wizard(qtbot, opened, path)
    _walk_to_preview(qtbot, wizard, opened)
    return wizard, wizard.preview_page.problems_table


def test_problem_double_click_selects_row(qtbot, opened, tmp_path):
    wizard, table = _problems_page(qtbot, opened, tmp_path)
    errors = [row for row in range(table.model().rowCount())
              if table.model().index(row, 0).data() == "error"]
    index = table.model().index(errors[0], 1)
    table.scrollTo(index)
    rect = table.visualRect(index)
    # A view emits doubleClicked only for the index that the press of the same click hit.
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    selected = wizard.preview_page.preview_table.selectionModel().selectedRows()
    assert [item.row() for item in selected] == [1]


def test_alias_from_problem_rechecks_file(qtbot, opened, tmp_path):
    teams = import_service.preview(opened.workspace, "participants", MAVEN / "sales_teams.csv")
    import_service.commit(opened.workspace, teams)
    path = tmp_path / "deals.csv"
    path.write_text(DEALS_CSV.replace("D-3,Cecily Lampkin", "D-3,Cecily Lampkn"), encoding="utf-8")
    wizard = _wizard(qtbot, opened, path)
    _walk_to_preview(qtbot, wizard, opened)
    page = wizard.preview_page
    table = page.problems_table
    rows = [row for row in range(table.model().rowCount())
            if table.model().index(row, 3).data() == "unknown_participant"]
    index = table.model().index(rows[0], 3)
    table.scrollTo(index)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(index).center())
    assert page.alias_button.isEnabled()
    assert page.alias_target(page._chosen_problem) == ("owner", "Cecily Lampkn", "Cecily Lampkin")
    page.record_alias("owner", "Cecily Lampkn", "Cecily Lampkin")
    qtbot.waitUntil(lambda: not opened.busy and wizard.preview is not None, timeout=TIMEOUT)
    codes = [problem.code for problem in wizard.preview.problems]
    assert "unknown_participant" not in codes
    assert "alias_applied" in codes
    assert [alias.to_value for alias in import_service.list_aliases(opened.workspace, "deals")] == ["Cecily Lampkin"]


def test_wizard_reads_chosen_sheet(qtbot, opened, tmp_path):
    import xlsxwriter

    path = tmp_path / "book.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet("Notes").write(0, 0, "nothing here")
    sheet = workbook.add_worksheet("Deals")
    sheet.write_row(0, 0, ["deal_id", "owner", "amount"])
    sheet.write_row(1, 0, ["D-1", "P1", 10])
    workbook.close()
    wizard = _wizard(qtbot, opened, path)
    _next(qtbot, wizard, opened)
    wizard.sheet_page.sheet_combo.setCurrentText("Deals")
    wizard.sheet_page.sheet_combo.activated.emit(1)
    qtbot.waitUntil(lambda: not opened.busy, timeout=TIMEOUT)
    assert wizard.sample.sheet == "Deals"
    assert wizard.sheet_page.header_spin.value() == 1


def test_data_area_shows_counts_batches_and_records(qtbot, opened, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(DEALS_CSV, encoding="utf-8")
    area = DataArea(opened)
    qtbot.addWidget(area)
    wizard = _wizard(qtbot, opened, path)
    _walk_to_preview(qtbot, wizard, opened)
    wizard.preview_page.accept_valid_check.setChecked(True)
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.result is not None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: area.batch_model.rowCount() == 1, timeout=TIMEOUT)
    counts = {area.set_model.row(row)[0]: area.set_model.row(row)[1] for row in range(area.set_model.rowCount())}
    assert counts["deals"] == "3"
    assert area.batch_model.row(0)[2] == "deals.csv"
    assert area.browser_model.total == 3
    assert area.records_label.text() == "deals: 3 records"


def test_data_area_without_workspace_says_open_one(qtbot, app_context):
    area = DataArea(app_context)
    qtbot.addWidget(area)
    assert area.stack.currentIndex() == 0


@pytest.mark.slow
def test_wizard_screenshots(qtbot, opened, tmp_path):
    """Grab the mapping and problems pages on real CRM data; set SPM_SCREENSHOTS=1 to write docs/img."""
    workspace = opened.workspace
    teams = import_service.preview(workspace, "participants", MAVEN / "sales_teams.csv")
    import_service.commit(workspace, teams)
    lines = (MAVEN / "sales_pipeline.csv").read_text(encoding="utf-8").splitlines()[:400]
    lines[2] = lines[2].replace("Darcel Schlecht", "Darcel Schlect")
    lines[9] = lines[9].replace(",Won,", ",won ,")
    lines[12] = lines[0 + 12].split(",", 1)[0] + ",Moses Frase,GTX Pro,Cancity,Won,2016-10-20,2017-31-03,1054"
    lines.append(lines[20])
    path = tmp_path / "sales_pipeline_2017.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    wizard = _wizard(qtbot, opened, path, "opportunities")
    wizard.resize(1100, 720)
    _next(qtbot, wizard, opened)
    _next(qtbot, wizard, opened)
    mapping_image = wizard.grab()
    _next(qtbot, wizard, opened)
    problems_image = wizard.grab()
    assert not mapping_image.isNull()
    assert wizard.preview_page.problem_model.rowCount() >= 3
    target = DOCS_IMG if os.environ.get("SPM_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    assert mapping_image.save(str(target / "import-wizard-mapping.png"))
    assert problems_image.save(str(target / "import-wizard-problems.png"))


def test_problems_sort_by_severity_words(qtbot, opened, tmp_path):
    _, table = _problems_page(qtbot, opened, tmp_path)
    severities = [table.model().index(row, 0).data() for row in range(table.model().rowCount())]
    assert set(severities) <= {"error", "warning", "info"}
    assert "error" in severities
    ranks = [{"error": 1, "warning": 2, "info": 3}[severity] for severity in severities]
    assert ranks == sorted(ranks)
