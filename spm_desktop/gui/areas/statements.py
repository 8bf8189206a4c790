"""The Statements area: preview a participant's payout statement, export statements and payroll.

Reading a statement, drawing preview pages and writing files run in workers through
``context.run``. The preview page is drawn onto an image with the same drawing operations
as the PDF, so the preview matches the issued file; the UI thread only shows the image.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from spm_desktop.domain.progress import CancelToken, ProgressCallback
from spm_desktop.gui.areas.base import Area, empty_state_label
from spm_desktop.gui.context import AppContext
from spm_desktop.gui.models import ListTableModel
from spm_desktop.services import payroll_service, period_service, statement_service
from spm_desktop.services.context import Workspace

log = logging.getLogger(__name__)

NO_WORKSPACE = "Open a workspace to preview and export payout statements."
NO_PERIODS = ("Nothing here yet: statements appear here once a period is calculated. "
              "Calculate a period in the Calculation area, approve it in the Close area, then export here.")
CHOICE_HEADER = ("Participant", "Name", "Period", "Status")
OUTPUT_SETTING = "statements/output_dir"
# The preview fits the page to the panel's width within these resolutions.
MIN_PREVIEW_DPI = 60.0
MAX_PREVIEW_DPI = 160.0


def _button(name: str, text: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    return button


def preview_document(workspace: Workspace, period: str, participant_id: str, dpi: float, *,
                     progress: ProgressCallback, cancel: CancelToken) -> tuple[object, QImage]:
    """Read one statement, lay it out into pages and draw the first at ``dpi`` (runs in a worker thread)."""
    from spm_desktop.exporting.statement_pdf import layout_statement

    progress(0, 0, f"reading the statement of {participant_id}")
    data = statement_service.statement_for(workspace, period, participant_id)
    cancel.raise_if_cancelled()
    document = layout_statement(data, statement_service.page_size(workspace))
    return document, preview_page(document, 0, dpi, progress=progress, cancel=cancel)


def preview_page(document: object, index: int, dpi: float, *, progress: ProgressCallback,
                 cancel: CancelToken) -> QImage:
    """Draw one laid-out page onto an image (runs in a worker thread: a page takes tens of milliseconds)."""
    from spm_desktop.exporting.statement_pdf import paint_page_image

    cancel.raise_if_cancelled()
    return paint_page_image(document, index, dpi)  # type: ignore[arg-type]


class StatementsArea(Area):
    title = "Statements"

    def __init__(self, context: AppContext) -> None:
        super().__init__(context)
        self.document: object | None = None
        self.page_index = 0
        # Number of the latest preview request. Results of older requests can arrive later and are dropped.
        self.preview_request = 0
        self.choices: list[statement_service.StatementChoice] = []
        self.last_export: statement_service.ExportSummary | None = None
        self.last_payroll: payroll_service.PayrollSummary | None = None
        self.payroll_again_dialog: QMessageBox | None = None

        self.stack = QStackedWidget()
        self.empty = empty_state_label(NO_WORKSPACE)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self._build_main())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.on_workspace_changed(context.workspace)

    # --- layout --------------------------------------------------------------------------

    def _build_main(self) -> QWidget:
        main = QWidget()
        layout = QVBoxLayout(main)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Period"))
        self.period_box = QComboBox()
        self.period_box.setObjectName("statementPeriod")
        self.period_box.setMinimumWidth(140)
        self.period_box.currentTextChanged.connect(self._load_choices)
        bar.addWidget(self.period_box)
        self.period_state = QLabel("")
        self.period_state.setObjectName("statementPeriodState")
        bar.addWidget(self.period_state)
        bar.addStretch(1)
        self.pdf_check = QCheckBox("PDF")
        self.pdf_check.setObjectName("formatPdf")
        self.pdf_check.setChecked(True)
        self.xlsx_check = QCheckBox("XLSX")
        self.xlsx_check.setObjectName("formatXlsx")
        self.xlsx_check.setChecked(True)
        bar.addWidget(self.pdf_check)
        bar.addWidget(self.xlsx_check)
        layout.addLayout(bar)

        folder = QHBoxLayout()
        folder.addWidget(QLabel("Output folder"))
        self.output_edit = QLineEdit()
        self.output_edit.setObjectName("statementOutput")
        folder.addWidget(self.output_edit, 1)
        self.choose_button = _button("chooseOutput", "Choose...")
        self.choose_button.clicked.connect(self._choose_folder)
        folder.addWidget(self.choose_button)
        self.open_button = _button("openOutput", "Open folder")
        self.open_button.clicked.connect(self._open_folder)
        folder.addWidget(self.open_button)
        layout.addLayout(folder)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._build_list())
        splitter.addWidget(self._build_preview())
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([420, 760])
        layout.addWidget(splitter, 1)

        self.status = QLabel("")
        self.status.setObjectName("statementStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        return main

    def _build_list(self) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        self.choice_model = ListTableModel(CHOICE_HEADER)
        self.choice_view = QTableView()
        self.choice_view.setObjectName("statementParticipants")
        self.choice_view.setModel(self.choice_model)
        self.choice_view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.choice_view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.choice_view.verticalHeader().hide()
        self.choice_view.setAlternatingRowColors(True)
        self.choice_view.horizontalHeader().setStretchLastSection(True)
        self.choice_view.selectionModel().currentRowChanged.connect(lambda *_: self._preview_selected())
        layout.addWidget(self.choice_view, 1)

        buttons = QHBoxLayout()
        self.export_one_button = _button("exportSelected", "Export selected")
        self.export_one_button.clicked.connect(lambda: self._export(selected_only=True))
        self.export_all_button = _button("exportAll", "Export all")
        self.export_all_button.clicked.connect(lambda: self._export(selected_only=False))
        self.payroll_button = _button("exportPayroll", "Export payroll...")
        self.payroll_button.clicked.connect(self._export_payroll)
        for button in (self.export_one_button, self.export_all_button, self.payroll_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        return panel

    def _build_preview(self) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        navigation = QHBoxLayout()
        self.previous_button = _button("previousPage", "Previous page")
        self.previous_button.clicked.connect(lambda: self._show_page(self.page_index - 1))
        self.next_button = _button("nextPage", "Next page")
        self.next_button.clicked.connect(lambda: self._show_page(self.page_index + 1))
        self.page_label = QLabel("")
        self.page_label.setObjectName("previewPageLabel")
        navigation.addWidget(self.previous_button)
        navigation.addWidget(self.page_label)
        navigation.addWidget(self.next_button)
        navigation.addStretch(1)
        layout.addLayout(navigation)
        self.preview = QLabel("Select a participant to preview the statement.")
        self.preview.setObjectName("statementPreview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.preview)
        self.scroll.setWidgetResizable(True)
        self.scroll.setStyleSheet("QScrollArea { background: #8a96a5; }")
        layout.addWidget(self.scroll, 1)
        return panel

    # --- state ------------------------------------------------------------------------------

    def on_workspace_changed(self, workspace: Workspace | None) -> None:
        self.document = None
        self.preview_request += 1
        if workspace is None:
            self.empty.setText(NO_WORKSPACE)
            self.stack.setCurrentIndex(0)
            return
        if not self.output_edit.text():
            default = workspace.path.parent / "statements"
            self.output_edit.setText(str(self.context.settings.value(OUTPUT_SETTING, str(default))))
        self._load_periods()

    def on_data_changed(self, changes: frozenset[str]) -> None:
        if changes & {"results", "periods", "statements", "settings", "records"}:
            self._load_periods()

    def _load_periods(self) -> None:
        workspace = self.workspace
        if workspace is None:
            return
        with workspace.read() as connection:
            periods = [period for period in period_service.list_periods(connection) if period.latest_run_id]
        if not periods:
            self.empty.setText(NO_PERIODS)
            self.stack.setCurrentIndex(0)
            return
        self.stack.setCurrentIndex(1)
        current = self.period_box.currentText()
        self.period_states = {period.label: period.state for period in periods}
        self.period_box.blockSignals(True)
        self.period_box.clear()
        self.period_box.addItems([period.label for period in periods])
        index = self.period_box.findText(current)
        self.period_box.setCurrentIndex(index if index >= 0 else self.period_box.count() - 1)
        self.period_box.blockSignals(False)
        self._load_choices(self.period_box.currentText())

    def _load_choices(self, period: str) -> None:
        workspace = self.workspace
        if workspace is None or not period:
            return
        state = getattr(self, "period_states", {}).get(period, "")
        draft = state not in ("approved", "closed")
        self.period_state.setText(f"{state}: statements are marked DRAFT" if draft else f"{state}: final statements")
        self.choices = statement_service.list_statement_choices(workspace, period)
        self.choice_model.set_rows([
            (choice.participant_id, choice.participant_name, choice.period, "Draft" if choice.draft else "Approved")
            for choice in self.choices
        ])
        self.choice_view.resizeColumnsToContents()
        self.document = None
        self.preview_request += 1
        self.preview.setPixmap(QPixmap())
        self.preview.setText("Select a participant to preview the statement.")
        self._update_navigation()

    def selected_choice(self) -> statement_service.StatementChoice | None:
        index = self.choice_view.currentIndex()
        if not index.isValid() or index.row() >= len(self.choices):
            return None
        return self.choices[index.row()]

    # --- preview ----------------------------------------------------------------------------

    def _preview_selected(self) -> None:
        choice = self.selected_choice()
        workspace = self.workspace
        if choice is None or workspace is None:
            return
        self.preview_request += 1
        request = self.preview_request
        self.preview.setText(f"Reading the statement of {choice.participant_id}...")
        self.context.run("Preparing the preview", preview_document, workspace, choice.period, choice.participant_id,
                         self._preview_dpi(), on_success=lambda result: self._show_document(request, result),
                         parent=self, show_progress=False)

    def _preview_dpi(self) -> float:
        """Return the resolution that fits the page to the preview panel's width."""
        from spm_desktop.exporting.statement_pdf import PAGE_SIZES

        page_size = self.document.page_size if self.document is not None else "A4"  # type: ignore[attr-defined]
        available = max(self.scroll.viewport().width() - 24, 200)
        return min(MAX_PREVIEW_DPI, max(MIN_PREVIEW_DPI, available / PAGE_SIZES[page_size][0] * 72))

    def _show_document(self, request: int, result: tuple[object, QImage]) -> None:
        if request != self.preview_request:
            return
        self.document, image = result
        self._show_image(request, 0, image)

    def _show_page(self, index: int) -> None:
        if self.document is None:
            return
        pages = self.document.pages  # type: ignore[attr-defined]
        index = max(0, min(index, len(pages) - 1))
        self.preview_request += 1
        request = self.preview_request
        self.context.run("Drawing the preview page", preview_page, self.document, index, self._preview_dpi(),
                         on_success=lambda image: self._show_image(request, index, image), parent=self,
                         show_progress=False)

    def _show_image(self, request: int, index: int, image: QImage) -> None:
        if request != self.preview_request:
            return
        self.page_index = index
        self.preview.setPixmap(QPixmap.fromImage(image))
        self._update_navigation()

    def _update_navigation(self) -> None:
        count = len(self.document.pages) if self.document is not None else 0  # type: ignore[attr-defined]
        self.page_label.setText(f"Page {self.page_index + 1} of {count}" if count else "")
        self.previous_button.setEnabled(count > 0 and self.page_index > 0)
        self.next_button.setEnabled(count > 0 and self.page_index < count - 1)

    @property
    def preview_page_count(self) -> int:
        return len(self.document.pages) if self.document is not None else 0  # type: ignore[attr-defined]

    # --- export -------------------------------------------------------------------------------

    def formats(self) -> list[str]:
        return [name for name, box in (("pdf", self.pdf_check), ("xlsx", self.xlsx_check)) if box.isChecked()]

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Statement output folder", self.output_edit.text())
        if folder:
            self.output_edit.setText(folder)

    def _open_folder(self) -> None:
        folder = Path(self.output_edit.text())
        if folder.is_dir():
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
        else:
            self.status.setText(f"{folder} does not exist yet; export statements first.")

    def _export(self, *, selected_only: bool) -> None:
        workspace = self.workspace
        period = self.period_box.currentText()
        if workspace is None or not period:
            return
        formats = self.formats()
        if not formats:
            self.status.setText("Choose PDF, XLSX or both before exporting.")
            return
        participant = None
        if selected_only:
            choice = self.selected_choice()
            if choice is None:
                self.status.setText("Select a participant first, or use Export all.")
                return
            participant, period = choice.participant_id, choice.period
        folder = Path(self.output_edit.text()).expanduser()
        self.context.settings.setValue(OUTPUT_SETTING, str(folder))
        self.context.run("Exporting statements", statement_service.export_statements, workspace, period, folder,
                         formats, participant, on_success=self._exported, changes=("statements", "audit"),
                         parent=self)

    def _exported(self, summary: statement_service.ExportSummary) -> None:
        self.last_export = summary
        reissued = sum(1 for item in summary.files if item.reissued)
        draft = f"; {summary.drafts} of them marked DRAFT" if summary.drafts else ""
        self.status.setText(f"Wrote {len(summary.files)} files for {summary.statements} statements of "
                            f"{summary.period} into {summary.out_dir}{draft}; {reissued} identical to earlier files.")

    def _export_payroll(self) -> None:
        workspace = self.workspace
        period = self.period_box.currentText()
        if workspace is None or not period:
            return
        default = str(Path(self.output_edit.text()) / f"payroll_{period}.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export payroll", default, "CSV (*.csv);;Excel workbook (*.xlsx)")
        if not path:
            return
        earlier = payroll_service.exports_of(workspace, period)
        if earlier:
            self._confirm_payroll_again(period, Path(path), earlier)
            return
        self._run_payroll(workspace, period, Path(path), again=False)

    def _confirm_payroll_again(self, period: str, path: Path, earlier: list[payroll_service.EarlierExport]) -> None:
        """Ask before exporting plan periods that payroll already received; export only on Yes."""
        lines = "\n".join(f"- {', '.join(entry.periods)} {entry.describe()}" for entry in earlier)
        box = QMessageBox(QMessageBox.Icon.Warning, "Payroll already exported",
                          f"Payroll of {period} was exported before:\n{lines}\n\nExporting it again makes payroll "
                          "pay these payouts twice unless payroll did not process the earlier file. Export again?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setObjectName("payrollAgainDialog")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.finished.connect(lambda _result: self._payroll_confirmed(box, period, path))
        self.payroll_again_dialog = box
        box.open()

    def _payroll_confirmed(self, box: QMessageBox, period: str, path: Path) -> None:
        workspace = self.workspace
        if box.clickedButton() is not box.button(QMessageBox.StandardButton.Yes) or workspace is None:
            self.status.setText(f"Payroll of {period} was not exported again.")
            return
        self._run_payroll(workspace, period, path, again=True)

    def _run_payroll(self, workspace: Workspace, period: str, path: Path, *, again: bool) -> None:
        def export(*, progress: ProgressCallback, cancel: CancelToken) -> payroll_service.PayrollSummary:
            return payroll_service.export_payroll(workspace, period, path, progress, cancel, again=again)

        self.context.run("Exporting payroll", export, on_success=self._payroll_exported, changes=("audit",),
                         parent=self)

    def _payroll_exported(self, summary: payroll_service.PayrollSummary) -> None:
        self.last_payroll = summary
        totals = ", ".join(f"{amount:,.2f} {currency}" for currency, amount in sorted(summary.totals.items()))
        missing = f"; {len(summary.missing_payroll_ids)} without payroll id" if summary.missing_payroll_ids else ""
        again = f" It repeats {len(summary.earlier)} earlier export(s)." if summary.earlier else ""
        self.status.setText(f"Wrote {summary.rows} payroll rows to {summary.path} (total {totals}){missing}.{again}")
