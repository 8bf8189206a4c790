"""The plan editor: components, an editable band table with inline validation, undo/redo,
a live payout curve, the plain-language summary and the changes against the stored version.

The plan being edited is an immutable domain ``Plan``. Every edit builds a new plan and
pushes it on a ``QUndoStack``, so undo and redo swap whole plans and never drift. The
editor never writes: "Save as new version" emits ``save_requested`` with the plan and
the reason, and the Plans area stores it through the plan service.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from spm_desktop.domain.plans import Band, Component, CurvePoint, Plan
from spm_desktop.domain.problems import Problem
from spm_desktop.gui.charts import ChartWidget
from spm_desktop.gui.formatting import format_money
from spm_desktop.services import plan_service
from spm_desktop.services.plan_service import ValidationKeys

log = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex
INVALID_BACKGROUND = QColor("#F8D0D0")
DEFAULT_SAMPLE_QUOTA = Decimal(100000)
TIER_METHODS = ("flat", "marginal", "retroactive")

_BAND_NUMBER = re.compile(r"\bband (\d+)")
_POINT_NUMBER = re.compile(r"\bcurve point (\d+)")
# Band-table column of each band problem code: 0 from, 1 to, 2 rate.
_BAND_PROBLEM_COLUMNS = {
    "plan.band_start": 0, "plan.band_order": 0, "plan.band_gap": 1, "plan.band_overlap": 1,
    "plan.band_open_end": 1, "plan.negative_rate": 2,
}


def parse_decimal(text: str) -> Decimal:
    """Read a number typed into a cell: plain decimals, an optional % sign, no thousands separators."""
    cleaned = text.strip().replace(" ", "")
    percent = cleaned.endswith("%")
    if percent:
        cleaned = cleaned[:-1]
    value = Decimal(cleaned)
    if not value.is_finite():
        raise InvalidOperation(text)
    return value / 100 if percent else value


class BandTableModel(QAbstractTableModel):
    """The band table (from, to, rate) or the bonus curve (attainment, payout) of one component.

    The model does not change the plan: a valid edit is emitted as ``cell_edited`` and the
    editor applies it through the undo stack. Text that is not a number stays in its cell,
    red, until it is corrected.
    """

    cell_edited = Signal(int, int, object)

    def __init__(self) -> None:
        super().__init__()
        self.header: list[str] = []
        self.rows: list[list[Decimal | None]] = []
        self.cell_problems: dict[tuple[int, int], str] = {}
        self.invalid_text: dict[tuple[int, int], str] = {}

    def set_rows(self, header: Sequence[str], rows: Sequence[Sequence[Decimal | None]]) -> None:
        self.beginResetModel()
        self.header = list(header)
        self.rows = [list(row) for row in rows]
        self.invalid_text = {}
        self.endResetModel()

    def set_problems(self, problems: dict[tuple[int, int], str]) -> None:
        self.cell_problems = problems
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(self.header) - 1))

    def problem_at(self, row: int, column: int) -> str | None:
        key = (row, column)
        if key in self.invalid_text:
            return f"{self.invalid_text[key]!r} is not a number; type a decimal such as 0.05 or 5%"
        return self.cell_problems.get(key) or self.cell_problems.get((row, -1))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.header)

    def flags(self, index: Index) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        key = (index.row(), index.column())
        value = self.rows[index.row()][index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if key in self.invalid_text:
                return self.invalid_text[key]
            return "" if value is None else f"{value:f}"
        if role == Qt.ItemDataRole.BackgroundRole and self.problem_at(*key):
            return QBrush(INVALID_BACKGROUND)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.problem_at(*key)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        key = (index.row(), index.column())
        text = str(value).strip()
        if text == "":
            number = None
        else:
            try:
                number = parse_decimal(text)
            except (InvalidOperation, ValueError):
                self.invalid_text[key] = text
                self.dataChanged.emit(index, index)
                return True
        self.invalid_text.pop(key, None)
        if number != self.rows[key[0]][key[1]]:
            self.cell_edited.emit(key[0], key[1], number)
        else:
            self.dataChanged.emit(index, index)
        return True

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.header[section]
        return str(section + 1)


class PlanEdit(QUndoCommand):
    """One edit: swaps the editor's plan between the state before and after it."""

    def __init__(self, editor: PlanEditor, before: Plan, after: Plan, text: str) -> None:
        super().__init__(text)
        self.editor = editor
        self.before = before
        self.after = after

    def redo(self) -> None:
        self.editor.show_plan(self.after)

    def undo(self) -> None:
        self.editor.show_plan(self.before)


