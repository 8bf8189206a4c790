"""The main window: navigation between areas, workspace menus, status bar."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QWidget,
)

from spm_desktop import APP_NAME, __version__
from spm_desktop.gui.areas.base import Area, PlaceholderArea
from spm_desktop.gui.context import AppContext
from spm_desktop.logsetup import log_directory
from spm_desktop.services.context import Workspace

log = logging.getLogger(__name__)

MAX_RECENT = 8
WORKSPACE_FILTER = "SPM workspaces (*.spm);;All files (*)"


@dataclass(frozen=True)
class AreaSpec:
    key: str
    title: str
    class_name: str
    description: str


AREAS = (
    AreaSpec("data", "Data", "DataArea",
             "Imported record sets (participants, deals, quotas, FX rates ...) and the import wizard."),
    AreaSpec("metrics", "Metrics", "MetricsArea",
             "The governed catalog of metric definitions, their versions, and reconciliation of conflicting ones."),
    AreaSpec("plans", "Plans", "PlansArea",
             "Compensation plans with their versions, components, bands and payout curves."),
    AreaSpec("calculation", "Calculation", "CalculationArea",
             "Calculation runs per period, results per participant and component, and their lineage."),
    AreaSpec("close", "Close", "CloseArea",
             "Period states, maker-checker approval, closing, adjustments and inquiries."),
    AreaSpec("tieout", "Tie-out", "TieoutArea",
             "Credits and payouts tied out against finance's and payroll's own figures."),
    AreaSpec("statements", "Statements", "StatementsArea",
             "Payout statements (PDF, XLSX) and the payroll export."),
    AreaSpec("signals", "Signals", "SignalsArea",
             "Early performance signals for managers and the reason a participant is behind."),
    AreaSpec("review", "Review", "ReviewArea",
             "Incentive alignment review: pay for performance, cost of sales, forecast distortion."),
    AreaSpec("scenarios", "Scenarios", "ScenariosArea",
             "What-if plan scenarios run on past periods without touching official results."),
    AreaSpec("audit", "Audit", "AuditArea",
             "The tamper-evident audit trail of every change, with filters and export."),
)


def _load_area(spec: AreaSpec, context: AppContext) -> Area:
    module_name = f"spm_desktop.gui.areas.{spec.key}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        return PlaceholderArea(context, spec.title, spec.description)
    area_class = getattr(module, spec.class_name, None)
    if area_class is None:
        return PlaceholderArea(context, spec.title, spec.description)
    return area_class(context)


class MainWindow(QMainWindow):
    def __init__(self, context: AppContext | None = None, user: str | None = None) -> None:
        """Build the window; ``user`` (from --user) acts in this window only and is never saved.

        Without it, a workspace opens as SPM_USER, else the OS login.
        """
        super().__init__()
        self.context = context or AppContext()
        self.acting_user = user or None
        self.settings: QSettings = self.context.settings
        self.setWindowTitle(APP_NAME)
        self.setObjectName("mainWindow")
        self.areas: dict[str, Area] = {}
        self._build_navigation()
        self._build_menus()
        self._build_status_bar()
        self.context.workspace_changed.connect(self._on_workspace_changed)
        self.context.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self._restore_geometry()
        self._on_workspace_changed(None)

    # Layout -------------------------------------------------------------------------

    def _build_navigation(self) -> None:
        self.navigation = QListWidget()
        self.navigation.setObjectName("navigation")
        self.navigation.setMaximumWidth(180)
        self.navigation.setStyleSheet("QListWidget { font-size: 13px; } QListWidget::item { padding: 6px 10px; }")
        self.stack = QStackedWidget()
        self.stack.setObjectName("areaStack")
        for spec in AREAS:
            area = _load_area(spec, self.context)
            area.setObjectName(f"area-{spec.key}")
            self.areas[spec.key] = area
            self.stack.addWidget(area)
            item = QListWidgetItem(spec.title)
            item.setData(Qt.ItemDataRole.UserRole, spec.key)
            item.setToolTip(spec.description)
            self.navigation.addItem(item)
        self.navigation.currentRowChanged.connect(self.stack.setCurrentIndex)
        # The area names always show in full: a wide area takes its room from the areas, not the list.
        self.navigation.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.navigation.setMinimumWidth(self.navigation.sizeHintForColumn(0) + 2 * self.navigation.frameWidth() + 4)
        splitter = QSplitter()
        splitter.addWidget(self.navigation)
        splitter.addWidget(self.stack)
        splitter.setStretchFactor(1, 1)
        splitter.setCollapsible(0, False)
        splitter.setSizes([170, 1000])
        self.setCentralWidget(splitter)
        self.navigation.setCurrentRow(0)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.new_action = self._action("&New workspace...", QKeySequence.StandardKey.New, self.new_workspace_dialog)
        self.open_action = self._action("&Open workspace...", QKeySequence.StandardKey.Open,
                                        self.open_workspace_dialog)
        self.demo_action = self._action("Open &demo workspace...", None, self.create_demo_dialog)
        file_menu.addActions([self.new_action, self.open_action, self.demo_action])
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.setObjectName("recentMenu")
        file_menu.addSeparator()
        self.settings_action = self._action("Workspace &settings...", None, self.show_workspace_settings)
        self.settings_action.setObjectName("workspaceSettingsAction")
        file_menu.addAction(self.settings_action)
        self.close_action = self._action("&Close workspace", QKeySequence.StandardKey.Close, self.close_workspace)
        file_menu.addAction(self.close_action)
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", QKeySequence.StandardKey.Quit, self.close))

        view_menu = self.menuBar().addMenu("&View")
        for index, spec in enumerate(AREAS):
            shortcut = QKeySequence(f"Ctrl+{index + 1}") if index < 9 else None
            view_menu.addAction(self._action(spec.title, shortcut, lambda _=False, key=spec.key: self.show_area(key)))

        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("Open &log folder", None, self.open_log_folder))
        self.about_action = self._action("&About SPM Desktop", None, self.show_about)
        help_menu.addAction(self.about_action)
        self._refresh_recent_menu()

    def _action(self, text: str, shortcut, slot) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        return action

    def _build_status_bar(self) -> None:
        self.workspace_label = QLabel()
        self.workspace_label.setObjectName("workspaceLabel")
        self.schema_label = QLabel()
        self.schema_label.setObjectName("schemaLabel")
        self.statusBar().addWidget(self.workspace_label, 1)
        self.statusBar().addPermanentWidget(self.schema_label)

    # Areas --------------------------------------------------------------------------

    def show_area(self, key: str) -> Area:
        index = [spec.key for spec in AREAS].index(key)
        self.navigation.setCurrentRow(index)
        return self.areas[key]

    def current_area_key(self) -> str:
        return AREAS[self.stack.currentIndex()].key

    # Workspaces ---------------------------------------------------------------------

    def new_workspace_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New workspace", str(Path.home() / "workspace.spm"),
                                              WORKSPACE_FILTER)
        if path:
            if not path.endswith(".spm"):
                path += ".spm"
            self.create_workspace(Path(path))

    def open_workspace_dialog(self) -> None:
        start = self.settings.value("last_folder", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open workspace", str(start), WORKSPACE_FILTER)
        if path:
            self.open_workspace(Path(path))

    def create_demo_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Create the demo workspace",
                                              str(Path.home() / "spm-demo.spm"), WORKSPACE_FILTER)
        if path:
            self.create_demo_workspace(Path(path))

    def create_workspace(self, path: Path):
        return self.context.run("Creating workspace", _create_workspace, path, self.acting_user,
                                on_success=self._workspace_opened, parent=self)

    def open_workspace(self, path: Path):
        """Open (and upgrade, when older) a workspace in a worker; returns the operation."""
        return self.context.run(f"Opening {path.name}", _open_workspace, path, self.acting_user,
                                on_success=self._workspace_opened, parent=self)

    def create_demo_workspace(self, path: Path):
        return self.context.run("Building the demo workspace", _create_demo_workspace, path, self.acting_user,
                                on_success=self._workspace_opened, parent=self)

    def close_workspace(self) -> None:
        self.context.set_workspace(None)

    def show_workspace_settings(self) -> QDialog | None:
        """Open the workspace settings dialog (window-modal) and return it; None when no workspace is open."""
        from spm_desktop.gui.settings_dialog import SettingsDialog

        if self.context.workspace is None:
            return None
        dialog = SettingsDialog(self.context, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _workspace_opened(self, workspace: Workspace) -> None:
        log.info("opened workspace %s (schema %s)", workspace.path, workspace.schema_revision)
        self.context.set_workspace(workspace)
        self._remember_recent(workspace.path)
        self.settings.setValue("last_folder", str(workspace.path.parent))

    def _on_workspace_changed(self, workspace: Workspace | None) -> None:
        if workspace is None:
            self.workspace_label.setText("No workspace open: File > Open, New, or Open demo workspace")
            self.schema_label.setText("")
            self.setWindowTitle(APP_NAME)
            self.close_action.setEnabled(False)
            self.settings_action.setEnabled(False)
            return
        self.workspace_label.setText(f"{workspace.path}   |   user {workspace.user}")
        self.schema_label.setText(f"schema {workspace.schema_revision}")
        self.setWindowTitle(f"{workspace.path.name} - {APP_NAME}")
        self.close_action.setEnabled(True)
        self.settings_action.setEnabled(True)

    def recent_workspaces(self) -> list[str]:
        value = self.settings.value("recent_workspaces", [])
        if isinstance(value, str):
            value = [value]
        return [str(item) for item in (value or [])]

    def _remember_recent(self, path: Path) -> None:
        recent = [item for item in self.recent_workspaces() if item != str(path)]
        recent.insert(0, str(path))
        self.settings.setValue("recent_workspaces", recent[:MAX_RECENT])
        self._refresh_recent_menu()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_workspaces()
        for item in recent:
            action = self.recent_menu.addAction(item)
            action.triggered.connect(lambda _=False, path=item: self.open_workspace(Path(path)))
        self.recent_menu.setEnabled(bool(recent))

    def offer_demo_on_first_start(self, demo_path: Path | None = None) -> QMessageBox | None:
        """On the very first start (no recent workspace), offer to build and open the demo workspace."""
        if self.recent_workspaces() or self.settings.value("first_start_done", False, bool):
            return None
        self.settings.setValue("first_start_done", True)
        target = demo_path or Path.home() / "spm-demo.spm"
        box = QMessageBox(QMessageBox.Icon.Question, f"Welcome to {APP_NAME}",
                          "Build the demo workspace to explore a quarter close on real CRM data "
                          f"(35 agents, 6 managers, 8,800 opportunities)?\n\nIt is saved as {target}.",
                          QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("firstStartDialog")
        build = box.addButton("Build the demo", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)

        def chosen(button) -> None:
            if button is build:
                if target.exists():
                    self.open_workspace(target)
                else:
                    self.create_demo_workspace(target)

        box.buttonClicked.connect(chosen)
        box.open()
        return box

    # Help ---------------------------------------------------------------------------

    def show_about(self) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Information, f"About {APP_NAME}",
                          f"<b>{APP_NAME}</b> {__version__}<br><br>Sales compensation and performance "
                          "administration on a local, audited workspace.<br><br>"
                          f"Log files: {log_directory()}", QMessageBox.StandardButton.Ok, self)
        box.setObjectName("aboutDialog")
        box.open()
        return box

    def open_log_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_directory())))

    # Geometry -----------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.context.shutdown()
        if self.context.workspace is not None:
            self.context.workspace.close()
        super().closeEvent(event)


def _open_workspace(path: Path, user: str | None, *, progress, cancel) -> Workspace:
    progress(0, 0, f"Checking {path.name}")
    return Workspace.open(path, user)


def _create_workspace(path: Path, user: str | None, *, progress, cancel) -> Workspace:
    progress(0, 0, f"Creating {path.name}")
    return Workspace.create(path, user)


def _create_demo_workspace(path: Path, user: str | None, *, progress, cancel) -> Workspace:
    from spm_desktop.services import demo_service

    demo_service.build_demo(path, user=user, progress=progress, cancel=cancel)
    return Workspace.open(path, user)


def central_widget_of(window: MainWindow) -> QWidget:
    return window.stack.currentWidget()
