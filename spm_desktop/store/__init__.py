"""Workspace persistence: SQLAlchemy tables, Alembic migrations and the audit chain."""
