"""Create, check, open and upgrade workspace files.

A workspace is one SQLite file (PostgreSQL works through the same code when a URL is
given instead of a path). The SQLite file is marked with an application id, so a
database that belongs to another program is recognised before anything is written to
it. Opening an older workspace backs the file up and runs the Alembic migrations;
opening one from a newer version of the application is rejected.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.exc import OperationalError

from spm_desktop import __version__
from spm_desktop.services.errors import NewerSchemaError, NotAWorkspaceError, WorkspaceError
from spm_desktop.store.tables import core

log = logging.getLogger(__name__)

# "SPMW" as a big-endian 32-bit integer, stored in the SQLite header (PRAGMA application_id).
APPLICATION_ID = 0x53504D57
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 10_000
WORKSPACE_SUFFIX = ".spm"
WRITE_OPTION = "spm_write"


class WorkspaceBusyError(WorkspaceError):
    """Another connection held the workspace's write lock for longer than the busy timeout."""


class WorkspaceReadOnlyError(WorkspaceError):
    """The workspace file cannot be written (permissions, an immutable flag, a read-only mount)."""


def migrations_dir() -> Path:
    """Locate the Alembic scripts in a source checkout, a wheel or a PyInstaller bundle."""
    candidates = [Path(__file__).resolve().parents[2] / "migrations"]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.insert(0, Path(bundle) / "migrations")
    candidates.append(Path(__file__).resolve().parents[1] / "_migrations")
    for candidate in candidates:
        if (candidate / "env.py").is_file():
            return candidate
    raise WorkspaceError(f"the database migrations are missing; looked in {', '.join(map(str, candidates))}")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return {revision.revision for revision in script.walk_revisions()}


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _on_sqlite_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _on_sqlite_begin) instead of pysqlite's
    # implicit transactions, which do not cover DDL and start too late to lock.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _on_sqlite_begin(connection) -> None:
    # A write transaction begins IMMEDIATE, taking the write lock at once, so the audit
    # chain's "read the last hash, append the next entry" cannot interleave with another
    # writer. Reads begin DEFERRED, so in WAL mode they wait for no one.
    if connection.get_execution_options().get(WRITE_OPTION):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """Open a connection with a write transaction that commits on success.

    Raises WorkspaceBusyError when another writer holds the lock for longer than the
    busy timeout, and WorkspaceReadOnlyError when the file cannot be written.
    """
    try:
        with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection, connection.begin():
            yield connection
    except OperationalError as error:
        translated = database_error(error, engine.url.database or str(engine.url))
        if translated is None:
            raise
        raise translated from error


# SQLite's messages for a write lock held by another connection and for a file that
# cannot be written (read-only permissions, an immutable flag, a read-only mount).
_LOCKED_MESSAGES = ("database is locked", "database table is locked")
_READ_ONLY_MESSAGES = ("attempt to write a readonly database", "readonly database", "unable to open database file")


def database_error(error: OperationalError, where: str) -> WorkspaceError | None:
    """Return the user error for a lock or read-only failure of workspace ``where``, or None for any other failure."""
    text = str(error.orig if error.orig is not None else error).lower()
    if any(message in text for message in _LOCKED_MESSAGES):
        log.warning("workspace %s is locked by another writer: %s", where, text)
        return WorkspaceBusyError(
            f"{where} is locked by another program or window that is writing to it, and it stayed locked for "
            f"{BUSY_TIMEOUT_MS // 1000} seconds; nothing was changed. Wait until that program finishes or close "
            "it, then try again")
    if any(message in text for message in _READ_ONLY_MESSAGES):
        log.warning("workspace %s cannot be written: %s", where, text)
        return WorkspaceReadOnlyError(
            f"{where} cannot be written: the file, its folder or its drive is read-only ({text}); nothing was "
            "changed. Copy the workspace to a writable folder, or make the file writable, then try again")
    return None


