"""Take the README walkthrough screenshots on the demo workspace, offscreen.

Builds a fresh demo workspace, drives the main window through a quarter close with
the same widgets a user clicks, and saves one PNG per step into docs/img/:

    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QComboBox, QLineEdit, QPushButton, QTableView, QWizard

from spm_desktop.gui.context import AppContext
from spm_desktop.gui.main_window import MainWindow
from spm_desktop.services import demo_service

IMG = Path(__file__).resolve().parent / "img"
PERIOD = "2017-Q3"


class Walkthrough:
    def __init__(self, workdir: Path) -> None:
        self.app = QApplication.instance() or QApplication(sys.argv[:1])
        self.workdir = workdir
        self.context = AppContext(QSettings(str(workdir / "settings.ini"), QSettings.Format.IniFormat))
        self.window = MainWindow(self.context)
        self.window.resize(1440, 900)
        self.window.show()

    def idle(self) -> None:
        while self.context.busy:
            self.app.processEvents()
            self.context.pool.waitForDone(20)
        for _ in range(5):
            self.app.processEvents()

    def shot(self, name: str, widget=None) -> None:
        self.idle()
        (widget or self.window).grab().save(str(IMG / f"walkthrough-{name}.png"))

    def open_as(self, path: Path, user: str) -> None:
        self.window.acting_user = user
        self.context.wait_for(self.window.open_workspace(path), 120_000)

    def run(self) -> None:
        demo = self.workdir / "demo.spm"
        demo_service.build_demo(demo, user="admin")
        self.open_as(demo, "admin")

        area = self.window.show_area("data")
        self.shot("1-data")
        area.open_wizard("deals")
        wizard = area.wizard
        wizard.file_page.path_edit.setText(str(demo_service.demo_dir() / "sales_pipeline.csv"))
        for _ in range(3):
            wizard.button(QWizard.WizardButton.NextButton).click()
            self.idle()
        self.shot("2-import-preview", wizard)
        wizard.reject()

        metrics = self.window.show_area("metrics")
        view = metrics.reconcile_view
        metrics.tabs.setCurrentWidget(view)
        view.set_pair("bookings", "bookings_finance")
        view.period_edit.setText(PERIOD)
        view.compare_button.click()
        self.shot("3-reconcile")
        view.adopt_choice.setCurrentText("A")
        view.adopt_reason.setText("Sales Ops definition is the one the plan documents name")
        view.adopt_button.click()
        self.idle()

        self.window.show_area("plans")
        self.shot("4-plans")

        calculation = self.window.show_area("calculation")
        calculation.period_combo.setEditText(PERIOD)
        calculation.calculate_button.click()
        self.idle()
        results = calculation.results_view.results_table
        results.setCurrentIndex(results.model().index(3, 0))
        self.idle()
        lines = calculation.results_view.lines_table
        lines.setCurrentIndex(lines.model().index(0, 0))
        self.shot("5-calculation")

        self.open_as(demo, "finance")
        close = self.window.show_area("close")
        periods = close.findChild(QTableView, "periodsTable")
        row = next(r for r in range(periods.model().rowCount()) if periods.model().index(r, 0).data() == PERIOD)
        periods.selectRow(row)
        close.findChild(QPushButton, "approveButton").click()
        self.idle()
        close.findChild(QPushButton, "closeButton").click()
        self.shot("6-close")

        statements = self.window.show_area("statements")
        statements.findChild(QLineEdit, "statementOutput").setText(str(self.workdir / "statements"))
        statements.findChild(QPushButton, "exportAll").click()
        self.idle()
        table = statements.findChild(QTableView, "statementParticipants")
        table.selectRow(0)
        self.shot("7-statements")

        signals = self.window.show_area("signals")
        signals.findChild(QComboBox, "signalsPeriod").setCurrentText(PERIOD)
        signals.findChild(QPushButton, "signalsCompute").click()
        self.shot("8-signals")
        review = self.window.show_area("review")
        review.findChild(QComboBox, "reviewPeriod").setCurrentText(PERIOD)
        review.run_button.click()
        self.shot("9-review")
        audit = self.window.show_area("audit")
        audit.verify_button.click()
        self.shot("10-audit")
        self.window.close()


def main() -> int:
    IMG.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        Walkthrough(Path(folder)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
