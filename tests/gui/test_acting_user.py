"""The desktop application's acting user: --user for one start only, then SPM_USER."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QSettings

from spm_desktop import APP_NAME, ORG_NAME
from spm_desktop.gui.context import AppContext
from spm_desktop.gui.main_window import MainWindow


def _start_desktop(config_home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Start ``spm-desktop`` in a child process that closes its window after three seconds."""
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(config_home),
                       SPM_DESKTOP_QUIT_AFTER_MS="3000")
    return subprocess.run([sys.executable, "-m", "spm_desktop.gui.app", *args], capture_output=True, text=True,
                          env=environment, timeout=120, check=False)


def _settings_file(config_home: Path) -> Path:
    return config_home / ORG_NAME / f"{APP_NAME}.conf"


def test_user_option_not_saved(tmp_path, workspace_path):
    config_home = tmp_path / "config"
    finished = _start_desktop(config_home, "--user", "finance", str(workspace_path))
    assert finished.returncode == 0, finished.stderr
    settings = QSettings(str(_settings_file(config_home)), QSettings.Format.IniFormat)
    assert not settings.contains("user")


def test_second_start_uses_spm_user(qtbot, tmp_path, workspace_path, monkeypatch):
    config_home = tmp_path / "config"
    assert _start_desktop(config_home, "--user", "finance", str(workspace_path)).returncode == 0
    monkeypatch.setenv("SPM_USER", "maker")
    context = AppContext(QSettings(str(_settings_file(config_home)), QSettings.Format.IniFormat))
    window = MainWindow(context)
    qtbot.addWidget(window)
    operation = window.open_workspace(workspace_path)
    qtbot.waitUntil(lambda: operation.done, timeout=30_000)
    assert context.workspace is not None
    assert context.workspace.user == "maker"
    context.shutdown()
    context.workspace.close()


def test_saved_user_of_old_version_removed(tmp_path, workspace_path):
    config_home = tmp_path / "config"
    old = QSettings(str(_settings_file(config_home)), QSettings.Format.IniFormat)
    old.setValue("user", "finance")
    old.sync()
    assert _start_desktop(config_home, str(workspace_path)).returncode == 0
    settings = QSettings(str(_settings_file(config_home)), QSettings.Format.IniFormat)
    assert not settings.contains("user")


def test_user_option_acts_in_window(qtbot, app_context, workspace_path, monkeypatch):
    monkeypatch.setenv("SPM_USER", "maker")
    window = MainWindow(app_context, user="finance")
    qtbot.addWidget(window)
    operation = window.open_workspace(workspace_path)
    qtbot.waitUntil(lambda: operation.done, timeout=30_000)
    assert app_context.workspace.user == "finance"
