"""Shared fixtures: a fresh workspace file per test, and the main window on it offscreen."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "QtAgg")

TESTS_DIR = Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR / "data"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep logs, settings and the acting user of every test away from the real home folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("SPM_LOG_DIR", str(home / "logs"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("SPM_USER", "tester")


@pytest.fixture(scope="session")
def _workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One new workspace per test session; running all migrations for every test is slow."""
    from spm_desktop.services.context import Workspace

    path = tmp_path_factory.mktemp("template") / "test.spm"
    Workspace.create(path, "tester").close()
    return path


@pytest.fixture
def workspace_path(tmp_path: Path, _workspace_template: Path) -> Path:
    """Path of a new, empty workspace file (a copy of one created at the latest schema)."""
    path = tmp_path / "test.spm"
    shutil.copyfile(_workspace_template, path)
    return path


@pytest.fixture
def workspace(workspace_path: Path):
    from spm_desktop.services.context import Workspace

    opened = Workspace.open(workspace_path, "tester")
    yield opened
    opened.close()


@pytest.fixture
def qsettings(tmp_path: Path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def app_context(qapp, qsettings):
    from spm_desktop.gui.context import AppContext

    context = AppContext(qsettings)
    yield context
    context.shutdown()
    if context.workspace is not None:
        context.workspace.close()


@pytest.fixture
def main_window(qtbot, app_context, workspace_path):
    """A MainWindow with ``workspace_path`` open, shown offscreen."""
    from spm_desktop.gui.main_window import MainWindow

    window = MainWindow(app_context)
    qtbot.addWidget(window)
    window.show()
    operation = window.open_workspace(workspace_path)
    qtbot.waitUntil(lambda: operation.done, timeout=30_000)
    assert app_context.workspace is not None
    return window
