"""The plan editor widget: plan fields, the component list and forms, bands, undo/redo and saving.

The plan being edited is an immutable domain ``Plan``. Every edit builds a new plan and
pushes it on a ``QUndoStack``, so undo and redo swap whole plans and never drift. The
editor never writes: "Save as new version" emits ``save_requested`` with the plan and
the version note, and the Plans area stores it through the plan service.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from spm_desktop.domain.plans import Band, Component, CurvePoint, Plan
from spm_desktop.domain.problems import Problem
from spm_desktop.gui.plan_editor import changes
from spm_desktop.gui.plan_editor.bands import BandTableModel, band_rows, cell_problems
from spm_desktop.gui.plan_editor.component_form import ComponentForm
from spm_desktop.gui.plan_editor.curve import PayoutCurveView
from spm_desktop.gui.plan_editor.fields import PROBLEM_STYLE
from spm_desktop.gui.plan_editor.plan_form import PlanForm
from spm_desktop.services import plan_service
from spm_desktop.services.plan_service import ValidationKeys

log = logging.getLogger(__name__)

PLAN_TAB, COMPONENTS_TAB = 0, 1


class PlanEdit(QUndoCommand):
    """One edit: swaps the editor's plan, and the selected component, between before and after."""

    def __init__(self, editor: PlanEditor, before: Plan, after: Plan, text: str, rows: tuple[int, int]) -> None:
        super().__init__(text)
        self.editor = editor
        self.before = before
        self.after = after
        self.rows = rows

    def redo(self) -> None:
        self.editor.show_plan(self.after, select_row=self.rows[1])

    def undo(self) -> None:
        self.editor.show_plan(self.before, select_row=self.rows[0])


