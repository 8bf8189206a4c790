"""The Close area: period states with calculate, approve and close; adjustments; inquiries.

Every write goes through ``context.run`` to a service, which enforces the rules
(maker-checker, locks). The view only disables buttons and explains why, so the user
sees the reason before the service would reject the request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from spm_desktop.domain.money import from_minor
from spm_desktop.gui.areas.base import Area, empty_state_label
from spm_desktop.gui.context import AppContext
from spm_desktop.gui.formatting import format_date, format_money
from spm_desktop.gui.models import ListTableModel
from spm_desktop.services import adjustment_service, audit_service, close_service, inquiry_service, period_service
from spm_desktop.services.adjustment_service import Adjustment
from spm_desktop.services.context import Workspace
from spm_desktop.services.inquiry_service import Inquiry
from spm_desktop.services.period_service import PeriodState
from spm_desktop.store.tables.close import ADJUSTMENT_STATUSES, INQUIRY_STATES

log = logging.getLogger(__name__)

ALL = "(all)"
NO_WORKSPACE = "Open a workspace to approve and close its periods."
NO_PERIODS = ("Nothing here yet: periods appear here after their first calculation. "
              "Type a period such as 2017-Q1 above and press Calculate.")
PERIOD_HEADER = ("Period", "State", "From", "To", "Run", "Calculated by", "Calculated at", "Approved by",
                 "Approved at", "Closed by", "Closed at")
ADJUSTMENT_HEADER = ("Id", "Participant", "Name", "Period", "Amount", "Reason", "Status", "Source", "Corrects",
                     "Author", "Decided by", "Note")
UNSTAGED_HEADER = ("Record", "File", "Row", "Participant", "Period", "Amount", "Reason code")
INQUIRY_HEADER = ("Id", "Participant", "Name", "Period", "Line", "State", "Raised by", "Raised at", "Question",
                  "Adjustment")
# Shown on Approve and Close while a worker checks the period's records.
CHECKING = "Checking the period's records since its run..."
CLOSE_TIP = ("Lock the approved period: its results, adjustments and plans can no longer change, "
             "and it cannot be reopened")
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def _table(name: str, model: ListTableModel) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
    view.verticalHeader().hide()
    view.setAlternatingRowColors(True)
    view.horizontalHeader().setStretchLastSection(True)
    return view


def _line_edit(name: str, placeholder: str = "") -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    return edit


def _button(name: str, text: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    return button


def _selected_row(view: QTableView) -> int | None:
    rows = view.selectionModel().selectedRows() if view.selectionModel() else []
    return rows[0].row() if rows else None


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
    """Wrap a service call for ``context.run``, which adds progress and cancel arguments."""
    def run(*, progress: object = None, cancel: object = None) -> Any:
        return fn(*args, **kwargs)

    return run


class PeriodsPanel(QWidget):
    """Period list with Calculate, Approve and Close, and why Approve is unavailable."""

    def __init__(self, area: CloseArea) -> None:
        super().__init__()
        self.area = area
        self.periods: list[PeriodState] = []
        self.period_input = _line_edit("periodInput", "2017-Q1")
        self.period_input.setMaximumWidth(140)
        self.period_input.textChanged.connect(self.update_buttons)
        self.calculate_button = _button("calculateButton", "Calculate")
        self.calculate_button.setToolTip("Calculate the period; this clears an earlier approval")
        self.approve_button = _button("approveButton", "Approve")
        self.close_button = _button("closeButton", "Close period")
        self.close_button.setToolTip(CLOSE_TIP)
        self._blocker_cache: dict[tuple, tuple[str | None, str | None]] = {}
        # The key of the records check running in a worker, so that keystrokes do not start more.
        self._checking: tuple | None = None
        self.calculate_button.clicked.connect(self.calculate)
        self.approve_button.clicked.connect(self.approve)
        self.close_button.clicked.connect(self.close_period)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Period"))
        bar.addWidget(self.period_input)
        for button in (self.calculate_button, self.approve_button, self.close_button):
            bar.addWidget(button)
        bar.addStretch(1)
        self.hint = QLabel()
        self.hint.setObjectName("approveHint")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #8a5a00;")

        self.model = ListTableModel(PERIOD_HEADER)
        self.table = _table("periodsTable", self.model)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.empty = empty_state_label(NO_PERIODS)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.table)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.hint)
        layout.addWidget(self.stack, 1)

    def reload(self, workspace: Workspace) -> None:
        with workspace.read() as connection:
            self.periods = period_service.list_periods(connection)
        self.model.set_rows([
            (p.label, p.state, format_date(p.start_date), format_date(p.end_date), p.latest_run_id,
             p.calculated_by, _time(p.calculated_at), p.approved_by, _time(p.approved_at), p.closed_by,
             _time(p.closed_at))
            for p in self.periods
        ])
        self.table.resizeColumnsToContents()
        self.stack.setCurrentWidget(self.table if self.periods else self.empty)
        self._select_label(self.period_input.text().strip())
        self.update_buttons()

    def _select_label(self, label: str) -> None:
        for index, period in enumerate(self.periods):
            if period.label == label:
                self.table.selectRow(index)
                return

    def _row_changed(self, current, _previous) -> None:
        if 0 <= current.row() < len(self.periods):
            self.period_input.setText(self.periods[current.row()].label)

    def update_buttons(self) -> None:
        workspace = self.area.workspace
        label = self.period_input.text().strip()
        if workspace is None or not label:
            for button in (self.calculate_button, self.approve_button, self.close_button):
                button.setEnabled(False)
            self.hint.setText("")
            return
        with workspace.read() as connection:
            current = period_service.state(connection, label)
            key = (current.label, current.state, workspace.user, close_service.latest_audit_seq(connection))
        blockers = self._blocker_cache.get(key)
        if blockers is None:
            self._start_check(key, current)
            blockers = (CHECKING, CHECKING)
        blocker, close_blocker = blockers
        self.calculate_button.setEnabled(not current.is_closed)
        self.approve_button.setEnabled(blocker is None)
        self.approve_button.setToolTip(blocker or f"Approve run {current.latest_run_id} of {current.label}")
        self.close_button.setEnabled(current.state == "approved" and close_blocker is None)
        self.close_button.setToolTip(close_blocker or CLOSE_TIP)
        if current.state == "approved":
            self.hint.setText(close_blocker or "")
        elif blocker == CHECKING:
            self.hint.setText(CHECKING if current.state != "open" else "")
        else:
            self.hint.setText("" if blocker is None or current.state == "open" else blocker)

    def _start_check(self, key: tuple, current: PeriodState) -> None:
        """Find why approving and why closing are unavailable in a worker, then show it.

        Both checks digest the records inside the period (all of them for runs stored before
        period digests existed), which takes seconds on a large period. Every service write
        appends an audit entry, so the result is kept until the audit sequence number moves.
        """
        if self._checking == key:
            return
        self._checking = key
        workspace = self.area.workspace
        label, state, user = current.label, current.state, workspace.user

        def check(*, progress: object = None, cancel: object = None) -> tuple[str | None, str | None]:
            with workspace.read() as connection:
                closing = close_service.close_blocker(connection, label) if state == "approved" else None
                return close_service.approval_blocker(connection, label, user), closing

        def done(blockers: tuple[str | None, str | None]) -> None:
            self._blocker_cache = {key: blockers}
            self._finish_check(key)

        def failed(error: BaseException) -> None:
            log.warning("checking period %s for approval failed: %s", label, error)
            reason = f"The period's records could not be checked ({error}); reopen the workspace and try again."
            self._blocker_cache = {key: (reason, reason)}
            self._finish_check(key)

        self.area.context.run(f"Checking {label}", check, on_success=done, on_failure=failed, parent=self,
                              show_progress=False)

    def _finish_check(self, key: tuple) -> None:
        if self._checking == key:
            self._checking = None
        if self.area.workspace is not None:
            self.update_buttons()

    def calculate(self) -> None:
        from spm_desktop.services import calc_service

        label = self.period_input.text().strip()
        self.area.context.run(f"Calculating {label}", calc_service.calculate, self.area.workspace, label,
                              changes={"results", "periods", "adjustments"}, parent=self)

    def approve(self) -> None:
        label = self.period_input.text().strip()
        self.area.context.run(f"Approving {label}", _call(close_service.approve, self.area.workspace, label),
                              on_success=lambda p: self.area.show_status(f"{p.label} approved by {p.approved_by}."),
                              changes={"periods"}, parent=self)

    def close_period(self) -> None:
        label = self.period_input.text().strip()
        self.area.context.run(f"Closing {label}", _call(close_service.close, self.area.workspace, label),
                              on_success=self._closed, changes={"periods"}, parent=self)

    def _closed(self, outcome: close_service.CloseOutcome) -> None:
        text = f"{outcome.period.label} closed by {outcome.period.closed_by}."
        text += f" Audit anchor {audit_service.head(self.area.workspace)}: keep it outside the workspace."
        if outcome.warnings:
            text += " Warning: " + "; ".join(outcome.warnings)
        self.area.show_status(text, warning=bool(outcome.warnings))


class AdjustmentsPanel(QWidget):
    """Adjustments with filters, approve and reject, and a form for a new one."""

    def __init__(self, area: CloseArea) -> None:
        super().__init__()
        self.area = area
        self.adjustments: list[Adjustment] = []
        self.status_filter = QComboBox()
        self.status_filter.setObjectName("adjustmentStatusFilter")
        self.status_filter.addItems([ALL, *ADJUSTMENT_STATUSES])
        self.status_filter.activated.connect(lambda _index: self.area.reload_adjustments())
        self.participant_filter = _line_edit("adjustmentParticipantFilter", "participant id")
        self.participant_filter.returnPressed.connect(self.area.reload_adjustments)
        self.decision_note = _line_edit("decisionNote", "reason for the decision (optional)")
        self.decision_note.setMinimumWidth(240)
        self.approve_button = _button("approveAdjustmentButton", "Approve")
        self.reject_button = _button("rejectAdjustmentButton", "Reject")
        self.stage_button = _button("stageImportedButton", "Stage imported")
        self.stage_button.setToolTip("Turn valid imported adjustment records into pending adjustments; rejected "
                                     "rows stay listed under Imported rows not staged")
        self.stage_button.clicked.connect(self.stage_imported)
        self.approve_button.clicked.connect(lambda: self.decide("approved"))
        self.reject_button.clicked.connect(lambda: self.decide("rejected"))

        filters = QHBoxLayout()
        for widget in (QLabel("Status"), self.status_filter, QLabel("Participant"), self.participant_filter):
            filters.addWidget(widget)
        filters.addWidget(self.stage_button)
        filters.addStretch(1)
        filters.addWidget(self.decision_note)
        filters.addWidget(self.approve_button)
        filters.addWidget(self.reject_button)

        self.model = ListTableModel(ADJUSTMENT_HEADER, alignments={4: RIGHT})
        self.table = _table("adjustmentsTable", self.model)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.update_buttons())
        # Prior-period notes name the causes and deals, which a table cell cuts off.
        self.detail = QLabel()
        self.detail.setObjectName("adjustmentDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QHBoxLayout(self)
        left = QVBoxLayout()
        left.addLayout(filters)
        left.addWidget(self.table, 1)
        left.addWidget(self.detail)
        left.addWidget(self._build_unstaged())
        layout.addLayout(left, 1)
        layout.addWidget(self._build_form())

    def _build_unstaged(self) -> QGroupBox:
        box = QGroupBox("Imported rows not staged")
        self.unstaged: list[adjustment_service.ImportedRow] = []
        self.unstaged_model = ListTableModel(UNSTAGED_HEADER, alignments={5: RIGHT})
        self.unstaged_table = _table("unstagedImportsTable", self.unstaged_model)
        self.unstaged_table.setMaximumHeight(150)
        self.unstaged_table.selectionModel().selectionChanged.connect(lambda *_: self.update_buttons())
        self.withdraw_button = _button("withdrawImportButton", "Withdraw row")
        self.withdraw_button.setToolTip("Withdraw the selected imported row so staging skips it; "
                                        "import a corrected row instead")
        self.withdraw_button.clicked.connect(self.withdraw_import)
        layout = QHBoxLayout(box)
        layout.addWidget(self.unstaged_table, 1)
        layout.addWidget(self.withdraw_button, 0, Qt.AlignmentFlag.AlignTop)
        return box

    def _build_form(self) -> QGroupBox:
        box = QGroupBox("New adjustment")
        form = QFormLayout(box)
        self.participant_input = _line_edit("adjustmentParticipant", "P-1001")
        self.period_input = _line_edit("adjustmentPeriod", "2017-Q2")
        self.amount_input = _line_edit("adjustmentAmount", "-125.50")
        self.currency_input = _line_edit("adjustmentCurrency", "default: the participant's")
        self.reason_input = _line_edit("adjustmentReason", "SPIF_FIX")
        self.note_input = _line_edit("adjustmentNote", "shown on the statement")
        self.add_button = _button("addAdjustmentButton", "Add (pending approval)")
        self.add_button.clicked.connect(self.add)
        for text, widget in (("Participant", self.participant_input), ("Period", self.period_input),
                             ("Amount", self.amount_input), ("Currency", self.currency_input),
                             ("Reason code", self.reason_input), ("Note", self.note_input)):
            form.addRow(text, widget)
        form.addRow(self.add_button)
        box.setMinimumWidth(320)
        box.setMaximumWidth(380)
        return box

    def reload(self, workspace: Workspace) -> None:
        status = self.status_filter.currentText()
        names = participant_names(workspace)
        self.adjustments = adjustment_service.list_adjustments(
            workspace, status=None if status == ALL else status,
            participant_id=self.participant_filter.text().strip() or None)
        self.model.set_rows([
            (a.id, a.participant_id, names.get(a.participant_id, ""), a.period, format_money(a.amount, a.currency), a.reason_code, a.status,
             a.source, a.source_period, a.author, a.approved_by, a.note)
            for a in self.adjustments
        ])
        self.table.resizeColumnsToContents()
        self.unstaged = adjustment_service.unstaged_imports(workspace)
        self.unstaged_model.set_rows([
            (row.record_id, row.file_name or "", row.source_row, row.participant_id, row.period,
             f"{row.amount} {row.currency or ''}".strip(), row.reason_code)
            for row in self.unstaged
        ])
        self.unstaged_table.resizeColumnsToContents()
        self.update_buttons()

    def selected_import(self) -> adjustment_service.ImportedRow | None:
        row = _selected_row(self.unstaged_table)
        return self.unstaged[row] if row is not None and row < len(self.unstaged) else None

    def selected(self) -> Adjustment | None:
        row = _selected_row(self.table)
        return self.adjustments[row] if row is not None and row < len(self.adjustments) else None

    def update_buttons(self) -> None:
        chosen = self.selected()
        workspace = self.area.workspace
        pending = chosen is not None and chosen.status == "pending" and workspace is not None
        is_author = pending and chosen.author.casefold() == workspace.user.casefold()  # type: ignore[union-attr]
        self.approve_button.setEnabled(pending and not is_author)
        self.approve_button.setToolTip("You created this adjustment; another user must approve it"
                                       if is_author else "Approve the selected pending adjustment")
        self.reject_button.setEnabled(pending)
        self.detail.setText(_adjustment_text(chosen) if chosen is not None else "")
        self.add_button.setEnabled(workspace is not None)
        self.stage_button.setEnabled(workspace is not None)
        self.withdraw_button.setEnabled(workspace is not None and self.selected_import() is not None)

    def add(self) -> None:
        workspace = self.area.workspace
        participant, period, amount = self.participant_input.text(), self.period_input.text(), self.amount_input.text()
        reason, note = self.reason_input.text().strip(), self.note_input.text() or None
        currency = self.currency_input.text().strip() or None

        def create_and_check(*, progress: object = None, cancel: object = None) -> tuple[Adjustment, str | None]:
            created = adjustment_service.create(workspace, participant, period, amount, reason, note=note,
                                                currency=currency)
            return created, adjustment_service.coverage_warning(workspace, created.period)

        self.area.context.run("Adding an adjustment", create_and_check, on_success=self._added,
                              changes={"adjustments"}, parent=self)

    def _added(self, outcome: tuple[Adjustment, str | None]) -> None:
        created, warning = outcome
        for edit in (self.amount_input, self.note_input):
            edit.clear()
        text = f"Adjustment {created.id} recorded; another user must approve it."
        self.area.show_status(f"{text} Warning: {warning}" if warning else text, warning=bool(warning))

    def stage_imported(self) -> None:
        self.area.context.run("Staging imported adjustments", _call(adjustment_service.stage_imported,
                                                                     self.area.workspace),
                              on_success=self._staged, changes={"adjustments"}, parent=self)

    def _staged(self, outcome: adjustment_service.StagingOutcome) -> None:
        text = f"Staged {len(outcome.staged)} imported adjustments; another user must approve them."
        if outcome.rejected:
            reasons = " ".join(problem.message for problem in outcome.rejected)
            text += f" {len(outcome.rejected)} rows were rejected and stay unstaged: {reasons}"
        self.area.show_status(text, warning=bool(outcome.rejected))

    def withdraw_import(self) -> None:
        chosen = self.selected_import()
        if chosen is None:
            return
        note = self.decision_note.text().strip() or None
        fn = _call(adjustment_service.withdraw_imported, self.area.workspace, chosen.record_id, note)
        self.area.context.run(f"Withdrawing imported record {chosen.record_id}", fn,
                              on_success=lambda row: self.area.show_status(
                                  f"Imported record {row.record_id} ({row.location()}) withdrawn; "
                                  "staging skips it from now on."),
                              changes={"adjustments", "audit"}, parent=self)

    def decide(self, status: str) -> None:
        chosen = self.selected()
        if chosen is None:
            return
        service = adjustment_service.approve if status == "approved" else adjustment_service.reject
        note = self.decision_note.text().strip() or None
        self.area.context.run(f"Deciding adjustment {chosen.id}", _call(service, self.area.workspace, chosen.id, note),
                              on_success=lambda a: self.area.show_status(f"Adjustment {a.id} {a.status}."),
                              changes={"adjustments"}, parent=self)


class InquiriesPanel(QWidget):
    """Inquiries with filters, the selected one's history, answer and resolve, and a form to log one."""

    def __init__(self, area: CloseArea) -> None:
        super().__init__()
        self.area = area
        self.inquiries: list[Inquiry] = []
        self.state_filter = QComboBox()
        self.state_filter.setObjectName("inquiryStateFilter")
        self.state_filter.addItems([ALL, *INQUIRY_STATES])
        self.state_filter.activated.connect(lambda _index: self.area.reload_inquiries())
        self.participant_filter = _line_edit("inquiryParticipantFilter", "participant id")
        self.period_filter = _line_edit("inquiryPeriodFilter", "period")
        for edit in (self.participant_filter, self.period_filter):
            edit.returnPressed.connect(self.area.reload_inquiries)
        filters = QHBoxLayout()
        for widget in (QLabel("State"), self.state_filter, QLabel("Participant"), self.participant_filter,
                       QLabel("Period"), self.period_filter):
            filters.addWidget(widget)
        filters.addStretch(1)

        self.model = ListTableModel(INQUIRY_HEADER)
        self.table = _table("inquiriesTable", self.model)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_selected())
        self.detail = QPlainTextEdit()
        self.detail.setObjectName("inquiryDetail")
        self.detail.setReadOnly(True)
        self.detail.setMaximumHeight(110)

        left = QVBoxLayout()
        left.addLayout(filters)
        left.addWidget(self.table, 1)
        left.addWidget(self.detail)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 1)
        side = QVBoxLayout()
        side.addWidget(self._build_response())
        side.addWidget(self._build_form())
        layout.addLayout(side)

    def _build_response(self) -> QGroupBox:
        box = QGroupBox("Answer or resolve the selected inquiry")
        form = QFormLayout(box)
        self.response = QPlainTextEdit()
        self.response.setObjectName("inquiryResponse")
        self.response.setMaximumHeight(70)
        self.amount_input = _line_edit("resolutionAmount", "optional, e.g. 450.00")
        self.reason_input = _line_edit("resolutionReason", "reason code, with an amount")
        self.answer_button = _button("answerButton", "Answer")
        self.resolve_button = _button("resolveButton", "Resolve")
        self.answer_button.clicked.connect(self.answer)
        self.resolve_button.clicked.connect(self.resolve)
        form.addRow("Text", self.response)
        form.addRow("Adjustment", self.amount_input)
        form.addRow("Reason code", self.reason_input)
        buttons = QHBoxLayout()
        buttons.addWidget(self.answer_button)
        buttons.addWidget(self.resolve_button)
        form.addRow(buttons)
        box.setMinimumWidth(320)
        box.setMaximumWidth(380)
        return box

    def _build_form(self) -> QGroupBox:
        box = QGroupBox("Log an inquiry")
        form = QFormLayout(box)
        self.participant_input = _line_edit("inquiryParticipant", "P-1001")
        self.period_input = _line_edit("inquiryPeriod", "2017-Q1")
        self.line_input = _line_edit("inquiryLine", "statement line id (optional)")
        self.text_input = QPlainTextEdit()
        self.text_input.setObjectName("inquiryText")
        self.text_input.setMaximumHeight(70)
        self.log_button = _button("logInquiryButton", "Log inquiry")
        self.log_button.clicked.connect(self.log_inquiry)
        for text, widget in (("Participant", self.participant_input), ("Period", self.period_input),
                             ("Line", self.line_input), ("Question", self.text_input)):
            form.addRow(text, widget)
        form.addRow(self.log_button)
        box.setMinimumWidth(320)
        box.setMaximumWidth(380)
        return box

    def reload(self, workspace: Workspace) -> None:
        state = self.state_filter.currentText()
        names = participant_names(workspace)
        self.inquiries = inquiry_service.list_inquiries(
            workspace, state=None if state == ALL else state,
            participant_id=self.participant_filter.text().strip() or None,
            period=self.period_filter.text().strip() or None)
        self.model.set_rows([
            (i.id, i.participant_id, names.get(i.participant_id, ""), i.period, i.result_line_id, i.state, i.raised_by, _time(i.raised_at),
             i.text.splitlines()[0] if i.text else "", i.adjustment_id)
            for i in self.inquiries
        ])
        self.table.resizeColumnsToContents()
        self._show_selected()

    def selected(self) -> Inquiry | None:
        row = _selected_row(self.table)
        return self.inquiries[row] if row is not None and row < len(self.inquiries) else None

    def _show_selected(self) -> None:
        chosen = self.selected()
        open_choice = chosen is not None and chosen.state != "resolved"
        self.answer_button.setEnabled(open_choice)
        self.resolve_button.setEnabled(open_choice)
        self.log_button.setEnabled(self.area.workspace is not None)
        if chosen is None:
            self.detail.clear()
            return
        parts = [f"Question ({chosen.raised_by}, {_time(chosen.raised_at)}): {chosen.text}"]
        if chosen.answer:
            parts.append(f"Answer ({chosen.answered_by}, {_time(chosen.answered_at)}): {chosen.answer}")
        if chosen.resolution:
            parts.append(f"Resolution ({chosen.resolved_by}, {_time(chosen.resolved_at)}): {chosen.resolution}")
        if chosen.adjustment_id:
            parts.append(f"Adjustment {chosen.adjustment_id} created by the resolution.")
        self.detail.setPlainText("\n".join(parts))

    def log_inquiry(self) -> None:
        line_text = self.line_input.text().strip()
        if line_text and not line_text.isdigit():
            self.area.show_status(f"Statement line {line_text!r} is invalid; give the line's number.", warning=True)
            return
        fn = _call(inquiry_service.raise_inquiry, self.area.workspace, self.participant_input.text(),
                   self.period_input.text(), self.text_input.toPlainText(),
                   result_line_id=int(line_text) if line_text else None)
        self.area.context.run("Logging an inquiry", fn, on_success=self._logged, changes={"inquiries"}, parent=self)

    def _logged(self, created: Inquiry) -> None:
        self.text_input.clear()
        self.line_input.clear()
        self.area.show_status(f"Inquiry {created.id} logged.")

    def answer(self) -> None:
        chosen = self.selected()
        if chosen is None:
            return
        fn = _call(inquiry_service.answer, self.area.workspace, chosen.id, self.response.toPlainText())
        self.area.context.run(f"Answering inquiry {chosen.id}", fn, on_success=self._responded,
                              changes={"inquiries"}, parent=self)

    def resolve(self) -> None:
        chosen = self.selected()
        if chosen is None:
            return
        amount = self.amount_input.text().strip()
        reason = self.reason_input.text().strip()
        if bool(amount) != bool(reason):
            self.area.show_status("Give both an adjustment amount and a reason code, or neither.", warning=True)
            return
        request = inquiry_service.AdjustmentRequest(amount=amount, reason_code=reason) if amount else None
        fn = _call(inquiry_service.resolve, self.area.workspace, chosen.id, self.response.toPlainText(), request)
        self.area.context.run(f"Resolving inquiry {chosen.id}", fn, on_success=self._responded,
                              changes={"inquiries", "adjustments"}, parent=self)

    def _responded(self, inquiry: Inquiry) -> None:
        for edit in (self.amount_input, self.reason_input):
            edit.clear()
        self.response.clear()
        suffix = f"; adjustment {inquiry.adjustment_id} awaits approval" if inquiry.adjustment_id else ""
        self.area.show_status(f"Inquiry {inquiry.id} {inquiry.state}{suffix}.")


