"""Alembic environment for workspace migrations.

SQLite needs three things for migrations to be safe (measured on SQLite 3.40):
batch mode for ALTER, the MetaData naming convention for constraint operations, and
DDL inside one explicit transaction, so a failed migration leaves no half-built
``_alembic_tmp_*`` tables behind. Foreign keys are switched off while tables are
rebuilt and back on afterwards.
"""

from alembic import context
from sqlalchemy import Connection

from spm_desktop.store.tables import metadata
from spm_desktop.store.workspace import make_engine


def _run(connection: Connection) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    if is_sqlite:
        # PRAGMA foreign_keys is a no-op inside a transaction, so it goes to the driver
        # connection before SQLAlchemy begins one.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=is_sqlite,
        transactional_ddl=True,
        compare_type=True,
    )
    try:
        with context.begin_transaction():
            context.run_migrations()
        if connection.in_transaction():
            connection.commit()
    finally:
        if is_sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys = ON")


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as new_connection:
        _run(new_connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; open the workspace in SPM Desktop")
run_migrations_online()