class PlanEditor(QWidget):
    """Editor of one plan. It emits ``save_requested(plan, reason)`` for the owner to store as a new version."""

    save_requested = Signal(object, str)
    plan_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.original: Plan | None = None
        self.plan: Plan | None = None
        self.is_new = False
        self.title = "No plan selected"
        self.keys = ValidationKeys(None, frozenset())
        self.problems: list[Problem] = []
        self.undo_stack = QUndoStack(self)
        self.undo_stack.indexChanged.connect(self._on_index_changed)
        self._build()

    # Layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        self.plan_form = PlanForm()
        self.plan_form.edited.connect(lambda plan, label: self.apply(plan, f"Plan: {label}"))
        self.plan_form.input_checked.connect(self._update_save_state)
        plan_page = self._scrolled(self.plan_form, "planPage")

        self.editor_tabs = QTabWidget()
        self.editor_tabs.setObjectName("editorTabs")
        self.editor_tabs.addTab(plan_page, "Plan")
        self.editor_tabs.addTab(self._build_components_page(), "Components")

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
        splitter.addWidget(self.editor_tabs)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([700, 260])

        layout = QVBoxLayout(self)
        layout.addLayout(self._build_header())
        layout.addWidget(splitter, 1)
        layout.addLayout(self._build_footer())
        self._update_save_state()

    def _build_header(self) -> QHBoxLayout:
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
        return header

    def _build_components_page(self) -> QWidget:
        self.components_list = QListWidget()
        self.components_list.setObjectName("componentsList")
        self.components_list.currentRowChanged.connect(lambda _row: self._show_component())
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("newComponentKind")
        for kind, label in changes.KIND_LABELS.items():
            self.kind_combo.addItem(label, kind)
        self.add_component_button = self._button("Add", "addComponentButton", self._add_component)
        self.add_component_button.setToolTip("Add a component of the chosen kind at the end")
        self.duplicate_button = self._button("Duplicate", "duplicateComponentButton", self._duplicate_component)
        self.remove_component_button = self._button("Remove", "removeComponentButton", self._remove_component)
        self.up_button = self._button("Move up", "moveUpButton", lambda: self._move_component(-1))
        self.down_button = self._button("Move down", "moveDownButton", lambda: self._move_component(1))
        self.components_problem = QLabel("")
        self.components_problem.setObjectName("componentsProblem")
        self.components_problem.setWordWrap(True)
        self.components_problem.setStyleSheet(PROBLEM_STYLE)

        add_row = QHBoxLayout()
        add_row.addWidget(self.kind_combo, 1)
        add_row.addWidget(self.add_component_button)
        edit_row = QHBoxLayout()
        edit_row.addWidget(self.duplicate_button)
        edit_row.addWidget(self.remove_component_button)
        move_row = QHBoxLayout()
        move_row.addWidget(self.up_button)
        move_row.addWidget(self.down_button)
        list_panel = QWidget()
        list_layout = QVBoxLayout(list_panel)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.addWidget(self.components_list, 1)
        list_layout.addWidget(self.components_problem)
        list_layout.addLayout(add_row)
        list_layout.addLayout(edit_row)
        list_layout.addLayout(move_row)
        list_panel.setMinimumWidth(170)
        list_panel.setMaximumWidth(230)

        self.component_form = ComponentForm()
        self.component_form.edited.connect(self._edit_component)
        self.component_form.input_checked.connect(self._update_save_state)

        details = QWidget()
        details_layout = QVBoxLayout(details)
        details_layout.setContentsMargins(0, 0, 6, 0)
        details_layout.addWidget(self.component_form)
        details_layout.addWidget(self._build_bands_box())
        details_layout.addStretch(1)

        splitter = QSplitter()
        splitter.addWidget(list_panel)
        splitter.addWidget(self._scrolled(details, "componentPage"))
        splitter.setStretchFactor(1, 1)
        return splitter

    def _build_bands_box(self) -> QWidget:
        self.bands_label = QLabel("Bands")
        self.bands_label.setStyleSheet("font-weight: bold;")
        self.band_model = BandTableModel()
        self.band_model.cell_edited.connect(self._edit_cell)
        self.band_model.dataChanged.connect(lambda *_args: self._update_save_state())
        self.bands_table = QTableView()
        self.bands_table.setObjectName("bandsTable")
        self.bands_table.setModel(self.band_model)
        self.bands_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.bands_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.bands_table.verticalHeader().setDefaultSectionSize(24)
        self.bands_table.setMinimumHeight(130)
        self.bands_problem = QLabel("")
        self.bands_problem.setObjectName("bandsProblem")
        self.bands_problem.setWordWrap(True)
        self.bands_problem.setStyleSheet(PROBLEM_STYLE)
        self.add_band_button = self._button("Add band", "addBandButton", self._add_band)
        self.remove_band_button = self._button("Remove band", "removeBandButton", self._remove_band)
        band_buttons = QHBoxLayout()
        band_buttons.addWidget(self.add_band_button)
        band_buttons.addWidget(self.remove_band_button)
        band_buttons.addStretch(1)

        self.curve_view = PayoutCurveView()
        self.chart = self.curve_view.chart
        self.sample_quota = self.curve_view.sample_quota

        self.bands_box = QWidget()
        layout = QVBoxLayout(self.bands_box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bands_label)
        layout.addWidget(self.bands_table)
        layout.addWidget(self.bands_problem)
        layout.addLayout(band_buttons)
        layout.addWidget(self.curve_view)
        return self.bands_box

    def _build_footer(self) -> QVBoxLayout:
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("reasonEdit")
        self.reason_edit.setPlaceholderText("Version note: what changed and why (required to save)")
        self.reason_edit.textChanged.connect(lambda _text: self._update_save_state())
        self.save_button = self._button("Save as new version", "saveVersionButton", self._request_save)
        self.save_hint = QLabel("")
        self.save_hint.setObjectName("saveHint")
        row = QHBoxLayout()
        row.addWidget(QLabel("Version note"))
        row.addWidget(self.reason_edit, 1)
        row.addWidget(self.save_button)
        footer = QVBoxLayout()
        footer.addWidget(self.save_hint)
        footer.addLayout(row)
        return footer

    def _on_index_changed(self, _index: int) -> None:
        self._update_save_state()

    @staticmethod
    def _scrolled(widget: QWidget, name: str) -> QScrollArea:
        area = QScrollArea()
        area.setObjectName(name)
        area.setWidget(widget)
        area.setWidgetResizable(True)
        area.setFrameShape(QScrollArea.Shape.NoFrame)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        return area

    @staticmethod
    def _button(text: str, name: str, slot: Any) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.clicked.connect(slot)
        return button

    # Loading and showing --------------------------------------------------------------

    def set_plan(self, plan: Plan | None, keys: ValidationKeys | None = None, title: str = "") -> None:
        """Start editing a stored plan, or clear the editor when ``plan`` is None. The undo history starts empty."""
        if keys is not None:
            self.set_keys(keys)
        self.original = plan
        self.is_new = False
        self.undo_stack.clear()
        self.reason_edit.clear()
        self.title = title or ("No plan selected" if plan is None else plan.name)
        self.show_plan(plan, select_row=0)
        self.undo_stack.setClean()

    def new_plan(self, keys: ValidationKeys | None = None, today: dt.date | None = None) -> None:
        """Start a plan from scratch on the Plan tab. It has no stored version to compare with."""
        self.set_plan(changes.blank_plan(today or dt.datetime.now().astimezone().date()), keys, title="New plan (not saved)")
        self.original = None
        self.is_new = True
        self.show_plan(self.plan)
        self.editor_tabs.setCurrentIndex(PLAN_TAB)

    def set_keys(self, keys: ValidationKeys) -> None:
        """Use new metric and quota keys for the drop-downs and validation, keeping the edits."""
        self.keys = keys
        self.component_form.set_choices(keys.metrics or (), keys.quotas)
        self.plan_form.set_workspace_fiscal_start(keys.fiscal_start_month)
        if self.plan is not None:
            self.show_plan(self.plan)

    def show_plan(self, plan: Plan | None, select_row: int | None = None) -> None:
        """Display a plan state (called by set_plan, edits, undo and redo)."""
        self.plan = plan
        row = self.components_list.currentRow() if select_row is None else select_row
        self.components_list.blockSignals(True)
        self.components_list.clear()
        if plan is not None:
            self.components_list.addItems([self._list_text(component) for component in plan.components])
            if plan.components:
                self.components_list.setCurrentRow(min(max(row, 0), len(plan.components) - 1))
        self.components_list.blockSignals(False)
        self.problems = self._validate(plan)
        self.plan_form.show_plan(plan, changes.field_messages(self.problems, None))
        self._show_problems()
        self._show_component()
        self._show_summary()
        self._update_save_state()
        self.plan_changed.emit(plan)

    @staticmethod
    def _list_text(component: Component) -> str:
        return f"{component.name} ({changes.KIND_LABELS.get(component.type, component.type)})"

    def _validate(self, plan: Plan | None) -> list[Problem]:
        if plan is None:
            return []
        problems = changes.editor_problems(plan) + plan_service.validate_against(plan, self.keys)
        if plan.fiscal_start_stated:
            problems += plan_service.fiscal_start_problems([plan], self.keys.fiscal_start_month, severity="warning")
        return problems

    def current_row(self) -> int:
        return self.components_list.currentRow()

    def current_component(self) -> Component | None:
        row = self.current_row()
        if self.plan is None or not 0 <= row < len(self.plan.components):
            return None
        return self.plan.components[row]

    def current_component_name(self) -> str | None:
        component = self.current_component()
        return None if component is None else component.name

    def _show_component(self) -> None:
        component = self.current_component()
        has_plan = self.plan is not None
        count = len(self.plan.components) if self.plan is not None else 0
        row = self.current_row()
        for button in (self.add_component_button, self.kind_combo):
            button.setEnabled(has_plan)
        self.duplicate_button.setEnabled(component is not None)
        self.remove_component_button.setEnabled(component is not None)
        self.up_button.setEnabled(component is not None and row > 0)
        self.down_button.setEnabled(component is not None and row < count - 1)
        plan_fields = changes.field_messages(self.problems, None)
        self.components_problem.setText("\n".join(plan_fields.get("components", [])))
        self.components_problem.setVisible("components" in plan_fields)

        name = None if component is None else component.name
        fields = changes.field_messages(self.problems, name) if name is not None else {}
        self.component_form.show_component(component, fields)
        header, rows = band_rows(component) if component is not None else ([], [])
        self.band_model.set_rows(header, rows)
        self.bands_box.setVisible(bool(header))
        if component is not None:
            self.band_model.set_problems(cell_problems(self.problems, component.name))
            self.bands_label.setText("Bonus curve" if component.type == "bonus" else "Bands")
        band_messages = fields.get("bands", [])
        self.bands_problem.setText("\n".join(band_messages))
        self.bands_problem.setVisible(bool(band_messages))
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
            self.changes_view.setPlainText("A new plan: nothing stored to compare with.")
            return
        changes_found = plan_service.changes_between(self.original, self.plan)
        self.changes_view.setPlainText("\n".join(changes_found) if changes_found
                                       else "No changes against the stored version.")

    def curve_points(self) -> list[tuple[Decimal, Decimal]]:
        """Return the points the chart shows for the current component (empty when it has no curve)."""
        return self.curve_view.points()

    def _draw_curve(self) -> None:
        component = self.current_component()
        blocked = component is not None and bool(cell_problems(self.problems, component.name))
        self.curve_view.show_component(component, self.plan.currency if self.plan is not None else "", blocked)

    # Edits ----------------------------------------------------------------------------

    def apply(self, plan: Plan, description: str, select_row: int | None = None) -> None:
        """Push an edit onto the undo stack (which shows the new plan and selects ``select_row``)."""
        if self.plan is None or plan == self.plan:
            self._update_save_state()
            return
        row = self.current_row()
        self.undo_stack.push(PlanEdit(self, self.plan, plan, description, (row, row if select_row is None
                                                                           else select_row)))

    def _edit_component(self, component: Component, label: str) -> None:
        row = self.current_row()
        if self.plan is None or not 0 <= row < len(self.plan.components):
            return
        name = self.plan.components[row].name
        self.apply(changes.with_component(self.plan, row, component), f"{name}: {label}")

    def _add_component(self) -> None:
        if self.plan is None:
            return
        kind = self.kind_combo.currentData()
        metrics = sorted(self.keys.metrics or ())
        component = changes.new_component(self.plan, kind, metrics[0] if metrics else "")
        row = len(self.plan.components)
        self.apply(changes.insert_component(self.plan, row, component), f"Add {component.name}", select_row=row)
        self.editor_tabs.setCurrentIndex(COMPONENTS_TAB)

    def _duplicate_component(self) -> None:
        component = self.current_component()
        if self.plan is None or component is None:
            return
        row = self.current_row()
        self.apply(changes.duplicate_component(self.plan, row), f"Duplicate {component.name}", select_row=row + 1)

    def _remove_component(self) -> None:
        component = self.current_component()
        if self.plan is None or component is None:
            return
        row = self.current_row()
        self.apply(changes.remove_component(self.plan, row), f"Remove {component.name}",
                   select_row=max(0, row - 1) if row == len(self.plan.components) - 1 else row)

    def _move_component(self, offset: int) -> None:
        component = self.current_component()
        row = self.current_row()
        if self.plan is None or component is None or not 0 <= row + offset < len(self.plan.components):
            return
        direction = "up" if offset < 0 else "down"
        self.apply(changes.move_component(self.plan, row, offset), f"Move {component.name} {direction}",
                   select_row=row + offset)

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
            self.apply(changes.with_component(self.plan, self.current_row(), updated), f"Edit {label}")

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
        self.apply(changes.with_component(self.plan, self.current_row(), updated), f"Add a band to {component.name}")

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
        self.apply(changes.with_component(self.plan, self.current_row(), updated),
                   f"Remove band {row + 1} of {component.name}")

    # Saving -----------------------------------------------------------------------------

    def is_edited(self) -> bool:
        """Return whether the plan differs from the stored version (a new plan always does)."""
        return self.plan is not None and (self.is_new or not self.undo_stack.isClean())

    def has_errors(self) -> bool:
        """Return whether a problem or a rejected input keeps the plan from being saved."""
        return (any(problem.severity == "error" for problem in self.problems)
                or bool(self.band_model.invalid_text) or bool(self.plan_form.invalid)
                or bool(self.component_form.invalid))

    def _update_save_state(self) -> None:
        edited = self.is_edited()
        if self.is_new:
            self.title_label.setText(self.title)
        else:
            self.title_label.setText(f"{self.title}, edited (not saved)" if edited else self.title)
        if self.plan is None:
            hint, enabled = "", False
        elif not edited:
            hint, enabled = "No changes to save.", False
        elif self.has_errors():
            hint, enabled = "Correct the problems (red fields and cells) before saving.", False
        elif not self.reason_edit.text().strip():
            hint, enabled = "Type a version note (what changed and why) to save it as a new version.", False
        else:
            hint, enabled = "", True
        self.save_hint.setText(hint)
        self.save_button.setEnabled(enabled)

    def _request_save(self) -> None:
        if self.plan is not None and self.save_button.isEnabled():
            log.debug("saving plan %r as a new version", self.plan.name)
            self.save_requested.emit(self.plan, self.reason_edit.text().strip())

    def mark_saved(self, plan: Plan, title: str) -> None:
        """Take a stored version as the new starting point (after the area saved it)."""
        self.set_plan(plan, title=title)
