"""Creating, opening, upgrading and rejecting workspace files."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import NewerSchemaError, NotAWorkspaceError, WorkspaceError
from spm_desktop.store import workspace as store

OLD_WORKSPACE = Path(__file__).resolve().parents[1] / "data" / "workspaces" / "schema-0001.spm"


def _pragma(path: Path, name: str) -> object:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        connection.close()


def test_create_migrates_to_head(tmp_path: Path) -> None:
    path = tmp_path / "new.spm"
    with Workspace.create(path, "alice") as workspace:
        assert workspace.schema_revision == store.head_revision()
        assert workspace.info()["created_by"] == "alice"
    assert _pragma(path, "application_id") == store.APPLICATION_ID
    assert _pragma(path, "journal_mode") == "wal"


def test_connection_pragmas(workspace: Workspace) -> None:
    with workspace.read() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == store.BUSY_TIMEOUT_MS


def test_create_refuses_existing_file(workspace_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="already exists"):
        Workspace.create(workspace_path, "alice")


def test_open_round_trip(workspace_path: Path) -> None:
    with Workspace.open(workspace_path, "bob") as workspace:
        assert workspace.user == "bob"
        assert workspace.schema_revision == store.head_revision()


def test_upgrade_old_workspace_with_backup(tmp_path: Path) -> None:
    path = tmp_path / "old.spm"
    shutil.copy(OLD_WORKSPACE, path)
    with Workspace.open(path, "carol") as workspace:
        assert workspace.schema_revision == store.head_revision()
        assert workspace.get_setting("company.name") == "Old Co"
        from spm_desktop.services import audit_service

        report = audit_service.verify(workspace)
    assert report.ok, report.chain_break
    backups = list(tmp_path.glob("old.backup-0001-*.spm"))
    assert len(backups) == 1
    assert store.current_revision(store.make_engine(backups[0])) == "0001"


def test_open_refuses_newer_schema(workspace_path: Path) -> None:
    connection = sqlite3.connect(workspace_path)
    connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.commit()
    connection.close()
    before = workspace_path.read_bytes()
    with pytest.raises(NewerSchemaError, match="newer version of SPM Desktop"):
        Workspace.open(workspace_path)
    assert workspace_path.read_bytes() == before


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.spm", b"just some text, not a database\n" * 10),
        ("empty.spm", b""),
        ("truncated.spm", b"SQLite format 3\x00" + b"\x00" * 20),
    ],
)
def test_open_refuses_non_workspace_unchanged(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(NotAWorkspaceError):
        Workspace.open(path)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_open_refuses_foreign_sqlite_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (x)")
    connection.commit()
    connection.close()
    before = path.read_bytes()
    with pytest.raises(NotAWorkspaceError, match="another program"):
        Workspace.open(path)
    assert path.read_bytes() == before


def test_open_refuses_corrupt_workspace_unchanged(workspace_path: Path) -> None:
    data = bytearray(workspace_path.read_bytes())
    # Overwrite the second page (the first table's b-tree) with garbage, keep the header.
    page_size = int.from_bytes(data[16:18], "big")
    data[page_size:page_size * 2] = b"\xff" * page_size
    workspace_path.write_bytes(bytes(data))
    before = workspace_path.read_bytes()
    with pytest.raises(NotAWorkspaceError, match="damaged"):
        Workspace.open(workspace_path)
    assert workspace_path.read_bytes() == before


def test_open_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="does not exist"):
        Workspace.open(tmp_path / "missing.spm")


def test_migrations_build_the_tables_the_code_declares(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from spm_desktop.store.tables.base import metadata

    path = tmp_path / "new.spm"
    Workspace.create(path, "alice").close()
    engine = store.make_engine(path)
    try:
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    finally:
        engine.dispose()
