"""File > Workspace settings driven offscreen: open from the menu, edit, save, errors, defaults."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QComboBox, QFileDialog, QLabel, QLineEdit, QMessageBox, QPushButton, QSpinBox, QToolButton
from sqlalchemy import func, select

from spm_desktop.gui.main_window import MainWindow
from spm_desktop.gui.settings_dialog import SettingsDialog
from spm_desktop.services import metric_service, plan_service, settings_service
from spm_desktop.store.tables.core import audit_log

METRIC_YAML = """\
metrics:
  - {key: bookings, name: Bookings, owner: Finance, tier: primary, source: deals, filter: 'stage == "Won"',
     value: sum(amount), date: close_date, unit: currency, status: approved}
"""
# A plan that states its own fiscal year start (April); it is rejected at calculation when the workspace's differs.
PLAN_YAML = """\
plan: AE Q
version: 1
effective_from: 2017-01-01
currency: USD
period: quarter
fiscal_start_month: 4
participants: {role: AE}
components:
  - {name: Bookings commission, type: commission, metric: bookings,
     tiers: {method: marginal, by: amount, bands: [{from: 0, rate: 0.05}]}}
"""


def _menu_action(window: MainWindow, menu_title: str, action_text: str):
    for menu_action in window.menuBar().actions():
        if menu_action.text().replace("&", "") == menu_title:
            for action in menu_action.menu().actions():
                if action.text().replace("&", "").startswith(action_text):
                    return action
    raise AssertionError(f"no {menu_title} > {action_text}")


def _open_dialog(qtbot, window: MainWindow) -> SettingsDialog:
    _menu_action(window, "File", "Workspace settings").trigger()
    dialog = window.findChild(SettingsDialog, "settingsDialog")
    assert dialog is not None
    qtbot.waitExposed(dialog)
    return dialog


def _line(dialog: SettingsDialog, key: str) -> QLineEdit:
    return dialog.findChild(QLineEdit, f"input:{key}")


def _type(qtbot, line: QLineEdit, text: str) -> None:
    line.selectAll()
    qtbot.keyClick(line, Qt.Key.Key_Delete)
    qtbot.keyClicks(line, text)


def _save(qtbot, window: MainWindow, dialog: SettingsDialog) -> None:
    button = dialog.findChild(QPushButton, "saveSettingsButton")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.context.busy, timeout=10_000)


def _logo(path: Path) -> Path:
    image = QImage(120, 40, QImage.Format.Format_RGB32)
    image.fill(QColor("#1f4e79"))
    assert image.save(str(path), "PNG")
    return path


def test_menu_entry_disabled_without_workspace(qtbot, app_context) -> None:
    window = MainWindow(app_context)
    qtbot.addWidget(window)
    assert not _menu_action(window, "File", "Workspace settings").isEnabled()


def test_menu_entry_enabled_with_workspace(main_window: MainWindow) -> None:
    assert _menu_action(main_window, "File", "Workspace settings").isEnabled()


def test_dialog_groups_by_area(qtbot, main_window: MainWindow) -> None:
    dialog = _open_dialog(qtbot, main_window)
    titles = [dialog.tabs.tabText(index) for index in range(dialog.tabs.count())]
    assert titles == list(settings_service.GROUPS)
    dialog.close()


def test_dialog_picks_widget_by_kind(qtbot, main_window: MainWindow) -> None:
    dialog = _open_dialog(qtbot, main_window)
    assert isinstance(dialog.findChild(QSpinBox, "input:fiscal_year.start_month"), QSpinBox)
    assert isinstance(dialog.findChild(QComboBox, "input:statements.page_size"), QComboBox)
    assert isinstance(_line(dialog, "signals.open_stages"), QLineEdit)
    assert dialog.findChild(QPushButton, "browse:company.logo_path") is not None
    dialog.close()


def test_save_company_name_and_page_size(qtbot, main_window: MainWindow) -> None:
    dialog = _open_dialog(qtbot, main_window)
    _type(qtbot, _line(dialog, "company.name"), "Acme Sales Ltd")
    dialog.findChild(QComboBox, "input:statements.page_size").setCurrentText("Letter")
    with qtbot.waitSignal(main_window.context.data_changed, timeout=10_000) as changed:
        _save(qtbot, main_window, dialog)
    workspace = main_window.context.workspace
    assert workspace.get_setting("company.name") == "Acme Sales Ltd"
    assert workspace.get_setting("statements.page_size") == "Letter"
    assert changed.args == [frozenset({"settings"})]


def test_dialog_closes_after_save(qtbot, main_window: MainWindow) -> None:
    dialog = _open_dialog(qtbot, main_window)
    _type(qtbot, _line(dialog, "currency"), "eur")
    with qtbot.waitSignal(dialog.finished, timeout=10_000):
        _save(qtbot, main_window, dialog)
    assert main_window.context.workspace.get_setting("currency") == "EUR"


def test_dialog_shows_stored_values(qtbot, main_window: MainWindow) -> None:
    settings_service.set(main_window.context.workspace, "review.late_window_weeks", 5)
    dialog = _open_dialog(qtbot, main_window)
    assert dialog.findChild(QSpinBox, "input:review.late_window_weeks").value() == 5
    dialog.close()


def test_invalid_number_disables_save(qtbot, main_window: MainWindow) -> None:
    dialog = _open_dialog(qtbot, main_window)
    _type(qtbot, _line(dialog, "signals.behind_pace"), "fast")
    status = dialog.findChild(QLabel, "settingsStatus")
    assert "signals.behind_pace" in status.text()
    assert not dialog.findChild(QPushButton, "saveSettingsButton").isEnabled()
    dialog.close()


def test_missing_logo_disables_save(qtbot, main_window: MainWindow, tmp_path: Path) -> None:
    dialog = _open_dialog(qtbot, main_window)
    _type(qtbot, _line(dialog, "company.logo_path"), str(tmp_path / "missing.png"))
    assert "does not exist" in dialog.status.text()
    assert not dialog.findChild(QPushButton, "saveSettingsButton").isEnabled()
    dialog.close()


def test_logo_removed_before_save_shows_error(qtbot, main_window: MainWindow, tmp_path: Path) -> None:
    logo = _logo(tmp_path / "logo.png")
    dialog = _open_dialog(qtbot, main_window)
    _type(qtbot, _line(dialog, "company.logo_path"), str(logo))
    logo.unlink()
    _save(qtbot, main_window, dialog)
    error = main_window.context.last_error_dialog
    assert error is not None
    assert "does not exist" in error.text()
    assert main_window.context.workspace.get_setting("company.logo_path") is None
    error.close()
    dialog.close()


def test_fiscal_change_after_close_shows_error(qtbot, main_window: MainWindow) -> None:
    from spm_desktop.services import close_service, period_service

    workspace = main_window.context.workspace
    with workspace.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q1", 1)
    close_service.approve(workspace.as_user("checker"), "2017-Q1")
    close_service.close(workspace.as_user("checker"), "2017-Q1")
    dialog = _open_dialog(qtbot, main_window)
    dialog.findChild(QSpinBox, "input:fiscal_year.start_month").setValue(4)
    _save(qtbot, main_window, dialog)
    assert "closed period" in main_window.context.last_error_dialog.text()
    assert workspace.get_setting("fiscal_year.start_month") is None
    main_window.context.last_error_dialog.close()
    dialog.close()


def test_logo_browse_shows_preview(qtbot, main_window: MainWindow, tmp_path: Path, monkeypatch) -> None:
    logo = _logo(tmp_path / "logo.png")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(logo), ""))
    dialog = _open_dialog(qtbot, main_window)
    qtbot.mouseClick(dialog.findChild(QPushButton, "browse:company.logo_path"), Qt.MouseButton.LeftButton)
    assert _line(dialog, "company.logo_path").text() == str(logo)
    assert not dialog.findChild(QLabel, "logoPreview").pixmap().isNull()
    _save(qtbot, main_window, dialog)
    assert main_window.context.workspace.get_setting("company.logo_path") == str(logo)


def test_default_button_resets_stored_value(qtbot, main_window: MainWindow) -> None:
    workspace = main_window.context.workspace
    settings_service.set(workspace, "statements.page_size", "Letter")
    dialog = _open_dialog(qtbot, main_window)
    qtbot.mouseClick(dialog.findChild(QToolButton, "default:statements.page_size"), Qt.MouseButton.LeftButton)
    _save(qtbot, main_window, dialog)
    assert not settings_service.get(workspace, "statements.page_size").is_set


def test_unchanged_dialog_writes_nothing(qtbot, main_window: MainWindow) -> None:
    workspace = main_window.context.workspace
    before = _audit_count(main_window)
    dialog = _open_dialog(qtbot, main_window)
    with qtbot.waitSignal(dialog.finished, timeout=10_000):
        _save(qtbot, main_window, dialog)
    assert not any(setting.is_set for setting in settings_service.list_settings(workspace))
    assert _audit_count(main_window) == before


def _audit_count(window: MainWindow) -> int:
    with window.context.workspace.read() as connection:
        return connection.execute(select(func.count()).select_from(audit_log)).scalar_one()


def test_fiscal_change_warns_about_plan(qtbot, main_window: MainWindow) -> None:
    workspace = main_window.context.workspace
    metric_service.load_yaml(workspace, METRIC_YAML)
    plan_service.load(workspace, PLAN_YAML)
    dialog = _open_dialog(qtbot, main_window)
    dialog.findChild(QSpinBox, "input:fiscal_year.start_month").setValue(7)
    _save(qtbot, main_window, dialog)
    box = main_window.findChild(QMessageBox, "settingsWarningDialog")
    assert box is not None
    assert "plan 'AE Q'" in box.text()
    box.close()
