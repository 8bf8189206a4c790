"""The Scenarios area: copy a plan, change it, run it on a past period and compare it with the actual plan."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.gui.areas.base import Area, empty_state_label
from spm_desktop.gui.areas.review import ACTUAL_COLOUR, SCENARIO_COLOUR, headline_text
from spm_desktop.gui.charts import ChartWidget
from spm_desktop.gui.context import AppContext
from spm_desktop.gui.formatting import format_money, format_ratio
from spm_desktop.gui.models import ListTableModel
from spm_desktop.services import calc_service, plan_service, scenario_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ValidationError

log = logging.getLogger(__name__)

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
OVERRIDE_HEADER = ("Participant", "Quota key", "Period", "Amount", "Currency")


def run_and_compare(workspace: Workspace, name: str, period: str, *, progress: ProgressCallback = no_progress,
                    cancel: CancelToken | None = None) -> scenario_service.ScenarioReport:
    """Run a scenario, then compare it with the alignment figures of both sides."""
    scenario_service.run(workspace, name, period, progress=progress, cancel=cancel)
    return scenario_service.compare(workspace, name, period, progress=progress, cancel=cancel)


def draw_comparison(figure: Figure, report: scenario_service.ScenarioReport) -> None:
    """Draw component totals side by side and each participant's actual against scenario payout."""
    figure.clear()
    bars, scatter = figure.subplots(1, 2)
    names = [c.component for c in report.components]
    positions = range(len(names))
    bars.barh([p - 0.2 for p in positions], [float(c.actual) for c in report.components], height=0.4,
              color=ACTUAL_COLOUR, label="actual")
    bars.barh([p + 0.2 for p in positions], [float(c.scenario) for c in report.components], height=0.4,
              color=SCENARIO_COLOUR, label="scenario")
    bars.set_yticks(list(positions), names, fontsize=8)
    bars.invert_yaxis()
    bars.set_xlabel(f"Earnings ({report.comparison.currency})")
    bars.set_title("Cost per component", fontsize=10)
    bars.legend(fontsize=8, loc="lower right")
    for axis in (bars.xaxis, scatter.xaxis, scatter.yaxis):
        axis.set_major_locator(MaxNLocator(5))
        axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))

    changes = report.comparison.changes
    actual = [float(c.actual) for c in changes]
    scenario = [float(c.scenario) for c in changes]
    scatter.scatter(actual, scenario, s=14, color=SCENARIO_COLOUR, alpha=0.8)
    top = max([*actual, *scenario, 1.0])
    scatter.plot([0, top], [0, top], color="#999", linestyle="--", linewidth=0.8)
    scatter.set_xlabel("Actual payout")
    scatter.set_ylabel("Scenario payout")
    scatter.set_title("Winners above the line, losers below", fontsize=10)


def override_rows(table: QTableWidget) -> list[scenario_service.QuotaOverride]:
    """Read the quota override table, rejecting a row with a missing field or an amount that is not a number."""
    overrides = []
    for row in range(table.rowCount()):
        cells = [(table.item(row, column).text().strip() if table.item(row, column) else "")
                 for column in range(len(OVERRIDE_HEADER))]
        if not any(cells):
            continue
        participant, key, period, amount, currency = cells
        if not (participant and key and period and amount):
            raise ValidationError(f"quota override row {row + 1} needs a participant, quota key, period and amount")
        try:
            value = Decimal(amount.replace(",", ""))
        except InvalidOperation:
            raise ValidationError(f"quota override row {row + 1}: amount {amount!r} is not a number") from None
        overrides.append(scenario_service.QuotaOverride(participant, key, period, value, currency or None))
    return overrides


