"""The import wizard: choose a file, its sheet and header row, map columns, check, commit.

Opening the file, reading and checking it, and committing run through
``AppContext.run`` in a worker with progress and Cancel, so the window never freezes.
The preview page lists every problem in a sortable table; double-clicking one selects
the record of that source row in the preview table.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from spm_desktop.domain.records import RECORD_SETS, record_set
from spm_desktop.gui.context import AppContext
from spm_desktop.gui.formatting import format_count, format_money
from spm_desktop.gui.models import LazyTableModel, ListTableModel
from spm_desktop.importing.mapping import DATE_ORDERS, DECIMAL_MARKS, Mapping, MappingOptions, suggest_columns
from spm_desktop.importing.sources import WORKBOOK_SUFFIXES
from spm_desktop.services import import_service
from spm_desktop.services.import_service import FileSample, ImportPreview, ImportResult

log = logging.getLogger(__name__)

NOT_MAPPED = "(not mapped)"
SAMPLE_SHOWN = 30
FILE_FILTER = "Spreadsheets and text files (*.xlsx *.xlsm *.xls *.xlsb *.ods *.csv *.tsv *.txt)"
PROBLEM_HEADER = ("Severity", "Row", "Column", "Code", "Value", "Message")
# Problems sort by severity, errors first, and then by row number.
SEVERITY_RANK = {"error": 1, "warning": 2, "info": 3}
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
# Problems whose value an alias can replace, and where their messages name a replacement.
ALIAS_CODES = ("unknown_participant", "possible_misspelling", "unknown_product", "unknown_customer",
               "unknown_stage", "unknown_region", "unknown_territory", "unknown_currency")
_SUGGESTION = re.compile(r"alias .+? -> (.+)$|(?:did you mean|misspelling of) '([^']+)'")


class ImportWizard(QWizard):
    """Wizard for one import; ``result`` is the ImportResult after a successful commit."""

    def __init__(self, context: AppContext, parent: QWidget | None = None, record_set_name: str = "deals") -> None:
        super().__init__(parent)
        self.setObjectName("importWizard")
        self.setWindowTitle("Import records")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.resize(1000, 680)
        self.context = context
        self.sample: FileSample | None = None
        self.preview: ImportPreview | None = None
        self.result: ImportResult | None = None
        self.file_page = FilePage(self, record_set_name)
        self.sheet_page = SheetPage(self)
        self.mapping_page = MappingPage(self)
        self.preview_page = PreviewPage(self)
        for page in (self.file_page, self.sheet_page, self.mapping_page, self.preview_page):
            self.addPage(page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Import")

    @property
    def record_set_name(self) -> str:
        return self.file_page.record_set_combo.currentText()

    @property
    def path(self) -> Path:
        return Path(self.file_page.path_edit.text().strip())

    def current_mapping(self) -> Mapping:
        return self.mapping_page.mapping()

    def accept(self) -> None:
        """Commit the previewed records in a worker; close only when the commit succeeded."""
        if self.preview is None or self.context.workspace is None:
            return
        accept_valid = self.preview_page.accept_valid_check.isChecked()

        def done(result: ImportResult) -> None:
            self.result = result
            super(ImportWizard, self).accept()

        self.context.run("Importing records", import_service.commit, self.context.workspace, self.preview,
                         accept_valid, on_success=done, changes=("records", "audit"), parent=self)


class FilePage(QWizardPage):
    def __init__(self, wizard: ImportWizard, record_set_name: str) -> None:
        super().__init__()
        self.wizard_ = wizard
        self.setTitle("Choose a file")
        self.setSubTitle("Pick the record set to fill and the .xlsx, .xls, .ods or .csv file, or drop the file here.")
        self.setAcceptDrops(True)
        self.record_set_combo = QComboBox()
        self.record_set_combo.setObjectName("recordSetCombo")
        self.record_set_combo.addItems([*RECORD_SETS, "opportunities"])
        self.record_set_combo.setCurrentText(record_set_name)
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("filePathEdit")
        self.path_edit.setPlaceholderText("path of the file to import")
        self.path_edit.textChanged.connect(self.completeChanged)
        browse = QPushButton("Browse…")
        browse.setObjectName("browseButton")
        browse.clicked.connect(self._browse)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.record_set_combo.currentTextChanged.connect(self._describe)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        form = QFormLayout(self)
        form.addRow("Record set", self.record_set_combo)
        form.addRow("", self.description)
        form.addRow("File", path_row)
        self._describe(record_set_name)

    def _describe(self, name: str) -> None:
        spec = record_set(name)
        fields = ", ".join(f"{field.name}{'*' if field.required else ''}" for field in spec.fields)
        self.description.setText(f"{spec.description}\nFields (* required): {fields}")

    def _browse(self) -> None:
        chosen, _filter = QFileDialog.getOpenFileName(self, "Import file", "", FILE_FILTER)
        if chosen:
            self.path_edit.setText(chosen)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            self.path_edit.setText(urls[0].toLocalFile())
            event.acceptProposedAction()

    def isComplete(self) -> bool:  # noqa: N802
        return self.wizard_.path.is_file()

    def validatePage(self) -> bool:  # noqa: N802
        """Open the file in a worker; the next page appears when its first rows are read."""
        wizard = self.wizard_
        if wizard.sample is not None and wizard.sample.path == wizard.path:
            return True
        self._open(None)
        return False

    def _open(self, sheet: str | None) -> None:
        wizard = self.wizard_

        def opened(sample: FileSample) -> None:
            wizard.sample = sample
            wizard.sheet_page.show_sample(sample)
            if wizard.currentPage() is self:
                wizard.next()

        wizard.context.run("Opening file", import_service.inspect_file, wizard.context.workspace,
                           wizard.record_set_name, wizard.path, sheet, on_success=opened, parent=wizard)


class SheetPage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.wizard_ = wizard
        self.setTitle("Sheet and header row")
        self.setSubTitle("Check the sheet and the row that holds the column headers. Rows above it are skipped.")
        self.sheet_combo = QComboBox()
        self.sheet_combo.setObjectName("sheetCombo")
        self.sheet_combo.activated.connect(self._sheet_chosen)
        self.header_spin = QSpinBox()
        self.header_spin.setObjectName("headerRowSpin")
        self.header_spin.setRange(0, 1000)
        self.header_spin.setSpecialValueText("none (columns by position)")
        self.header_spin.valueChanged.connect(self._highlight_header)
        self.file_facts = QLabel()
        self.file_facts.setObjectName("fileFacts")
        self.sample_model = ListTableModel(())
        self.sample_table = QTableView()
        self.sample_table.setObjectName("sampleTable")
        self.sample_table.setModel(self.sample_model)
        self.sample_table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        form = QFormLayout()
        form.addRow("Sheet", self.sheet_combo)
        form.addRow("Header row", self.header_spin)
        form.addRow("", self.file_facts)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.sample_table, 1)

    def show_sample(self, sample: FileSample) -> None:
        self.sheet_combo.clear()
        self.sheet_combo.addItems(sample.sheet_names)
        if sample.sheet:
            self.sheet_combo.setCurrentText(sample.sheet)
        self.sheet_combo.setEnabled(sample.path.suffix.lower() in WORKBOOK_SUFFIXES)
        width = max((len(row) for row in sample.rows[:SAMPLE_SHOWN]), default=0)
        header = [_column_name(index) for index in range(width)]
        rows = [[_cell(row[index]) if index < len(row) else "" for index in range(width)]
                for row in sample.rows[:SAMPLE_SHOWN]]
        self.sample_model = ListTableModel(header, rows)
        self.sample_table.setModel(self.sample_model)
        self.sample_table.verticalHeader().setVisible(True)
        self.header_spin.setValue(sample.header_row or 0)
        facts = []
        if sample.encoding:
            facts.append(f"encoding {sample.encoding}")
        if sample.delimiter:
            facts.append(f"delimiter {sample.delimiter!r}")
        if sample.mapping_name:
            facts.append(f"saved mapping found: {sample.mapping_name}")
        self.file_facts.setText("; ".join(facts))
        self._highlight_header(self.header_spin.value())

    def _sheet_chosen(self, _index: int) -> None:
        self.wizard_.file_page._open(self.sheet_combo.currentText())

    def _highlight_header(self, row: int) -> None:
        if row:
            self.sample_table.selectRow(row - 1)

    def header_row(self) -> int | str:
        value = self.header_spin.value()
        return value if value else "none"

    def headers(self) -> list[str]:
        sample = self.wizard_.sample
        row = self.header_spin.value()
        if sample is None:
            return []
        width = max((len(line) for line in sample.rows), default=0)
        if not row or row > len(sample.rows):
            return [str(index + 1) for index in range(width)]
        cells = sample.rows[row - 1]
        return [_cell(cells[index]) if index < len(cells) else "" for index in range(width)]


class MappingPage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.wizard_ = wizard
        self.setTitle("Map columns")
        self.setSubTitle("Choose the source column of each field (* required). Columns left out are kept as "
                         "attributes that metric filters can use.")
        self.combos: dict[str, QComboBox] = {}
        self.date_order = QComboBox()
        self.date_order.setObjectName("dateOrderCombo")
        self.date_order.addItems(DATE_ORDERS)
        self.decimal_mark = QComboBox()
        self.decimal_mark.setObjectName("decimalMarkCombo")
        self.decimal_mark.addItems(DECIMAL_MARKS)
        self.source_label = QLabel()
        self.source_label.setObjectName("mappingSource")
        self.fields_widget = QWidget()
        self.fields_form = QFormLayout(self.fields_widget)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.fields_widget)
        options = QFormLayout()
        options.addRow("Date order", self.date_order)
        options.addRow("Decimal mark", self.decimal_mark)
        layout = QVBoxLayout(self)
        layout.addWidget(self.source_label)
        layout.addWidget(scroll, 1)
        layout.addLayout(options)
        self._base: Mapping | None = None

    def initializePage(self) -> None:  # noqa: N802
        wizard = self.wizard_
        headers = wizard.sheet_page.headers()
        by_position = wizard.sheet_page.header_row() == "none"
        saved = wizard.sample.mapping if wizard.sample is not None else None
        spec = record_set(wizard.record_set_name)
        if saved is not None and saved.canonical_set == spec.name:
            self._base = saved
            columns = dict(saved.columns)
            self.source_label.setText(f"Suggested from the saved mapping {wizard.sample.mapping_name!r}.")  # type: ignore[union-attr]
        else:
            self._base = None
            columns = {} if by_position else suggest_columns(spec.name, headers)
            self.source_label.setText("Suggested from the column headers; check every field.")
        self._build_combos(spec.fields, headers, columns, by_position)
        options = self._base.options if self._base is not None else MappingOptions()
        self.date_order.setCurrentText(options.date_order)
        self.decimal_mark.setCurrentText(options.decimal_mark)

    def _build_combos(self, fields, headers: list[str], columns: dict, by_position: bool) -> None:
        while self.fields_form.rowCount():
            self.fields_form.removeRow(0)
        self.combos = {}
        choices = [NOT_MAPPED] + [_choice_label(index, header, by_position) for index, header in enumerate(headers)]
        for field_spec in fields:
            combo = QComboBox()
            combo.setObjectName(f"mapping_{field_spec.name}")
            combo.addItems(choices)
            chosen = columns.get(field_spec.name)
            if isinstance(chosen, int) and 0 < chosen < len(choices):
                combo.setCurrentIndex(chosen)
            elif isinstance(chosen, str) and chosen in headers:
                combo.setCurrentIndex(headers.index(chosen) + 1)
            combo.currentIndexChanged.connect(self.completeChanged)
            label = f"{field_spec.name}{' *' if field_spec.required else ''} ({field_spec.kind})"
            self.fields_form.addRow(label, combo)
            self.combos[field_spec.name] = combo

    def mapping(self) -> Mapping:
        """Build the mapping the page shows, keeping a saved mapping's aliases, defaults and melt."""
        wizard = self.wizard_
        headers = wizard.sheet_page.headers()
        by_position = wizard.sheet_page.header_row() == "none"
        columns: dict[str, str | int] = {}
        for name, combo in self.combos.items():
            index = combo.currentIndex()
            if index <= 0:
                continue
            columns[name] = index if by_position or not headers[index - 1] else headers[index - 1]
        base = self._base
        mapping = Mapping(wizard.record_set_name, columns, wizard.sheet_page.sheet_combo.currentText() or None,
                          wizard.sheet_page.header_row())
        if base is not None:
            mapping.aliases, mapping.defaults = dict(base.aliases), dict(base.defaults)
            mapping.melt, mapping.references = base.melt, dict(base.references)
            mapping.options = MappingOptions(**vars(base.options))
        mapping.options.date_order = self.date_order.currentText()
        mapping.options.decimal_mark = self.decimal_mark.currentText()
        return mapping

    def isComplete(self) -> bool:  # noqa: N802
        spec = record_set(self.wizard_.record_set_name)
        defaults = self._base.defaults if self._base is not None else {}
        return all(self.combos[name].currentIndex() > 0 or name in defaults for name in spec.required
                   if name in self.combos)


