"""The main window: opening workspaces through the menu, navigation, status bar, audit area."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from spm_desktop.gui.main_window import AREAS, MainWindow
from spm_desktop.store.workspace import head_revision


@pytest.fixture
def window(qtbot, app_context):
    shell = MainWindow(app_context)
    qtbot.addWidget(shell)
    shell.show()
    return shell


def _menu_action(window: MainWindow, menu_title: str, action_text: str):
    for menu_action in window.menuBar().actions():
        if menu_action.text().replace("&", "") == menu_title:
            for action in menu_action.menu().actions():
                if action.text().replace("&", "").startswith(action_text):
                    return action
    raise AssertionError(f"no {menu_title} > {action_text}")


def _open_through_menu(qtbot, window: MainWindow, path: Path, monkeypatch) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(path), ""))
    _menu_action(window, "File", "Open workspace").trigger()
    qtbot.waitUntil(lambda: not window.context.busy, timeout=30_000)


def test_starts_without_workspace(window: MainWindow) -> None:
    assert window.context.workspace is None
    assert "No workspace open" in window.workspace_label.text()
    assert not window.close_action.isEnabled()


def test_open_through_file_menu(qtbot, window: MainWindow, workspace_path: Path, monkeypatch) -> None:
    _open_through_menu(qtbot, window, workspace_path, monkeypatch)
    assert window.context.workspace is not None
    assert str(workspace_path) in window.workspace_label.text()
    assert window.schema_label.text() == f"schema {head_revision()}"
    assert workspace_path.name in window.windowTitle()


def test_recent_menu_reopens(qtbot, window: MainWindow, workspace_path: Path, monkeypatch) -> None:
    _open_through_menu(qtbot, window, workspace_path, monkeypatch)
    window.close_action.trigger()
    assert window.context.workspace is None
    recent = window.recent_menu.actions()
    assert [action.text() for action in recent] == [str(workspace_path)]
    recent[0].trigger()
    qtbot.waitUntil(lambda: window.context.workspace is not None, timeout=30_000)


def test_new_workspace_through_menu(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "fresh"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    _menu_action(window, "File", "New workspace").trigger()
    qtbot.waitUntil(lambda: window.context.workspace is not None, timeout=30_000)
    assert (tmp_path / "fresh.spm").exists()


def test_opening_a_text_file_shows_error(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "notes.spm"
    path.write_text("not a workspace\n" * 20)
    _open_through_menu(qtbot, window, path, monkeypatch)
    assert window.context.workspace is None
    dialog = window.context.last_error_dialog
    assert dialog is not None
    assert "not an SPM Desktop workspace" in dialog.text()
    dialog.close()


def test_navigation_shows_each_area(qtbot, main_window: MainWindow) -> None:
    for index, spec in enumerate(AREAS):
        item = main_window.navigation.item(index)
        rect = main_window.navigation.visualItemRect(item)
        qtbot.mouseClick(main_window.navigation.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        assert main_window.current_area_key() == spec.key
        assert main_window.stack.currentWidget().objectName() == f"area-{spec.key}"


def test_area_shortcut(qtbot, main_window: MainWindow) -> None:
    qtbot.keyClick(main_window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert main_window.current_area_key() == "metrics"


def test_about_dialog(main_window: MainWindow) -> None:
    box = main_window.show_about()
    assert "SPM Desktop" in box.text()
    box.close()


def test_geometry_saved_on_close(qtbot, app_context, qsettings) -> None:
    shell = MainWindow(app_context)
    qtbot.addWidget(shell)
    shell.resize(900, 640)
    shell.show()
    shell.close()
    assert not qsettings.value("window/geometry").isEmpty()


def test_audit_area_lists_and_filters(qtbot, main_window: MainWindow) -> None:
    workspace = main_window.context.workspace
    workspace.set_setting("company.name", "Acme")
    workspace.as_user("finance").set_setting("statements.page_size", "A4")
    main_window.context.notify_changed({"settings"})
    area = main_window.show_area("audit")
    assert area.model.total == 3
    area.user_filter.setCurrentText("finance")
    qtbot.mouseClick(area.apply_button, Qt.MouseButton.LeftButton)
    assert area.model.total == 1
    area.table.selectRow(0)
    assert '"A4"' in area.after_view.toPlainText()


def test_audit_area_verify_reports_tampering(qtbot, main_window: MainWindow) -> None:
    area = main_window.show_area("audit")
    qtbot.mouseClick(area.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not main_window.context.busy, timeout=30_000)
    assert area.status.text().startswith("Verified")
    connection = sqlite3.connect(main_window.context.workspace.path)
    connection.execute("UPDATE audit_log SET action = 'forged' WHERE seq = 1")
    connection.commit()
    connection.close()
    qtbot.mouseClick(area.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not main_window.context.busy, timeout=30_000)
    assert "FAILED" in area.status.text()
    assert "audit entry 1" in area.status.text()


def test_audit_area_export(qtbot, main_window: MainWindow, tmp_path: Path) -> None:
    area = main_window.show_area("audit")
    target = tmp_path / "trail.csv"
    operation = area.export_to(target)
    qtbot.waitUntil(lambda: operation.done, timeout=30_000)
    assert target.read_text(encoding="utf-8-sig").count("\n") >= 2


def test_first_start_offers_demo(qtbot, window: MainWindow, tmp_path: Path) -> None:
    target = tmp_path / "demo.spm"
    box = window.offer_demo_on_first_start(target)
    assert box is not None
    assert "demo workspace" in box.text()
    build = next(button for button in box.buttons() if button.text() == "Build the demo")
    qtbot.mouseClick(build, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.context.workspace is not None, timeout=120_000)
    assert window.context.workspace.path == target
    assert window.offer_demo_on_first_start(target) is None
