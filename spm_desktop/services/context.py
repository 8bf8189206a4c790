"""The open workspace: the one place that creates connections and transactions.

Services receive a ``Workspace`` and write only inside ``workspace.transaction()``,
whose unit of work records audit entries in the same database transaction. Reads use
``workspace.read()``.
"""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from spm_desktop.domain.canonical import canonical_json
from spm_desktop.store import audit
from spm_desktop.store import workspace as store
from spm_desktop.store.tables.core import settings

log = logging.getLogger(__name__)


def resolve_user(explicit: str | None = None) -> str:
    """Return the acting user: the explicit name, else SPM_USER, else the OS login."""
    if explicit:
        return explicit.strip()
    from_env = os.environ.get("SPM_USER", "").strip()
    if from_env:
        return from_env
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass
class UnitOfWork:
    """An open write transaction and the audit entries it has appended so far."""

    connection: Connection
    user: str
    entries: list[audit.AuditEntry] = field(default_factory=list)

    def audit(self, action: str, entity_type: str, entity_id: object,
              before: object = None, after: object = None) -> audit.AuditEntry:
        entry = audit.append(self.connection, user=self.user, action=action, entity_type=entity_type,
                             entity_id=str(entity_id), before=before, after=after)
        self.entries.append(entry)
        return entry


class Workspace:
    """An open workspace file (or database URL) and the acting user."""

    def __init__(self, engine: Engine, path: Path, user: str) -> None:
        self.engine = engine
        self.path = path
        self.user = user

    @classmethod
    def open(cls, path: str | Path, user: str | None = None, *, upgrade: bool = True) -> Workspace:
        path = Path(path)
        engine = store.open_workspace(path, upgrade=upgrade)
        return cls(engine, path, resolve_user(user))

    @classmethod
    def create(cls, path: str | Path, user: str | None = None) -> Workspace:
        path = Path(path)
        acting = resolve_user(user)
        engine = store.create_workspace(path, acting)
        workspace = cls(engine, path, acting)
        with workspace.transaction() as unit:
            unit.audit("workspace.create", "workspace", path.name, after={"schema": store.head_revision()})
        return workspace

    def as_user(self, user: str) -> Workspace:
        """Return a view of the same workspace acting as another user (maker-checker tests, CLI)."""
        return Workspace(self.engine, self.path, user)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        """Open a write transaction; it commits on success and rolls back on any exception."""
        with store.write_connection(self.engine) as connection:
            yield UnitOfWork(connection, self.user)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            yield connection

    @property
    def schema_revision(self) -> str | None:
        return store.current_revision(self.engine)

    def info(self) -> dict[str, str]:
        return store.read_info(self.engine)

    # Settings are JSON values under dotted keys, for example "fiscal_year.start_month".
    def get_setting(self, key: str, default: object = None) -> object:
        import json

        with self.read() as connection:
            value = connection.execute(select(settings.c.value).where(settings.c.key == key)).scalar_one_or_none()
        return default if value is None else json.loads(value)

    def set_setting(self, key: str, value: object) -> None:
        import json

        encoded = canonical_json(value)
        with self.transaction() as unit:
            current = unit.connection.execute(select(settings.c.value).where(settings.c.key == key)).scalar_one_or_none()
            if current == encoded:
                return
            if current is None:
                unit.connection.execute(settings.insert().values(key=key, value=encoded))
            else:
                unit.connection.execute(settings.update().where(settings.c.key == key).values(value=encoded))
            unit.audit("settings.set", "setting", key,
                       before=None if current is None else json.loads(current), after=value)
