"""The Calculation area: choose a period, run it, read results and drill down to source rows.

Every read of the workspace runs in a worker through ``AppContext.run``: a period's
results, a result's lines and a line's source row. A payout may have 100,000 lines, so
the lines table formats them page by page as the user scrolls (``LazyTableModel``).
A click that a newer click overtook is ignored when its lines or source arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
)

from spm_desktop.gui.areas.base import Area, empty_state_label
from spm_desktop.gui.context import AppContext
from spm_desktop.gui.formatting import format_count, format_money
from spm_desktop.gui.models import LazyTableModel
from spm_desktop.gui.results_view import LINE_HEADER, RIGHT, ResultsView, line_cells
from spm_desktop.services import calc_service
from spm_desktop.services.calc_service import LineSource, RunSummary, StoredLine, StoredResult
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import NotFoundError, SpmError

log = logging.getLogger(__name__)

NO_WORKSPACE = "Open a workspace to calculate periods."
NO_RESULTS = ("Nothing here yet: the results of a period appear here after you calculate it. "
              "Choose a period above and press Calculate.")
LOADING_LINES = "Loading the lines behind {component} of {participant}..."
LOADING_SOURCE = "Loading the spreadsheet row of the line..."
# Lines formatted per page of the lines table. More are formatted as the user scrolls.
LINES_PAGE_SIZE = 500


class LazyLinesView(ResultsView):
    """The results view with a lines table that converts and formats lines page by page.

    Building and formatting 100,000 lines at once takes seconds, which would freeze the
    window. This view keeps the lines as the workspace stores them and converts only the
    pages the table shows and the line the user selects.
    """

    def __init__(self) -> None:
        super().__init__()
        self._line_rows: Sequence[object] = []
        self._to_line: Callable[[object], StoredLine] = _as_line
        self.lines_model = LazyTableModel(self._line_page, self._line_count, LINE_HEADER, page_size=LINES_PAGE_SIZE,
                                          alignments={5: RIGHT, 6: RIGHT, 7: RIGHT, 10: RIGHT, 11: RIGHT})
        self.lines_table.setModel(self.lines_model)
        # Setting a model replaces the selection model, so connect the new one.
        self.lines_table.selectionModel().currentRowChanged.connect(self._on_line_row)

    def _line_page(self, offset: int, limit: int) -> list[list[object]]:
        last = min(offset + limit, len(self._line_rows))
        return [line_cells(self.line_at(row)) for row in range(offset, last)]

    def _line_count(self) -> int:
        return len(self._line_rows)

    def line_at(self, row: int) -> StoredLine:
        return self._to_line(self._line_rows[row])

    def show_lines(self, result: StoredResult | None, lines: Sequence[StoredLine]) -> None:
        self._show_line_rows(result, lines, _as_line)

    def show_stored_lines(self, result: StoredResult | None, rows: Sequence[object]) -> None:
        """Show lines given as stored ``result_lines`` rows (``calc_service.line_rows_of_result``)."""
        self._show_line_rows(result, rows, calc_service.stored_line)

    def _show_line_rows(self, result: StoredResult | None, rows: Sequence[object],
                        to_line: Callable[[object], StoredLine]) -> None:
        self._line_rows = rows
        self._to_line = to_line
        self.lines_model.reload()
        self.lines_table.resizeColumnsToContents()
        if result is None:
            self.lines_label.setText("Select a result to see the deals and adjustments behind it.")
        else:
            self.lines_label.setText(
                f"{format_count(len(rows))} lines behind {result.component} of "
                f"{result.participant_name or ''} ({result.participant_id}), {result.period}: "
                f"{format_money(result.earnings, result.currency)}"
            )
        self.show_source(None)

    def show_lines_loading(self, result: StoredResult | None) -> None:
        """Empty the lines and source tables and show which result's lines are loading."""
        self._line_rows = []
        self.lines_model.reload()
        self.show_source(None)
        if result is not None:
            self.lines_label.setText(LOADING_LINES.format(
                component=result.component, participant=f"{result.participant_name or ''} ({result.participant_id})"))

    def show_source_loading(self) -> None:
        self.source_model.set_rows([])
        self.source_label.setText(LOADING_SOURCE)


