"""The metric definition editor: live validation with caret messages and a live preview per participant."""

from __future__ import annotations

import logging
from decimal import Decimal

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from spm_desktop.domain.metrics import STATUSES, TIERS, UNITS, MetricDefinition, validate
from spm_desktop.domain.money import round_half_up
from spm_desktop.domain.records import RECORD_SET_ALIASES, RECORD_SETS
from spm_desktop.gui.context import AppContext
from spm_desktop.gui.formatting import format_count, format_money, format_ratio
from spm_desktop.gui.models import ListTableModel
from spm_desktop.services import metric_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.metric_service import MetricValues

log = logging.getLogger(__name__)

# Delays after the last keystroke before validating and before recomputing the preview.
VALIDATE_DELAY_MS = 200
PREVIEW_DELAY_MS = 700
PREVIEW_HEADER = ("Participant", "Value", "Records")


NEW_METRIC_HINT = ("New metric: type its key and name, then the value and filter. Problems show here as you "
                   "type; the grey text in each field is an example.")


def _save(workspace: Workspace, definition: MetricDefinition, reason: str, expected_version: int | None, *,
          progress: object = None, cancel: object = None) -> MetricDefinition:
    return metric_service.save_definition(workspace, definition, reason=reason, expected_version=expected_version)


def format_metric_value(value: object, unit: str) -> str:
    """Format a metric value for its unit: money with two decimals, counts whole, ratios as percentages."""
    if value is None:
        return ""
    if unit == "currency":
        return format_money(value)  # type: ignore[arg-type]
    if unit == "count":
        return format_count(value)  # type: ignore[arg-type]
    if unit == "ratio":
        return format_ratio(value)  # type: ignore[arg-type]
    return f"{round_half_up(value, 1):,}" if isinstance(value, Decimal) else str(value)


