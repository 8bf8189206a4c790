"""The audit hash chain: append, verify, and detection of edits made outside the app."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

from spm_desktop.services import audit_service
from spm_desktop.services.context import Workspace
from spm_desktop.store import audit


def _write_entries(workspace: Workspace, count: int) -> None:
    for index in range(count):
        workspace.set_setting(f"test.value{index}", index)


def _sql(path: Path, statement: str, *params: object) -> None:
    connection = sqlite3.connect(path)
    connection.execute(statement, params)
    connection.commit()
    connection.close()


def _verify(path: Path) -> audit_service.VerifyReport:
    with Workspace.open(path) as workspace:
        return audit_service.verify(workspace)


def test_append_links_entries(workspace: Workspace) -> None:
    _write_entries(workspace, 3)
    entries = audit_service.list_entries(workspace, newest_first=False)
    assert [entry.seq for entry in entries] == [1, 2, 3, 4]
    assert entries[0].prev_hash == audit.GENESIS_HASH
    for previous, entry in itertools.pairwise(entries):
        assert entry.prev_hash == previous.hash


def test_entry_records_user_and_before_after(workspace: Workspace) -> None:
    workspace.set_setting("company.name", "Acme")
    workspace.as_user("dana").set_setting("company.name", "Acme Ltd")
    newest = audit_service.list_entries(workspace, limit=1)[0]
    assert newest.user == "dana"
    assert newest.action == "settings.set"
    assert newest.before == '"Acme"'
    assert newest.after == '"Acme Ltd"'


def test_write_and_audit_commit_together(workspace: Workspace) -> None:
    from spm_desktop.store.tables.core import settings

    def write_then_fail() -> None:
        with workspace.transaction() as unit:
            unit.connection.execute(settings.insert().values(key="x", value="1"))
            unit.audit("settings.set", "setting", "x", after=1)
            raise RuntimeError("fails after the write")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert workspace.get_setting("x") is None
    assert audit_service.count_entries(workspace) == 1


def test_verify_intact_chain(workspace_path: Path) -> None:
    with Workspace.open(workspace_path) as workspace:
        _write_entries(workspace, 5)
    report = _verify(workspace_path)
    assert report.ok
    assert report.entries == 6


def test_verify_detects_edited_row(workspace_path: Path) -> None:
    with Workspace.open(workspace_path) as workspace:
        _write_entries(workspace, 5)
    _sql(workspace_path, "UPDATE audit_log SET after = '7' WHERE seq = 3")
    report = _verify(workspace_path)
    assert report.chain_break is not None
    assert report.chain_break.seq == 3
    assert "edited" in report.chain_break.reason


def test_verify_detects_deleted_row(workspace_path: Path) -> None:
    with Workspace.open(workspace_path) as workspace:
        _write_entries(workspace, 5)
    _sql(workspace_path, "DELETE FROM audit_log WHERE seq = 4")
    report = _verify(workspace_path)
    assert report.chain_break is not None
    assert report.chain_break.seq == 5
    assert "entry 4 missing" in report.chain_break.reason


def test_verify_detects_deleted_newest_rows(workspace_path: Path) -> None:
    with Workspace.open(workspace_path) as workspace:
        _write_entries(workspace, 5)
    _sql(workspace_path, "DELETE FROM audit_log WHERE seq >= 5")
    report = _verify(workspace_path)
    assert report.chain_break is not None
    assert "newest" in report.chain_break.reason


def test_verify_detects_inserted_row(workspace_path: Path) -> None:
    with Workspace.open(workspace_path) as workspace:
        _write_entries(workspace, 3)
        entries = audit_service.list_entries(workspace, newest_first=False)
    # Shift the newer entries up and slip a forged one in at seq 3, with a plausible hash.
    _sql(workspace_path, "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3")
    _sql(workspace_path, "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 103")
    forged_hash = audit.entry_hash(entries[1].hash, 3, entries[2].ts, "mallory", "settings.set", "setting",
                                   "payout", None, "1000000")
    _sql(workspace_path, "INSERT INTO audit_log VALUES (3, ?, 'mallory', 'settings.set', 'setting', 'payout', "
         "NULL, '1000000', ?, ?)", entries[2].ts, entries[1].hash, forged_hash)
    report = _verify(workspace_path)
    assert report.chain_break is not None
    assert report.chain_break.seq == 4
    assert "link to the previous entry" in report.chain_break.reason


def test_filters_by_action_user_and_text(workspace: Workspace) -> None:
    workspace.set_setting("company.name", "Acme")
    workspace.as_user("erin").set_setting("statements.page_size", "Letter")
    by_user = audit_service.list_entries(workspace, audit_service.AuditFilter(user="erin"))
    assert [entry.entity_id for entry in by_user] == ["statements.page_size"]
    by_action = audit_service.list_entries(workspace, audit_service.AuditFilter(action="workspace.*"))
    assert [entry.action for entry in by_action] == ["workspace.create"]
    by_text = audit_service.list_entries(workspace, audit_service.AuditFilter(text="Acme"))
    assert [entry.entity_id for entry in by_text] == ["company.name"]
