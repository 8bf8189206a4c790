"""The Audit area: the trail with filters, before/after side by side, verify and export."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from spm_desktop.gui.areas.base import Area
from spm_desktop.gui.context import AppContext
from spm_desktop.gui.models import LazyTableModel
from spm_desktop.services import audit_service
from spm_desktop.services.context import Workspace

ALL = "(all)"
HEADER = ("#", "Time (UTC)", "User", "Action", "Entity", "Entity id")


def _pretty(value: str | None) -> str:
    if value is None:
        return "(none)"
    try:
        return json.dumps(json.loads(value), indent=2, sort_keys=True, ensure_ascii=False)
    except ValueError:
        return value


class AuditArea(Area):
    title = "Audit"

    def __init__(self, context: AppContext) -> None:
        super().__init__(context)
        self.model: LazyTableModel | None = None
        self._entries_by_row: dict[int, audit_service.audit.AuditEntry] = {}
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_filters())
        splitter = QSplitter(Qt.Orientation.Vertical)
        self.table = QTableView()
        self.table.setObjectName("auditTable")
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        splitter.addWidget(self.table)
        splitter.addWidget(self._build_detail())
        splitter.setSizes([420, 260])
        layout.addWidget(splitter, 1)
        self.status = QLabel()
        self.status.setObjectName("auditStatus")
        layout.addWidget(self.status)
        self.on_workspace_changed(context.workspace)

    def _build_filters(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.action_filter = QComboBox()
        self.action_filter.setObjectName("actionFilter")
        self.user_filter = QComboBox()
        self.user_filter.setObjectName("userFilter")
        self.text_filter = QLineEdit()
        self.text_filter.setObjectName("textFilter")
        self.text_filter.setPlaceholderText("participant, period or id")
        self.use_dates = QCheckBox("From")
        self.use_dates.setObjectName("useDates")
        self.date_from = QDateEdit(QDate.currentDate().addMonths(-3))
        self.date_to = QDateEdit(QDate.currentDate())
        for edit in (self.date_from, self.date_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("applyFilters")
        self.verify_button = QPushButton("Verify trail")
        self.verify_button.setObjectName("verifyButton")
        self.export_button = QPushButton("Export shown...")
        self.export_button.setObjectName("exportButton")
        for widget in (QLabel("Action"), self.action_filter, QLabel("User"), self.user_filter, self.text_filter,
                       self.use_dates, self.date_from, QLabel("to"), self.date_to, self.apply_button):
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.verify_button)
        row.addWidget(self.export_button)
        self.apply_button.clicked.connect(self.reload)
        self.text_filter.returnPressed.connect(self.reload)
        self.action_filter.activated.connect(self.reload)
        self.user_filter.activated.connect(self.reload)
        self.verify_button.clicked.connect(self.verify)
        self.export_button.clicked.connect(self.export_dialog)
        return row

    def _build_detail(self) -> QWidget:
        widget = QWidget()
        layout = QHBoxLayout(widget)
        self.before_view = QPlainTextEdit()
        self.before_view.setObjectName("beforeView")
        self.after_view = QPlainTextEdit()
        self.after_view.setObjectName("afterView")
        for title, view in (("Before", self.before_view), ("After", self.after_view)):
            view.setReadOnly(True)
            box = QVBoxLayout()
            box.addWidget(QLabel(f"<b>{title}</b>"))
            box.addWidget(view)
            layout.addLayout(box)
        return widget

    # Data ---------------------------------------------------------------------------

    def current_filter(self) -> audit_service.AuditFilter:
        action = self.action_filter.currentText()
        user = self.user_filter.currentText()
        since = until = None
        if self.use_dates.isChecked():
            since = self.date_from.date().toPython()
            until = self.date_to.date().toPython()
        return audit_service.AuditFilter(
            action=None if action in ("", ALL) else action,
            user=None if user in ("", ALL) else user,
            since=since if isinstance(since, dt.date) else None,
            until=until if isinstance(until, dt.date) else None,
            text=self.text_filter.text().strip() or None,
        )

    def on_workspace_changed(self, workspace: Workspace | None) -> None:
        enabled = workspace is not None
        for widget in (self.apply_button, self.verify_button, self.export_button):
            widget.setEnabled(enabled)
        self._fill_filter_choices()
        self.reload()

    def on_data_changed(self, changes: frozenset[str]) -> None:
        # Every write appends to the trail, so any change refreshes this view.
        self._fill_filter_choices()
        self.reload()

    def _fill_filter_choices(self) -> None:
        for combo, column in ((self.action_filter, "action"), (self.user_filter, "user")):
            current = combo.currentText()
            combo.clear()
            combo.addItem(ALL)
            if self.workspace is not None:
                combo.addItems(audit_service.distinct_values(self.workspace, column))
            index = combo.findText(current)
            combo.setCurrentIndex(max(index, 0))

    def reload(self) -> None:
        workspace = self.workspace
        if workspace is None:
            self.table.setModel(None)
            self.model = None
            self.status.setText("Open a workspace to see its audit trail.")
            self.before_view.clear()
            self.after_view.clear()
            return
        query_filter = self.current_filter()
        self._entries_by_row = {}

        def fetch(offset: int, limit: int) -> list[tuple]:
            entries = audit_service.list_entries(workspace, query_filter, offset=offset, limit=limit)
            for index, entry in enumerate(entries, start=offset):
                self._entries_by_row[index] = entry
            return [(e.seq, e.ts[:19].replace("T", " "), e.user, e.action, e.entity_type, e.entity_id)
                    for e in entries]

        self.model = LazyTableModel(fetch, lambda: audit_service.count_entries(workspace, query_filter), HEADER)
        self.table.setModel(self.model)
        self.table.selectionModel().currentRowChanged.connect(self._show_entry)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.status.setText(f"{self.model.total} entries match, newest first.")

    def _show_entry(self, current, _previous) -> None:
        entry = self._entries_by_row.get(current.row())
        if entry is None:
            return
        self.before_view.setPlainText(_pretty(entry.before))
        self.after_view.setPlainText(_pretty(entry.after))

    # Actions ------------------------------------------------------------------------

    def verify(self):
        workspace = self.workspace
        if workspace is None:
            return None
        return self.context.run("Verifying the audit trail", audit_service.verify, workspace,
                                on_success=self._show_verify_result, parent=self)

    def _show_verify_result(self, report: audit_service.VerifyReport) -> None:
        if report.ok:
            self.status.setText(f"Verified: {report.entries} entries intact; head {report.head}.")
            self.status.setStyleSheet("color: #1a7f37;")
            return
        problems = [str(report.chain_break)] if report.chain_break else []
        problems.extend(report.content_problems)
        self.status.setText("Verification FAILED: " + "; ".join(problems[:3]))
        self.status.setStyleSheet("color: #b42318; font-weight: bold;")

    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export audit trail", "audit.xlsx",
                                              "Excel workbook (*.xlsx);;CSV (*.csv)")
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path):
        workspace = self.workspace
        query_filter = self.current_filter()

        def run(*, progress, cancel) -> int:
            return audit_service.export(workspace, path, query_filter)

        return self.context.run("Exporting the audit trail", run,
                                on_success=lambda count: self.status.setText(f"Exported {count} entries to {path}."),
                                changes={"audit"}, parent=self)
