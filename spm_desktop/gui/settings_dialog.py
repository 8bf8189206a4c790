"""File > Workspace settings: every known workspace setting in one form, grouped by area.

Values are checked while the user types (the same parsing the service does) and saved
through ``settings_service.save`` in a worker, all in one transaction. A field set back
to its default removes the stored value, so that a later change of the default applies.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from spm_desktop.gui import errors
from spm_desktop.gui.context import AppContext
from spm_desktop.services import period_service, settings_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import SpmError
from spm_desktop.services.settings_service import SettingSpec, SettingValue

log = logging.getLogger(__name__)

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg);;All files (*)"
PREVIEW_WIDTH, PREVIEW_HEIGHT = 160, 60
HINT_STYLE = "color: #666; font-size: 11px;"
ERROR_STYLE = "color: #b00020;"
INVALID_STYLE = "border: 1px solid #b00020;"


class SettingEditor(QWidget):
    """The input of one setting: a spin box, a combo box or a line edit, and a logo picker with a preview."""

    edited = Signal()

    def __init__(self, setting: SettingValue, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = setting.spec
        self.workspace = workspace
        self.setObjectName(f"setting:{self.spec.key}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.input = self._make_input()
        self.input.setObjectName(f"input:{self.spec.key}")
        layout.addWidget(self.input, 1)
        self.preview: QLabel | None = None
        if self.spec.kind == settings_service.IMAGE_PATH:
            self._add_logo_picker(layout)
        self.default_button = QToolButton()
        self.default_button.setObjectName(f"default:{self.spec.key}")
        self.default_button.setText("Default")
        self.default_button.setToolTip(f"Set back to the default: {setting.default_text or '(empty)'}")
        self.default_button.clicked.connect(lambda: self.set_text(setting.default_text))
        layout.addWidget(self.default_button)
        self.set_text(setting.text)
        self.initial_text = self.text()

    def _make_input(self) -> QWidget:
        spec = self.spec
        if spec.kind == settings_service.INTEGER:
            spin = QSpinBox()
            spin.setRange(spec.minimum or 0, spec.maximum or 9999)
            spin.valueChanged.connect(self.edited)
            return spin
        if spec.choices:
            combo = QComboBox()
            combo.addItems(list(spec.choices))
            combo.currentTextChanged.connect(self.edited)
            return combo
        line = QLineEdit()
        line.setClearButtonEnabled(True)
        line.textChanged.connect(self.edited)
        if spec.kind == settings_service.OPTIONAL_TEXT:
            line.setPlaceholderText("empty: automatic")
        elif spec.kind == settings_service.IMAGE_PATH:
            line.setPlaceholderText("no logo")
        return line

    def _add_logo_picker(self, layout: QHBoxLayout) -> None:
        browse = QPushButton("Browse...")
        browse.setObjectName(f"browse:{self.spec.key}")
        browse.clicked.connect(self._choose_logo)
        layout.addWidget(browse)
        self.preview = QLabel()
        self.preview.setObjectName("logoPreview")
        self.preview.setFixedSize(PREVIEW_WIDTH, PREVIEW_HEIGHT)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet("border: 1px solid #ccc; background: white;")
        layout.addWidget(self.preview)
        self.edited.connect(self._update_preview)

    def _choose_logo(self) -> None:
        current = self.text()
        start = settings_service.logo_file(self.workspace, current).parent if current else self.workspace.path.parent
        path, _ = QFileDialog.getOpenFileName(self, "Company logo", str(start), IMAGE_FILTER)
        if path:
            self.set_text(path)

    def _update_preview(self) -> None:
        if self.preview is None:
            return
        text = self.text()
        pixmap = QPixmap(str(settings_service.logo_file(self.workspace, text))) if text else QPixmap()
        if pixmap.isNull():
            self.preview.setPixmap(QPixmap())
            self.preview.setText("no logo" if not text else "no preview")
            return
        self.preview.setPixmap(pixmap.scaled(PREVIEW_WIDTH - 4, PREVIEW_HEIGHT - 4, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation))

    def text(self) -> str:
        """Return the value as typed: the text that ``settings_service`` parses."""
        if isinstance(self.input, QSpinBox):
            return str(self.input.value())
        if isinstance(self.input, QComboBox):
            return self.input.currentText()
        return self.input.text().strip()  # type: ignore[attr-defined]

    def set_text(self, text: str) -> None:
        if isinstance(self.input, QSpinBox):
            try:
                self.input.setValue(int(text))
            except ValueError:
                log.warning("setting %s has a stored value that is not a whole number", self.spec.key)
        elif isinstance(self.input, QComboBox):
            self.input.setCurrentText(text)
        else:
            self.input.setText(text)  # type: ignore[attr-defined]
        self._update_preview()

    def error(self) -> str | None:
        """Return why the typed value is invalid, else None; the logo file is checked as well."""
        try:
            settings_service.check_value(self.workspace, self.spec.key, self.text())
        except SpmError as error:
            return str(error)
        return None

    @property
    def changed(self) -> bool:
        return self.text() != self.initial_text


class SettingsDialog(QDialog):
    """The workspace settings form: one tab per area, Save writes every changed value at once."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        workspace = context.workspace
        if workspace is None:
            raise SpmError("open a workspace before changing its settings")
        self.workspace = workspace
        self.setObjectName("settingsDialog")
        self.setWindowTitle(f"Workspace settings - {workspace.path.name}")
        self.resize(760, 560)
        self.editors: dict[str, SettingEditor] = {}
        self.defaults: dict[str, str] = {}

        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("settingsTabs")
        layout.addWidget(self.tabs, 1)
        self._build_tabs(settings_service.list_settings(workspace))
        self.status = QLabel()
        self.status.setObjectName("settingsStatus")
        self.status.setWordWrap(True)
        self.status.setStyleSheet(ERROR_STYLE)
        layout.addWidget(self.status)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setObjectName("saveSettingsButton")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setObjectName("cancelSettingsButton")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._check_all()

    def _build_tabs(self, found: list[SettingValue]) -> None:
        for group in settings_service.GROUPS:
            members = [setting for setting in found if setting.spec.group == group]
            if not members:
                continue
            page = QWidget()
            form = QFormLayout(page)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            for setting in members:
                self._add_row(form, setting)
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(page)
            self.tabs.addTab(scroll, group)

    def _add_row(self, form: QFormLayout, setting: SettingValue) -> None:
        spec = setting.spec
        editor = SettingEditor(setting, self.workspace)
        editor.edited.connect(self._check_all)
        self.editors[spec.key] = editor
        self.defaults[spec.key] = setting.default_text
        label = QLabel(spec.label)
        label.setToolTip(spec.key)
        cell = QWidget()
        column = QVBoxLayout(cell)
        column.setContentsMargins(0, 0, 0, 6)
        column.setSpacing(2)
        column.addWidget(editor)
        column.addWidget(self._hint(spec, setting))
        form.addRow(label, cell)

    @staticmethod
    def _hint(spec: SettingSpec, setting: SettingValue) -> QLabel:
        default = setting.default_text or "empty"
        text = f"{spec.help} Default: {default}."
        if setting.problem:
            text += f" The stored value is invalid: {setting.problem}."
        hint = QLabel(text)
        hint.setWordWrap(True)
        hint.setStyleSheet(HINT_STYLE)
        return hint

    def _check_all(self) -> None:
        errors = []
        for editor in self.editors.values():
            error = editor.error() if editor.changed else None
            editor.input.setStyleSheet(INVALID_STYLE if error else "")
            editor.input.setToolTip(error or editor.spec.help)
            if error:
                errors.append(error)
        self.status.setText(errors[0] if errors else "")
        self.save_button.setEnabled(not errors and not self.context.busy)

    def pending(self) -> tuple[dict[str, object], list[str]]:
        """Return the changed values to store and the keys set back to their default (to remove)."""
        values: dict[str, object] = {}
        resets: list[str] = []
        for key, editor in self.editors.items():
            if not editor.changed:
                continue
            if editor.text() == self.defaults[key]:
                resets.append(key)
            else:
                values[key] = editor.text()
        return values, resets

    def save(self) -> None:
        values, resets = self.pending()
        if not values and not resets:
            self.accept()
            return
        self.save_button.setEnabled(False)
        self.context.run("Saving workspace settings", _save, self.workspace, values, resets,
                         on_success=self._saved, on_failure=self._failed, changes=("settings",), parent=self)

    def _saved(self, outcome: tuple[list[str], list[str]]) -> None:
        changed, warnings = outcome
        log.info("saved %d workspace settings", len(changed))
        if warnings:
            # The dialog closes, so the warning box belongs to the main window.
            box = QMessageBox(QMessageBox.Icon.Warning, "Workspace settings", "\n\n".join(warnings),
                              QMessageBox.StandardButton.Ok, self.parentWidget())
            box.setObjectName("settingsWarningDialog")
            box.open()
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self.context.last_error = error
        self.context.last_error_dialog = errors.show_error(self, error, "Workspace settings")
        self.save_button.setEnabled(True)


def _save(workspace: Workspace, values: dict[str, object], resets: list[str], *,
          progress, cancel) -> tuple[list[str], list[str]]:
    """Save in a worker; return the changed keys and warnings about plans that state another fiscal start."""
    progress(0, 0, "Checking and saving the settings")
    changed = settings_service.save(workspace, values, resets)
    warnings = []
    if period_service.FISCAL_START_SETTING in changed:
        warnings = settings_service.fiscal_start_warnings(workspace)
    return changed, warnings