class PreviewPage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.wizard_ = wizard
        self.setTitle("Check and import")
        self.setSubTitle("Every row is checked before anything is written. Double-click a problem to see its row.")
        self.summary = QLabel()
        self.summary.setObjectName("previewSummary")
        self.summary.setWordWrap(True)
        self.accept_valid_check = QCheckBox("Import the valid rows only and leave the rejected ones out")
        self.accept_valid_check.setObjectName("acceptValidCheck")
        self.accept_valid_check.toggled.connect(self.completeChanged)
        self.preview_table = QTableView()
        self.preview_table.setObjectName("previewTable")
        self.preview_table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.preview_table.setAlternatingRowColors(True)
        self.problem_model = ListTableModel(PROBLEM_HEADER, sort_keys={
            0: lambda severity: SEVERITY_RANK.get(severity, 9), 1: lambda row: row if isinstance(row, int) else 0})
        self.problem_proxy = QSortFilterProxyModel(self)
        self.problem_proxy.setSourceModel(self.problem_model)
        self.problem_proxy.setSortRole(ListTableModel.SORT_ROLE)
        self.problems_table = QTableView()
        self.problems_table.setObjectName("problemsTable")
        self.problems_table.setModel(self.problem_proxy)
        self.problems_table.setSortingEnabled(True)
        self.problems_table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.problems_table.horizontalHeader().setStretchLastSection(True)
        self.problems_table.doubleClicked.connect(self._jump_to_problem)
        self.problems_table.clicked.connect(self._problem_chosen)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.preview_table)
        splitter.addWidget(self.problems_table)
        splitter.setSizes([300, 220])
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.accept_valid_check, 1)
        self.alias_button = QPushButton("Record alias…")
        self.alias_button.setObjectName("recordAliasButton")
        self.alias_button.setToolTip("Read the selected problem's value as another value in this and later imports")
        self.alias_button.setEnabled(False)
        self.alias_button.clicked.connect(self._record_alias)
        bottom.addWidget(self.alias_button)
        layout.addLayout(bottom)
        self.preview_model: LazyTableModel | None = None
        self._problems: list = []
        self._chosen_problem = None

    def initializePage(self) -> None:  # noqa: N802
        wizard = self.wizard_
        wizard.preview = None
        self.summary.setText("Reading and checking the file…")
        self.completeChanged.emit()
        wizard.context.run("Checking file", import_service.preview, wizard.context.workspace,
                           wizard.record_set_name, wizard.path, wizard.current_mapping(),
                           wizard.sheet_page.sheet_combo.currentText() or None, on_success=self.show_preview,
                           parent=wizard)

    def show_preview(self, preview: ImportPreview) -> None:
        self.wizard_.preview = preview
        self._chosen_problem = None
        self.alias_button.setEnabled(False)
        spec = record_set(preview.parsed.record_set)
        header = ["row", *spec.field_names, "attributes", "status"]
        money = {field.name for field in spec.fields if field.kind == "money"}
        self.preview_model = LazyTableModel(
            lambda offset, limit: [[_display(record.get(name), name in money, record.get("currency"))
                                    for name in header] for record in preview.rows(offset, limit)],
            lambda: preview.record_count, header,
            alignments={header.index(name): RIGHT for name in money})
        self.preview_table.setModel(self.preview_model)
        self._problems = preview.problems
        self.problem_model.set_rows([
            (problem.severity, problem.row if problem.row is not None else "",
             problem.column or "", problem.code, problem.value or "", _where(problem) + problem.message)
            for problem in preview.problems])
        self.problems_table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.problems_table.resizeColumnsToContents()
        self.problems_table.setColumnWidth(5, 520)
        self.summary.setText(_summary(preview))
        self.completeChanged.emit()

    def _jump_to_problem(self, proxy_index) -> None:
        source = self.problem_proxy.mapToSource(proxy_index)
        problem = self._problems[source.row()]
        preview = self.wizard_.preview
        if problem.row is None or preview is None or self.preview_model is None:
            return
        rows = preview.parsed.block.source_rows if preview.parsed.block is not None else []
        if problem.file != preview.parsed.file_name or problem.row not in rows:
            return
        target = rows.index(problem.row)
        while self.preview_model.rowCount() <= target and self.preview_model.canFetchMore():
            self.preview_model.fetchMore()
        self.preview_table.selectRow(target)
        self.preview_table.scrollTo(self.preview_model.index(target, 0))

    def alias_target(self, problem) -> tuple[str, str, str] | None:
        """Return (field, value, suggested replacement) for a problem an alias can fix, else None."""
        preview = self.wizard_.preview
        if preview is None or problem.value is None or problem.file != preview.parsed.file_name:
            return None
        fields_by_column = {label: name for name, label in preview.parsed.column_names.items()}
        field_name = fields_by_column.get(problem.column or "")
        if field_name is None or problem.code not in ALIAS_CODES:
            return None
        match = _SUGGESTION.search(problem.message)
        suggestion = (match.group(1) or match.group(2)) if match else ""
        return field_name, problem.value, suggestion

    def _problem_chosen(self, proxy_index) -> None:
        problem = self._problems[self.problem_proxy.mapToSource(proxy_index).row()]
        self._chosen_problem = problem
        self.alias_button.setEnabled(self.alias_target(problem) is not None)

    def _record_alias(self) -> None:
        target = self.alias_target(self._chosen_problem) if self._chosen_problem is not None else None
        if target is None:
            return
        field_name, value, suggestion = target
        replacement, ok = QInputDialog.getText(self, "Record alias", f"Read {field_name} {value!r} as:",
                                               text=suggestion)
        if ok and replacement.strip():
            self.record_alias(field_name, value, replacement.strip())

    def record_alias(self, field_name: str, value: str, replacement: str) -> None:
        """Record the alias in the workspace, then read and check the file again."""
        wizard = self.wizard_
        wizard.context.run("Recording alias", _add_alias, wizard.context.workspace,
                           wizard.record_set_name, field_name, value, replacement,
                           on_success=lambda _alias: self.initializePage(), parent=wizard)

    def isComplete(self) -> bool:  # noqa: N802
        preview = self.wizard_.preview
        if preview is None or preview.parsed.has_file_errors or preview.record_count == 0:
            return False
        errors = any(problem.severity == "error" for problem in preview.problems)
        return not errors or self.accept_valid_check.isChecked()