def _replace_component(plan: Plan, name: str, component: Component) -> Plan:
    components = tuple(component if item.name == name else item for item in plan.components)
    return dataclasses.replace(plan, components=components)


def _band_rows(component: Component) -> tuple[list[str], list[list[Decimal | None]]]:
    if component.type == "bonus":
        return ["Attainment", "Payout (x target)"], [[point.attainment, point.payout] for point in component.curve]
    if component.tiers is None:
        return [], []
    unit = "attainment" if component.tiers.by == "attainment" else "amount"
    header = [f"From ({unit})", f"To ({unit})", "Rate"]
    return header, [[band.start, band.to, band.rate] for band in component.tiers.bands]


def cell_problems(problems: Sequence[Problem], component: str) -> dict[tuple[int, int], str]:
    """Map the problems of one component to band-table cells ((row, -1) marks a whole row)."""
    cells: dict[tuple[int, int], str] = {}
    for problem in problems:
        if problem.component != component or problem.severity != "error":
            continue
        match = _BAND_NUMBER.search(problem.message) or _POINT_NUMBER.search(problem.message)
        if match is None:
            continue
        row = int(match.group(1)) - 1
        column = _BAND_PROBLEM_COLUMNS.get(problem.code, 0 if problem.code == "plan.curve_order" else -1)
        cells.setdefault((row, column), problem.message)
    return cells


