"""The Plans area: stored plans and their versions, the plan editor, loading, export and version diffs."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from spm_desktop.domain.plans import Plan
from spm_desktop.gui.areas.base import Area, empty_state_label
from spm_desktop.gui.context import AppContext
from spm_desktop.gui.plan_editor import PlanEditor
from spm_desktop.services import plan_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import SpmError
from spm_desktop.services.plan_service import LoadResult, PlanVersion
from spm_desktop.store.tables.calc import PLAN_STATUSES

log = logging.getLogger(__name__)

NO_WORKSPACE = "Open a workspace to see and edit its comp plans."
NO_PLANS = ("Nothing here yet: comp plans appear here with their versions once you build one (New plan), "
            "load a plan.yaml (Load plan file) or run 'spm plan load'.")
PLAN_FILTER = "Plan documents (*.yaml *.yml);;All files (*)"
VERSION_ROLE = Qt.ItemDataRole.UserRole


def _save_version(workspace: Workspace, plan: Plan, reason: str, *, progress: object = None,
                  cancel: object = None) -> PlanVersion:
    return plan_service.save_new_version(workspace, plan, reason=reason)


def _set_status(workspace: Workspace, key: tuple[str, int], status: str, reason: str, *, progress: object = None,
                cancel: object = None) -> PlanVersion:
    return plan_service.set_status(workspace, key[0], key[1], status, reason=reason)


def _load_file(workspace: Workspace, path: Path, *, progress: object = None, cancel: object = None) -> LoadResult:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpmError(f"cannot read plan file {path}: {error}; choose a UTF-8 plan.yaml") from error
    return plan_service.load(workspace, text, source=path.name)


class PlansArea(Area):
    title = "Plans"

    def __init__(self, context: AppContext) -> None:
        super().__init__(context)
        self.versions: list[PlanVersion] = []

        self.tree = QTreeWidget()
        self.tree.setObjectName("plansTree")
        self.tree.setHeaderLabels(["Plan / version", "Status", "Effective"])
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(False)
        self.tree.currentItemChanged.connect(lambda current, _previous: self._open_selected(current))
        self.new_button = self._button("New plan", "newPlanButton", self.new_plan)
        self.new_button.setToolTip("Build a plan from scratch in the editor; saving stores its version 1")
        self.load_button = self._button("Load plan file...", "loadPlanButton", self.load_plan_dialog)
        self.export_button = self._button("Export...", "exportPlanButton", self.export_dialog)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.export_button)

        self.status_combo = QComboBox()
        self.status_combo.setObjectName("statusCombo")
        self.status_combo.addItems(PLAN_STATUSES)
        self.status_reason = QLineEdit()
        self.status_reason.setObjectName("statusReason")
        self.status_reason.setPlaceholderText("Reason for the status change")
        self.status_button = self._button("Set status", "setStatusButton", self.set_status)
        self.status_button.setToolTip("Calculations use active versions only; a version's content never changes")
        status_row = QHBoxLayout()
        status_row.addWidget(self.status_combo)
        status_row.addWidget(self.status_reason, 1)
        status_row.addWidget(self.status_button)

        self.diff_from = QComboBox()
        self.diff_from.setObjectName("diffFrom")
        self.diff_to = QComboBox()
        self.diff_to.setObjectName("diffTo")
        self.compare_button = self._button("Compare", "compareButton", self.compare_versions)
        self.diff_view = QPlainTextEdit()
        self.diff_view.setObjectName("diffView")
        self.diff_view.setReadOnly(True)
        compare_row = QHBoxLayout()
        compare_row.addWidget(self.diff_from)
        compare_row.addWidget(self.diff_to)
        compare_row.addWidget(self.compare_button)
        compare_box = QGroupBox("Compare versions of the selected plan")
        compare_layout = QVBoxLayout(compare_box)
        compare_layout.addLayout(compare_row)
        compare_layout.addWidget(self.diff_view)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.tree, 2)
        left_layout.addLayout(buttons)
        left_layout.addLayout(status_row)
        left_layout.addWidget(compare_box, 1)

        self.editor = PlanEditor()
        self.editor.save_requested.connect(self.save_version)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.editor)
        splitter.setSizes([345, 935])

        self.empty_label = empty_state_label(NO_WORKSPACE)
        self.empty_new_button = self._button("New plan", "emptyNewPlanButton", self.new_plan)
        self.empty_load_button = self._button("Load plan file...", "emptyLoadPlanButton", self.load_plan_dialog)
        empty_buttons = QHBoxLayout()
        empty_buttons.addStretch(1)
        empty_buttons.addWidget(self.empty_new_button)
        empty_buttons.addWidget(self.empty_load_button)
        empty_buttons.addStretch(1)
        empty = QWidget()
        empty_layout = QVBoxLayout(empty)
        empty_layout.addStretch(1)
        empty_layout.addWidget(self.empty_label)
        empty_layout.addLayout(empty_buttons)
        empty_layout.addStretch(1)
        self.stack = QStackedWidget()
        self.stack.addWidget(empty)
        self.stack.addWidget(splitter)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        self.on_workspace_changed(context.workspace)

    @staticmethod
    def _button(text: str, name: str, slot: object) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.clicked.connect(slot)
        return button

    # Workspace and data changes -------------------------------------------------------

    def on_workspace_changed(self, workspace: Workspace | None) -> None:
        self.refresh()

    def on_data_changed(self, changes: frozenset[str]) -> None:
        if changes & {"plans", "metrics", "records", "periods"}:
            self.refresh()

    def refresh(self, select: tuple[str, int] | None = None) -> None:
        """Reload the plan list and keep (or move) the selection."""
        workspace = self.workspace
        self.empty_load_button.setVisible(workspace is not None)
        self.empty_new_button.setVisible(workspace is not None)
        if workspace is None:
            self.versions = []
            self.empty_label.setText(NO_WORKSPACE)
            self.stack.setCurrentIndex(0)
            self.editor.set_plan(None)
            return
        versions = plan_service.list_plans(workspace)
        if versions and versions == self.versions and select is None and self.stack.currentIndex() == 1:
            # Nothing about the plans changed: keep the editor and its unsaved edits.
            self.editor.set_keys(plan_service.read_validation_keys(workspace))
            return
        self.versions = versions
        if not self.versions and self.editor.is_new:
            # A plan built from scratch and not saved yet stays in the editor.
            self.editor.set_keys(plan_service.read_validation_keys(workspace))
            return
        if not self.versions:
            self.empty_label.setText(NO_PLANS)
            self.stack.setCurrentIndex(0)
            self.editor.set_plan(None)
            return
        self.stack.setCurrentIndex(1)
        self._fill_tree(select or self.selected_key())

    def _fill_tree(self, select: tuple[str, int] | None) -> None:
        self.tree.blockSignals(True)
        self.tree.clear()
        parents: dict[str, QTreeWidgetItem] = {}
        target = None
        for version in self.versions:
            parent = parents.get(version.name)
            if parent is None:
                parent = parents[version.name] = QTreeWidgetItem(self.tree, [version.name])
                parent.setExpanded(True)
            effective = f"{version.effective_from.isoformat()} to " + (
                version.effective_to.isoformat() if version.effective_to else "open end")
            item = QTreeWidgetItem(parent, [f"version {version.version}", version.status, effective])
            item.setData(0, VERSION_ROLE, (version.name, version.version))
            item.setToolTip(0, f"by {version.author} at {version.created_at[:16]}: {version.reason or 'no reason'}")
            if select == (version.name, version.version):
                target = item
        if target is None and parents:
            first_name = select[0] if select is not None and select[0] in parents else next(iter(parents))
            target = self._latest_item(parents[first_name])
        self.tree.blockSignals(False)
        if target is not None:
            self.tree.setCurrentItem(target)

    @staticmethod
    def _latest_item(parent: QTreeWidgetItem | None) -> QTreeWidgetItem | None:
        if parent is None or parent.childCount() == 0:
            return None
        return parent.child(parent.childCount() - 1)

    def selected_key(self) -> tuple[str, int] | None:
        item = self.tree.currentItem()
        if item is None:
            return None
        key = item.data(0, VERSION_ROLE)
        if key is None and item.childCount():
            key = item.child(item.childCount() - 1).data(0, VERSION_ROLE)
        return None if key is None else (str(key[0]), int(key[1]))

    # Editing ------------------------------------------------------------------------------

    def new_plan(self) -> None:
        """Open a blank plan in the editor; the tree selection is cleared so the draft is not replaced."""
        workspace = self.workspace
        if workspace is None:
            return
        self.tree.blockSignals(True)
        self.tree.clearSelection()
        self.tree.setCurrentItem(None)
        self.tree.blockSignals(False)
        self.editor.new_plan(plan_service.read_validation_keys(workspace))
        self.stack.setCurrentIndex(1)

    def _open_selected(self, item: QTreeWidgetItem | None) -> None:
        key = self.selected_key() if item is not None else None
        workspace = self.workspace
        if key is None or workspace is None:
            return
        name, number = key
        with workspace.read() as connection:
            plan = plan_service.get_plan(connection, name, number)
            keys = plan_service.validation_keys(connection)
            version = plan_service.get_version(connection, name, number)
        self.editor.set_plan(plan, keys, title=f"{name}, version {number} ({version.status})")
        self.status_combo.setCurrentText(version.status)
        self._fill_compare(name, number)

    def _fill_compare(self, name: str, number: int) -> None:
        numbers = [str(version.version) for version in self.versions if version.name == name]
        for combo in (self.diff_from, self.diff_to):
            combo.clear()
            combo.addItems(numbers)
        position = numbers.index(str(number))
        self.diff_from.setCurrentIndex(max(0, position - 1))
        self.diff_to.setCurrentIndex(position)
        self.compare_button.setEnabled(len(numbers) > 1)
        self.compare_button.setToolTip("" if len(numbers) > 1 else "This plan has one version; nothing to compare")
        self.diff_view.clear()

    def compare_versions(self) -> None:
        key = self.selected_key()
        workspace = self.workspace
        if key is None or workspace is None or not self.diff_from.currentText() or not self.diff_to.currentText():
            return
        old, new = int(self.diff_from.currentText()), int(self.diff_to.currentText())
        changes = plan_service.diff(workspace, key[0], old, new)
        heading = f"{key[0]}: version {old} -> version {new}"
        self.diff_view.setPlainText("\n".join([heading, *changes]) if changes else f"{heading}\nNo differences.")

    def set_status(self) -> None:
        key = self.selected_key()
        reason = self.status_reason.text().strip()
        if key is None or self.workspace is None:
            return
        if not reason:
            self.context.status_message.emit("Type the reason for the status change first.")
            return
        self.context.run(f"Setting the status of {key[0]} version {key[1]}", _set_status, self.workspace, key,
                         self.status_combo.currentText(), reason, on_success=self._status_set, changes=("plans",),
                         parent=self)

    def _status_set(self, changed: PlanVersion) -> None:
        self.status_reason.clear()
        self.context.status_message.emit(f"{changed.name} version {changed.version} is {changed.status}.")
        self.refresh(select=(changed.name, changed.version))

    def save_version(self, plan: Plan, reason: str) -> None:
        if self.workspace is None:
            return
        self.context.run(f"Saving {plan.name}", _save_version, self.workspace, plan, reason,
                         on_success=self._saved, changes=("plans",), parent=self)

    def _saved(self, stored: PlanVersion) -> None:
        self.context.status_message.emit(f"Saved {stored.name} version {stored.version}.")
        self.refresh(select=(stored.name, stored.version))

    # Files ----------------------------------------------------------------------------------

    def load_plan_dialog(self) -> None:
        if self.workspace is None:
            return
        path, _filter = QFileDialog.getOpenFileName(self, "Load plan", "", PLAN_FILTER)
        if path:
            self.load_file(Path(path))

    def load_file(self, path: Path) -> None:
        if self.workspace is None:
            return
        self.context.run(f"Loading {path.name}", _load_file, self.workspace, path,
                         on_success=self._loaded, changes=("plans",), parent=self)

    def _loaded(self, outcome: LoadResult) -> None:
        stored = outcome.plan
        verb = "Loaded" if outcome.created else "Already stored:"
        self.context.status_message.emit(f"{verb} {stored.name} version {stored.version}.")
        self.refresh(select=(stored.name, stored.version))

    def export_dialog(self) -> None:
        key = self.selected_key()
        if key is None or self.workspace is None:
            return
        suggested = f"{key[0]} v{key[1]}.yaml".replace("/", "_")
        path, _filter = QFileDialog.getSaveFileName(self, "Export plan", suggested, PLAN_FILTER)
        if not path:
            return
        try:
            plan_service.export(self.workspace, key[0], Path(path), key[1])
        except SpmError as error:
            from spm_desktop.gui import errors

            errors.show_error(self, error)
            return
        self.context.status_message.emit(f"Exported {key[0]} version {key[1]} to {path}.")
