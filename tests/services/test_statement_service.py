"""Statement and payroll export on a real workspace file: drafts, approval, re-issue, audit and payroll."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from spm_desktop import cli
from spm_desktop.domain.canonical import sha256_hex
from spm_desktop.domain.progress import Cancelled, CancelToken
from spm_desktop.services import audit_service, close_service, payroll_service, statement_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ConflictError, NotFoundError, SpmError, ValidationError
from spm_desktop.store.tables.statements import statements

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "exporting"))
from statement_workspace import HOSTILE, PERIOD, create_statement_workspace


@pytest.fixture
def maker(tmp_path: Path):
    with create_statement_workspace(tmp_path / "statements.spm") as created:
        yield created


@pytest.fixture
def approved(maker: Workspace) -> Workspace:
    close_service.approve(maker.as_user("checker"), PERIOD)
    return maker


def _pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True).stdout.decode()


def test_build_statement_reads_results(maker: Workspace) -> None:
    data = statement_service.statement_for(maker, PERIOD, "P-1007")
    assert data.payout == Decimal("2150.00")
    assert data.manager_name == "Summer Sewald"
    assert data.payroll_id == "PR-004512"
    assert [line.kind for line in data.lines] == ["sale", "sale", "clawback"]
    assert data.lines[2].reference_deal_id == "Z063OYW0"
    assert data.lines[1].customer == "=cmd|' /C calc'!A0"


def test_statement_shows_draw_and_adjustment(maker: Workspace) -> None:
    data = statement_service.statement_for(maker, PERIOD, "P-1007")
    assert data.draw_payment == Decimal("1820.00")
    assert data.draw is not None
    assert data.draw.closing_balance == Decimal("1820.00")
    assert data.draw.amount == Decimal(2000)
    assert [entry.reason_code for entry in data.adjustments] == ["SPIF-CORR"]


def test_statement_lists_held_amounts(maker: Workspace) -> None:
    holds = statement_service.statement_for(maker, PERIOD, "P-1007").holds
    assert [(hold.deal_id, hold.amount, hold.until) for hold in holds] == [
        ("N9ZRY2MS", Decimal("45.00"), "service_start_date")]


def test_plan_currency_deals_show_no_fx_rate(maker: Workspace) -> None:
    lines = statement_service.statement_for(maker, PERIOD, "P-1007").lines
    assert [line.fx_rate for line in lines] == [None, None, None]


def test_unapproved_period_exports_drafts(maker: Workspace, tmp_path: Path) -> None:
    summary = statement_service.export_statements(maker, PERIOD, tmp_path / "out", ["pdf"])
    assert summary.statements == 2
    assert summary.drafts == 2
    for item in summary.files:
        assert "DRAFT" in _pdf_text(item.path)


def test_approved_period_exports_final(approved: Workspace, tmp_path: Path) -> None:
    summary = statement_service.export_statements(approved, PERIOD, tmp_path / "out", ["pdf"])
    assert summary.drafts == 0
    text = _pdf_text(summary.files[0].path)
    assert "DRAFT" not in text
    assert "Approved by checker" in text


def test_file_names_hold_period_and_participant(maker: Workspace, tmp_path: Path) -> None:
    summary = statement_service.export_statements(maker, PERIOD, tmp_path / "out", ["pdf", "xlsx"])
    names = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert names == ["statement_2017-Q3_P-1007.pdf", "statement_2017-Q3_P-1007.xlsx",
                     "statement_2017-Q3_P_1010.pdf", "statement_2017-Q3_P_1010.xlsx"]
    assert len(summary.files) == 4


def test_one_participant_only(maker: Workspace, tmp_path: Path) -> None:
    summary = statement_service.export_statements(maker, PERIOD, tmp_path / "out", ["xlsx"], participant="P-1007")
    assert [item.participant_id for item in summary.files] == ["P-1007"]


def test_unknown_participant_rejected(maker: Workspace, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="'P-9999' has no result in 2017-Q3"):
        statement_service.export_statements(maker, PERIOD, tmp_path / "out", ["pdf"], participant="P-9999")


def test_uncalculated_period_rejected(maker: Workspace, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no calculation of 2017-Q4"):
        statement_service.export_statements(maker, "2017-Q4", tmp_path / "out", ["pdf"])


def test_unknown_format_rejected(maker: Workspace, tmp_path: Path) -> None:
    with pytest.raises(SpmError, match="unknown statement format docx"):
        statement_service.export_statements(maker, PERIOD, tmp_path / "out", ["docx"])


def test_reexport_is_byte_identical_and_reissued(approved: Workspace, tmp_path: Path) -> None:
    first = statement_service.export_statements(approved, PERIOD, tmp_path / "first", ["pdf", "xlsx"])
    second = statement_service.export_statements(approved, PERIOD, tmp_path / "second", ["pdf", "xlsx"])
    for one, two in zip(first.files, second.files, strict=True):
        assert one.path.read_bytes() == two.path.read_bytes()
        assert two.reissued
        assert two.statement_id == one.statement_id
    assert len(statement_service.issued_statements(approved, PERIOD)) == 4


def test_issue_is_recorded_with_hashes(maker: Workspace, tmp_path: Path) -> None:
    summary = statement_service.export_statements(maker, PERIOD, tmp_path / "out", ["pdf"])
    issued = statement_service.issued_statements(maker, PERIOD)
    assert [record.file_sha256 for record in issued] == [sha256_hex(item.path.read_bytes()) for item in summary.files]
    assert all(record.draft for record in issued)
    assert all(record.issued_by == "maker" for record in issued)


def test_issued_file_found_by_hash(approved: Workspace, tmp_path: Path) -> None:
    summary = statement_service.export_statements(approved, PERIOD, tmp_path / "out", ["xlsx"])
    found = statement_service.find_issued_file(approved, summary.files[0].path)
    assert found is not None
    assert found.participant_id == summary.files[0].participant_id


def test_audit_verify_passes_after_issue(approved: Workspace, tmp_path: Path) -> None:
    statement_service.export_statements(approved, PERIOD, tmp_path / "out", ["pdf"])
    report = audit_service.verify(approved)
    assert report.content_problems == []


def test_audit_verify_reports_edited_statement(approved: Workspace, tmp_path: Path) -> None:
    statement_service.export_statements(approved, PERIOD, tmp_path / "out", ["pdf"])
    with sqlite3.connect(approved.path) as connection:
        connection.execute("UPDATE statements SET file_sha256 = ? WHERE id = 2", ("0" * 64,))
    report = audit_service.verify(approved)
    assert report.content_problems == [
        "statement 2 (P/1010, 2017-Q3, pdf) was changed outside SPM Desktop (its hash differs from the audit trail)"]


def test_audit_verify_reports_deleted_statement(approved: Workspace, tmp_path: Path) -> None:
    statement_service.export_statements(approved, PERIOD, tmp_path / "out", ["pdf"])
    with sqlite3.connect(approved.path) as connection:
        connection.execute("DELETE FROM statements WHERE id = 1")
    report = audit_service.verify(approved)
    assert report.content_problems == ["statement 1 is recorded in the audit trail but missing from the workspace"]


def test_hyperlink_participant_is_text_in_xlsx(maker: Workspace, tmp_path: Path) -> None:
    statement_service.export_statements(maker, PERIOD, tmp_path / "out", ["xlsx"], participant="P/1010")
    summary = openpyxl.load_workbook(tmp_path / "out" / "statement_2017-Q3_P_1010.xlsx")["Summary"]
    assert summary["B2"].value == "'" + HOSTILE
    assert summary["B2"].data_type == "s"


def test_statements_that_do_not_add_up_are_rejected(maker: Workspace, tmp_path: Path) -> None:
    with sqlite3.connect(maker.path) as connection:
        connection.execute("UPDATE results SET earnings_minor = 18001 WHERE component = 'Bookings commission' "
                           "AND participant_id = 'P-1007'")
    with pytest.raises(ValidationError, match="do not add up") as raised:
        statement_service.export_statements(maker, PERIOD, tmp_path / "out", ["pdf"])
    assert raised.value.problems[0].code == "statement.lines_total"
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_cancel_writes_nothing(maker: Workspace, tmp_path: Path) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        statement_service.export_statements(maker, PERIOD, tmp_path / "out", ["pdf"], cancel=token)
    assert list((tmp_path / "out").iterdir()) == []
    assert statement_service.issued_statements(maker) == []


def test_missing_logo_file_rejected(maker: Workspace, tmp_path: Path) -> None:
    maker.set_setting("company.logo_path", str(tmp_path / "missing.png"))
    with pytest.raises(SpmError, match=r"company logo .*missing\.png cannot be read"):
        statement_service.export_statements(maker, PERIOD, tmp_path / "out", ["pdf"])


def test_letter_page_size_from_setting(approved: Workspace, tmp_path: Path) -> None:
    approved.set_setting("statements.page_size", "Letter")
    summary = statement_service.export_statements(approved, PERIOD, tmp_path / "out", ["pdf"], participant="P-1007")
    info = subprocess.run(["pdfinfo", str(summary.files[0].path)], capture_output=True, text=True, check=True).stdout
    assert "612 x 792 pts (letter)" in info


@pytest.mark.slow
def test_pool_rendering_is_identical_across_workers(approved: Workspace, tmp_path: Path) -> None:
    from spm_desktop.exporting.statement_pdf import render_statement_pdf

    item = statement_service.build_statements(approved, PERIOD)[0]
    jobs = [(item, ("pdf",), "A4", str(tmp_path / f"copy-{index}")) for index in range(30)]
    pooled = statement_service.render_files(jobs, 2, lambda *_: None, None)
    hashes = {written[0][2] for _, written in pooled}
    # Thirty copies rendered by two worker processes come out identical.
    assert len(hashes) == 1
    assert len(render_statement_pdf(item, "A4")) > 0


def test_payroll_rejects_unapproved_period(maker: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ConflictError, match="2017-Q3 is calculated, not approved"):
        payroll_service.export_payroll(maker, PERIOD, tmp_path / "payroll.csv")


def test_payroll_csv_of_approved_period(approved: Workspace, tmp_path: Path) -> None:
    summary = payroll_service.export_payroll(approved, PERIOD, tmp_path / "payroll.csv")
    text = (tmp_path / "payroll.csv").read_text(encoding="utf-8-sig")
    assert text.splitlines() == [
        "payroll_id,participant_id,participant_name,period,currency,amount",
        "PR-004512,P-1007,Darcel Schlecht,2017-Q3,USD,2150.00",
        ",P/1010,\"'=HYPERLINK(\"\"http://example.invalid\"\",\"\"x\"\")\",2017-Q3,USD,2000.00",
    ]
    assert summary.totals == {"USD": Decimal("4150.00")}
    assert summary.missing_payroll_ids == ["P/1010"]


def test_payroll_xlsx_has_typed_amounts(approved: Workspace, tmp_path: Path) -> None:
    payroll_service.export_payroll(approved, PERIOD, tmp_path / "payroll.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "payroll.xlsx")["Payroll"]
    assert sheet["F2"].value == 2150.0
    assert sheet["C3"].value == "'" + HOSTILE


def test_payroll_export_is_audited(approved: Workspace, tmp_path: Path) -> None:
    summary = payroll_service.export_payroll(approved, PERIOD, tmp_path / "payroll.csv")
    from spm_desktop.store.tables.core import audit_log

    with approved.read() as connection:
        after = connection.execute(select(audit_log.c.after).where(audit_log.c.action == "payroll.export")).scalar_one()
    assert json.loads(after)["file_sha256"] == summary.file_sha256


def test_payroll_rejects_other_suffix(approved: Workspace, tmp_path: Path) -> None:
    with pytest.raises(SpmError, match=r"use a \.csv or \.xlsx file name"):
        payroll_service.export_payroll(approved, PERIOD, tmp_path / "payroll.txt")


def test_statements_table_row_count(maker: Workspace, tmp_path: Path) -> None:
    statement_service.export_statements(maker, PERIOD, tmp_path / "out", ["pdf", "xlsx"])
    with maker.read() as connection:
        rows = connection.execute(select(statements)).all()
    assert len(rows) == 4


def test_cli_statements_writes_files(maker: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = cli.main(["statements", str(maker.path), "--period", PERIOD, "--out", str(tmp_path / "cli"),
                     "--format", "pdf"])
    output = capsys.readouterr().out
    assert code == 0
    assert "wrote 2 files for 2 statements of 2017-Q3" in output
    assert "2 of them marked DRAFT" in output


def test_cli_statements_bad_format_is_usage_error(maker: Workspace, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["statements", str(maker.path), "--period", PERIOD, "--out", str(tmp_path), "--format", "docx"])
    assert raised.value.code == 2


def test_cli_payroll_rejects_unapproved(maker: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = cli.main(["payroll", str(maker.path), "--period", PERIOD, "-o", str(tmp_path / "payroll.csv")])
    assert code == 1
    assert "not approved" in capsys.readouterr().err


def test_cli_payroll_of_approved_period(approved: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = cli.main(["payroll", str(approved.path), "--period", PERIOD, "-o", str(tmp_path / "payroll.xlsx")])
    captured = capsys.readouterr()
    assert code == 0
    assert "wrote 2 payroll rows of 2017-Q3" in captured.out
    assert "participant P/1010 has no payroll_id" in captured.err
