"""The bundled statement fonts: renamed to a private family, valid TrueType, embedded under their own names."""

from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from PySide6.QtGui import QFontDatabase, QFontInfo

from spm_desktop.exporting import statement_pdf


def _names(data: bytes) -> dict[int, set[str]]:
    """Return every name-table string of a font by name id (all platforms)."""
    font = TTFont(io.BytesIO(data))
    names: dict[int, set[str]] = {}
    for record in font["name"].names:
        names.setdefault(record.nameID, set()).add(record.toUnicode())
    return names


def _checksum(data: bytes) -> int:
    padded = data + b"\x00" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(padded) // 4}I", padded)) & 0xFFFFFFFF


@pytest.mark.parametrize("file_name", statement_pdf.FONT_FILES)
def test_font_family_is_private(file_name: str) -> None:
    names = _names(statement_pdf.font_data(statement_pdf.FONT_DIR / file_name))
    assert names[1] == {statement_pdf.FONT_FAMILY}
    assert names[16] == {statement_pdf.FONT_FAMILY}
    assert all(name.startswith(statement_pdf.FONT_FAMILY) for name in names[4])


@pytest.mark.parametrize(("file_name", "postscript"), [("DejaVuSans.ttf", "DejaVuSans"),
                                                       ("DejaVuSans-Bold.ttf", "DejaVuSans-Bold")])
def test_renamed_font_keeps_postscript_name(file_name: str, postscript: str) -> None:
    names = _names(statement_pdf.font_data(statement_pdf.FONT_DIR / file_name))
    assert names[6] == {postscript}


@pytest.mark.parametrize("file_name", statement_pdf.FONT_FILES)
def test_renamed_font_checksums_are_valid(file_name: str) -> None:
    data = statement_pdf.font_data(statement_pdf.FONT_DIR / file_name)
    (count,) = struct.unpack_from(">H", data, 4)
    for index in range(count):
        tag, checksum, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * index)
        table = data[offset:offset + length]
        if tag == b"head":
            table = table[:8] + b"\x00" * 4 + table[12:]
        assert _checksum(table) == checksum, tag
    assert _checksum(data) == 0xB1B0AFBA


@pytest.mark.parametrize("file_name", statement_pdf.FONT_FILES)
def test_renamed_font_keeps_glyph_tables(file_name: str) -> None:
    original = TTFont(statement_pdf.FONT_DIR / file_name)
    renamed = TTFont(io.BytesIO(statement_pdf.font_data(statement_pdf.FONT_DIR / file_name)))
    assert sorted(renamed.keys()) == sorted(original.keys())
    for tag in ("glyf", "hmtx", "cmap", "GPOS", "kern"):
        if tag in original:
            assert renamed.reader[tag] == original.reader[tag], tag


def test_rename_rejects_other_files() -> None:
    with pytest.raises(ValueError, match="not a TrueType font"):
        statement_pdf.rename_font_family(b"%PDF-1.4 not a font", "DejaVu Sans", "Other")


def test_missing_font_file_explains(tmp_path: Path) -> None:
    with pytest.raises(statement_pdf.StatementRenderError, match="reinstall SPM Desktop"):
        statement_pdf.font_data(tmp_path / "DejaVuSans.ttf")


def test_statement_font_resolves_to_bundled_copy(qapp) -> None:
    statement_pdf.ensure_gui_application()
    info = QFontInfo(statement_pdf._font("cell"))
    assert info.family() == statement_pdf.FONT_FAMILY
    assert statement_pdf.FONT_FAMILY in QFontDatabase.families()


def test_pdf_lists_fonts_by_postscript_name(qapp, tmp_path: Path, statement_workspace_path: Path) -> None:
    from spm_desktop.services import statement_service
    from spm_desktop.services.context import Workspace

    with Workspace.open(statement_workspace_path, "tester") as workspace:
        data = statement_service.statement_for(workspace, "2017-Q3", "P-1007")
    path = tmp_path / "statement.pdf"
    path.write_bytes(statement_pdf.render_statement_pdf(data))
    result = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    fonts = {line.split()[0] for line in result.stdout.splitlines()[2:]}
    assert fonts == {"DejaVuSans", "DejaVuSans-Bold"}
