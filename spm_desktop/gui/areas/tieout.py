"""The Tie-out area: import finance's or payroll's figures, match them with ours, explain and sign off.

The view contains layout only, and every step calls ``tieout_service`` through ``context.run``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from spm_desktop.domain import money
from spm_desktop.domain import tieout as matching
from spm_desktop.gui.areas.base import Area, empty_state_label
from spm_desktop.gui.context import AppContext
from spm_desktop.gui.errors import show_error
from spm_desktop.gui.formatting import format_money
from spm_desktop.importing.mapping import Mapping
from spm_desktop.services import period_service, tieout_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ValidationError

Index = QModelIndex | QPersistentModelIndex

STATUS_LABELS = {
    matching.MATCHED: "Matched",
    matching.WITHIN_TOLERANCE: "Within tolerance",
    matching.OUTSIDE_TOLERANCE: "Outside tolerance",
    matching.CURRENCY_DIFFERS: "Currency differs",
    matching.ONLY_OURS: "Only in ours",
    matching.ONLY_THEIRS: "Only in theirs",
    matching.AMBIGUOUS: "Ambiguous",
}
STATUS_COLOURS = {
    matching.MATCHED: "#E6F4EA", matching.WITHIN_TOLERANCE: "#EEF6E0", matching.OUTSIDE_TOLERANCE: "#FDE7E7",
    matching.CURRENCY_DIFFERS: "#FFF4D6", matching.ONLY_OURS: "#FDEFE3", matching.ONLY_THEIRS: "#FDEFE3",
    matching.AMBIGUOUS: "#FFF4D6",
}
FILTER_ALL = "All findings"
FILTER_OPEN = "Needing attention"
COLUMNS = ("Our id", "Our amount", "Their id", "Their amount", "Status", "Difference", "Participant", "Explanation")
MONEY_COLUMNS = (1, 3, 5)
MAPPED_FIELDS = ("external_id", "our_id", "participant_id", "customer", "date", "amount", "currency", "period")


# -- operations run in a worker ----------------------------------------------------------


def _import_and_run(workspace: Workspace, kind: str, grain: str, period: str, path: str,
                    options: matching.MatchOptions, mapping: Mapping | None, *, progress: Any,
                    cancel: Any) -> tieout_service.TieoutReport:
    return tieout_service.tie_out_file(workspace, kind, period, path, options, mapping, grain=grain,
                                       progress=progress, cancel=cancel)


def _read_headers(path: str, *, progress: Any, cancel: Any) -> list[str]:
    return tieout_service.file_headers(path)


def _load(workspace: Workspace, period: str, kind: str, *, progress: Any,
          cancel: Any) -> tieout_service.TieoutReport | None:
    tieout_id = tieout_service.latest_tieout_id(workspace, period, kind)
    return None if tieout_id is None else tieout_service.load_report(workspace, tieout_id)


def _confirm_and_rerun(workspace: Workspace, report: tieout_service.TieoutReport, pair: tuple[str, str], *,
                       progress: Any, cancel: Any) -> tieout_service.TieoutReport:
    tieout_service.confirm_pairs(workspace, report.kind, [pair])
    return tieout_service.run_tieout(workspace, report.source.id, report.options, grain=report.grain,
                                     metric=report.metric, carry_from=report.id, progress=progress, cancel=cancel)


def _explain(workspace: Workspace, report: tieout_service.TieoutReport, key: str, reason: str, note: str | None, *,
             progress: Any, cancel: Any) -> tieout_service.TieoutReport:
    tieout_service.explain(workspace, report.id, key, reason, note)
    return tieout_service.load_report(workspace, report.id)


def _adjust(workspace: Workspace, report: tieout_service.TieoutReport, key: str, participant: str, amount: Decimal,
            reason: str, note: str | None, *, progress: Any, cancel: Any) -> tieout_service.TieoutReport:
    tieout_service.adjust(workspace, report.id, key, participant, amount, reason, note)
    return tieout_service.load_report(workspace, report.id)


def _sign_off(workspace: Workspace, report: tieout_service.TieoutReport, *, progress: Any,
              cancel: Any) -> tieout_service.TieoutReport:
    tieout_service.sign_off(workspace, report.period, report.kind)
    return tieout_service.load_report(workspace, report.id)


def _export(report: tieout_service.TieoutReport, path: str, *, progress: Any, cancel: Any) -> int:
    return tieout_service.export_xlsx(report, path)


# -- the findings table ------------------------------------------------------------------


class FindingsModel(QAbstractTableModel):
    """Findings side by side: ours | theirs | status | difference, coloured by status."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[matching.TieoutLine] = []
        self.explanations: dict[str, dict[str, object]] = {}
        self.currency = ""

    def show(self, report: tieout_service.TieoutReport | None, status_filter: str, search: str = "") -> None:
        self.beginResetModel()
        self.lines = [] if report is None else [line for line in report.result.lines
                                                if _passes(line, status_filter, report) and _found(line, search)]
        self.explanations = {} if report is None else report.explanations
        self.currency = "" if report is None else report.result.currency
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.lines)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        line = self.lines[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self._text(line, index.column())
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in MONEY_COLUMNS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole and index.column() == 4:
            return QBrush(QColor(STATUS_COLOURS[line.status]))
        return None

    def _text(self, line: matching.TieoutLine, column: int) -> str:
        ours, theirs = line.ours, line.theirs
        if column == 0:
            return ours.record_id if ours else ""
        if column == 1:
            return format_money(ours.amount, ours.currency) if ours else ""
        if column == 2:
            return ", ".join(theirs.records or (theirs.record_id,)) if theirs else ""
        if column == 3:
            return format_money(theirs.amount, theirs.currency) if theirs else ""
        if column == 4:
            return STATUS_LABELS[line.status]
        if column == 5:
            return format_money(line.difference, self.currency) if line.difference is not None else ""
        if column == 6:
            return line.participant_id or ""
        explanation = self.explanations.get(line.key)
        if not explanation:
            return f"{len(line.candidates)} candidates" if line.candidates else ""
        adjustment = explanation.get("adjustment_id")
        suffix = f" (adjustment {adjustment})" if adjustment else ""
        return f"{explanation['reason_code']}{suffix}"

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None


def _found(line: matching.TieoutLine, search: str) -> bool:
    """Return True when the search text is part of the participant or an id of either side (any case)."""
    if not search:
        return True
    texts = [line.participant_id or ""]
    for figure in (line.ours, line.theirs):
        if figure is not None:
            texts += [figure.record_id, *figure.records]
    needle = search.casefold()
    return any(needle in text.casefold() for text in texts)


def _passes(line: matching.TieoutLine, status_filter: str, report: tieout_service.TieoutReport) -> bool:
    if status_filter == FILTER_ALL:
        return True
    if status_filter == FILTER_OPEN:
        return line in report.unexplained
    return STATUS_LABELS[line.status] == status_filter


# -- the area -----------------------------------------------------------------------------


class TieoutArea(Area):
    """Choose period and kind, import their file, match, review findings, explain, sign off, export."""

    title = "Tie-out"

    def __init__(self, context: AppContext) -> None:
        super().__init__(context)
        self.report: tieout_service.TieoutReport | None = None
        self.stack = QStackedWidget()
        self.empty = empty_state_label("Open a workspace to tie its credits and payouts out against finance's "
                                       "and payroll's own figures.")
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self._build_page())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.on_workspace_changed(context.workspace)

    # -- layout ---------------------------------------------------------------------------

    def _build_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(self._build_setup())
        self.summary = QLabel()
        self.summary.setObjectName("summaryLabel")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.summary)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self._build_findings())
        splitter.addWidget(self._build_detail())
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout.addWidget(splitter, 1)
        return page

    def _build_setup(self) -> QWidget:
        box = QGroupBox("Tie-out")
        form = QFormLayout(box)
        self.period_combo = _named(QComboBox(), "periodCombo")
        self.period_combo.setEditable(True)
        self.period_combo.setMinimumWidth(120)
        self.kind_combo = _named(QComboBox(), "kindCombo")
        self.kind_combo.addItem("Credits per deal against finance's report", ("credits", "deal"))
        self.kind_combo.addItem("Credits per participant against finance's report", ("credits", "participant"))
        self.kind_combo.addItem("Payouts against payroll's register", ("payouts", "participant"))
        self.load_button = _named(QPushButton("Show latest"), "loadButton")
        top = _row(QLabel("Period"), self.period_combo, QLabel("Kind"), self.kind_combo, self.load_button)
        form.addRow(top)

        self.path_edit = _named(QLineEdit(), "againstPath")
        self.path_edit.setPlaceholderText("their file: .xlsx, .xls, .ods or .csv")
        browse = _named(QPushButton("Browse…"), "browseButton")
        browse.clicked.connect(self._browse)
        self.columns_button = _named(QPushButton("Read columns"), "columnsButton")
        self.columns_button.clicked.connect(self._read_columns)
        form.addRow("Their file", _row(self.path_edit, browse, self.columns_button, stretch=False))

        # Which column of their file gives each field; empty until the columns are read.
        self.column_combos = {name: _named(QComboBox(), f"column_{name}") for name in MAPPED_FIELDS}
        columns = QWidget()
        grid = QGridLayout(columns)
        grid.setContentsMargins(0, 0, 0, 0)
        for position, (name, combo) in enumerate(self.column_combos.items()):
            combo.setMinimumWidth(140)
            row, column = divmod(position, 4)
            grid.addWidget(QLabel(name.replace("_", " ")), row, column * 2)
            grid.addWidget(combo, row, column * 2 + 1)
        grid.setColumnStretch(8, 1)
        form.addRow("Their columns", columns)

        self.key_boxes = {name: _named(QCheckBox(name.replace("_", " ")), f"key_{name}")
                          for name in matching.KEY_FIELDS}
        self.date_window = _named(QSpinBox(), "dateWindow")
        self.date_window.setRange(0, 365)
        self.date_window.setSuffix(" days")
        self.tolerance_edit = _named(QLineEdit(), "toleranceEdit")
        self.tolerance_edit.setPlaceholderText("0.01 or 0.5% or 0.01,0.5%")
        self.tolerance_edit.setMaximumWidth(200)
        form.addRow("Composite key", _row(*self.key_boxes.values(), QLabel("date window"), self.date_window,
                                          QLabel("tolerance"), self.tolerance_edit))

        self.run_button = _named(QPushButton("Import and tie out"), "runButton")
        self.export_button = _named(QPushButton("Export .xlsx…"), "exportButton")
        self.sign_button = _named(QPushButton("Sign off"), "signOffButton")
        form.addRow(_row(self.run_button, self.export_button, self.sign_button))

        self.load_button.clicked.connect(self._load_latest)
        self.run_button.clicked.connect(self._run)
        self.export_button.clicked.connect(self._export)
        self.sign_button.clicked.connect(self._sign_off)
        return box

    def _build_findings(self) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        self.filter_combo = _named(QComboBox(), "statusFilter")
        self.filter_combo.addItems([FILTER_ALL, FILTER_OPEN, *STATUS_LABELS.values()])
        self.filter_combo.currentTextChanged.connect(self._show_report)
        self.search_edit = _named(QLineEdit(), "findingsSearch")
        self.search_edit.setPlaceholderText("participant or id")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self._show_report)
        layout.addWidget(_row(QLabel("Show"), self.filter_combo, QLabel("Search"), self.search_edit))
        self.model = FindingsModel()
        self.view = _named(QTableView(), "findingsView")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.verticalHeader().setVisible(False)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.selectionModel().currentRowChanged.connect(self._show_line)
        layout.addWidget(self.view)
        return panel

    def _build_detail(self) -> QWidget:
        box = QGroupBox("Selected finding")
        layout = QHBoxLayout(box)
        left = QVBoxLayout()
        self.detail = _named(QLabel("Select a finding."), "detailLabel")
        self.detail.setWordWrap(True)
        left.addWidget(self.detail)
        self.candidates = _named(QListWidget(), "candidatesList")
        left.addWidget(self.candidates)
        self.confirm_button = _named(QPushButton("Confirm pair and save it in the id map"), "confirmButton")
        self.confirm_button.clicked.connect(self._confirm)
        left.addWidget(self.confirm_button)
        layout.addLayout(left, 2)

        right = QFormLayout()
        self.reason_edit = _named(QLineEdit(), "reasonEdit")
        self.reason_edit.setPlaceholderText("reason code, for example timing")
        self.note_edit = _named(QLineEdit(), "noteEdit")
        self.amount_edit = _named(QLineEdit(), "adjustAmount")
        self.amount_edit.setPlaceholderText("payout adjustment amount")
        self.explain_button = _named(QPushButton("Explain"), "explainButton")
        self.adjust_button = _named(QPushButton("Turn into adjustment"), "adjustButton")
        self.explain_button.clicked.connect(self._explain)
        self.adjust_button.clicked.connect(self._adjust)
        right.addRow("Reason code", self.reason_edit)
        right.addRow("Note", self.note_edit)
        right.addRow("Amount", self.amount_edit)
        right.addRow(_row(self.explain_button, self.adjust_button))
        layout.addLayout(right, 1)
        return box

    # -- state ----------------------------------------------------------------------------

    def on_workspace_changed(self, workspace: Workspace | None) -> None:
        self.report = None
        self.stack.setCurrentIndex(0 if workspace is None else 1)
        if workspace is None:
            return
        self._fill_periods(workspace)
        self._show_report()

    def on_data_changed(self, changes: frozenset[str]) -> None:
        if self.workspace is not None and changes & {"periods", "results"}:
            self._fill_periods(self.workspace)

    def _fill_periods(self, workspace: Workspace) -> None:
        current = self.period_combo.currentText()
        with workspace.read() as connection:
            labels = [period.label for period in period_service.list_periods(connection)]
        self.period_combo.clear()
        self.period_combo.addItems(labels)
        if current:
            self.period_combo.setCurrentText(current)

    def _period(self) -> str:
        return self.period_combo.currentText().strip()

    def _kind(self) -> str:
        return str(self.kind_combo.currentData()[0])

    def _grain(self) -> str:
        return str(self.kind_combo.currentData()[1])

    def _selected(self) -> matching.TieoutLine | None:
        index = self.view.currentIndex()
        if not index.isValid() or index.row() >= len(self.model.lines):
            return None
        return self.model.lines[index.row()]

    def _show_report(self, *_args: object) -> None:
        report = self.report
        self.model.show(report, self.filter_combo.currentText(), self.search_edit.text().strip())
        self.export_button.setEnabled(report is not None)
        self.sign_button.setEnabled(report is not None and report.signed_off_by is None)
        self.summary.setText(_summary_text(report) if report is not None else
                             "Nothing here yet: choose a period and kind, then import their file to see the "
                             "findings side by side.")
        self._show_line()

    def _show_line(self, *_args: object) -> None:
        line = self._selected()
        self.candidates.clear()
        editable = line is not None and self.report is not None and self.report.signed_off_by is None
        for widget in (self.explain_button, self.adjust_button, self.reason_edit, self.note_edit, self.amount_edit):
            widget.setEnabled(editable)
        self.confirm_button.setEnabled(False)
        if line is None:
            self.detail.setText("Select a finding.")
            return
        self.detail.setText(_line_text(line))
        for candidate in line.candidates:
            item = QListWidgetItem(_candidate_text(candidate, self.model.currency))
            item.setData(Qt.ItemDataRole.UserRole, candidate.ours.record_id)
            self.candidates.addItem(item)
        if line.candidates:
            self.candidates.setCurrentRow(0)
        self.confirm_button.setEnabled(editable and bool(line.candidates))
        self.adjust_button.setEnabled(editable and line.participant_id is not None)
        if self.report is not None and self.report.kind == "payouts" and line.difference is not None:
            self.amount_edit.setText(f"{money.round_money(-line.difference, self.model.currency):f}")
        else:
            self.amount_edit.clear()

    def _set_report(self, report: tieout_service.TieoutReport | None) -> None:
        self.report = report
        self._show_report()

    # -- actions --------------------------------------------------------------------------

    def _browse(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Their figures", "",
                                                    "Spreadsheets (*.xlsx *.xlsm *.xls *.ods *.csv)")
        if path:
            self.path_edit.setText(path)
            self._read_columns()

    def _read_columns(self) -> None:
        path = self.path_edit.text().strip()
        if path:
            self.context.run("Reading columns", _read_headers, path, on_success=self._show_columns, parent=self)

    def _show_columns(self, headers: list[str]) -> None:
        suggested = tieout_service.suggest_columns(headers)
        for name, combo in self.column_combos.items():
            combo.clear()
            combo.addItems(["", *[header for header in headers if header]])
            combo.setCurrentText(suggested.get(name, ""))

    def _mapping(self) -> Mapping | None:
        """Return the columns chosen, or None (suggested from the headers) when they were never read."""
        chosen = {name: combo.currentText() for name, combo in self.column_combos.items() if combo.currentText()}
        if not any(combo.count() for combo in self.column_combos.values()):
            return None
        return Mapping(tieout_service.FIGURES_SPEC.name, columns=dict(chosen))

    def _options(self) -> matching.MatchOptions:
        assert self.workspace is not None
        keys = [name for name, box in self.key_boxes.items() if box.isChecked()]
        tolerance = self.tolerance_edit.text().strip() or None
        return tieout_service.default_options(self.workspace, keys, self.date_window.value(), tolerance)

    def _run(self) -> None:
        if self.workspace is None:
            return
        try:
            options = self._options()
        except ValidationError as error:
            show_error(self, error)
            return
        self.context.run("Tie-out", _import_and_run, self.workspace, self._kind(), self._grain(), self._period(),
                         self.path_edit.text().strip(), options, self._mapping(), on_success=self._set_report,
                         changes=("tieouts", "audit"), parent=self)

    def _load_latest(self) -> None:
        if self.workspace is not None:
            self.context.run("Loading tie-out", _load, self.workspace, self._period(), self._kind(),
                             on_success=self._set_report, parent=self)

    def _confirm(self) -> None:
        line, item = self._selected(), self.candidates.currentItem()
        if self.report is None or line is None or line.theirs is None or item is None:
            return
        pair = (str(item.data(Qt.ItemDataRole.UserRole)), line.theirs.record_id)
        self.context.run("Confirming pair", _confirm_and_rerun, self.workspace, self.report, pair,
                         on_success=self._set_report, changes=("tieouts", "audit"), parent=self)

    def _explain(self) -> None:
        line = self._selected()
        if self.report is None or line is None:
            return
        self.context.run("Explaining finding", _explain, self.workspace, self.report, line.key,
                         self.reason_edit.text().strip(), self.note_edit.text().strip() or None,
                         on_success=self._set_report, changes=("tieouts", "audit"), parent=self)

    def _adjust(self) -> None:
        line = self._selected()
        if self.report is None or line is None or line.participant_id is None:
            return
        try:
            amount = money.to_decimal(self.amount_edit.text())
        except money.MoneyError as error:
            show_error(self, ValidationError(f"adjustment amount {error}; type an amount such as -10.00"))
            return
        self.context.run("Creating adjustment", _adjust, self.workspace, self.report, line.key, line.participant_id,
                         amount, self.reason_edit.text().strip(), self.note_edit.text().strip() or None,
                         on_success=self._set_report, changes=("tieouts", "adjustments", "audit"), parent=self)

    def _sign_off(self) -> None:
        if self.report is not None:
            self.context.run("Signing off", _sign_off, self.workspace, self.report, on_success=self._set_report,
                             changes=("tieouts", "periods", "audit"), parent=self)

    def _export(self) -> None:
        if self.report is None:
            return
        suggested = f"tieout-{self.report.kind}-{self.report.period}.xlsx"
        path, _filter = QFileDialog.getSaveFileName(self, "Export tie-out", suggested, "Excel workbooks (*.xlsx)")
        if path:
            self.export_to(path)

    def export_to(self, path: str | Path) -> None:
        """Write the shown tie-out to an .xlsx file in a worker."""
        if self.report is not None:
            self.context.run("Exporting tie-out", _export, self.report, str(path), parent=self)


