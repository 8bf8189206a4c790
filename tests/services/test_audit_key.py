"""The optional audit key: a keyed checkpoint that a rewritten chain cannot reproduce."""

import sqlite3

import pytest

from spm_desktop.services import audit_service, settings_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import SpmError
from spm_desktop.store import audit


def _rewrite_chain(path, old_value, new_value):
    """Replace a value in every entry and recompute every hash and the head, without the key."""
    db = sqlite3.connect(path)
    rows = db.execute("SELECT seq, ts, user, action, entity_type, entity_id, before, after FROM audit_log "
                      "ORDER BY seq").fetchall()
    previous = audit.GENESIS_HASH
    for seq, ts, user, action, entity_type, entity_id, before, after in rows:
        before = before.replace(old_value, new_value) if before else before
        after = after.replace(old_value, new_value) if after else after
        digest = audit.entry_hash(previous, seq, ts, user, action, entity_type, entity_id, before, after)
        db.execute("UPDATE audit_log SET before = ?, after = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                   (before, after, previous, digest, seq))
        previous = digest
    db.execute("UPDATE settings SET value = replace(value, ?, ?)", (old_value, new_value))
    db.execute("UPDATE workspace_info SET value = ? WHERE key = 'audit_head'", (f"{rows[-1][0]}:{previous}",))
    db.commit()
    db.close()


@pytest.fixture
def keyed(tmp_path, monkeypatch):
    key_file = tmp_path / "outside" / "audit.key"
    key_file.parent.mkdir()
    key_file.write_bytes(b"a random secret kept by finance")
    monkeypatch.setenv(audit.KEY_FILE_VARIABLE, str(key_file))
    workspace = Workspace.create(tmp_path / "keyed.spm", user="maker")
    settings_service.set(workspace, "company.name", "Acme Ltd")
    yield workspace
    workspace.close()


def test_keyed_trail_verifies(keyed):
    report = audit_service.verify(keyed)
    assert report.ok
    assert report.keyed_through == audit_service.head(keyed).seq


def test_rewritten_chain_fails_with_key(keyed):
    _rewrite_chain(keyed.path, "Acme Ltd", "Other Ltd")
    problems = audit_service.verify(keyed).problems
    assert len(problems) == 1
    assert problems[0].startswith("the keyed checkpoint of audit entry")


def test_rewritten_chain_passes_without_key(keyed, monkeypatch):
    _rewrite_chain(keyed.path, "Acme Ltd", "Other Ltd")
    monkeypatch.delenv(audit.KEY_FILE_VARIABLE)
    assert audit_service.verify(keyed).ok


def test_deleted_checkpoint_found(keyed):
    with sqlite3.connect(keyed.path) as connection:
        connection.execute("DELETE FROM workspace_info WHERE key = ?", (audit.MAC_KEY,))
    connection.close()
    problems = audit_service.verify(keyed).problems
    assert problems[0].startswith("no keyed checkpoint is stored")


def test_other_key_fails(keyed, monkeypatch):
    monkeypatch.delenv(audit.KEY_FILE_VARIABLE)
    monkeypatch.setenv(audit.KEY_VARIABLE, "another secret")
    assert not audit_service.verify(keyed).ok


def test_missing_key_file_rejects_write(keyed, monkeypatch, tmp_path):
    monkeypatch.setenv(audit.KEY_FILE_VARIABLE, str(tmp_path / "missing.key"))
    with pytest.raises(SpmError, match="cannot read the audit key file"):
        settings_service.set(keyed, "company.name", "Acme Group")


def test_empty_key_file_rejects_write(keyed, monkeypatch, tmp_path):
    empty = tmp_path / "empty.key"
    empty.write_bytes(b"\n")
    monkeypatch.setenv(audit.KEY_FILE_VARIABLE, str(empty))
    with pytest.raises(SpmError, match="is empty"):
        settings_service.set(keyed, "company.name", "Acme Group")