def _adjustment_text(adjustment: Adjustment) -> str:
    """Describe an adjustment in one paragraph: amount, reason, note, change per deal and decision."""
    amount = format_money(adjustment.amount, adjustment.currency)
    head = f"Adjustment {adjustment.id}: {amount} {adjustment.reason_code} ({adjustment.source}, {adjustment.status})"
    parts = [head]
    if adjustment.note:
        parts.append(adjustment.note)
    deals = adjustment.details.get("deals")
    if isinstance(deals, dict) and deals:
        changes = []
        for deal_id, minor in sorted(deals.items()):
            changes.append(f"{deal_id} {format_money(from_minor(int(minor), adjustment.currency), adjustment.currency)}")
        parts.append("change per deal: " + ", ".join(changes))
    if adjustment.decision_note:
        parts.append(f"decision: {adjustment.decision_note}")
    return " - ".join(parts)


def participant_names(workspace: Workspace) -> dict[str, str]:
    """Return participant id -> name of the imported participants."""
    from spm_desktop.services import record_service

    with workspace.read() as connection:
        return {item.participant_id: item.name for item in record_service.list_participants(connection)}


def _time(value: str | None) -> str:
    """Show a stored UTC timestamp to the minute."""
    return (value or "")[:16].replace("T", " ")