# -- text ---------------------------------------------------------------------------------


def _summary_text(report: tieout_service.TieoutReport) -> str:
    currency = report.result.currency
    theirs = report.result.theirs_total
    counts = ", ".join(f"{STATUS_LABELS[status]} {item.count}" for status, item in report.result.summary().items()
                       if item.count)
    signed = (f"Signed off by {report.signed_off_by} at {report.signed_off_at[:19]}" if report.signed_off_by
              else f"Not signed off; {len(report.unexplained)} findings need an explanation")
    their_total = "not converted (a currency has no rate)" if theirs is None else format_money(theirs, currency)
    return (f"<b>Tie-out {report.id}</b>: {report.kind} of {report.period} against {report.source.file_name} "
            f"(SHA-256 {report.source.sha256[:12]}…). Ours {format_money(report.result.ours_total, currency)}; "
            f"theirs {their_total}.<br>{counts}.<br>Our figures: {report.basis}.<br>{signed}.")


def _line_text(line: matching.TieoutLine) -> str:
    parts = [STATUS_LABELS[line.status]]
    if line.method:
        parts.append(f"matched by {line.method.replace('_', ' ')}")
    if line.theirs is not None and line.theirs.source_row is not None:
        parts.append(f"their row {line.theirs.source_row}")
    if line.comparison is not None and line.comparison.rate not in (None, Decimal(1)):
        parts.append(f"rate {line.comparison.rate}")
    if line.status == matching.AMBIGUOUS:
        parts.append("pick the right candidate and confirm it; nothing was matched by guess")
    return "; ".join(parts)


def _candidate_text(candidate: matching.Candidate, currency: str) -> str:
    ours = candidate.ours
    rank = {matching.RANK_EXACT: "exact key", matching.RANK_DATE_WINDOW: "date within window",
            matching.RANK_AMOUNT_TOLERANCE: "amount within tolerance"}[candidate.rank]
    day = ours.date.isoformat() if ours.date else "no date"
    return f"{ours.record_id}: {format_money(ours.amount, ours.currency or currency)}, {ours.customer or ''}, {day} ({rank})"


def _named(widget: Any, name: str) -> Any:
    widget.setObjectName(name)
    return widget


def _row(*widgets: QWidget, stretch: bool = True) -> QWidget:
    holder = QWidget()
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    if stretch:
        layout.addStretch(1)
    return holder
