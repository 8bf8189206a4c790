"""Results of a calculation run with drill-down: payout -> lines -> source row.

The view contains layout only. It shows result rows, emits ``result_selected`` and
``line_selected`` with the stored ids, and displays the lines and source that the
Calculation area loads in response.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from spm_desktop.gui.formatting import format_count, format_date, format_money, format_ratio
from spm_desktop.gui.models import ListTableModel
from spm_desktop.services.calc_service import LineSource, StoredLine, StoredResult

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
MONEY_FIELDS = ("amount", "cost")

RESULT_HEADER = ("Participant ID", "Participant", "Period", "Plan", "Component", "Metric value", "Quota",
                 "Attainment", "Earnings", "Currency")
LINE_HEADER = ("Kind", "Credit date", "Deal", "Line", "Credit", "Share", "Credited", "FX rate", "Bands", "Rates",
               "Exact earnings", "Earnings")


def _metric_text(row: StoredResult) -> str:
    if row.metric_value is None:
        return ""
    if row.metric_unit == "count":
        return format_count(row.metric_value)
    if row.metric_unit == "ratio":
        return format_ratio(row.metric_value)
    return format_money(row.metric_value, row.currency, with_currency=False)


def result_cells(row: StoredResult) -> list[object]:
    """Return the display cells of one result row (the result id rides in the last, hidden column)."""
    quota = "" if row.quota is None else format_money(row.quota, row.currency, with_currency=False)
    return [row.participant_id, row.participant_name or "", row.period, row.plan, row.component, _metric_text(row),
            quota, format_ratio(row.attainment), format_money(row.earnings, row.currency, with_currency=False),
            row.currency]


def line_cells(line: StoredLine) -> list[object]:
    credited = "" if line.credited is None else format_money(line.credited, line.currency, with_currency=False)
    exact = "" if line.exact_earnings is None else str(line.exact_earnings)
    share = "" if line.share is None else format_ratio(line.share, 2)
    return [line.line_kind, format_date(line.credit_date), line.deal_id or "", line.line_id or "",
            line.credit_kind or "", share, credited, "" if line.fx_rate is None else str(line.fx_rate),
            ", ".join(line.bands), ", ".join(line.rates), exact,
            format_money(line.earnings, line.currency, with_currency=False)]


def _field_text(value: object, currency: str) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format_money(value, currency, with_currency=False) if currency else f"{value.normalize():f}"
    return str(value)


class ResultsView(QWidget):
    """Results table, the lines of the selected result, and the source of the selected line."""

    result_selected = Signal(int)
    line_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._results: list[StoredResult] = []
        self._lines: list[StoredLine] = []

        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("participantFilter")
        self.filter_edit.setPlaceholderText("Filter by participant, plan or component")
        self.filter_edit.setClearButtonEnabled(True)

        self.results_model = ListTableModel(RESULT_HEADER, alignments={5: RIGHT, 6: RIGHT, 7: RIGHT, 8: RIGHT})
        self.results_proxy = QSortFilterProxyModel(self)
        self.results_proxy.setSourceModel(self.results_model)
        self.results_proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.results_proxy.setFilterKeyColumn(-1)
        self.filter_edit.textChanged.connect(self.results_proxy.setFilterFixedString)
        self.results_table = self._table("resultsTable", self.results_proxy)
        self.results_table.selectionModel().currentRowChanged.connect(self._on_result_row)

        self.lines_label = QLabel("Select a result to see the deals and adjustments behind it.")
        self.lines_label.setObjectName("linesLabel")
        self.lines_model = ListTableModel(LINE_HEADER, alignments={5: RIGHT, 6: RIGHT, 7: RIGHT, 10: RIGHT, 11: RIGHT})
        self.lines_table = self._table("linesTable", self.lines_model)
        self.lines_table.selectionModel().currentRowChanged.connect(self._on_line_row)

        self.source_label = QLabel("Select a line to see the spreadsheet row it came from.")
        self.source_label.setObjectName("sourceLabel")
        self.source_label.setWordWrap(True)
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.source_model = ListTableModel(("Field", "Value"))
        self.source_table = self._table("sourceTable", self.source_model)
        self.source_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self._panel(self.filter_edit, self.results_table))
        splitter.addWidget(self._panel(self.lines_label, self.lines_table))
        splitter.addWidget(self._panel(self.source_label, self.source_table))
        splitter.setSizes([320, 220, 160])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    @staticmethod
    def _panel(*widgets: QWidget) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in widgets:
            layout.addWidget(widget)
        return panel

    @staticmethod
    def _table(name: str, model: object) -> QTableView:
        table = QTableView()
        table.setObjectName(name)
        table.setModel(model)  # type: ignore[arg-type]
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(22)
        table.horizontalHeader().setStretchLastSection(False)
        return table

    # Filling ------------------------------------------------------------------------

    def show_results(self, rows: Sequence[StoredResult]) -> None:
        self._results = list(rows)
        self.results_model.set_rows([result_cells(row) for row in self._results])
        self.results_table.resizeColumnsToContents()
        self.show_lines(None, [])

    def show_lines(self, result: StoredResult | None, lines: Sequence[StoredLine]) -> None:
        self._lines = list(lines)
        self.lines_model.set_rows([line_cells(line) for line in self._lines])
        self.lines_table.resizeColumnsToContents()
        if result is None:
            self.lines_label.setText("Select a result to see the deals and adjustments behind it.")
        else:
            self.lines_label.setText(
                f"{len(self._lines)} lines behind {result.component} of {result.participant_name or ''} "
                f"({result.participant_id}), {result.period}: "
                f"{format_money(result.earnings, result.currency)}"
            )
        self.show_source(None)

    def show_source(self, source: LineSource | None) -> None:
        if source is None:
            self.source_label.setText("Select a line to see the spreadsheet row it came from.")
            self.source_model.set_rows([])
            return
        if source.deal_row_id is None:
            self.source_label.setText("This line has no deal behind it (a draw, hold release or adjustment).")
        elif source.batch_id is None:
            self.source_label.setText(f"Deal record {source.deal_row_id} was not written by an import.")
        else:
            sheet = f", sheet {source.sheet}" if source.sheet else ""
            self.source_label.setText(
                f"Imported from {source.file_name}{sheet}, row {source.source_row} "
                f"(batch {source.batch_id}, by {source.imported_by} on {format_date(source.imported_at)})"
            )
        currency = str(source.record.get("currency") or "")
        self.source_model.set_rows([(key, _field_text(value, currency if key in MONEY_FIELDS else ""))
                                    for key, value in source.record.items()])

    # Selection ----------------------------------------------------------------------

    def rows(self) -> list[StoredResult]:
        """Return the result rows shown (before the filter), in their order."""
        return list(self._results)

    def result_at(self, proxy_row: int) -> StoredResult:
        source_row = self.results_proxy.mapToSource(self.results_proxy.index(proxy_row, 0)).row()
        return self._results[source_row]

    def line_at(self, row: int) -> StoredLine:
        return self._lines[row]

    def _on_result_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.result_selected.emit(self.result_at(current.row()).id)

    def _on_line_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.line_selected.emit(self.line_at(current.row()).id)
