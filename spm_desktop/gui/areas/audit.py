"""The Audit area: the trail with filters, before/after side by side, payout tracing, verify and export.

Finance filters by action, user, dates, period and participant and reads an entry's
before and after side by side. A payout, or an entry that names a run, can be followed
to its calculation run, the inputs that run read and its approval. Export writes the
entries that are shown.
"""

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
from spm_desktop.gui.formatting import format_money
from spm_desktop.gui.models import LazyTableModel
from spm_desktop.services import audit_service, close_service
from spm_desktop.services.close_service import FinanceAuditFilter, PayoutTrace
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
        self._last_message = ""
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
        splitter.addWidget(self._build_trace())
        splitter.setSizes([380, 200, 220])
        layout.addWidget(splitter, 1)
        self.status = QLabel()
        self.status.setWordWrap(True)
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
        self.text_filter.setPlaceholderText("any text or id")
        self.period_filter = QLineEdit()
        self.period_filter.setObjectName("periodFilter")
        self.period_filter.setPlaceholderText("period")
        self.period_filter.setMaximumWidth(110)
        self.participant_filter = QLineEdit()
        self.participant_filter.setObjectName("participantFilter")
        self.participant_filter.setPlaceholderText("participant id")
        self.participant_filter.setMaximumWidth(130)
        self.use_dates = QCheckBox("From")
        self.use_dates.setObjectName("useDates")
        self.date_from = QDateEdit(QDate.currentDate().addMonths(-3))
        self.date_to = QDateEdit(QDate.currentDate())
        for edit in (self.date_from, self.date_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("applyFilters")
        self.anchor_edit = QLineEdit()
        self.anchor_edit.setObjectName("anchorEdit")
        self.anchor_edit.setPlaceholderText("anchors ENTRY:HASH")
        self.anchor_edit.setToolTip("Entry numbers and hashes kept outside the workspace (from an earlier verify, "
                                    "'spm audit head' or a close), separated by spaces. Verify fails when an "
                                    "entry no longer has its anchored hash.")
        self.anchor_edit.setMaximumWidth(220)
        self.verify_button = QPushButton("Verify trail")
        self.verify_button.setObjectName("verifyButton")
        self.export_button = QPushButton("Export shown...")
        self.export_button.setObjectName("exportButton")
        for widget in (QLabel("Action"), self.action_filter, QLabel("User"), self.user_filter, self.period_filter,
                       self.participant_filter, self.text_filter, self.use_dates, self.date_from, QLabel("to"),
                       self.date_to, self.apply_button):
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.anchor_edit)
        row.addWidget(self.verify_button)
        row.addWidget(self.export_button)
        self.apply_button.clicked.connect(self.reload)
        for edit in (self.text_filter, self.period_filter, self.participant_filter):
            edit.returnPressed.connect(self.reload)
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

    def _build_trace(self) -> QWidget:
        widget = QWidget()
        layout = QVBoxLayout(widget)
        bar = QHBoxLayout()
        self.trace_participant = QLineEdit()
        self.trace_participant.setObjectName("traceParticipant")
        self.trace_participant.setPlaceholderText("participant id")
        self.trace_period = QLineEdit()
        self.trace_period.setObjectName("tracePeriod")
        self.trace_period.setPlaceholderText("period")
        self.trace_button = QPushButton("Trace payout")
        self.trace_button.setObjectName("tracePayoutButton")
        self.trace_button.setToolTip("Follow the payout to its calculation run, the inputs it read and its approval")
        self.follow_button = QPushButton("Follow selected entry to its run")
        self.follow_button.setObjectName("followRunButton")
        self.trace_button.clicked.connect(self.trace_payout)
        self.follow_button.clicked.connect(self.follow_selected)
        for item in (QLabel("<b>Trace</b>"), self.trace_participant, self.trace_period, self.trace_button,
                     self.follow_button):
            bar.addWidget(item)
        bar.addStretch(1)
        self.trace_view = QPlainTextEdit()
        self.trace_view.setObjectName("traceView")
        self.trace_view.setReadOnly(True)
        self.trace_view.setPlaceholderText("Trace a payout to see its run, inputs, plan versions, approval "
                                           "and adjustments.")
        layout.addLayout(bar)
        layout.addWidget(self.trace_view)
        return widget

    # Data ---------------------------------------------------------------------------

    def current_filter(self) -> FinanceAuditFilter:
        action = self.action_filter.currentText()
        user = self.user_filter.currentText()
        since = until = None
        if self.use_dates.isChecked():
            since = self.date_from.date().toPython()
            until = self.date_to.date().toPython()
        base = audit_service.AuditFilter(
            action=None if action in ("", ALL) else action,
            user=None if user in ("", ALL) else user,
            since=since if isinstance(since, dt.date) else None,
            until=until if isinstance(until, dt.date) else None,
            text=self.text_filter.text().strip() or None,
        )
        return FinanceAuditFilter(base, period=self.period_filter.text().strip() or None,
                                  participant_id=self.participant_filter.text().strip() or None)

    def on_workspace_changed(self, workspace: Workspace | None) -> None:
        enabled = workspace is not None
        for widget in (self.apply_button, self.verify_button, self.export_button, self.trace_button,
                       self.follow_button):
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
        self.before_view.clear()
        self.after_view.clear()

        def fetch(offset: int, limit: int) -> list[tuple]:
            entries = close_service.list_audit_entries(workspace, query_filter, offset=offset, limit=limit)
            for index, entry in enumerate(entries, start=offset):
                self._entries_by_row[index] = entry
            return [(e.seq, e.ts[:19].replace("T", " "), e.user, e.action, e.entity_type, e.entity_id)
                    for e in entries]

        self.model = LazyTableModel(fetch, lambda: close_service.count_audit_entries(workspace, query_filter), HEADER)
        self.table.setModel(self.model)
        self.table.selectionModel().currentRowChanged.connect(self._show_entry)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        # The export's own audit entry triggers a reload, so its message stays in front.
        prefix = f"{self._last_message} " if self._last_message else ""
        self._last_message = ""
        self.status.setText(f"{prefix}{self.model.total} entries match, newest first.")

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
        try:
            anchors = audit_service.parse_anchors(self.anchor_edit.text())
        except ValueError as error:
            self.status.setText(str(error))
            self.status.setStyleSheet("color: #b42318; font-weight: bold;")
            return None

        def run(*, progress, cancel) -> audit_service.VerifyReport:
            return audit_service.verify(workspace, progress, cancel, anchors=anchors)

        return self.context.run("Verifying the audit trail", run, on_success=self._show_verify_result, parent=self)

    def _show_verify_result(self, report: audit_service.VerifyReport) -> None:
        if report.ok:
            anchors = f", {report.anchors_checked} anchors match" if report.anchors_checked else ""
            if report.keyed_through is not None:
                anchors += f", the audit key covers entries up to {report.keyed_through}"
            self.status.setText(f"Verified: {report.entries} entries intact{anchors}; head {report.head}. "
                                "Keep the head outside the workspace as an anchor for later checks.")
            self.status.setStyleSheet("color: #1a7f37;")
            return
        problems = report.problems
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        self.status.setText("Verification FAILED:\n" + "\n".join(problems[:3]) + more)
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
            return close_service.export_audit_entries(workspace, path, query_filter)

        return self.context.run("Exporting the audit trail", run,
                                on_success=lambda count: self._remember(f"Exported {count} entries to {path}."),
                                changes={"audit"}, parent=self)

    def _remember(self, message: str) -> None:
        self._last_message = message
        self.status.setText(message)

    def selected_entry(self) -> audit_service.audit.AuditEntry | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self._entries_by_row.get(rows[0].row()) if rows else None

    def trace_payout(self):
        workspace = self.workspace
        participant = self.trace_participant.text().strip()
        period = self.trace_period.text().strip()
        if workspace is None:
            return None
        if not participant or not period:
            self.trace_view.setPlainText("Give a participant id and a period to trace a payout.")
            return None

        def run(*, progress, cancel) -> PayoutTrace:
            return close_service.trace_payout(workspace, participant, period)

        return self.context.run(f"Tracing the payout of {participant} in {period}", run,
                                on_success=self._show_trace, parent=self)

    def follow_selected(self) -> None:
        entry = self.selected_entry()
        run_id = close_service.run_of_entry(entry) if entry is not None else None
        if run_id is None:
            self.trace_view.setPlainText("The selected entry names no calculation run. Select a calc.run, "
                                         "period or prior-period adjustment entry.")
            return
        self.text_filter.clear()
        self.period_filter.clear()
        self.participant_filter.clear()
        self.trace_view.setPlainText(_describe_run(self.workspace, run_id))

    def _show_trace(self, trace: PayoutTrace) -> None:
        self.trace_view.setPlainText(_describe_trace(self.workspace, trace))
        self.period_filter.setText(trace.period.label)
        self.participant_filter.clear()
        self.reload()