class ScenariosArea(Area):
    title = "Scenarios"

    def __init__(self, context: AppContext) -> None:
        super().__init__(context)
        self.report: scenario_service.ScenarioReport | None = None
        layout = QVBoxLayout(self)
        self.stack = QStackedWidget()
        self.empty = empty_state_label("")
        self.stack.addWidget(self.empty)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._build_list())
        splitter.addWidget(self._build_tabs())
        splitter.setSizes([260, 900])
        self.stack.addWidget(splitter)
        layout.addWidget(self.stack, 1)
        self.status = QLabel()
        self.status.setObjectName("scenarioStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.on_workspace_changed(context.workspace)

    # -- layout ----------------------------------------------------------------------------

    def _build_list(self) -> QWidget:
        panel = QWidget()
        column = QVBoxLayout(panel)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(QLabel("Saved scenarios"))
        self.scenario_list = QListWidget()
        self.scenario_list.setObjectName("scenarioList")
        self.scenario_list.currentTextChanged.connect(self.select_scenario)
        column.addWidget(self.scenario_list, 1)

        column.addWidget(QLabel("New scenario from a plan"))
        self.new_name = QLineEdit()
        self.new_name.setObjectName("newScenarioName")
        self.new_name.setPlaceholderText("scenario name")
        column.addWidget(self.new_name)
        self.new_plan = QComboBox()
        self.new_plan.setObjectName("newScenarioPlan")
        column.addWidget(self.new_plan)

        buttons = QHBoxLayout()
        self.create_button = QPushButton("Create")
        self.create_button.setObjectName("createScenario")
        self.create_button.clicked.connect(self.create_scenario)
        buttons.addWidget(self.create_button)
        self.rename_button = QPushButton("Rename")
        self.rename_button.setObjectName("renameScenario")
        self.rename_button.setToolTip("Give the selected scenario the name typed above")
        self.rename_button.clicked.connect(self.rename_scenario)
        buttons.addWidget(self.rename_button)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setObjectName("deleteScenario")
        self.delete_button.clicked.connect(self.delete_scenario)
        buttons.addWidget(self.delete_button)
        column.addLayout(buttons)
        return panel

    def _build_tabs(self) -> QWidget:
        self.tabs = QTabWidget()
        self.tabs.setObjectName("scenarioTabs")
        self.tabs.addTab(self._build_plan_tab(), "Scenario plan")
        self.tabs.addTab(self._build_comparison_tab(), "Comparison")
        return self.tabs

    def _build_plan_tab(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)

        self.base_label = QLabel()
        self.base_label.setObjectName("scenarioBase")
        column.addWidget(self.base_label)
        self.changes = QLabel()
        self.changes.setObjectName("scenarioChanges")
        self.changes.setWordWrap(True)
        self.changes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.changes)
        self.description = QLineEdit()
        self.description.setObjectName("scenarioDescription")
        self.description.setPlaceholderText("what this scenario tries")
        column.addWidget(self.description)
        self.document = QPlainTextEdit()
        self.document.setObjectName("scenarioDocument")
        self.document.setStyleSheet("font-family: monospace;")
        column.addWidget(self.document, 3)

        column.addWidget(QLabel("Quota overrides (replace the imported quota for a participant, key and period)"))
        self.overrides = QTableWidget(0, len(OVERRIDE_HEADER))
        self.overrides.setObjectName("quotaOverrides")
        self.overrides.setHorizontalHeaderLabels(list(OVERRIDE_HEADER))
        self.overrides.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        column.addWidget(self.overrides, 1)

        buttons = QHBoxLayout()
        add_row = QPushButton("Add override")
        add_row.setObjectName("addOverride")
        add_row.clicked.connect(lambda: self.overrides.insertRow(self.overrides.rowCount()))
        buttons.addWidget(add_row)
        remove_row = QPushButton("Remove override")
        remove_row.setObjectName("removeOverride")
        remove_row.clicked.connect(lambda: self.overrides.removeRow(self.overrides.currentRow()))
        buttons.addWidget(remove_row)
        buttons.addStretch(1)
        self.save_button = QPushButton("Save scenario")
        self.save_button.setObjectName("saveScenario")
        self.save_button.clicked.connect(self.save_scenario)
        buttons.addWidget(self.save_button)
        column.addLayout(buttons)
        return page

    def _build_comparison_tab(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        toolbar = QHBoxLayout()
        toolbar.addWidget(QLabel("Period"))
        self.period = QComboBox()
        self.period.setObjectName("scenarioPeriod")
        self.period.setEditable(True)
        self.period.setMinimumWidth(140)
        toolbar.addWidget(self.period)
        self.run_button = QPushButton("Run scenario")
        self.run_button.setObjectName("runScenario")
        self.run_button.clicked.connect(self.run_scenario)
        toolbar.addWidget(self.run_button)
        self.export_button = QPushButton("Export…")
        self.export_button.setObjectName("exportScenario")
        self.export_button.clicked.connect(self._choose_export_file)
        toolbar.addWidget(self.export_button)
        toolbar.addStretch(1)
        column.addLayout(toolbar)

        upper = QSplitter(Qt.Orientation.Horizontal)
        self.summary = ListTableModel(["Figure", "Value"], alignments={1: RIGHT})
        self.summary_table = _table("scenarioSummary", self.summary)
        upper.addWidget(self.summary_table)
        self.alignment = ListTableModel(["Alignment figure", "Actual", "Scenario"], alignments={1: RIGHT, 2: RIGHT})
        self.alignment_table = _table("alignmentTable", self.alignment)
        upper.addWidget(self.alignment_table)
        column.addWidget(upper, 2)

        self.chart = ChartWidget(width=8, height=3.2)
        self.chart.setObjectName("scenarioChart")
        self.chart.setMinimumHeight(260)
        column.addWidget(self.chart, 3)

        lower = QSplitter(Qt.Orientation.Horizontal)
        self.participants = ListTableModel(["Participant", "Name", "Actual", "Scenario", "Difference"],
                                           alignments={2: RIGHT, 3: RIGHT, 4: RIGHT})
        self.participant_table = _table("scenarioParticipants", self.participants)
        lower.addWidget(self.participant_table)
        self.parity = ListTableModel(["At attainment", "Actual pays", "Scenario needs"],
                                     alignments={0: RIGHT, 1: RIGHT, 2: RIGHT})
        lower.addWidget(_table("parityTable", self.parity))
        lower.setSizes([600, 300])
        column.addWidget(lower, 2)
        return page

    # -- refresh ---------------------------------------------------------------------------

    def on_workspace_changed(self, workspace: Workspace | None) -> None:
        self.report = None
        if workspace is None:
            self.empty.setText("Open a workspace to try plan changes on past periods.")
            self.stack.setCurrentIndex(0)
            return
        self.stack.setCurrentIndex(1)
        self._reload()

    def on_data_changed(self, changes: frozenset[str]) -> None:
        if self.workspace is not None and changes & {"scenarios", "plans", "results", "periods"}:
            self._reload()

    def _reload(self) -> None:
        current = self.scenario_list.currentItem().text() if self.scenario_list.currentItem() else None
        saved = [s.name for s in scenario_service.list_scenarios(self.workspace)]
        self.scenario_list.blockSignals(True)
        self.scenario_list.clear()
        self.scenario_list.addItems(saved)
        self.scenario_list.blockSignals(False)
        self.new_plan.clear()
        with self.workspace.read() as connection:
            self.new_plan.addItems(plan_service.plan_names(connection))
        period = self.period.currentText()
        self.period.clear()
        self.period.addItems(list(dict.fromkeys(run.period for run in calc_service.list_runs(self.workspace))))
        if period:
            self.period.setCurrentText(period)
        if not saved:
            self.status.setText("Nothing here yet: create a scenario from a plan, change its bands, rates or quotas, "
                                "and run it on a calculated period.")
        target = current if current in saved else None
        if target is None and saved:
            target = saved[0]
        if target:
            self.scenario_list.setCurrentRow(saved.index(target))
        self._set_enabled(bool(saved))

    def _set_enabled(self, has_scenario: bool) -> None:
        for widget in (self.save_button, self.run_button, self.delete_button, self.rename_button, self.document,
                       self.description):
            widget.setEnabled(has_scenario)
        self.export_button.setEnabled(self.report is not None)

    @property
    def current_name(self) -> str | None:
        item = self.scenario_list.currentItem()
        return item.text() if item else None

    def select_scenario(self, name: str) -> None:
        if self.workspace is None or not name:
            return
        info = scenario_service.get(self.workspace, name)
        with self.workspace.read() as connection:
            text = scenario_service.document(connection, name)
            changes = scenario_service.plan_changes(connection, name)
        self.changes.setText("Changes: " + "; ".join(changes) if changes else "No change from the copied plan yet.")
        overrides = scenario_service.get_quota_overrides(self.workspace, name)
        self.base_label.setText(f"Runs in place of plan {info.base_plan} (copied from version {info.base_version}); "
                                f"last changed by {info.updated_by} on {info.updated_at[:10]}.")
        self.description.setText(info.description or "")
        self.document.setPlainText(text)
        self.overrides.setRowCount(0)
        for override in overrides:
            row = self.overrides.rowCount()
            self.overrides.insertRow(row)
            values = (override.participant_id, override.quota_key, override.period, f"{override.amount:f}",
                      override.currency or "")
            for column, value in enumerate(values):
                self.overrides.setItem(row, column, QTableWidgetItem(value))
        self._set_enabled(True)

    # -- actions ---------------------------------------------------------------------------

    def create_scenario(self) -> None:
        name = self.new_name.text().strip()
        plan = self.new_plan.currentText()
        if self.workspace is None or not name or not plan:
            self.status.setText("Type a scenario name and choose the plan to copy.")
            return
        self.context.run(f"Creating scenario {name}", _create, self.workspace, name, plan,
                         on_success=lambda info: self._created(info.name), changes=("scenarios", "audit"),
                         parent=self)

    def _created(self, name: str) -> None:
        self.new_name.clear()
        self.status.setText(f"Scenario {name} saved; change its plan and run it on a period.")
        self._reload()
        items = self.scenario_list.findItems(name, Qt.MatchFlag.MatchExactly)
        if items:
            self.scenario_list.setCurrentItem(items[0])

    def rename_scenario(self) -> None:
        name = self.current_name
        new_name = self.new_name.text().strip()
        if self.workspace is None or name is None or not new_name:
            self.status.setText("Select a scenario and type its new name in the name field.")
            return
        self.context.run(f"Renaming scenario {name}", _rename, self.workspace, name, new_name,
                         on_success=lambda info: self._created(info.name), changes=("scenarios", "audit"),
                         parent=self)

    def save_scenario(self) -> None:
        name = self.current_name
        if self.workspace is None or name is None:
            return
        try:
            overrides = override_rows(self.overrides)
        except ValidationError as error:
            self.status.setText(str(error))
            return
        self.context.run(f"Saving scenario {name}", _update, self.workspace, name, self.document.toPlainText(),
                         self.description.text(), overrides,
                         on_success=lambda _info: self.status.setText(f"Scenario {name} saved."),
                         changes=("scenarios", "audit"), parent=self)

    def delete_scenario(self) -> None:
        name = self.current_name
        if self.workspace is None or name is None:
            return
        self.context.run(f"Deleting scenario {name}", _delete, self.workspace, name,
                         on_success=lambda _none: self.status.setText(f"Scenario {name} deleted."),
                         changes=("scenarios", "audit"), parent=self)

    def run_scenario(self) -> None:
        name = self.current_name
        period = self.period.currentText().strip()
        if self.workspace is None or name is None or not period:
            self.status.setText("Choose a scenario and a calculated period, for example 2017-Q3.")
            return
        self.status.setText(f"Running scenario {name} on {period}…")
        self.context.run(f"Running scenario {name} on {period}", run_and_compare, self.workspace, name, period,
                         on_success=self.show_report, changes=("scenarios",), parent=self)

    def show_report(self, report: scenario_service.ScenarioReport) -> None:
        self.report = report
        comparison = report.comparison
        currency = comparison.currency
        self.summary.set_rows([[label, _shown(value, currency)] for label, value
                               in scenario_service.summary_rows(report) if label != "Explanation"])
        self.summary_table.resizeColumnsToContents()
        self.alignment.set_rows(_alignment_rows(report))
        self.alignment_table.resizeColumnsToContents()
        # The largest changes, up or down, come first.
        ordered = sorted(comparison.changes, key=lambda c: (-abs(c.difference), c.participant_id))
        self.participants.set_rows([[c.participant_id, c.name, format_money(c.actual, currency),
                                     format_money(c.scenario, currency), format_money(c.difference, currency)]
                                    for c in ordered])
        self.participant_table.resizeColumnsToContents()
        self.parity.set_rows([[format_ratio(p.attainment), format_money(p.actual_payout, currency),
                               format_ratio(p.scenario_attainment) if p.scenario_attainment is not None
                               else "never"] for p in comparison.parity])
        draw_comparison(self.chart.figure, report)
        self.chart.draw()
        self.tabs.setCurrentIndex(1)
        self.export_button.setEnabled(True)
        self.status.setText(comparison.explanation)

    def _choose_export_file(self) -> None:
        if self.report is None:
            return
        default = f"scenario-{self.report.scenario.name}-{self.report.period}.xlsx"
        path, _filter = QFileDialog.getSaveFileName(self, "Export scenario comparison", default,
                                                    "Excel workbook (*.xlsx)")
        if path:
            self.export(Path(path))

    def export(self, target: Path) -> None:
        if self.report is None or self.workspace is None:
            return
        self.context.run(f"Exporting scenario {self.report.scenario.name}", _export, self.workspace,
                         self.report.scenario.name, self.report.period, target,
                         on_success=lambda path: self.status.setText(f"Wrote {path}."), changes=("audit",),
                         parent=self)


def _table(name: str, model: ListTableModel) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setModel(model)
    view.verticalHeader().hide()
    view.setAlternatingRowColors(True)
    view.horizontalHeader().setStretchLastSection(True)
    return view


def _shown(value: object, currency: str) -> str:
    if isinstance(value, Decimal):
        return format_money(value, currency)
    return "" if value is None else str(value)


def _alignment_rows(report: scenario_service.ScenarioReport) -> list[list[str]]:
    if report.actual_review is None or report.scenario_review is None:
        return []
    scenario = {h.key: h for h in report.scenario_review.headlines()}
    return [[h.title, headline_text(h), headline_text(scenario[h.key]) if h.key in scenario else ""]
            for h in report.actual_review.headlines()]


# Worker functions: context.run passes progress and cancel to every call.


def _create(workspace: Workspace, name: str, plan: str, *, progress: ProgressCallback,
            cancel: CancelToken) -> scenario_service.ScenarioInfo:
    return scenario_service.create(workspace, name, plan)


def _update(workspace: Workspace, name: str, text: str, description: str,
            overrides: list[scenario_service.QuotaOverride], *, progress: ProgressCallback,
            cancel: CancelToken) -> scenario_service.ScenarioInfo:
    return scenario_service.update(workspace, name, document_text=text, description=description,
                                   overrides=overrides)


def _rename(workspace: Workspace, name: str, new_name: str, *, progress: ProgressCallback,
            cancel: CancelToken) -> scenario_service.ScenarioInfo:
    return scenario_service.rename(workspace, name, new_name)


def _delete(workspace: Workspace, name: str, *, progress: ProgressCallback, cancel: CancelToken) -> None:
    scenario_service.delete_scenario(workspace, name)


def _export(workspace: Workspace, name: str, period: str, target: Path, *, progress: ProgressCallback,
            cancel: CancelToken) -> Path:
    return scenario_service.export(workspace, name, period, target)
