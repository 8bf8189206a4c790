"""Fixtures for import tests: writing small files and importing them into a workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from spm_desktop.importing.mapping import parse_mapping
from spm_desktop.services import import_service


@pytest.fixture
def write_file(tmp_path: Path):
    """Write text (encoded) or bytes to a file under tmp_path and return its path."""

    def write(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path

    return write


@pytest.fixture
def import_file(workspace):
    """Import a file into the test workspace, with an optional inline mapping document."""

    def run(record_set: str, path: Path, mapping: str | None = None, *, accept_valid: bool = False,
            base: Path | None = None):
        parsed_mapping = parse_mapping(mapping, base=base) if mapping else None
        preview = import_service.preview(workspace, record_set, path, parsed_mapping)
        return import_service.commit(workspace, preview, accept_valid=accept_valid)

    return run