def _add_alias(workspace, record_set_name: str, field_name: str, value: str, replacement: str,
               *, progress, cancel) -> object:
    """Record an alias; takes the progress and cancel arguments that AppContext.run passes."""
    return import_service.add_alias(workspace, record_set_name, field_name, value, replacement)


def _summary(preview: ImportPreview) -> str:
    parsed = preview.parsed
    counts = {severity: sum(1 for problem in preview.problems if problem.severity == severity)
              for severity in ("error", "warning", "info")}
    where = f"{parsed.file_name}" + (f", sheet {parsed.sheet}" if parsed.sheet else "")
    where += f", header on row {parsed.header_row}" if parsed.header_row else ", no header row"
    lines = [
        (f"Records: {format_count(parsed.record_count)} from {where}. Rejected: {format_count(parsed.rejected_count)}; "
        f"duplicates: {format_count(parsed.duplicate_count)}; rows skipped: {format_count(parsed.skipped_rows)}."),
        (f"Problems: errors {counts['error']}, warnings {counts['warning']}, notes {counts['info']}. "
        f"Mapping: {preview.mapping_text('as set on the mapping page')}."),
    ]
    if parsed.decisions:
        lines.append("Read per column: " + "; ".join(_decision(name, value) for name, value in parsed.decisions.items()))
    return "\n".join(lines)


def _decision(name: str, value: str) -> str:
    if value in (".", ","):
        return f"{name} with decimal mark {value!r}"
    if value in ("dmy", "mdy", "ymd"):
        return f"{name} as {'day/month/year' if value == 'dmy' else 'month/day/year' if value == 'mdy' else 'year/month/day'}"
    return f"{name}: {value}"


def _where(problem) -> str:
    return "" if problem.row is not None or not problem.file else f"{problem.file}: "


def _column_name(index: int) -> str:
    from spm_desktop.importing.sources import column_letter

    return column_letter(index)


def _choice_label(index: int, header: str, by_position: bool) -> str:
    position = f"column {index + 1} ({_column_name(index)})"
    return position if by_position or not header else f"{header}  [{position}]"


def _cell(value: object) -> str:
    if value is None:
        return ""
    from spm_desktop.importing.parsing import cell_text

    return cell_text(value)


def _display(value: object, money: bool = False, currency: object = None) -> str:
    if value is None:
        return ""
    if money:
        return format_money(value, str(currency) if currency else "", with_currency=False)  # type: ignore[arg-type]
    return str(value)