def _as_line(line: object) -> StoredLine:
    return line  # type: ignore[return-value]


class CalculationArea(Area):
    title = "Calculation"

    def __init__(self, context: AppContext) -> None:
        super().__init__(context)
        self._results: dict[int, StoredResult] = {}
        # Numbers of the latest drill-down requests. A response to an older request is dropped.
        self._lines_request = 0
        self._source_request = 0

        self.period_combo = QComboBox()
        self.period_combo.setObjectName("periodInput")
        self.period_combo.setEditable(True)
        self.period_combo.setMinimumWidth(140)
        self.period_combo.setToolTip("A plan period (2017-Q3, 2017-07, a week's first day) or a coarser label "
                                     "(2017) that calculates every plan period inside it")
        self.period_combo.lineEdit().returnPressed.connect(self.show_period)
        self.period_combo.activated.connect(lambda _index: self.show_period())
        self.show_button = QPushButton("Show results")
        self.show_button.setObjectName("showResultsButton")
        self.show_button.clicked.connect(self.show_period)
        self.calculate_button = QPushButton("Calculate")
        self.calculate_button.setObjectName("calculateButton")
        self.calculate_button.setToolTip("Calculate the period and store the run (replaces the current results "
                                         "of an open period)")
        self.calculate_button.clicked.connect(self.calculate)
        self.run_combo = QComboBox()
        self.run_combo.setObjectName("runCombo")
        self.run_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.run_combo.setMinimumWidth(150)
        self.run_combo.setToolTip("Earlier runs of the period stay stored; pick one to read its results")
        self.run_combo.activated.connect(self._show_selected_run)
        self.export_button = QPushButton("Export CSV...")
        self.export_button.setObjectName("exportResultsButton")
        self.export_button.clicked.connect(self.export_dialog)
        self.run_label = QLabel("")
        self.run_label.setObjectName("runLabel")
        # The run's summary wraps, so a long one does not widen the window past a laptop screen.
        self.run_label.setWordWrap(True)
        self.run_label.setMinimumWidth(240)
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Period"))
        bar.addWidget(self.period_combo)
        bar.addWidget(self.show_button)
        bar.addWidget(self.calculate_button)
        bar.addWidget(self.run_combo)
        bar.addWidget(self.export_button)
        bar.addWidget(self.run_label, 1)

        self.results_view = LazyLinesView()
        self.results_view.result_selected.connect(self._load_lines)
        self.results_view.line_selected.connect(self._load_source)
        self.problems_list = QListWidget()
        self.problems_list.setObjectName("problemsList")
        self.problems_list.setMaximumHeight(110)
        self.problems_list.setWordWrap(True)

        content = QSplitter(Qt.Orientation.Vertical)
        content.addWidget(self.results_view)
        content.addWidget(self.problems_list)
        content.setSizes([600, 90])

        self.empty_label = empty_state_label(NO_WORKSPACE)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(content)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)
        self.on_workspace_changed(context.workspace)

    # Workspace and data changes -------------------------------------------------------

    def on_workspace_changed(self, workspace: Workspace | None) -> None:
        enabled = workspace is not None
        for widget in (self.period_combo, self.show_button, self.calculate_button):
            widget.setEnabled(enabled)
        self._clear(NO_WORKSPACE if workspace is None else NO_RESULTS)
        if workspace is not None:
            self._fill_periods(workspace)
            # Show the suggested period's stored results at once, when it has any.
            if self.current_label():
                self.show_period()

    def on_data_changed(self, changes: frozenset[str]) -> None:
        if self.workspace is None:
            return
        if changes & {"results", "periods", "plans"}:
            self._fill_periods(self.workspace)
        if changes & {"results", "periods"} and self.current_label():
            self.show_period()

    def _fill_periods(self, workspace: Workspace) -> None:
        current = self.current_label()
        labels, default = calc_service.suggested_periods(workspace)
        self.period_combo.blockSignals(True)
        self.period_combo.clear()
        self.period_combo.addItems(labels)
        self.period_combo.setEditText(current or default or "")
        self.period_combo.blockSignals(False)

    def _clear(self, message: str) -> None:
        self._results = {}
        self.results_view.show_results([])
        self.run_combo.clear()
        self.run_combo.setEnabled(False)
        self.export_button.setEnabled(False)
        self.problems_list.clear()
        self.problems_list.setVisible(False)
        self.run_label.setText("")
        self.empty_label.setText(message)
        self.stack.setCurrentIndex(0)

    def current_label(self) -> str:
        return self.period_combo.currentText().strip()

    # Actions ----------------------------------------------------------------------------

    def calculate(self) -> None:
        label = self.current_label()
        if self.workspace is None or not label:
            return
        self.context.run(f"Calculating {label}", calc_service.calculate, self.workspace, label,
                         on_success=lambda summaries: self._show_after_calculation(label, summaries),
                         changes=("results", "periods"), parent=self)

    def _show_after_calculation(self, label: str, summaries: list[RunSummary]) -> None:
        count = len(summaries)
        self.context.status_message.emit(f"Calculated {label}: {count} plan period{'s' if count != 1 else ''}.")

    def show_period(self) -> None:
        label = self.current_label()
        if self.workspace is None or not label:
            return
        self.context.run(f"Loading results of {label}", _load_period, self.workspace, label,
                         on_success=self._show_loaded, on_failure=self._show_missing, parent=self,
                         show_progress=False)

    def _show_loaded(self, loaded: tuple[list[RunSummary], list[StoredResult], list[RunSummary]]) -> None:
        runs, rows, history = loaded
        self._fill_runs(runs, history)
        self._show_rows(runs, rows)

    def _fill_runs(self, runs: list[RunSummary], history: list[RunSummary]) -> None:
        self.run_combo.clear()
        for run in history:
            state = "superseded" if run.superseded else "current"
            self.run_combo.addItem(f"run {run.run_id} ({state})", run.run_id)
        self.run_combo.setEnabled(len(history) > 1)
        if len(runs) > 1:
            self.run_combo.addItem(f"{len(runs)} current runs", None)
            self.run_combo.setCurrentIndex(self.run_combo.count() - 1)

    def _show_selected_run(self, index: int) -> None:
        run_id = self.run_combo.itemData(index)
        if self.workspace is None or run_id is None:
            return
        self.context.run(f"Loading run {run_id}", _load_run, self.workspace, int(run_id),
                         on_success=lambda loaded: self._show_rows(*loaded), parent=self, show_progress=False)

    def _show_rows(self, runs: list[RunSummary], rows: list[StoredResult]) -> None:
        self._results = {row.id: row for row in rows}
        self._lines_request += 1
        self._source_request += 1
        self.export_button.setEnabled(bool(rows))
        self.results_view.show_results(rows)
        self.problems_list.clear()
        for run in runs:
            for problem in run.problems:
                self.problems_list.addItem(f"{run.period}: {problem}")
        self.problems_list.setVisible(self.problems_list.count() > 0)
        self.run_label.setText(_runs_text(runs))
        self.stack.setCurrentIndex(1)

    def _show_missing(self, error: BaseException) -> None:
        if isinstance(error, NotFoundError):
            self._clear(str(error))
            return
        self._report_error(error)

    def _report_error(self, error: BaseException) -> None:
        self.context.last_error = error
        from spm_desktop.gui import errors

        self.context.last_error_dialog = errors.show_error(self, error)

    def export_dialog(self) -> None:
        rows = self.results_view.rows()
        if self.workspace is None or not rows:
            return
        suggested = f"results {self.current_label()}.csv"
        path, _filter = QFileDialog.getSaveFileName(self, "Export results", suggested, "CSV files (*.csv)")
        if not path:
            return
        try:
            count = calc_service.export_csv(self.workspace, rows, Path(path))
        except SpmError as error:
            from spm_desktop.gui import errors

            errors.show_error(self, error)
            return
        self.context.status_message.emit(f"Exported {count} result rows to {path}.")

    def _load_lines(self, result_id: int) -> None:
        if self.workspace is None:
            return
        self._lines_request += 1
        self._source_request += 1
        request = self._lines_request
        result = self._results.get(result_id)
        self.results_view.show_lines_loading(result)
        self.context.run(f"Loading lines of result {result_id}", _load_result_lines, self.workspace, result_id,
                         on_success=lambda rows: self._show_lines(request, result, rows),
                         on_failure=lambda error: self._show_lines_failure(request, error), parent=self,
                         show_progress=False)

    def _show_lines(self, request: int, result: StoredResult | None, rows: list[object]) -> None:
        if request != self._lines_request:
            log.debug("dropped the lines of result %s because a newer selection replaced them", result and result.id)
            return
        self.results_view.show_stored_lines(result, rows)

    def _show_lines_failure(self, request: int, error: BaseException) -> None:
        if request == self._lines_request:
            self.results_view.show_lines(None, [])
        self._report_error(error)

    def _load_source(self, line_id: int) -> None:
        if self.workspace is None:
            return
        self._source_request += 1
        request = self._source_request
        self.results_view.show_source_loading()
        self.context.run(f"Loading the source of line {line_id}", _load_line_source, self.workspace, line_id,
                         on_success=lambda source: self._show_source(request, source),
                         on_failure=lambda error: self._show_source_failure(request, error), parent=self,
                         show_progress=False)

    def _show_source(self, request: int, source: LineSource) -> None:
        if request == self._source_request:
            self.results_view.show_source(source)

    def _show_source_failure(self, request: int, error: BaseException) -> None:
        if request == self._source_request:
            self.results_view.show_source(None)
        self._report_error(error)


