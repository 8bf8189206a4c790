"""The quarter close on the demo data, end to end through the GUI, driven by clicks.

An admin imports the real pipeline file through the wizard, compares the two bookings
definitions and adopts one, and calculates 2017-Q3. A second user (finance) opens the
same workspace, approves and closes the quarter, exports every statement and the
payroll file, and verifies the audit trail.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QLineEdit, QPushButton, QTableView, QWizard

from spm_desktop.gui.main_window import MainWindow
from spm_desktop.importing.mapping import load_mapping_file
from spm_desktop.services import import_service, metric_service, period_service, plan_service
from spm_desktop.services.context import Workspace

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
PERIOD = "2017-Q3"
TIMEOUT = 120_000

pytestmark = pytest.mark.slow


@pytest.fixture
def prepared_path(workspace_path: Path) -> Path:
    """A workspace with participants, quotas, metric definitions, plans and the GTXPro alias, but no deals."""
    with Workspace.open(workspace_path, "admin") as workspace:
        for record_set, file_name, mapping_name in (("participants", "participants.csv", "mapping-participants.yaml"),
                                                    ("quotas", "quotas-2017.csv", "mapping-quotas.yaml")):
            mapping = load_mapping_file(DEMO / mapping_name)
            import_service.commit(workspace, import_service.ImportRequest(record_set, DEMO / file_name, mapping))
        import_service.add_alias(workspace, "deals", "product", "GTXPro", "GTX Pro")
        metric_service.load_yaml_file(workspace, DEMO / "metrics.yaml", reason="test set-up")
        for plan_file in ("plan-agent.yaml", "plan-manager.yaml"):
            plan_service.load(workspace, (DEMO / plan_file).read_text(encoding="utf-8"), source=plan_file,
                              reason="test set-up")
    return workspace_path


def wait_idle(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.context.busy, timeout=TIMEOUT)


def click(qtbot, widget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def click_row(qtbot, view: QTableView, row: int) -> None:
    index = view.model().index(row, 0)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())


def open_as(qtbot, window: MainWindow, path: Path, user: str) -> None:
    window.acting_user = user
    operation = window.open_workspace(path)
    qtbot.waitUntil(lambda: operation.done, timeout=TIMEOUT)
    assert window.context.workspace.user == user


def import_pipeline(qtbot, window: MainWindow) -> None:
    area = window.show_area("data")
    click(qtbot, area.import_button)
    wizard = area.wizard
    wizard.file_page.record_set_combo.setCurrentText("deals")
    wizard.file_page.path_edit.setText(str(DEMO / "sales_pipeline.csv"))
    for expected in (wizard.sheet_page, wizard.mapping_page, wizard.preview_page):
        click(qtbot, wizard.button(QWizard.WizardButton.NextButton))
        wait_idle(qtbot, window)
        assert wizard.currentPage() is expected
        if expected is wizard.mapping_page:
            combos = wizard.mapping_page.combos
            for field, header in (("deal_id", "opportunity_id"), ("owner", "sales_agent"), ("amount", "close_value"),
                                  ("close_date", "close_date"), ("created_date", "engage_date"),
                                  ("stage", "deal_stage"), ("product", "product"), ("customer", "account")):
                index = next(i for i in range(combos[field].count()) if combos[field].itemText(i).startswith(header))
                combos[field].setCurrentIndex(index)
    assert "Rejected: 0" in wizard.preview_page.summary.text()
    click(qtbot, wizard.button(QWizard.WizardButton.FinishButton))
    wait_idle(qtbot, window)
    assert wizard.result is not None
    assert wizard.result.counts.added == 8800


def reconcile_and_adopt(qtbot, window: MainWindow) -> None:
    area = window.show_area("metrics")
    view = area.reconcile_view
    area.tabs.setCurrentWidget(view)
    view.set_pair("bookings", "bookings_finance")
    view.period_edit.clear()
    qtbot.keyClicks(view.period_edit, PERIOD)
    click(qtbot, view.compare_button)
    wait_idle(qtbot, window)
    # Finance leaves the MG Special product out, so its total is the smaller one.
    assert view.total_a.text() == "2,982,255.00"
    assert view.total_difference.text().startswith("-")
    view.adopt_choice.setCurrentText("A")
    qtbot.keyClicks(view.adopt_reason, "Sales Ops definition is the one the plan documents name")
    click(qtbot, view.adopt_button)
    wait_idle(qtbot, window)
    with window.context.workspace.read() as connection:
        assert metric_service.current_version(connection, "bookings_finance")[1].status == "retired"


def calculate(qtbot, window: MainWindow) -> None:
    area = window.show_area("calculation")
    area.period_combo.setEditText(PERIOD)
    click(qtbot, area.calculate_button)
    wait_idle(qtbot, window)
    assert area.results_view.results_model.rowCount() == 41 * 3
    assert f"{PERIOD}: run" in area.run_label.text()


def approve_and_close(qtbot, window: MainWindow) -> None:
    area = window.show_area("close")
    periods = area.findChild(QTableView, "periodsTable")
    row = next(r for r in range(periods.model().rowCount()) if periods.model().index(r, 0).data() == PERIOD)
    click_row(qtbot, periods, row)
    wait_idle(qtbot, window)  # the records check behind Approve runs in a worker
    click(qtbot, area.findChild(QPushButton, "approveButton"))
    wait_idle(qtbot, window)
    click(qtbot, area.findChild(QPushButton, "closeButton"))
    wait_idle(qtbot, window)
    with window.context.workspace.read() as connection:
        state = period_service.state(connection, PERIOD)
    assert state.state == "closed"
    assert state.approved_by == "finance"


def export_statements_and_payroll(qtbot, window: MainWindow, out: Path, monkeypatch) -> None:
    area = window.show_area("statements")
    area.findChild(QLineEdit, "statementOutput").setText(str(out))
    click(qtbot, area.findChild(QPushButton, "exportAll"))
    wait_idle(qtbot, window)
    assert len(list(out.glob(f"statement_{PERIOD}_*.pdf"))) == 41
    assert len(list(out.glob(f"statement_{PERIOD}_*.xlsx"))) == 41
    payroll = out / "payroll.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(payroll), ""))
    click(qtbot, area.findChild(QPushButton, "exportPayroll"))
    wait_idle(qtbot, window)
    assert payroll.read_text(encoding="utf-8-sig").count("\n") == 42


def verify_audit(qtbot, window: MainWindow) -> None:
    area = window.show_area("audit")
    click(qtbot, area.verify_button)
    wait_idle(qtbot, window)
    assert area.status.text().startswith("Verified")


def test_quarter_close_through_the_gui(qtbot, app_context, prepared_path: Path, tmp_path: Path,
                                       monkeypatch) -> None:
    window = MainWindow(app_context)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()

    open_as(qtbot, window, prepared_path, "admin")
    import_pipeline(qtbot, window)
    reconcile_and_adopt(qtbot, window)
    calculate(qtbot, window)

    open_as(qtbot, window, prepared_path, "finance")
    approve_and_close(qtbot, window)
    export_statements_and_payroll(qtbot, window, tmp_path / "out", monkeypatch)
    verify_audit(qtbot, window)
    assert window.context.last_error is None
