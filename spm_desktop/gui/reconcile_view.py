"""The reconciliation view: two definitions side by side on the same records, and adopting one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from PySide6.QtCore import QAbstractItemModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from spm_desktop.domain.progress import CancelToken, ProgressCallback
from spm_desktop.domain.reconcile import Reconciliation
from spm_desktop.gui.context import AppContext
from spm_desktop.gui.formatting import format_date
from spm_desktop.gui.metric_editor import format_metric_value
from spm_desktop.gui.models import ListTableModel
from spm_desktop.services import metric_service
from spm_desktop.services.context import Workspace

log = logging.getLogger(__name__)

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
XLSX_FILTER = "Excel workbook (*.xlsx)"


def _export(workspace: Workspace, result: Reconciliation, path: Path, *, progress: object = None,
            cancel: object = None) -> int:
    return metric_service.export_comparison(workspace, result, path)


def _adopt(workspace: Workspace, key: str, over: str, reason: str, rename_to: str | None, *,
           progress: object = None, cancel: object = None) -> object:
    return metric_service.adopt(workspace, key, over, reason=reason, rename_to=rename_to)


@dataclass(frozen=True)
class ComparisonRows:
    """Comparison result with its table rows, formatted in the worker so large lists do not stall the window."""

    result: Reconciliation
    participants: list[tuple[object, ...]]
    only_a: list[tuple[object, ...]]
    only_b: list[tuple[object, ...]]
    changed: list[tuple[object, ...]]


def _differing_rows(frame: pd.DataFrame, unit: str) -> list[tuple[object, ...]]:
    return [(row.deal_id, row.type, row.owner, format_date(row.date), format_metric_value(row.value, unit),
             row.excluded_by, row.reason) for row in frame.itertuples()]


def _compare(workspace: Workspace, key_a: str, key_b: str, period: str, *, progress: ProgressCallback,
             cancel: CancelToken) -> ComparisonRows:
    result = metric_service.compare(workspace, key_a, key_b, period, progress=progress, cancel=cancel)
    unit = result.a.unit
    participants = [(row.participant_id, format_metric_value(row.value_a, unit),
                     format_metric_value(row.value_b, unit), format_metric_value(row.difference, unit))
                    for row in result.participants.itertuples()]
    changed = [(row.deal_id, row.type, row.owner, format_date(row.date), format_metric_value(row.value_a, unit),
                format_metric_value(row.value_b, unit), format_metric_value(row.difference, unit))
               for row in result.changed.itertuples()]
    return ComparisonRows(result, participants, _differing_rows(result.only_a, unit),
                          _differing_rows(result.only_b, result.b.unit), changed)


class ReconcileView(QWidget):
    """Pick metric A and B (``key`` or ``key@version``) and a period; ``compared`` carries the result."""

    compared = Signal(object)

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.result: Reconciliation | None = None
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_pickers())
        layout.addWidget(self._build_totals())
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self._build_participants())
        splitter.addWidget(self._build_records())
        splitter.setSizes([220, 320])
        layout.addWidget(splitter, 1)
        layout.addWidget(self._build_adopt())
        self._show(None)

    # Layout

    def _build_pickers(self) -> QHBoxLayout:
        self.metric_a = QComboBox()
        self.metric_a.setObjectName("metricA")
        self.metric_b = QComboBox()
        self.metric_b.setObjectName("metricB")
        for combo in (self.metric_a, self.metric_b):
            combo.setEditable(True)
            combo.setMinimumWidth(160)
        self.period_edit = QLineEdit()
        self.period_edit.setObjectName("comparePeriod")
        self.period_edit.setPlaceholderText("2017-Q3")
        self.period_edit.setMaximumWidth(120)
        self.compare_button = QPushButton("Compare")
        self.compare_button.setObjectName("compareMetricsButton")
        self.compare_button.clicked.connect(self.compare)
        self.period_edit.returnPressed.connect(self.compare)
        self.export_button = QPushButton("Export .xlsx...")
        self.export_button.setObjectName("exportComparisonButton")
        self.export_button.clicked.connect(self.export_dialog)
        row = QHBoxLayout()
        for label, widget in (("A", self.metric_a), ("B", self.metric_b), ("Period", self.period_edit)):
            row.addWidget(QLabel(label))
            row.addWidget(widget)
        row.addWidget(self.compare_button)
        row.addStretch(1)
        row.addWidget(self.export_button)
        return row

    def _value_label(self, name: str) -> QLabel:
        label = QLabel()
        label.setObjectName(name)
        label.setAlignment(RIGHT)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def _build_totals(self) -> QGroupBox:
        self.heading_a = QLabel()
        self.heading_b = QLabel()
        self.total_a = self._value_label("totalA")
        self.total_b = self._value_label("totalB")
        self.total_difference = self._value_label("totalDifference")
        self.summary_label = QLabel()
        self.summary_label.setObjectName("compareSummary")
        self.summary_label.setWordWrap(True)
        grid = QGridLayout()
        grid.addWidget(QLabel("<b>Total</b>"), 0, 0)
        grid.addWidget(self.heading_a, 1, 0)
        grid.addWidget(self.total_a, 1, 1)
        grid.addWidget(self.heading_b, 2, 0)
        grid.addWidget(self.total_b, 2, 1)
        grid.addWidget(QLabel("Difference (B - A)"), 3, 0)
        grid.addWidget(self.total_difference, 3, 1)
        grid.addWidget(self.summary_label, 0, 2, 4, 1)
        grid.setColumnStretch(2, 1)
        box = QGroupBox("Totals")
        box.setLayout(grid)
        return box

    @staticmethod
    def _table(name: str, model: QAbstractItemModel, stretch: int) -> QTableView:
        table = QTableView()
        table.setObjectName(name)
        table.setModel(model)
        table.setSortingEnabled(False)
        table.verticalHeader().setVisible(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
        return table

    def _build_participants(self) -> QGroupBox:
        self.participants_model = ListTableModel(("Participant", "A", "B", "Difference"),
                                                 alignments={1: RIGHT, 2: RIGHT, 3: RIGHT})
        self.participants_table = self._table("participantsTable", self.participants_model, 0)
        self.participants_table.clicked.connect(self._participant_clicked)
        box = QGroupBox("Per participant (record owner)")
        QVBoxLayout(box).addWidget(self.participants_table)
        return box

    def _build_records(self) -> QWidget:
        header = ("Deal", "Type", "Owner", "Date", "Value", "Excluded by", "Why")
        self.only_a_model = ListTableModel(header, alignments={4: RIGHT})
        self.only_b_model = ListTableModel(header, alignments={4: RIGHT})
        self.changed_model = ListTableModel(("Deal", "Type", "Owner", "Date", "A", "B", "Difference"),
                                            alignments={4: RIGHT, 5: RIGHT, 6: RIGHT})
        # One text filter for the three tables: a record shows when any of its cells contains the text.
        self.record_filters: list[QSortFilterProxyModel] = []
        for model in (self.only_a_model, self.only_b_model, self.changed_model):
            proxy = QSortFilterProxyModel(self)
            proxy.setSourceModel(model)
            proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            proxy.setFilterKeyColumn(-1)
            self.record_filters.append(proxy)
        self.records_tabs = QTabWidget()
        self.records_tabs.setObjectName("differingRecords")
        self.records_tabs.addTab(self._table("onlyATable", self.record_filters[0], 6), "Only in A")
        self.records_tabs.addTab(self._table("onlyBTable", self.record_filters[1], 6), "Only in B")
        self.records_tabs.addTab(self._table("changedTable", self.record_filters[2], 2), "Different values")
        self.record_filter = QLineEdit()
        self.record_filter.setObjectName("recordFilter")
        self.record_filter.setPlaceholderText("Show only records containing this text (click a participant above)")
        self.record_filter.setClearButtonEnabled(True)
        self.record_filter.textChanged.connect(self.filter_records)
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.record_filter)
        layout.addWidget(self.records_tabs)
        return box

    def filter_records(self, text: str) -> None:
        """Show only the differing records with a cell containing ``text`` (all records when empty)."""
        for proxy in self.record_filters:
            proxy.setFilterFixedString(text.strip())
        self._update_tab_counts()

    def _update_tab_counts(self) -> None:
        titles = ("Only in A", "Only in B", "Different values")
        for index, (title, proxy) in enumerate(zip(titles, self.record_filters, strict=True)):
            shown = proxy.rowCount()
            total = proxy.sourceModel().rowCount()
            count = f"{shown} of {total}" if shown != total else str(total)
            self.records_tabs.setTabText(index, f"{title} ({count})")

    def _participant_clicked(self, index: QModelIndex) -> None:
        participant = self.participants_model.row(index.row())[0]
        self.record_filter.setText("" if self.record_filter.text() == participant else str(participant))

    def _build_adopt(self) -> QGroupBox:
        self.adopt_choice = QComboBox()
        self.adopt_choice.setObjectName("adoptChoice")
        self.adopt_choice.addItems(["A", "B"])
        self.adopt_reason = QLineEdit()
        self.adopt_reason.setObjectName("adoptReason")
        self.adopt_reason.setPlaceholderText("Why this definition becomes the approved one (required)")
        self.rename_edit = QLineEdit()
        self.rename_edit.setObjectName("adoptRename")
        self.rename_edit.setPlaceholderText("Keep the other as supporting under this name (optional)")
        self.adopt_button = QPushButton("Adopt")
        self.adopt_button.setObjectName("adoptButton")
        self.adopt_button.clicked.connect(self.adopt)
        row = QHBoxLayout()
        row.addWidget(QLabel("Adopt"))
        row.addWidget(self.adopt_choice)
        row.addWidget(self.adopt_reason, 2)
        row.addWidget(self.rename_edit, 1)
        row.addWidget(self.adopt_button)
        box = QGroupBox("Adopt one definition; the other is retired, or renamed as supporting")
        box.setLayout(row)
        return box

    # Data

    def set_metric_keys(self, keys: list[str]) -> None:
        """Offer these keys in both pickers, keeping what the user typed."""
        for combo in (self.metric_a, self.metric_b):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(keys)
            combo.setCurrentText(current)
            combo.blockSignals(False)

    def set_pair(self, key_a: str, key_b: str, period: str | None = None) -> None:
        self.metric_a.setCurrentText(key_a)
        self.metric_b.setCurrentText(key_b)
        if period:
            self.period_edit.setText(period)

    def compare(self) -> None:
        workspace = self.context.workspace
        key_a = self.metric_a.currentText().strip()
        key_b = self.metric_b.currentText().strip()
        period = self.period_edit.text().strip()
        if workspace is None:
            return
        if not (key_a and key_b and period):
            self.summary_label.setText("Choose metric A, metric B and a period such as 2017-Q3.")
            return
        self.context.run(f"Comparing {key_a} and {key_b}", _compare, workspace, key_a, key_b, period,
                         on_success=self._show, parent=self)

    def _show(self, rows: ComparisonRows | None) -> None:
        result = None if rows is None else rows.result
        self.result = result
        self.export_button.setEnabled(result is not None)
        self.adopt_button.setEnabled(result is not None)
        if rows is None or result is None:
            for model in (self.participants_model, self.only_a_model, self.only_b_model, self.changed_model):
                model.set_rows([])
            self._update_tab_counts()
            for label in (self.total_a, self.total_b, self.total_difference, self.heading_a, self.heading_b):
                label.clear()
            self.summary_label.setText("Pick two definitions (or two versions, key@version) and a period, "
                                       "then Compare.")
            return

        unit_a = result.a.unit
        self.heading_a.setText(f"A  {result.label_a} ({result.a.owner or 'no owner'})")
        self.heading_b.setText(f"B  {result.label_b} ({result.b.owner or 'no owner'})")
        self.total_a.setText(format_metric_value(result.total_a, unit_a))
        self.total_b.setText(format_metric_value(result.total_b, result.b.unit))
        self.total_difference.setText(format_metric_value(result.difference, unit_a))
        self.summary_label.setText(self._summary(result))

        self.participants_model.set_rows(rows.participants)
        self.only_a_model.set_rows(rows.only_a)
        self.only_b_model.set_rows(rows.only_b)
        self.changed_model.set_rows(rows.changed)
        self._update_tab_counts()
        self.compared.emit(result)

    @staticmethod
    def _summary(result: Reconciliation) -> str:
        lines = [f"Period {result.period_label} ({result.start.isoformat()} to {result.end.isoformat()}).",
                 f"A filter: {result.a.filter or '(all records)'}    value: {result.a.value}",
                 f"B filter: {result.b.filter or '(all records)'}    value: {result.b.value}"]
        if not result.comparable_records:
            lines.append("A and B read different record sets, so records are not compared one by one.")
        return "\n".join(lines)

    # Export and adoption

    def export_dialog(self) -> None:
        if self.result is None or self.context.workspace is None:
            return
        suggested = f"compare-{self.result.label_a}-{self.result.label_b}-{self.result.period_label}.xlsx"
        chosen, _filter = QFileDialog.getSaveFileName(self, "Export comparison", suggested.replace("@", "v"),
                                                      XLSX_FILTER)
        if not chosen:
            return
        path = Path(chosen) if chosen.lower().endswith(".xlsx") else Path(chosen + ".xlsx")
        self.context.run("Exporting comparison", _export, self.context.workspace, self.result, path,
                         on_success=lambda count: self.summary_label.setText(
                             f"Wrote {path.name} with {count} differing records."),
                         changes=("audit",), parent=self)

    def adopt(self) -> None:
        result = self.result
        workspace = self.context.workspace
        if result is None or workspace is None:
            return
        reason = self.adopt_reason.text().strip()
        if not reason:
            self.summary_label.setText("Write why the definition is adopted before adopting it.")
            self.adopt_reason.setFocus()
            return
        winner, loser = (result.a, result.b) if self.adopt_choice.currentText() == "A" else (result.b, result.a)
        if winner.key == loser.key:
            self.summary_label.setText("A and B are versions of one metric; adopt applies to two different metrics.")
            return
        rename = self.rename_edit.text().strip() or None
        self.context.run(f"Adopting {winner.key}", _adopt, workspace, winner.key, loser.key, reason, rename,
                         on_success=lambda _definition: self.summary_label.setText(
                             f"Adopted {winner.key}; {loser.key} " + (f"renamed to {rename!r}." if rename
                                                                      else "retired.")),
                         changes=("metrics",), parent=self)
