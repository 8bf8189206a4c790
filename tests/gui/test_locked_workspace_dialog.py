"""A write to a workspace that another program has locked ends in the error dialog with one plain message."""

from __future__ import annotations

import sqlite3

import pytest

from spm_desktop.services.errors import SpmError
from spm_desktop.store import workspace as store

METRICS = """\
metrics:
  - key: bookings
    name: Bookings
    owner: Finance
    tier: primary
    description: Won deal value.
    source: deals
    filter: stage == "Won"
    value: sum(amount)
    date: close_date
    unit: currency
    status: approved
"""


@pytest.fixture
def short_busy_timeout(monkeypatch):
    """Wait 0.2 s instead of 10 s for a lock; set before the window opens its first connection."""
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 200)


def _load_metrics(workspace, path, *, progress, cancel):
    from spm_desktop.services import metric_service

    return metric_service.load_yaml_file(workspace, path)


def test_locked_workspace_error_dialog(short_busy_timeout, main_window, app_context, qtbot, tmp_path):
    metrics = tmp_path / "metrics.yaml"
    metrics.write_text(METRICS, encoding="utf-8")
    other_writer = sqlite3.connect(app_context.workspace.path, isolation_level=None)
    other_writer.execute("BEGIN EXCLUSIVE")
    try:
        app_context.run("Loading metrics", _load_metrics, app_context.workspace, metrics, parent=main_window)
        qtbot.waitUntil(lambda: not app_context.busy, timeout=30_000)
    finally:
        other_writer.execute("ROLLBACK")
        other_writer.close()
    assert isinstance(app_context.last_error, SpmError)
    assert "is locked by another program" in app_context.last_error_dialog.text()
    app_context.last_error_dialog.close()
