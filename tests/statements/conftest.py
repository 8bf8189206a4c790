"""Fixture of the statement tests: a workspace with a stored calculation of 2017-Q3."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "exporting"))
from statement_workspace import create_statement_workspace


@pytest.fixture
def statement_workspace_path(tmp_path: Path) -> Path:
    """Path of a workspace with a stored 2017-Q3 calculation (a draft period) of two participants."""
    path = tmp_path / "statements.spm"
    create_statement_workspace(path).close()
    return path
