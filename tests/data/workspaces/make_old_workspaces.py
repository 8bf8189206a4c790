"""Rebuild the stored old-schema workspaces used by the upgrade tests.

Run once per released schema and commit the file; tests only read the result.
``python tests/data/workspaces/make_old_workspaces.py``
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command

from spm_desktop.store import audit
from spm_desktop.store import workspace as store
from spm_desktop.store.tables.core import settings, workspace_info

HERE = Path(__file__).resolve().parent


def make(revision: str) -> Path:
    path = HERE / f"schema-{revision}.spm"
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA application_id = {store.APPLICATION_ID}")
    connection.commit()
    connection.close()
    engine = store.make_engine(path)
    config = store.alembic_config(str(engine.url))
    with engine.connect() as alembic_connection:
        config.attributes["connection"] = alembic_connection
        command.upgrade(config, revision)
    with store.write_connection(engine) as write:
        write.execute(workspace_info.insert(), [{"key": "app_version", "value": "0.0.1"},
                                                {"key": "schema", "value": revision}])
        write.execute(settings.insert().values(key="company.name", value='"Old Co"'))
        audit.append(write, user="founder", action="workspace.create", entity_type="workspace",
                     entity_id=path.name, after={"schema": revision})
        audit.append(write, user="founder", action="settings.set", entity_type="setting",
                     entity_id="company.name", after="Old Co")
    engine.dispose()
    # Fold the WAL into the main file so the stored workspace is one self-contained file.
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.execute("PRAGMA journal_mode = DELETE")
    connection.close()
    return path


if __name__ == "__main__":
    make("0001")