def make_engine(target: str | Path) -> Engine:
    """Create an engine for a workspace path or a database URL, with the session pragmas."""
    url = str(target)
    if "://" not in url:
        url = _sqlite_url(Path(target))
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def check_file(path: Path) -> None:
    """Raise NotAWorkspaceError unless the file is an SPM workspace; never writes to it."""
    if not path.exists():
        raise WorkspaceError(f"{path} does not exist; choose an existing workspace or create one with 'spm init'")
    if path.is_dir():
        raise NotAWorkspaceError(f"{path} is a folder, not a workspace file")
    with path.open("rb") as handle:
        header = handle.read(100)
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise NotAWorkspaceError(
            f"{path} is not an SPM Desktop workspace (it is not an SQLite database); "
            "open a .spm file or create a new workspace"
        )
    application_id = int.from_bytes(header[68:72], "big")
    if application_id != APPLICATION_ID:
        raise NotAWorkspaceError(
            f"{path} is an SQLite database of another program (application id {application_id:#x}); "
            "SPM Desktop will not change it"
        )
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = connection.execute("PRAGMA quick_check").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise NotAWorkspaceError(f"{path} is damaged and cannot be read ({error}); restore it from a backup") from error
    if result is None or result[0] != "ok":
        detail = result[0] if result else "no result"
        raise NotAWorkspaceError(f"{path} is damaged ({detail}); restore it from a backup")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def create_workspace(path: Path, user: str) -> Engine:
    """Create a new workspace file migrated to the latest schema."""
    if path.exists():
        raise WorkspaceError(f"{path} already exists; open it, or choose another file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.commit()
    finally:
        connection.close()
    engine = make_engine(path)
    try:
        _migrate(engine, path)
        _write_info(engine, created_by=user)
    except Exception:
        engine.dispose()
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        raise
    log.info("created workspace %s at schema %s", path, head_revision())
    return engine


def open_workspace(path: Path, *, upgrade: bool = True) -> Engine:
    """Open an existing workspace, upgrading an older schema after a backup."""
    check_file(path)
    engine = make_engine(path)
    revision = current_revision(engine)
    head = head_revision()
    if revision is None:
        engine.dispose()
        raise NotAWorkspaceError(f"{path} has no schema version; it was not created by SPM Desktop")
    if revision not in known_revisions():
        engine.dispose()
        raise NewerSchemaError(
            f"{path} was written by a newer version of SPM Desktop (schema {revision}); "
            f"this is version {__version__}, which knows schemas up to {head}. Install the newer version to open it."
        )
    if revision != head:
        if not upgrade:
            engine.dispose()
            raise WorkspaceError(f"{path} uses schema {revision} and needs an upgrade to {head}")
        backup = backup_workspace(engine, path, revision)
        log.info("upgrading workspace %s from %s to %s (backup %s)", path, revision, head, backup)
        _migrate(engine, path)
        _write_info(engine)
    return engine


def describe_workspace(path: Path) -> tuple[str | None, dict[str, str]]:
    """Return a workspace's schema revision and its info rows without upgrading or writing to it.

    Raises NotAWorkspaceError for a file that is not a workspace. The info rows are
    empty when the schema is too old to have them.
    """
    check_file(path)
    # Read-only, and without the session pragmas: a file in WAL mode stays readable this way.
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), future=True)
    try:
        revision = current_revision(engine)
        try:
            info = read_info(engine)
        except OperationalError:
            info = {}
    finally:
        engine.dispose()
    return revision, info


def backup_workspace(engine: Engine, path: Path, label: str) -> Path:
    """Copy the workspace with SQLite's online backup into a sibling file and return its path."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.stem}.backup-{label}-{stamp}{path.suffix or WORKSPACE_SUFFIX}")
    raw = engine.raw_connection()
    try:
        destination = sqlite3.connect(target)
        try:
            raw.driver_connection.backup(destination)
        finally:
            destination.close()
    finally:
        raw.close()
    return target


def _migrate(engine: Engine, path: Path) -> None:
    config = alembic_config(str(engine.url))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, "head")
        except Exception as error:
            log.exception("migration of %s failed", path)
            raise WorkspaceError(f"upgrading {path} failed ({error}); the file was left at its previous schema") from error


def _write_info(engine: Engine, created_by: str | None = None) -> None:
    now = dt.datetime.now(dt.UTC).isoformat()
    values = {"app_version": __version__, "schema": head_revision(), "updated_at": now}
    if created_by is not None:
        values.update({"created_by": created_by, "created_at": now})
    with write_connection(engine) as connection:
        existing = {row.key for row in connection.execute(select(core.workspace_info.c.key))}
        for key, value in values.items():
            if key in existing:
                connection.execute(
                    core.workspace_info.update().where(core.workspace_info.c.key == key).values(value=value)
                )
            else:
                connection.execute(core.workspace_info.insert().values(key=key, value=value))


def read_info(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        return {row.key: row.value for row in connection.execute(select(core.workspace_info))}


def vacuum_check(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("PRAGMA integrity_check")).scalar())
