"""Records dated outside the years pandas can hold are left out with an error, never a crash."""

from __future__ import annotations

import sqlite3

import pytest
from robustness_support import run_cli

from spm_desktop.services import calc_service, record_service, signal_service
from spm_desktop.services.context import Workspace


def test_load_frame_leaves_record_out(typo_deal_file):
    with Workspace.open(typo_deal_file, "tester") as workspace, workspace.read() as connection:
        frame = record_service.load_frame(connection, "deals")
    assert sorted(frame["deal_id"]) == ["D1", "D2", "D3"]


def test_load_frame_describes_left_out_record(typo_deal_file):
    with Workspace.open(typo_deal_file, "tester") as workspace, workspace.read() as connection:
        frame = record_service.load_frame(connection, "deals")
    [problem] = record_service.unusable_date_problems(frame)
    assert problem.severity == "error"
    assert problem.code == "records.date_out_of_range"
    assert problem.file == "typo.csv"
    assert problem.row == 2
    assert problem.column == "close_date"
    assert problem.value == "3017-03-01"
    assert "deals record (deal_id TYPO1" in problem.message
    assert "correct the date and re-import the deals" in problem.message


def test_load_frame_keeps_edge_years(workspace_file, tmp_path, capsys):
    edge = tmp_path / "edge.csv"
    edge.write_text("deal_id,owner,amount,currency,close_date,created_date,stage\n"
                    "OLD,P1,1.00,USD,1678-01-01,1678-01-01,Won\n"
                    "NEW,P1,1.00,USD,2261-12-31,2261-12-31,Won\n"
                    "PAST,P1,1.00,USD,1977-12-31,1977-12-31,Won\n", encoding="utf-8")
    code, _out, err = run_cli(capsys, "import", workspace_file, "deals", edge)
    assert code == 0, err
    with sqlite3.connect(workspace_file) as connection:
        connection.execute("UPDATE records_deals SET close_date = '1677-12-31' WHERE deal_id = 'PAST'")
    with Workspace.open(workspace_file, "tester") as workspace, workspace.read() as connection:
        frame = record_service.load_frame(connection, "deals")
    assert "OLD" in set(frame["deal_id"])
    assert "NEW" in set(frame["deal_id"])
    assert "PAST" not in set(frame["deal_id"])


def test_calc_run_reports_error(typo_deal_file):
    with Workspace.open(typo_deal_file, "tester") as workspace:
        [summary] = calc_service.calculate(workspace, "2017-Q1")
    codes = [problem.code for problem in summary.problems if problem.severity == "error"]
    assert codes == ["records.date_out_of_range"]


def test_calc_pays_other_deals(typo_deal_file):
    with Workspace.open(typo_deal_file, "tester") as workspace:
        [summary] = calc_service.calculate(workspace, "2017-Q1")
    # (1,000 + 200 + 100) x 4% = 52.00; the deal dated 3017 is left out.
    assert str(summary.totals["USD"]) == "52.00"


def test_calc_cli_exit_code(typo_deal_file, capsys):
    code, _out, err = run_cli(capsys, "calc", typo_deal_file, "--period", "2017-Q1")
    assert code == 1
    assert "3017-03-01" in err
    assert "Traceback" not in err


def test_metrics_compare_reports_date(typo_deal_file, capsys):
    code, out, err = run_cli(capsys, "metrics", "compare", typo_deal_file, "bookings", "bookings_created",
                             "--period", "2017-Q1")
    assert code == 1
    assert "TOTAL" in out
    assert "records.date_out_of_range" in err


def test_metrics_value_reports_date(typo_deal_file, capsys):
    code, _out, err = run_cli(capsys, "metrics", "value", typo_deal_file, "bookings_created", "--period", "2017-Q1")
    assert code == 1
    assert "3017-03-01" in err


def test_signals_report_date(typo_deal_file):
    with Workspace.open(typo_deal_file, "tester") as workspace:
        report = signal_service.compute(workspace, "2017-Q1")
    codes = [problem.code for problem in report.problems]
    assert "records.date_out_of_range" in codes


@pytest.mark.parametrize("date", ["3017-03-01", "1677-12-31"])
def test_importer_rejects_unusable_year(workspace_file, tmp_path, capsys, date):
    typo = tmp_path / "typo.csv"
    typo.write_text("deal_id,owner,amount,currency,close_date,created_date,stage\n"
                    f"TYPO1,P1,500.00,USD,{date},2017-01-05,Won\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "import", workspace_file, "deals", typo)
    assert code == 1
    assert "date_out_of_range" in out + err


def test_importer_rejects_amount_beyond_fourteen_digits(workspace_file, tmp_path, capsys):
    big = tmp_path / "big.csv"
    big.write_text("deal_id,owner,amount,currency,close_date,created_date,stage\n"
                   "BIG1,P1,\"100,000,000,000,000.00\",USD,2017-02-01,2017-01-01,Won\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "import", workspace_file, "deals", big)
    assert code == 1
    assert "amount_too_large" in out + err