class CloseArea(Area):
    title = "Close"

    def __init__(self, context: AppContext) -> None:
        super().__init__(context)
        self.periods_panel = PeriodsPanel(self)
        self.adjustments_panel = AdjustmentsPanel(self)
        self.inquiries_panel = InquiriesPanel(self)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("closeTabs")
        self.tabs.addTab(self.adjustments_panel, "Adjustments")
        self.tabs.addTab(self.inquiries_panel, "Inquiries")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.periods_panel)
        splitter.addWidget(self.tabs)
        splitter.setSizes([260, 420])
        self.status = QLabel()
        self.status.setObjectName("closeStatus")
        self.status.setWordWrap(True)
        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.addWidget(splitter, 1)
        content_layout.addWidget(self.status)
        self.empty = empty_state_label(NO_WORKSPACE)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(content)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        self.on_workspace_changed(context.workspace)

    def on_workspace_changed(self, workspace: Workspace | None) -> None:
        self.stack.setCurrentIndex(0 if workspace is None else 1)
        self.status.clear()
        if workspace is None:
            return
        self.reload_periods()
        self.reload_adjustments()
        self.reload_inquiries()

    def on_data_changed(self, changes: frozenset[str]) -> None:
        if self.workspace is None:
            return
        # Records matter too: a record changed after a calculation blocks its approval.
        if changes & {"periods", "results", "adjustments", "plans", "records"}:
            self.reload_periods()
        if changes & {"adjustments", "results", "periods", "records"}:
            self.reload_adjustments()
        if changes & {"inquiries", "adjustments"}:
            self.reload_inquiries()

    def reload_periods(self) -> None:
        if self.workspace is not None:
            self.periods_panel.reload(self.workspace)

    def reload_adjustments(self) -> None:
        if self.workspace is not None:
            self.adjustments_panel.reload(self.workspace)

    def reload_inquiries(self) -> None:
        if self.workspace is not None:
            self.inquiries_panel.reload(self.workspace)

    def show_status(self, text: str, *, warning: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #8a5a00; font-weight: bold;" if warning else "color: #1a7f37;")