class PlanEditor(QWidget):
    """Editor of one plan. It emits ``save_requested(plan, reason)`` for the owner to store as a new version."""

    save_requested = Signal(object, str)
    plan_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.original: Plan | None = None
        self.plan: Plan | None = None
        self.title = "No plan selected"
        self.keys = ValidationKeys(None, frozenset())
        self.problems: list[Problem] = []
        self.undo_stack = QUndoStack(self)
        self.undo_stack.indexChanged.connect(self._on_index_changed)
        self._build()

    # Layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        self.title_label = QLabel("No plan selected")
        self.title_label.setObjectName("planTitle")
        self.title_label.setStyleSheet("font-weight: bold; font-size: 14px;")

        self.undo_button = self._button("Undo", "undoButton", self.undo_stack.undo)
        self.redo_button = self._button("Redo", "redoButton", self.undo_stack.redo)
        self.undo_stack.canUndoChanged.connect(self.undo_button.setEnabled)
        self.undo_stack.canRedoChanged.connect(self.redo_button.setEnabled)
        self.undo_button.setEnabled(False)
        self.redo_button.setEnabled(False)
        self.undo_button.setToolTip("Undo the last edit (Ctrl+Z)")
        self.redo_button.setToolTip("Redo the edit undone last (Ctrl+Shift+Z)")
        for sequence, slot in (("Ctrl+Z", self.undo_stack.undo), ("Ctrl+Shift+Z", self.undo_stack.redo),
                               ("Ctrl+Y", self.undo_stack.redo)):
            shortcut = QShortcut(QKeySequence(sequence), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

        header = QHBoxLayout()
        header.addWidget(self.title_label, 1)
        header.addWidget(self.undo_button)
        header.addWidget(self.redo_button)

        self.components_list = QListWidget()
        self.components_list.setObjectName("componentsList")
        self.components_list.setMinimumWidth(175)
        self.components_list.setMaximumWidth(230)
        self.components_list.currentRowChanged.connect(lambda _row: self._show_component())

        self.component_label = QLabel("")
        self.component_label.setObjectName("componentLabel")
        self.component_label.setWordWrap(True)
        self.method_combo = QComboBox()
        self.method_combo.setObjectName("methodCombo")
        self.method_combo.addItems(TIER_METHODS)
        self.method_combo.activated.connect(lambda _index: self._edit_method())
        self.cap_edit = QLineEdit()
        self.cap_edit.setObjectName("capEdit")
        self.cap_edit.setPlaceholderText("no cap")
        self.cap_edit.editingFinished.connect(self._edit_cap)
        form = QFormLayout()
        form.addRow("Component", self.component_label)
        form.addRow("Tier method", self.method_combo)
        form.addRow("Cap per period", self.cap_edit)

        self.band_model = BandTableModel()
        self.band_model.cell_edited.connect(self._edit_cell)
        self.band_model.dataChanged.connect(lambda *_args: self._update_save_state())
        self.bands_table = QTableView()
        self.bands_table.setObjectName("bandsTable")
        self.bands_table.setModel(self.band_model)
        self.bands_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.bands_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.bands_table.verticalHeader().setDefaultSectionSize(24)
        self.add_band_button = self._button("Add band", "addBandButton", self._add_band)
        self.remove_band_button = self._button("Remove band", "removeBandButton", self._remove_band)
        band_buttons = QHBoxLayout()
        band_buttons.addWidget(self.add_band_button)
        band_buttons.addWidget(self.remove_band_button)
        band_buttons.addStretch(1)

        self.sample_quota = QLineEdit(f"{DEFAULT_SAMPLE_QUOTA:f}")
        self.sample_quota.setObjectName("sampleQuota")
        self.sample_quota.setToolTip("Quota used to draw the payout curve")
        self.sample_quota.editingFinished.connect(self._draw_curve)
        self.chart = ChartWidget(self, width=5.0, height=3.2)
        self.chart.setObjectName("payoutChart")
        self.chart.setMinimumHeight(240)
        quota_row = QHBoxLayout()
        quota_row.addWidget(QLabel("Curve at quota"))
        quota_row.addWidget(self.sample_quota)
        quota_row.addStretch(1)

        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        middle_layout.addLayout(form)
        middle_layout.addWidget(self.bands_table, 1)
        middle_layout.addLayout(band_buttons)
        middle_layout.addLayout(quota_row)
        middle_layout.addWidget(self.chart, 2)

        self.summary_view = QTextBrowser()
        self.summary_view.setObjectName("planSummary")
        self.changes_view = QPlainTextEdit()
        self.changes_view.setObjectName("planChanges")
        self.changes_view.setReadOnly(True)
        self.problems_list = QListWidget()
        self.problems_list.setObjectName("planProblems")
        self.problems_list.setWordWrap(True)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("planTabs")
        self.tabs.addTab(self.summary_view, "Summary")
        self.tabs.addTab(self.changes_view, "Changes")
        self.tabs.addTab(self.problems_list, "Problems")

        splitter = QSplitter()
        splitter.addWidget(self.components_list)
        splitter.addWidget(middle)
        splitter.addWidget(self.tabs)
        splitter.setSizes([160, 560, 320])

        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("reasonEdit")
        self.reason_edit.setPlaceholderText("Reason for the new version (required)")
        self.reason_edit.textChanged.connect(lambda _text: self._update_save_state())
        self.save_button = self._button("Save as new version", "saveVersionButton", self._request_save)
        self.save_hint = QLabel("")
        self.save_hint.setObjectName("saveHint")
        footer = QHBoxLayout()
        footer.addWidget(self.reason_edit, 1)
        footer.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.save_hint)
        layout.addLayout(footer)
        self._update_save_state()

    def _on_index_changed(self, _index: int) -> None:
        self._update_save_state()

    @staticmethod
    def _button(text: str, name: str, slot: Any) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.clicked.connect(slot)
        return button

    # Loading and showing --------------------------------------------------------------

    def set_plan(self, plan: Plan | None, keys: ValidationKeys | None = None, title: str = "") -> None:
        """Start editing a plan (None clears the editor); the undo history starts empty."""
        if keys is not None:
            self.keys = keys
        self.original = plan
        self.undo_stack.clear()
        self.reason_edit.clear()
        self.title = title or ("No plan selected" if plan is None else plan.name)
        self.title_label.setText(self.title)
        self.show_plan(plan)
        self.undo_stack.setClean()

    def show_plan(self, plan: Plan | None) -> None:
        """Display a plan state (called by set_plan, edits, undo and redo)."""
        self.plan = plan
        selected = self.current_component_name()
        self.components_list.blockSignals(True)
        self.components_list.clear()
        if plan is not None:
            self.components_list.addItems([component.name for component in plan.components])
            names = [component.name for component in plan.components]
            self.components_list.setCurrentRow(names.index(selected) if selected in names else 0)
        self.components_list.blockSignals(False)
        self.problems = [] if plan is None else plan_service.validate_against(plan, self.keys)
        self._show_problems()
        self._show_component()
        self._show_summary()
        self._update_save_state()
        self.plan_changed.emit(plan)

    def current_component(self) -> Component | None:
        row = self.components_list.currentRow()
        if self.plan is None or not 0 <= row < len(self.plan.components):
            return None
        return self.plan.components[row]

    def current_component_name(self) -> str | None:
        item = self.components_list.currentItem()
        return None if item is None else item.text()

    def _show_component(self) -> None:
        component = self.current_component()
        if component is None:
            self.component_label.setText("")
            self.band_model.set_rows([], [])
            self._draw_curve()
            return
        header, rows = _band_rows(component)
        self.band_model.set_rows(header, rows)
        self.band_model.set_problems(cell_problems(self.problems, component.name))
        description = f"{component.name}: {component.type} on {component.metric}"
        if component.quota:
            description += f", quota {component.quota}"
        if component.tiers is not None:
            description += f", tiers by {component.tiers.by}, grain {component.tiers.grain}"
        self.component_label.setText(description)
        has_tiers = component.tiers is not None
        self.method_combo.setEnabled(has_tiers)
        if has_tiers:
            self.method_combo.setCurrentText(component.tiers.method)  # type: ignore[union-attr]
        self.cap_edit.setText("" if component.cap is None else f"{component.cap:f}")
        self.add_band_button.setEnabled(bool(header))
        self.remove_band_button.setEnabled(len(rows) > 1)
        self._draw_curve()

    def _show_problems(self) -> None:
        self.problems_list.clear()
        for problem in self.problems:
            self.problems_list.addItem(f"{problem.severity}: {problem.message}")
        errors = sum(1 for problem in self.problems if problem.severity == "error")
        self.tabs.setTabText(2, f"Problems ({errors})" if errors else "Problems")

    def _show_summary(self) -> None:
        if self.plan is None:
            self.summary_view.setPlainText("")
            self.changes_view.setPlainText("")
            return
        self.summary_view.setPlainText(plan_service.summary_of(self.plan))
        if self.original is None:
            self.changes_view.setPlainText("")
            return
        changes = plan_service.changes_between(self.original, self.plan)
        self.changes_view.setPlainText("\n".join(changes) if changes else "No changes against the stored version.")

    def _sample_quota(self) -> Decimal:
        try:
            value = parse_decimal(self.sample_quota.text())
        except (InvalidOperation, ValueError):
            return DEFAULT_SAMPLE_QUOTA
        return value if value > 0 else DEFAULT_SAMPLE_QUOTA

    def curve_points(self) -> list[tuple[Decimal, Decimal]]:
        """Return the points the chart shows for the current component (empty when it has no curve)."""
        component = self.current_component()
        if component is None or component.type not in ("commission", "bonus"):
            return []
        if cell_problems(self.problems, component.name):
            return []
        try:
            return plan_service.curve_of(component, self._sample_quota())
        except (ValueError, IndexError, ArithmeticError) as error:
            log.debug("no payout curve for %s: %s", component.name, error)
            return []

    def _draw_curve(self) -> None:
        figure = self.chart.figure
        figure.clear()
        axes = figure.add_subplot(1, 1, 1)
        component = self.current_component()
        points = self.curve_points()
        if not points:
            reason = "Select a commission or bonus to see its payout curve."
            if component is not None and component.type in ("commission", "bonus"):
                reason = "Correct the red cells to see the payout curve."
            axes.text(0.5, 0.5, reason, ha="center", va="center", transform=axes.transAxes, color="#666")
            axes.set_axis_off()
            self.chart.draw()
            return
        currency = self.plan.currency if self.plan is not None else ""
        # Matplotlib plots floats; the exact values stay in the plan and the tables.
        attainment = [float(point[0]) * 100 for point in points]
        earnings = [float(point[1]) for point in points]
        axes.plot(attainment, earnings, color="#2F5D8A", linewidth=2)
        axes.fill_between(attainment, earnings, color="#2F5D8A", alpha=0.08)
        self._mark_bands(axes, component)
        axes.set_xlabel("Attainment (% of quota)")
        axes.set_ylabel(f"Earnings per period ({currency})")
        quota_text = format_money(self._sample_quota(), currency)
        axes.set_title(f"{component.name} at quota {quota_text}", fontsize=10)  # type: ignore[union-attr]
        axes.grid(True, alpha=0.3)
        axes.yaxis.set_major_formatter(lambda value, _position: f"{value:,.0f}")
        self.chart.draw()

    @staticmethod
    def _mark_bands(axes: Any, component: Component | None) -> None:
        if component is None or component.tiers is None or component.tiers.by != "attainment":
            return
        for band in component.tiers.bands[1:]:
            axes.axvline(float(band.start) * 100, color="#999", linestyle=":", linewidth=1)

    # Edits ----------------------------------------------------------------------------

    def apply(self, plan: Plan, description: str) -> None:
        """Push an edit onto the undo stack (which shows the new plan)."""
        if self.plan is None or plan == self.plan:
            return
        self.undo_stack.push(PlanEdit(self, self.plan, plan, description))

    def _edit_cell(self, row: int, column: int, value: Decimal | None) -> None:
        component = self.current_component()
        if self.plan is None or component is None:
            return
        if component.type == "bonus":
            updated = self._edited_curve(component, row, column, value)
            label = f"{component.name}: curve point {row + 1}"
        else:
            updated = self._edited_band(component, row, column, value)
            label = f"{component.name}: band {row + 1}"
        if updated is not None:
            self.apply(_replace_component(self.plan, component.name, updated), f"Edit {label}")

    @staticmethod
    def _edited_band(component: Component, row: int, column: int, value: Decimal | None) -> Component | None:
        assert component.tiers is not None
        band = component.tiers.bands[row]
        if column == 0:
            band = dataclasses.replace(band, start=value if value is not None else Decimal(0))
        elif column == 1:
            band = dataclasses.replace(band, to=value)
        elif value is not None:
            band = dataclasses.replace(band, rate=value)
        else:
            return None
        bands = list(component.tiers.bands)
        bands[row] = band
        return dataclasses.replace(component, tiers=dataclasses.replace(component.tiers, bands=tuple(bands)))

    @staticmethod
    def _edited_curve(component: Component, row: int, column: int, value: Decimal | None) -> Component | None:
        if value is None:
            return None
        point = component.curve[row]
        point = CurvePoint(value, point.payout) if column == 0 else CurvePoint(point.attainment, value)
        curve = list(component.curve)
        curve[row] = point
        return dataclasses.replace(component, curve=tuple(curve))

    def _add_band(self) -> None:
        component = self.current_component()
        if self.plan is None or component is None:
            return
        if component.type == "bonus":
            last = component.curve[-1] if component.curve else CurvePoint(Decimal(0), Decimal(0))
            updated = dataclasses.replace(component, curve=(*component.curve,
                                                            CurvePoint(last.attainment + Decimal("0.5"), last.payout)))
        elif component.tiers is not None:
            bands = component.tiers.bands
            last = bands[-1] if bands else Band(Decimal(0), Decimal(0))
            step = Decimal("0.5") if component.tiers.by == "attainment" else Decimal(10000)
            new_band = Band(last.start + step, last.rate)
            method = "marginal" if component.tiers.method == "flat" else component.tiers.method
            updated = dataclasses.replace(component, tiers=dataclasses.replace(
                component.tiers, method=method, bands=(*bands, new_band)))
        else:
            return
        self.apply(_replace_component(self.plan, component.name, updated), f"Add a band to {component.name}")

    def _remove_band(self) -> None:
        component = self.current_component()
        if self.plan is None or component is None:
            return
        selected = self.bands_table.currentIndex()
        if component.type == "bonus":
            rows = list(component.curve)
        elif component.tiers is not None:
            rows = list(component.tiers.bands)
        else:
            return
        if len(rows) <= 1:
            return
        row = selected.row() if selected.isValid() else len(rows) - 1
        del rows[row]
        if component.type == "bonus":
            updated = dataclasses.replace(component, curve=tuple(rows))
        else:
            updated = dataclasses.replace(component, tiers=dataclasses.replace(component.tiers, bands=tuple(rows)))
        self.apply(_replace_component(self.plan, component.name, updated),
                   f"Remove band {row + 1} of {component.name}")

    def _edit_method(self) -> None:
        component = self.current_component()
        if self.plan is None or component is None or component.tiers is None:
            return
        method = self.method_combo.currentText()
        if method == component.tiers.method:
            return
        updated = dataclasses.replace(component, tiers=dataclasses.replace(component.tiers, method=method))
        self.apply(_replace_component(self.plan, component.name, updated), f"{component.name}: {method} tiers")

    def _edit_cap(self) -> None:
        component = self.current_component()
        if self.plan is None or component is None:
            return
        text = self.cap_edit.text().strip()
        try:
            cap = None if text == "" else parse_decimal(text)
        except (InvalidOperation, ValueError):
            self.cap_edit.setStyleSheet(f"background: {INVALID_BACKGROUND.name()};")
            self.cap_edit.setToolTip(f"{text!r} is not a number; type an amount such as 60000, or leave it empty")
            return
        self.cap_edit.setStyleSheet("")
        self.cap_edit.setToolTip("")
        if cap == component.cap:
            return
        updated = dataclasses.replace(component, cap=cap)
        self.apply(_replace_component(self.plan, component.name, updated), f"{component.name}: cap")

    # Saving -----------------------------------------------------------------------------

    def has_errors(self) -> bool:
        return any(problem.severity == "error" for problem in self.problems) or bool(self.band_model.invalid_text)

    def _update_save_state(self) -> None:
        edited = self.plan is not None and not self.undo_stack.isClean()
        self.title_label.setText(f"{self.title}, edited (not saved)" if edited else self.title)
        if self.plan is None:
            hint, enabled = "", False
        elif self.undo_stack.isClean():
            hint, enabled = "No changes to save.", False
        elif self.has_errors():
            hint, enabled = "Correct the problems (red cells) before saving.", False
        elif not self.reason_edit.text().strip():
            hint, enabled = "Type the reason for the change to save it as a new version.", False
        else:
            hint, enabled = "", True
        self.save_hint.setText(hint)
        self.save_button.setEnabled(enabled)

    def _request_save(self) -> None:
        if self.plan is not None and self.save_button.isEnabled():
            self.save_requested.emit(self.plan, self.reason_edit.text().strip())

    def mark_saved(self, plan: Plan, title: str) -> None:
        """Take a stored version as the new starting point (after the area saved it)."""
        self.set_plan(plan, title=title)
