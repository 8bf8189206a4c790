"""The Metrics area: the governed catalog by tier and owner, its flags, the editor and reconciliation."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from spm_desktop.domain.metrics import MetricDefinition
from spm_desktop.gui.areas.base import Area, empty_state_label
from spm_desktop.gui.context import AppContext
from spm_desktop.gui.formatting import format_date
from spm_desktop.gui.metric_editor import MetricEditor
from spm_desktop.gui.models import ListTableModel
from spm_desktop.gui.reconcile_view import ReconcileView
from spm_desktop.services import metric_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.metric_service import Flag, LoadSummary, MetricEvent, MetricSummary, VersionInfo

log = logging.getLogger(__name__)

NO_WORKSPACE = "Open a workspace to see its governed metric definitions."
NO_METRICS = ("Nothing here yet: metric definitions appear here, grouped by tier and owner, once you load a "
              "metrics.yaml (Load metrics.yaml) or create one with New metric.")
YAML_FILTER = "Metric definitions (*.yaml *.yml);;All files (*)"
KEY_ROLE = Qt.ItemDataRole.UserRole
HISTORY_TAB = 2
STATUS_COLOURS = {"approved": "#2e7d32", "draft": "#8a6d00", "retired": "#888888"}
TIER_TITLES = {"primary": "Primary", "supporting": "Supporting"}
TIER_TIPS = {"primary": "Primary metrics define success; keep them few.",
             "supporting": "Supporting metrics diagnose how success comes about."}


def _load_file(workspace: Workspace, path: Path, *, progress: object = None, cancel: object = None) -> LoadSummary:
    return metric_service.load_yaml_file(workspace, path)


def _export_file(workspace: Workspace, path: Path, *, progress: object = None, cancel: object = None) -> str:
    return metric_service.export_yaml(workspace, path)


def _read_history(workspace: Workspace, key: str, *, progress: object = None,
                  cancel: object = None) -> tuple[list[VersionInfo], list[MetricEvent]]:
    return metric_service.history(workspace, key), metric_service.events(workspace, key)


def _read_catalog(workspace: Workspace, *, progress: object = None,
                  cancel: object = None) -> tuple[list[MetricSummary], list[Flag], int]:
    return (metric_service.list_metrics(workspace), metric_service.proliferation_flags(workspace),
            metric_service.max_primary(workspace))


def _save_max_primary(workspace: Workspace, value: int, *, progress: object = None, cancel: object = None) -> None:
    workspace.set_setting(metric_service.MAX_PRIMARY_SETTING, value)


class MetricsArea(Area):
    title = "Metrics"

    def __init__(self, context: AppContext) -> None:
        super().__init__(context)
        self.summaries: list[MetricSummary] = []
        self.flags: list[Flag] = []
        self.history_versions: list[MetricDefinition] = []

        self.tree = QTreeWidget()
        self.tree.setObjectName("metricsTree")
        self.tree.setHeaderLabels(["Metric", "Version", "Status", "Name"])
        self.tree.setColumnWidth(0, 200)
        self.tree.setColumnWidth(1, 55)
        self.tree.setColumnWidth(2, 70)
        self.tree.currentItemChanged.connect(lambda current, _previous: self._open_selected(current))
        self.catalog_empty = QLabel(NO_METRICS)
        self.catalog_empty.setObjectName("metricsEmpty")
        self.catalog_empty.setWordWrap(True)
        self.catalog_empty.setStyleSheet("color: #666; padding: 8px;")
        self.flag_list = QListWidget()
        self.flag_list.setObjectName("metricFlags")
        self.flag_list.setWordWrap(True)
        self.flag_list.setMaximumHeight(130)
        buttons = QHBoxLayout()
        for text, name, slot in (("New metric", "newMetricButton", self.new_metric),
                                 ("Load metrics.yaml...", "loadMetricsButton", self.load_dialog),
                                 ("Export...", "exportMetricsButton", self.export_dialog)):
            buttons.addWidget(self._button(text, name, slot))
        self.compare_selected_button = self._button("Compare with...", "compareSelectedButton",
                                                    self.compare_selected)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.tree, 3)
        left_layout.addWidget(self.catalog_empty)
        left_layout.addWidget(self.compare_selected_button)
        self.max_primary = QSpinBox()
        self.max_primary.setObjectName("maxPrimarySpin")
        self.max_primary.setRange(1, 50)
        self.max_primary.setToolTip("More approved primary metrics than this are flagged")
        self.max_primary_button = self._button("Set", "maxPrimaryButton", self.save_max_primary)
        flags_header = QHBoxLayout()
        flags_header.addWidget(QLabel("Governance flags"), 1)
        flags_header.addWidget(QLabel("Max primary metrics"))
        flags_header.addWidget(self.max_primary)
        flags_header.addWidget(self.max_primary_button)
        left_layout.addLayout(flags_header)
        left_layout.addWidget(self.flag_list, 1)
        left_layout.addLayout(buttons)

        self.editor = MetricEditor(context)
        self.editor.saved.connect(lambda definition: self.refresh(select=definition.key))
        self.reconcile_view = ReconcileView(context)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("metricTabs")
        self.tabs.addTab(self.editor, "Definition")
        self.tabs.addTab(self.reconcile_view, "Compare definitions")
        self.tabs.addTab(self._build_history(), "History")
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.tabs)
        splitter.setSizes([430, 900])

        self.empty_label = empty_state_label(NO_WORKSPACE)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(splitter)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        self.on_workspace_changed(context.workspace)

    def _build_history(self) -> QWidget:
        self.versions_model = ListTableModel(("Version", "Saved at", "By", "Reason", "Filter", "Value"))
        self.events_model = ListTableModel(("When", "Action", "Version", "Status", "Other metric", "By", "Reason"))
        tables = []
        for name, model in (("versionsTable", self.versions_model), ("eventsTable", self.events_model)):
            table = QTableView()
            table.setObjectName(name)
            table.setModel(model)
            table.verticalHeader().setVisible(False)
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            table.horizontalHeader().setStretchLastSection(True)
            tables.append(table)
        self.compare_versions_button = self._button("Compare the two newest versions", "compareVersionsButton",
                                                    self.compare_versions)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(QLabel("Versions (immutable; each one is key@version)"))
        layout.addWidget(tables[0], 2)
        layout.addWidget(self.compare_versions_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(QLabel("Events: new versions, status changes and adoptions"))
        layout.addWidget(tables[1], 1)
        return page

    @staticmethod
    def _button(text: str, name: str, slot: object) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.clicked.connect(slot)
        return button

    # Workspace and data changes

    def on_workspace_changed(self, workspace: Workspace | None) -> None:
        self.stack.setCurrentIndex(0 if workspace is None else 1)
        self.editor.new_definition()
        self.editor.refresh_fields()
        self.refresh()

    def on_data_changed(self, changes: frozenset[str]) -> None:
        if changes & {"metrics", "plans", "settings"}:
            self.refresh()
        if "records" in changes:
            self.editor.refresh_fields()

    def refresh(self, select: str | None = None) -> None:
        """Reload the catalog and flags in a worker, then keep (or move to) the selected metric."""
        workspace = self.workspace
        if workspace is None:
            self._show_catalog([], [], metric_service.DEFAULT_MAX_PRIMARY, None)
            return
        keep = select or self.selected_key()
        self.context.run("Reading metric catalog", _read_catalog, workspace,
                         on_success=lambda loaded: self._show_catalog(*loaded, keep), parent=self,
                         show_progress=False)

    def _show_catalog(self, summaries: list[MetricSummary], flags: list[Flag], max_primary: int,
                      select: str | None) -> None:
        self.max_primary.setValue(max_primary)
        self.summaries = summaries
        self.flags = flags
        self.tree.blockSignals(True)
        self.tree.clear()
        flagged = {key for flag in flags for key in flag.keys}

        selected_item = None
        for tier in ("primary", "supporting"):
            in_tier = [summary for summary in summaries if summary.definition.tier == tier]
            if not in_tier:
                continue
            tier_item = QTreeWidgetItem([f"{TIER_TITLES[tier]}  ({len(in_tier)})"])
            tier_item.setToolTip(0, TIER_TIPS[tier])
            self.tree.addTopLevelItem(tier_item)
            owners: dict[str, QTreeWidgetItem] = {}
            for summary in in_tier:
                definition = summary.definition
                owner = definition.owner or "(no owner)"
                if owner not in owners:
                    owners[owner] = QTreeWidgetItem(tier_item, [owner])
                item = QTreeWidgetItem(owners[owner], [
                    ("⚑ " if definition.key in flagged else "") + definition.key, str(definition.version),
                    definition.status, definition.name])
                item.setData(0, KEY_ROLE, definition.key)
                item.setForeground(2, QBrush(QColor(STATUS_COLOURS.get(definition.status, "#000000"))))
                item.setToolTip(0, definition.description or definition.name)
                if definition.key == select:
                    selected_item = item
        self.tree.expandAll()
        self.tree.blockSignals(False)
        self.catalog_empty.setVisible(not summaries)

        self.flag_list.clear()
        for flag in flags:
            self.flag_list.addItem(f"⚑ {flag.message}")
        if not flags and summaries:
            self.flag_list.addItem("No flags: the catalog is governed.")

        self.reconcile_view.set_metric_keys([summary.definition.key for summary in summaries])
        if selected_item is not None:
            self.tree.setCurrentItem(selected_item)

    # Selection

    def selected_key(self) -> str | None:
        item = self.tree.currentItem()
        return None if item is None else item.data(0, KEY_ROLE)

    def _summary(self, key: str) -> MetricSummary | None:
        return next((summary for summary in self.summaries if summary.definition.key == key), None)

    def _open_selected(self, item: QTreeWidgetItem | None) -> None:
        key = None if item is None else item.data(0, KEY_ROLE)
        summary = self._summary(key) if key else None
        if summary is None:
            return
        self.editor.load_definition(summary.definition)
        if self.tabs.currentIndex() != HISTORY_TAB:
            self.tabs.setCurrentWidget(self.editor)
        workspace = self.workspace
        if workspace is not None:
            self.context.run("Reading metric history", _read_history, workspace, summary.definition.key,
                             on_success=self._show_history, parent=self, show_progress=False)

    def _show_history(self, loaded: tuple[list[VersionInfo], list[MetricEvent]]) -> None:
        versions, events = loaded
        self.versions_model.set_rows([
            (info.definition.version, format_date(info.created_at[:19].replace("T", " ")), info.author,
             info.reason or "", info.definition.filter, info.definition.value) for info in versions])
        self.events_model.set_rows([
            (format_date(event.created_at[:19].replace("T", " ")), event.action, event.version,
             f"{event.from_status or ''} → {event.to_status}" if event.to_status else "", event.other_key or "",
             event.author, event.reason or "") for event in events])
        self.compare_versions_button.setEnabled(len(versions) > 1)
        self.history_versions = [info.definition for info in versions]

    def compare_versions(self) -> None:
        """Open the comparison of the selected metric's previous version (A) with its current one (B)."""
        versions = self.history_versions
        if len(versions) < 2:
            return
        newest, previous = versions[0], versions[1]
        self.reconcile_view.set_pair(f"{previous.key}@{previous.version}", f"{newest.key}@{newest.version}")
        self.tabs.setCurrentWidget(self.reconcile_view)

    def select_metric(self, key: str) -> bool:
        """Select a metric in the tree (and open it in the editor); return False when it is not listed."""
        iterator = [self.tree.topLevelItem(index) for index in range(self.tree.topLevelItemCount())]
        while iterator:
            item = iterator.pop()
            if item.data(0, KEY_ROLE) == key:
                self.tree.setCurrentItem(item)
                return True
            iterator.extend(item.child(index) for index in range(item.childCount()))
        return False

    # Actions

    def save_max_primary(self) -> None:
        if self.workspace is None:
            return
        self.context.run("Saving the primary metric limit", _save_max_primary, self.workspace,
                         self.max_primary.value(), changes=("settings",), parent=self)

    def new_metric(self) -> None:
        self.tree.clearSelection()
        self.editor.new_definition()
        self.tabs.setCurrentWidget(self.editor)
        self.editor.key_edit.setFocus()

    def compare_selected(self) -> None:
        """Open the comparison with the selected metric as A and another of the same name, if any, as B."""
        key = self.selected_key()
        if key is None:
            self.tabs.setCurrentWidget(self.reconcile_view)
            return
        summary = self._summary(key)
        name = summary.definition.name.strip().lower() if summary else ""
        same_name = [other.definition.key for other in self.summaries
                     if other.definition.key != key and other.definition.name.strip().lower() == name]
        self.reconcile_view.set_pair(key, same_name[0] if same_name else "")
        self.tabs.setCurrentWidget(self.reconcile_view)

    def load_dialog(self) -> None:
        if self.workspace is None:
            return
        chosen, _filter = QFileDialog.getOpenFileName(self, "Load metric definitions", "", YAML_FILTER)
        if not chosen:
            return
        path = Path(chosen)
        self.context.run(f"Loading {path.name}", _load_file, self.workspace, path, changes=("metrics",), parent=self,
                         on_success=lambda summary: self.context.status_message.emit(
                             f"{path.name}: {len(summary.created)} created, {len(summary.changed)} changed, "
                             f"{len(summary.unchanged)} unchanged"))

    def export_dialog(self) -> None:
        if self.workspace is None:
            return
        chosen, _filter = QFileDialog.getSaveFileName(self, "Export metric definitions", "metrics.yaml", YAML_FILTER)
        if not chosen:
            return
        path = Path(chosen)
        self.context.run("Exporting metrics", _export_file, self.workspace, path, changes=("audit",), parent=self,
                         on_success=lambda _text: self.context.status_message.emit(f"Wrote {path}"))
