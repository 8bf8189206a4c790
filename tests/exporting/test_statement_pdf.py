"""PDF statements: content, pagination, DRAFT marking, fixed metadata and byte-identical re-export."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import APPROVED, hostile_statement, long_statement, quarter_statement
from snapshots import assert_snapshot, pdf_info, pdf_text

from spm_desktop.domain.statements import content_sha256
from spm_desktop.exporting import statement_pdf


def _write(tmp_path: Path, name: str, data, page_size: str = "A4") -> Path:
    path = tmp_path / name
    statement_pdf.write_statement_pdf(data, path, page_size)
    return path


def test_quarter_text_matches_snapshot(tmp_path: Path, update_snapshots: bool) -> None:
    path = _write(tmp_path, "quarter.pdf", quarter_statement())
    assert_snapshot("statement_quarter.pdf.txt", pdf_text(path), update_snapshots)


def test_long_statement_text_matches_snapshot(tmp_path: Path, update_snapshots: bool) -> None:
    path = _write(tmp_path, "long.pdf", long_statement())
    assert_snapshot("statement_long.pdf.txt", pdf_text(path), update_snapshots)


def test_quarter_shows_every_section(tmp_path: Path) -> None:
    text = pdf_text(_write(tmp_path, "quarter.pdf", quarter_statement()))
    for heading in ("Summary", "Draw and balance", "Adjustments", "Clawbacks", "Held amounts", "Line detail"):
        assert heading in text


def test_quarter_shows_payout_and_totals(tmp_path: Path) -> None:
    text = pdf_text(_write(tmp_path, "quarter.pdf", quarter_statement()))
    assert "7,057.50" in text
    assert "1,549.17" in text
    assert "Z063OYW0-CN" in text


def test_footer_carries_audit_facts(tmp_path: Path) -> None:
    data = quarter_statement()
    text = pdf_text(_write(tmp_path, "quarter.pdf", data), layout=False)
    assert "Calculation run 42" in text
    assert "Approved by maria.lopez on 2017-10-06 14:05 UTC" in text
    assert data.input_fingerprint in text
    assert content_sha256(data) in text


def test_long_statement_numbers_pages(tmp_path: Path) -> None:
    pages = pdf_text(_write(tmp_path, "long.pdf", long_statement())).split("\f")[:-1]
    assert len(pages) == 3
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of 3" in page


def test_long_statement_repeats_table_header(tmp_path: Path) -> None:
    pages = pdf_text(_write(tmp_path, "long.pdf", long_statement())).split("\f")[:-1]
    for page in pages[1:]:
        assert "Line detail (continued): Bookings commission" in page
        assert "Credited" in page


def test_draft_marks_every_page(tmp_path: Path) -> None:
    pages = pdf_text(_write(tmp_path, "draft.pdf", long_statement(approval=None)), layout=False).split("\f")[:-1]
    assert len(pages) == 3
    for page in pages:
        assert "DRAFT" in page


def test_approved_statement_has_no_draft_mark(tmp_path: Path) -> None:
    text = pdf_text(_write(tmp_path, "approved.pdf", long_statement(approval=APPROVED)), layout=False)
    assert "DRAFT" not in text


def test_reexport_is_byte_identical(tmp_path: Path) -> None:
    first = statement_pdf.render_statement_pdf(quarter_statement())
    second = statement_pdf.render_statement_pdf(quarter_statement())
    assert first == second


def test_reexport_in_new_process_is_byte_identical(tmp_path: Path) -> None:
    here = Path(__file__).resolve().parent
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from pathlib import Path; from conftest import quarter_statement;"
        "from spm_desktop.exporting import statement_pdf;"
        "Path(sys.argv[2]).write_bytes(statement_pdf.render_statement_pdf(quarter_statement()))"
    )
    # Two fresh processes, as two `spm statements` runs are.
    first, second = tmp_path / "first.pdf", tmp_path / "second.pdf"
    for target in (first, second):
        subprocess.run([sys.executable, "-c", script, str(here), str(target)], check=True, timeout=60)
    assert first.read_bytes() == second.read_bytes()


def test_metadata_is_fixed(tmp_path: Path) -> None:
    info = pdf_info(_write(tmp_path, "quarter.pdf", quarter_statement()))
    assert info["Producer"] == "SPM Desktop"
    assert info["Creator"] == "SPM Desktop"
    assert info["Title"] == "Payout statement 2017-Q3 P-1007"
    assert info["CreationDate"].startswith("Fri Oct  6 14:05:00 2017")


def test_fonts_are_embedded(tmp_path: Path) -> None:
    path = _write(tmp_path, "quarter.pdf", quarter_statement())
    result = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    fonts = [line.split() for line in result.stdout.splitlines()[2:]]
    assert {font[0] for font in fonts} == {"DejaVuSans", "DejaVuSans-Bold"}
    assert all("yes" in font[-5:-3] for font in fonts)


@pytest.mark.parametrize(("page_size", "expected"), [("A4", "595 x 842 pts (A4)"), ("Letter", "612 x 792 pts (letter)")])
def test_page_size_follows_setting(tmp_path: Path, page_size: str, expected: str) -> None:
    info = pdf_info(_write(tmp_path, f"{page_size}.pdf", quarter_statement(), page_size))
    assert info["Page size"] == expected


def test_unknown_page_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="A4 or Letter"):
        statement_pdf.page_size_key("A3")


def test_hyperlink_participant_is_plain_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "hostile.pdf", hostile_statement())
    text = pdf_text(path, layout=False)
    raw = path.read_bytes()
    # Long names are shortened with an ellipsis to fit their cell; the start must come out as written.
    assert '=HYPERLINK("http://example.invalid' in text
    assert b"/URI" not in raw
    assert b"/Subtype /Link" not in raw
