"""The import, data and alias commands: output, exit codes and exported files."""

from __future__ import annotations

import csv

import openpyxl
from import_paths import MAVEN

from spm_desktop.cli import main


def test_import_prints_counts_and_problems(workspace_path, write_file, capsys):
    path = write_file("deals.csv", "deal_id,owner,amount\nD1,P1,\"1,234\"\n")
    code = main(["import", str(workspace_path), "deals", str(path)])
    output = capsys.readouterr().out
    assert code == 0
    assert "added 1, updated 0, unchanged 0, duplicates 0, rejected 0" in output
    assert "deals.csv, row 2, column amount: warning ambiguous_decimal_mark" in output


def test_rejected_rows_exit_1_and_write_nothing(workspace_path, write_file, capsys):
    path = write_file("deals.csv", "deal_id,owner,amount\nD1,P1,100\nD2,P1,abc\n")
    code = main(["import", str(workspace_path), "deals", str(path)])
    error = capsys.readouterr().err
    assert code == 1
    assert "deals.csv, row 3, column amount: error invalid_amount (value 'abc')" in error
    assert main(["data", "counts", str(workspace_path)]) == 0
    assert "deals          0" in capsys.readouterr().out


def test_accept_valid_imports_the_rest(workspace_path, write_file, capsys):
    path = write_file("deals.csv", "deal_id,owner,amount\nD1,P1,100\nD2,P1,abc\n")
    code = main(["import", str(workspace_path), "deals", str(path), "--accept-valid"])
    assert code == 0
    assert "added 1, updated 0, unchanged 0, duplicates 0, rejected 1" in capsys.readouterr().out


def test_mapping_and_reference_options(workspace_path, write_file, capsys):
    mapping = write_file("m.yaml", "record_set: opportunities\ncolumns: {deal_id: opportunity_id, owner: sales_agent, "
                                   "product: product, amount: close_value}\n")
    code = main(["import", str(workspace_path), "opportunities", str(MAVEN / "sales_pipeline.csv"), "--mapping",
                 str(mapping), "--reference", f"product={MAVEN / 'products.csv'}:product"])
    output = capsys.readouterr().out
    assert code == 0
    assert "added 8800" in output
    assert "unknown_product (value 'GTXPro')" in output


def test_alias_add_and_list(workspace_path, capsys):
    assert main(["alias", "add", str(workspace_path), "deals", "product", "GTXPro", "GTX Pro"]) == 0
    assert main(["alias", "list", str(workspace_path)]) == 0
    assert "deals       product  GTXPro  GTX Pro" in capsys.readouterr().out


def test_alias_on_amount_is_a_user_error(workspace_path, capsys):
    assert main(["alias", "add", str(workspace_path), "deals", "amount", "1", "2"]) == 1
    assert "aliases apply to text and identifier fields" in capsys.readouterr().err


def test_unknown_record_set_is_a_user_error(workspace_path, write_file, capsys):
    path = write_file("deals.csv", "deal_id,owner\nD1,P1\n")
    assert main(["import", str(workspace_path), "orders", str(path)]) == 1
    assert "unknown record set 'orders'" in capsys.readouterr().err


def test_export_csv_fields_then_attributes(workspace_path, write_file, tmp_path, capsys):
    path = write_file("deals.csv", "deal_id,owner,amount,close_date,region\nD1,P1,41.9136,2024-03-05,=cmd()\n")
    main(["import", str(workspace_path), "deals", str(path)])
    target = tmp_path / "out.csv"
    assert main(["data", "export", str(workspace_path), "deals", "-o", str(target)]) == 0
    with target.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:4] == ["deal_id", "line_id", "owner", "amount"]
    assert rows[0][-1] == "region"
    assert rows[1][3] == "41.91"
    assert rows[1][5] == "2024-03-05"
    assert rows[1][-1] == "'=cmd()"


def test_export_xlsx(workspace_path, write_file, tmp_path):
    path = write_file("q.csv", "participant_id,quota_key,period,amount\n007,bookings,2024-Q1,5000\n")
    main(["import", str(workspace_path), "quotas", str(path)])
    target = tmp_path / "quotas.xlsx"
    assert main(["data", "export", str(workspace_path), "quotas", "-o", str(target)]) == 0
    sheet = openpyxl.load_workbook(target).active
    assert [cell.value for cell in sheet[1]] == ["participant_id", "quota_key", "period", "amount", "currency"]
    assert [cell.value for cell in sheet[2]][:4] == ["007", "bookings", "2024-Q1", 5000]