def _describe_run(workspace: Workspace | None, run_id: int) -> str:
    """Describe a run: who ran it when, its input fingerprints and the plan and metric versions it used."""
    from spm_desktop.services import calc_service

    if workspace is None:
        return ""
    run = calc_service.get_run(workspace, run_id)
    details = calc_service.run_details(workspace, run_id)
    totals = ", ".join(format_money(total, currency) for currency, total in sorted(run.totals.items()))
    lines = [
        f"Run {run.run_id} of {run.period}: {run.status}, by {run.user}, "
        f"{run.started_at[:19].replace('T', ' ')} UTC" + (" (superseded)" if run.superseded else ""),
        f"Participants {run.participants}, results {run.result_count}, lines {run.line_count}, payout {totals}",
        f"Input fingerprint {run.input_fingerprint}",
        "Inputs read (SHA-256 of each):",
    ]
    lines += [f"  {name}: {digest}" for name, digest in sorted(dict(details["inputs"]).items())]
    lines.append("Versions used: " + json.dumps(details["versions"], sort_keys=True, ensure_ascii=False))
    if run.problems:
        lines.append(f"Problems: {len(run.problems)} (first: {run.problems[0]})")
    return "\n".join(lines)


def _describe_trace(workspace: Workspace | None, trace: PayoutTrace) -> str:
    period = trace.period
    lines = [f"Payout of {trace.participant_id} in {period.label} ({period.state})"]
    for row in trace.results:
        lines.append(f"  {row.component}: {format_money(row.earnings, row.currency)}")
    approval = f"approved by {period.approved_by} at {_utc(period.approved_at)}" if period.approved_by \
        else "not approved"
    closing = f"closed by {period.closed_by} at {_utc(period.closed_at)}" if period.closed_by else "not closed"
    lines.append(f"Calculated by {period.calculated_by} at {_utc(period.calculated_at)}; {approval}; {closing}")
    for adjustment in trace.adjustments:
        lines.append(f"  Adjustment {adjustment.id} ({adjustment.source}, {adjustment.status}): "
                     f"{format_money(adjustment.amount, adjustment.currency)} {adjustment.reason_code} "
                     f"{adjustment.note or ''}".rstrip())
    lines.append("")
    lines.append(_describe_run(workspace, period.latest_run_id) if period.latest_run_id else "")
    lines.append("Audit entries: " + ", ".join(f"#{e.seq} {e.action} by {e.user}" for e in trace.audit_entries))
    return "\n".join(lines)


def _utc(timestamp: str | None) -> str:
    return (timestamp or "")[:19].replace("T", " ") + " UTC" if timestamp else ""
