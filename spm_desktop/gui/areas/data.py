"""The Data area: record sets with their counts, import batches, a record browser and the import wizard."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from spm_desktop.gui.areas.base import Area, empty_state_label
from spm_desktop.gui.context import AppContext
from spm_desktop.gui.formatting import format_count, format_money
from spm_desktop.gui.models import LazyTableModel, ListTableModel
from spm_desktop.services import record_service
from spm_desktop.services.context import Workspace

SET_HEADER = ("Record set", "Records")
BATCH_HEADER = ("Batch", "Record set", "File", "Imported (UTC)", "By", "Added", "Updated", "Unchanged",
                "Duplicates", "Rejected", "Problems")
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


class DataArea(Area):
    title = "Data"

    def __init__(self, context: AppContext) -> None:
        super().__init__(context)
        self.wizard = None
        self.browser_model: LazyTableModel | None = None
        self.stack = QStackedWidget()
        self.stack.addWidget(empty_state_label("Open a workspace to import and browse records."))
        self.stack.addWidget(self._build_content())
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        self.on_workspace_changed(context.workspace)

    def _build_content(self) -> QWidget:
        content = QWidget()
        self.import_button = QPushButton("Import file…")
        self.import_button.setObjectName("importButton")
        self.import_button.clicked.connect(self.open_wizard)
        self.status = QLabel()
        self.status.setObjectName("dataStatus")
        toolbar = QHBoxLayout()
        toolbar.addWidget(self.import_button)
        toolbar.addWidget(self.status, 1)
        self.set_model = ListTableModel(SET_HEADER, alignments={1: RIGHT})
        self.set_table = QTableView()
        self.set_table.setObjectName("recordSetTable")
        self.set_table.setModel(self.set_model)
        self.set_table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.set_table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.set_table.verticalHeader().hide()
        self.set_table.clicked.connect(self._set_chosen)
        self.batch_model = ListTableModel(BATCH_HEADER, alignments=dict.fromkeys(range(5, 11), RIGHT))
        self.batch_table = QTableView()
        self.batch_table.setObjectName("batchTable")
        self.batch_table.setModel(self.batch_model)
        self.batch_table.verticalHeader().hide()
        self.records_label = QLabel()
        self.records_label.setObjectName("recordsLabel")
        self.record_table = QTableView()
        self.record_table.setObjectName("recordTable")
        self.record_table.setAlternatingRowColors(True)
        self.empty_records = empty_state_label("Nothing here yet: imported records of the chosen set appear here. "
                                               "Use Import file… to bring in a spreadsheet.")
        browser = QWidget()
        browser_layout = QVBoxLayout(browser)
        browser_layout.setContentsMargins(0, 0, 0, 0)
        browser_layout.addWidget(self.records_label)
        browser_layout.addWidget(self.record_table, 1)
        browser_layout.addWidget(self.empty_records)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.set_table)
        top.addWidget(browser)
        top.setSizes([220, 780])
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.batch_table)
        splitter.setSizes([480, 180])
        layout = QVBoxLayout(content)
        layout.addLayout(toolbar)
        layout.addWidget(splitter, 1)
        return content

    def on_workspace_changed(self, workspace: Workspace | None) -> None:
        self.stack.setCurrentIndex(0 if workspace is None else 1)
        if workspace is not None:
            self.refresh()

    def on_data_changed(self, changes: frozenset[str]) -> None:
        if self.workspace is not None and "records" in changes:
            self.refresh()

    def refresh(self) -> None:
        workspace = self.workspace
        if workspace is None:
            return
        with workspace.read() as connection:
            counts = record_service.record_counts(connection)
            batches = record_service.list_batches(connection)
        chosen = self.chosen_set()
        self.set_model.set_rows([(name, format_count(count)) for name, count in counts.items()])
        self.batch_model.set_rows([
            (batch.batch_id, batch.record_set, batch.file_name, batch.imported_at[:19].replace("T", " "),
             batch.imported_by, format_count(batch.added), format_count(batch.updated),
             format_count(batch.unchanged), format_count(batch.duplicates), format_count(batch.rejected),
             format_count(batch.problem_count)) for batch in batches])
        self.batch_table.resizeColumnsToContents()
        total = sum(counts.values())
        self.status.setText(f"{format_count(total)} records in {sum(1 for c in counts.values() if c)} record sets, "
                            f"{len(batches)} imports")
        names = list(counts)
        # Keep the chosen set while it has records; otherwise show the first set that has some.
        default = chosen if chosen and counts[chosen] else next((name for name in names if counts[name]), names[0])
        self.set_table.selectRow(names.index(default))
        self.show_records(default)

    def chosen_set(self) -> str | None:
        rows = self.set_table.selectionModel().selectedRows() if self.set_table.selectionModel() else []
        return self.set_model.row(rows[0].row())[0] if rows else None

    def _set_chosen(self, index) -> None:
        self.show_records(self.set_model.row(index.row())[0])

    def show_records(self, name: str) -> None:
        workspace = self.workspace
        if workspace is None:
            return

        spec = record_service.spec_of(name)
        money = [index for index, field in enumerate(spec.fields) if field.kind == "money"]
        currency = spec.field_names.index("currency") if "currency" in spec.field_names else None

        def fetch(offset: int, limit: int) -> list:
            with workspace.read() as connection:
                rows = record_service.fetch_page(connection, name, offset, limit)
            return [_formatted(row, money, currency) for row in rows]

        def count() -> int:
            with workspace.read() as connection:
                return record_service.count_records(connection, name)

        self.browser_model = LazyTableModel(fetch, count, record_service.browse_header(name),
                                            alignments=dict.fromkeys(money, RIGHT))
        self.record_table.setModel(self.browser_model)
        total = self.browser_model.total
        self.records_label.setText(f"{name}: {format_count(total)} records")
        self.record_table.setVisible(bool(total))
        self.empty_records.setVisible(not total)
        if total:
            self.record_table.resizeColumnsToContents()

    def open_wizard(self, record_set_name: str | None = None) -> None:
        from spm_desktop.gui.import_wizard import ImportWizard

        chosen = record_set_name if isinstance(record_set_name, str) else (self.chosen_set() or "deals")
        self.wizard = ImportWizard(self.context, self, chosen)
        self.wizard.setModal(False)
        self.wizard.show()


def _formatted(row: tuple, money: list[int], currency: int | None) -> list:
    values = list(row)
    code = str(values[currency]) if currency is not None and values[currency] else ""
    for index in money:
        values[index] = format_money(values[index], code, with_currency=False)
    return values