class MetricEditor(QWidget):
    """Edit one definition; ``saved`` carries the stored MetricDefinition."""

    saved = Signal(object)

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.loaded_version: int | None = None
        self.preview_generation = 0
        self.problems: list = []
        # Fields of the imported records of the chosen source, or None before any import.
        self.known_fields: dict[str, str | None] | None = None
        self.fields_source: str | None = None

        self._build_fields()
        self._build_preview()
        self._build_save_row()
        layout = QVBoxLayout(self)
        layout.addWidget(self.form_box)
        layout.addWidget(self.validation_label)
        layout.addWidget(self.preview_box, 1)
        layout.addLayout(self.save_row)

        self.validate_timer = self._timer(VALIDATE_DELAY_MS, self.validate_now)
        self.preview_timer = self._timer(PREVIEW_DELAY_MS, self.preview_now)
        for widget in (self.key_edit, self.name_edit, self.owner_edit, self.value_edit, self.date_edit):
            widget.textChanged.connect(self._changed)
        self.filter_edit.textChanged.connect(self._changed)
        self.description_edit.textChanged.connect(self._changed)
        for combo in (self.tier_combo, self.status_combo, self.source_combo, self.unit_combo):
            combo.currentTextChanged.connect(self._changed)
        self.source_combo.currentTextChanged.connect(lambda _text: self.refresh_fields())
        self.period_edit.textChanged.connect(lambda _text: self.preview_timer.start())
        self.new_definition()

    # Layout

    def _timer(self, delay: int, slot: object) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(delay)
        timer.timeout.connect(slot)
        return timer

    @staticmethod
    def _line(name: str, placeholder: str = "") -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        return edit

    @staticmethod
    def _combo(name: str, items: tuple[str, ...]) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(name)
        combo.addItems(list(items))
        return combo

    def _build_fields(self) -> None:
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.key_edit = self._line("metricKey", "bookings")
        self.name_edit = self._line("metricName", "Bookings")
        self.owner_edit = self._line("metricOwner", "Finance")
        self.tier_combo = self._combo("metricTier", TIERS)
        self.status_combo = self._combo("metricStatus", STATUSES)
        self.source_combo = self._combo("metricSource", (*RECORD_SETS, *RECORD_SET_ALIASES))
        self.unit_combo = self._combo("metricUnit", UNITS)
        self.description_edit = QPlainTextEdit()
        self.description_edit.setObjectName("metricDescription")
        self.description_edit.setMaximumHeight(48)
        self.filter_edit = QPlainTextEdit()
        self.filter_edit.setObjectName("metricFilter")
        self.filter_edit.setFont(fixed)
        self.filter_edit.setMaximumHeight(64)
        self.filter_edit.setPlaceholderText('stage == "Won" and amount >= 1000')
        self.value_edit = self._line("metricValue", "sum(amount) | count() | count_distinct(field) | avg(expr)")
        self.value_edit.setFont(fixed)
        self.date_edit = self._line("metricDate", "close_date")

        form = QFormLayout()
        top = QHBoxLayout()
        top.addWidget(self.key_edit)
        top.addWidget(QLabel("Version"))
        self.version_label = QLabel("new")
        self.version_label.setObjectName("metricVersion")
        top.addWidget(self.version_label)
        form.addRow("Key", top)
        form.addRow("Name", self.name_edit)
        owner_row = QHBoxLayout()
        owner_row.addWidget(self.owner_edit, 2)
        owner_row.addWidget(QLabel("Tier"))
        owner_row.addWidget(self.tier_combo, 1)
        owner_row.addWidget(QLabel("Status"))
        owner_row.addWidget(self.status_combo, 1)
        form.addRow("Owner", owner_row)
        form.addRow("Description", self.description_edit)
        source_row = QHBoxLayout()
        source_row.addWidget(self.source_combo, 1)
        source_row.addWidget(QLabel("Date field"))
        source_row.addWidget(self.date_edit, 1)
        source_row.addWidget(QLabel("Unit"))
        source_row.addWidget(self.unit_combo, 1)
        form.addRow("Records", source_row)
        form.addRow("Filter", self.filter_edit)
        form.addRow("Value", self.value_edit)
        self.form_box = QGroupBox("Definition")
        self.form_box.setLayout(form)

        self.validation_label = QLabel()
        self.validation_label.setObjectName("validationMessage")
        self.validation_label.setFont(fixed)
        self.validation_label.setWordWrap(False)
        self.validation_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def _build_preview(self) -> None:
        self.period_edit = self._line("previewPeriod", "2017-Q3")
        self.period_edit.setMaximumWidth(140)
        self.preview_button = QPushButton("Preview")
        self.preview_button.setObjectName("previewButton")
        self.preview_button.clicked.connect(self.preview_now)
        self.preview_status = QLabel("Enter a period to preview the value per participant.")
        self.preview_status.setObjectName("previewStatus")
        self.preview_model = ListTableModel(PREVIEW_HEADER, alignments={
            1: Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            2: Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter})
        self.preview_table = QTableView()
        self.preview_table.setObjectName("previewTable")
        self.preview_table.setModel(self.preview_model)
        self.preview_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.preview_table.verticalHeader().setVisible(False)
        row = QHBoxLayout()
        row.addWidget(QLabel("Period"))
        row.addWidget(self.period_edit)
        row.addWidget(self.preview_button)
        row.addWidget(self.preview_status, 1)
        self.preview_box = QGroupBox("Preview on the imported records")
        box_layout = QVBoxLayout(self.preview_box)
        box_layout.addLayout(row)
        box_layout.addWidget(self.preview_table)

    def _build_save_row(self) -> None:
        self.reason_edit = self._line("saveReason", "Reason for this change (required)")
        self.save_button = QPushButton("Save as new version")
        self.save_button.setObjectName("saveMetricButton")
        self.save_button.clicked.connect(self.save)
        self.save_row = QHBoxLayout()
        self.save_row.addWidget(self.reason_edit, 1)
        self.save_row.addWidget(self.save_button)

    # Loading and reading the form

    def new_definition(self) -> None:
        self.load_definition(MetricDefinition(key="", name="", value="sum(amount)", status="draft"), new=True)

    def load_definition(self, definition: MetricDefinition, *, new: bool = False) -> None:
        """Fill the form with a definition; ``new`` starts a metric that is not stored yet."""
        self.loaded_version = None if new else definition.version
        self.extra = dict(definition.extra)
        self.version_label.setText("new" if new else str(definition.version))
        self.key_edit.setReadOnly(not new)
        self.key_edit.setText(definition.key)
        self.name_edit.setText(definition.name)
        self.owner_edit.setText(definition.owner)
        self.tier_combo.setCurrentText(definition.tier)
        self.status_combo.setCurrentText(definition.status)
        self.description_edit.setPlainText(definition.description)
        self.source_combo.setCurrentText(definition.source)
        self.date_edit.setText(definition.date)
        self.unit_combo.setCurrentText(definition.unit)
        self.filter_edit.setPlainText(definition.filter)
        self.value_edit.setText(definition.value)
        self.reason_edit.clear()
        self.preview_model.set_rows([])
        self.validate_now()
        if new and not definition.key and not definition.name:
            # An empty form is not wrong yet, so show what to fill in. Problems appear once typing starts.
            self.validation_label.setText(NEW_METRIC_HINT)
            self.validation_label.setStyleSheet("color: #555555;")

    def definition(self) -> MetricDefinition:
        """Return the definition the form shows now."""
        return MetricDefinition(
            key=self.key_edit.text().strip(), name=self.name_edit.text().strip(), value=self.value_edit.text().strip(),
            owner=self.owner_edit.text().strip(), tier=self.tier_combo.currentText(),
            description=self.description_edit.toPlainText().strip(), source=self.source_combo.currentText(),
            filter=self.filter_edit.toPlainText().strip(), date=self.date_edit.text().strip(),
            unit=self.unit_combo.currentText(), version=self.loaded_version or 1,
            status=self.status_combo.currentText(), extra=self.extra,
        )

    # Validation and preview

    def _changed(self, *_args: object) -> None:
        self.validate_timer.start()
        self.preview_timer.start()

    def refresh_fields(self) -> None:
        """Read the fields of the chosen record set, so filters naming a field that is not there are errors."""
        workspace = self.context.workspace
        source = self.source_combo.currentText()
        self.known_fields = None
        self.fields_source = source
        if workspace is None:
            return
        self.context.run("Reading record fields", metric_service.record_fields, workspace, source,
                         on_success=lambda fields: self._set_fields(source, fields),
                         on_failure=lambda error: log.warning("reading the fields of %s failed: %s", source, error),
                         parent=self, show_progress=False)

    def _set_fields(self, source: str, fields: dict[str, str | None] | None) -> None:
        if source != self.source_combo.currentText():
            return
        self.known_fields = fields
        self.validate_now()

    def validate_now(self) -> bool:
        """Validate the form and show every problem; return True when there is no error."""
        fields = self.known_fields if self.fields_source == self.source_combo.currentText() else None
        self.problems = validate(self.definition(), fields)
        errors = [problem for problem in self.problems if problem.severity == "error"]
        if not self.problems:
            self.validation_label.setText("Valid.")
            self.validation_label.setStyleSheet("color: #2e7d32;")
        else:
            self.validation_label.setText("\n".join(problem.message for problem in self.problems))
            self.validation_label.setStyleSheet("color: #b71c1c;" if errors else "color: #8a6d00;")
        self.save_button.setEnabled(not errors)
        return not errors

    def preview_now(self) -> None:
        workspace = self.context.workspace
        period = self.period_edit.text().strip()
        if workspace is None or not period or not self.validate_now():
            return
        self.preview_generation += 1
        generation = self.preview_generation
        self.preview_status.setText(f"Computing {period}...")
        self.context.run("Previewing metric", metric_service.evaluate, workspace, self.definition(), period,
                         on_success=lambda values: self._show_preview(values, generation),
                         on_failure=lambda error: self._preview_failed(error, generation),
                         parent=self, show_progress=False)

    def _show_preview(self, values: MetricValues, generation: int) -> None:
        if generation != self.preview_generation:
            return
        unit = values.definition.unit
        rows = [(row.participant_id, format_metric_value(row.value, unit), format_count(row.records))
                for row in values.per_participant.itertuples()]
        self.preview_model.set_rows(rows)
        self.preview_status.setText(f"Total {format_metric_value(values.total, unit)} from "
                                    f"{format_count(values.records)} records in {values.period.label}")

    def _preview_failed(self, error: BaseException, generation: int) -> None:
        if generation != self.preview_generation:
            return
        self.preview_model.set_rows([])
        self.preview_status.setText(str(error).splitlines()[0])

    # Saving

    def save(self) -> None:
        workspace = self.context.workspace
        if workspace is None or not self.validate_now():
            return
        reason = self.reason_edit.text().strip()
        if not reason:
            self.validation_label.setText("Write a reason for this change before saving.")
            self.validation_label.setStyleSheet("color: #b71c1c;")
            self.reason_edit.setFocus()
            return
        expected = 0 if self.loaded_version is None else self.loaded_version
        self.context.run("Saving metric", _save, workspace, self.definition(), reason, expected,
                         on_success=self._saved, changes=("metrics",), parent=self)

    def _saved(self, definition: MetricDefinition) -> None:
        self.load_definition(definition)
        self.saved.emit(definition)
