"""XLSX statements: sheets, typed cells, formats, DRAFT marking, formula safety and reproducible bytes."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
from conftest import hostile_statement, long_statement, quarter_statement
from snapshots import assert_snapshot, xlsx_dump

from spm_desktop.domain.statements import content_sha256
from spm_desktop.exporting import statement_xlsx


def _write(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    statement_xlsx.write_statement_xlsx(data, path)
    return path


def test_quarter_content_matches_snapshot(tmp_path: Path, update_snapshots: bool) -> None:
    path = _write(tmp_path, "quarter.xlsx", quarter_statement())
    assert_snapshot("statement_quarter.xlsx.txt", xlsx_dump(path), update_snapshots)


def test_draft_content_matches_snapshot(tmp_path: Path, update_snapshots: bool) -> None:
    path = _write(tmp_path, "draft.xlsx", quarter_statement(approval=None))
    assert_snapshot("statement_quarter_draft.xlsx.txt", xlsx_dump(path), update_snapshots)


def test_workbook_has_three_sheets(tmp_path: Path) -> None:
    workbook = openpyxl.load_workbook(_write(tmp_path, "quarter.xlsx", quarter_statement()))
    assert workbook.sheetnames == ["Summary", "Detail", "Audit"]


def test_detail_headers_are_frozen_and_filtered(tmp_path: Path) -> None:
    sheet = openpyxl.load_workbook(_write(tmp_path, "quarter.xlsx", quarter_statement()))["Detail"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:Q10"


def test_detail_lines_are_typed(tmp_path: Path) -> None:
    sheet = openpyxl.load_workbook(_write(tmp_path, "quarter.xlsx", quarter_statement()))["Detail"]
    assert sheet["B2"].value == dt.datetime(2017, 7, 5)
    assert sheet["B2"].number_format == "yyyy-mm-dd"
    assert sheet["N2"].value == 135.42
    assert sheet["N2"].number_format == "#,##0.00"
    assert sheet["M7"].value == 1.185


def test_detail_earnings_add_up_to_summary(tmp_path: Path) -> None:
    workbook = openpyxl.load_workbook(_write(tmp_path, "quarter.xlsx", quarter_statement()))
    detail = workbook["Detail"]
    bookings = [row[13] for row in detail.iter_rows(min_row=2, values_only=True) if row[0] == "Bookings commission"]
    assert round(sum(bookings), 2) == 1549.17
    assert workbook["Summary"]["I9"].value == 1549.17


def test_summary_shows_payout(tmp_path: Path) -> None:
    sheet = openpyxl.load_workbook(_write(tmp_path, "quarter.xlsx", quarter_statement()))["Summary"]
    assert sheet["H2"].value == 7057.5


def test_audit_sheet_holds_hashes(tmp_path: Path) -> None:
    data = quarter_statement()
    sheet = openpyxl.load_workbook(_write(tmp_path, "quarter.xlsx", data))["Audit"]
    facts = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert facts["Statement content SHA-256"] == content_sha256(data)
    assert facts["Input fingerprint (SHA-256)"] == data.input_fingerprint
    assert facts["Approved by"] == "maria.lopez"


def test_draft_is_marked(tmp_path: Path) -> None:
    workbook = openpyxl.load_workbook(_write(tmp_path, "draft.xlsx", quarter_statement(approval=None)))
    assert workbook["Summary"]["D1"].value == "DRAFT: not approved; figures may change"
    assert workbook["Audit"]["B2"].value == "DRAFT: not approved"


def test_approved_is_not_marked_draft(tmp_path: Path) -> None:
    workbook = openpyxl.load_workbook(_write(tmp_path, "quarter.xlsx", quarter_statement()))
    assert workbook["Summary"]["D1"].value is None
    assert workbook["Audit"]["B2"].value == "Approved"


def test_hyperlink_participant_is_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "hostile.xlsx", hostile_statement())
    summary = openpyxl.load_workbook(path)["Summary"]
    assert summary["B2"].value == "'=HYPERLINK(\"http://example.invalid\",\"x\")"
    assert summary["B2"].data_type == "s"
    assert summary["B3"].value == "'+P/1007"


def test_workbook_contains_no_formulas(tmp_path: Path) -> None:
    path = _write(tmp_path, "hostile.xlsx", hostile_statement())
    with zipfile.ZipFile(path) as archive:
        sheets = [archive.read(name) for name in archive.namelist() if name.startswith("xl/worksheets/")]
    assert all(b"<f>" not in sheet for sheet in sheets)


def test_hostile_customer_is_text(tmp_path: Path) -> None:
    detail = openpyxl.load_workbook(_write(tmp_path, "hostile.xlsx", hostile_statement()))["Detail"]
    assert detail["F2"].value == "'=cmd|' /C calc'!A0"
    assert detail["G3"].value == "'@SUM(A1:A9)"


def test_reexport_is_byte_identical() -> None:
    assert statement_xlsx.render_statement_xlsx(long_statement()) == statement_xlsx.render_statement_xlsx(
        long_statement())


def test_reexport_in_new_process_is_byte_identical(tmp_path: Path) -> None:
    here = Path(__file__).resolve().parent
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from pathlib import Path; from conftest import quarter_statement;"
        "from spm_desktop.exporting import statement_xlsx;"
        "Path(sys.argv[2]).write_bytes(statement_xlsx.render_statement_xlsx(quarter_statement()))"
    )
    target = tmp_path / "other.xlsx"
    subprocess.run([sys.executable, "-c", script, str(here), str(target)], check=True, timeout=60)
    assert target.read_bytes() == statement_xlsx.render_statement_xlsx(quarter_statement())


def test_created_property_is_approval_time(tmp_path: Path) -> None:
    workbook = openpyxl.load_workbook(_write(tmp_path, "quarter.xlsx", quarter_statement()))
    assert workbook.properties.created == dt.datetime(2017, 10, 6, 14, 5)
