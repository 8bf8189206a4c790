"""Snapshot files of statement content: compare with tests/snapshots/, or rewrite them on request.

Rewrite with ``pytest tests/exporting --update-snapshots`` or ``SPM_UPDATE_SNAPSHOTS=1``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import openpyxl

SNAPSHOT_DIR = Path(__file__).resolve().parents[1] / "snapshots"


def assert_snapshot(name: str, text: str, update: bool) -> None:
    path = SNAPSHOT_DIR / name
    if update or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from its snapshot; rerun with --update-snapshots if the change is wanted"


def pdf_text(path: Path, *, layout: bool = True) -> str:
    """Return the text of a PDF as pdftotext (poppler) extracts it, pages separated by form feeds."""
    options = ["-layout"] if layout else []
    result = subprocess.run(["pdftotext", *options, str(path), "-"], capture_output=True, check=True)
    return result.stdout.decode("utf-8")


def pdf_info(path: Path) -> dict[str, str]:
    result = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True)
    info = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    return info


def xlsx_dump(path: Path) -> str:
    """Return every non-empty cell of a workbook as 'Sheet!A1 [format] value' lines, sheet by sheet."""
    workbook = openpyxl.load_workbook(path)
    lines = []
    for sheet in workbook.worksheets:
        lines.append(f"== {sheet.title} (frozen {sheet.freeze_panes}, filter {sheet.auto_filter.ref})")
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                value = cell.value.isoformat() if hasattr(cell.value, "isoformat") else repr(cell.value)
                lines.append(f"{sheet.title}!{cell.coordinate} [{cell.number_format}] {value}")
    return "\n".join(lines) + "\n"