def _load_result_lines(workspace: Workspace, result_id: int, *, progress: object = None,
                       cancel: object = None) -> list[object]:
    return calc_service.line_rows_of_result(workspace, result_id)


def _load_line_source(workspace: Workspace, line_id: int, *, progress: object = None,
                      cancel: object = None) -> LineSource:
    return calc_service.line_source(workspace, line_id)


def _load_period(workspace: Workspace, label: str, *, progress: object = None,
                 cancel: object = None) -> tuple[list[RunSummary], list[StoredResult], list[RunSummary]]:
    rows = calc_service.period_results(workspace, label)
    run_ids = sorted({row.run_id for row in rows})
    runs = [calc_service.get_run(workspace, run_id) for run_id in run_ids]
    history = calc_service.list_runs(workspace, period=runs[0].period) if len(runs) == 1 else runs
    return runs, rows, history


def _load_run(workspace: Workspace, run_id: int, *, progress: object = None,
              cancel: object = None) -> tuple[list[RunSummary], list[StoredResult]]:
    return [calc_service.get_run(workspace, run_id)], calc_service.run_results(workspace, run_id)


def _runs_text(runs: list[RunSummary]) -> str:
    parts = []
    for run in runs:
        totals = ", ".join(format_money(total, currency) for currency, total in sorted(run.totals.items()))
        parts.append(f"{run.period}: run {run.run_id} by {run.user} at {run.finished_at[:16].replace('T', ' ')} UTC, "
                     f"payout {totals or '0.00'}, inputs {run.input_fingerprint[:12]}")
    return "; ".join(parts)

