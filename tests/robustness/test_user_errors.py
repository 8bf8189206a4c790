"""Locked and read-only workspaces, extreme plan numbers, reserved names, formula text: messages, not tracebacks."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess

import pytest
from robustness_support import PLAN, run_cli

from spm_desktop.store import workspace as store


def test_locked_workspace_message(workspace_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 200)
    other_writer = sqlite3.connect(workspace_file, isolation_level=None)
    other_writer.execute("BEGIN EXCLUSIVE")
    try:
        code, _out, err = run_cli(capsys, "plan", "load", workspace_file, _plan_file(tmp_path, "version: 2"))
    finally:
        other_writer.execute("ROLLBACK")
        other_writer.close()
    assert code == 1
    assert "is locked by another program" in err
    assert "Traceback" not in err


def test_locked_workspace_unchanged(workspace_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 200)
    other_writer = sqlite3.connect(workspace_file, isolation_level=None)
    other_writer.execute("BEGIN EXCLUSIVE")
    try:
        run_cli(capsys, "plan", "load", workspace_file, _plan_file(tmp_path, "version: 2"))
    finally:
        other_writer.execute("ROLLBACK")
        other_writer.close()
    _code, out, _err = run_cli(capsys, "plan", "list", workspace_file)
    assert len(out.splitlines()) == 2


@pytest.fixture
def immutable_workspace(workspace_file):
    """The workspace with the file system's immutable flag set (needs chattr and the right to use it)."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    if subprocess.run(["chattr", "+i", str(workspace_file)], capture_output=True, check=False).returncode != 0:
        pytest.skip("this file system or user cannot set the immutable flag")
    yield workspace_file
    subprocess.run(["chattr", "-i", str(workspace_file)], check=True)


def test_immutable_workspace_message(immutable_workspace, tmp_path, capsys):
    code, _out, err = run_cli(capsys, "plan", "load", immutable_workspace, _plan_file(tmp_path, "version: 2"))
    assert code == 1
    assert "cannot be written" in err
    assert "Traceback" not in err


def _plan_file(tmp_path, version_line: str, old: str = "", new: str = ""):
    path = tmp_path / "plan-changed.yaml"
    text = PLAN.replace("version: 1", version_line)
    path.write_text(text.replace(old, new) if old else text, encoding="utf-8")
    return path


def test_huge_band_rate_rejected(workspace_file, tmp_path, capsys):
    plan = _plan_file(tmp_path, "version: 2", "rate: 0.04", "rate: 1e20")
    code, _out, err = run_cli(capsys, "plan", "load", workspace_file, plan)
    assert code == 1
    assert "band 1 rate 1E+20 has more than 15 integer digits" in err


def test_infinite_band_rate_rejected(workspace_file, tmp_path, capsys):
    plan = _plan_file(tmp_path, "version: 2", "rate: 0.04", "rate: .inf")
    code, _out, err = run_cli(capsys, "plan", "load", workspace_file, plan)
    assert code == 1
    assert "Traceback" not in err


def test_largest_band_rate_accepted(workspace_file, tmp_path, capsys):
    plan = _plan_file(tmp_path, "version: 2", "rate: 0.04", "rate: 999999999999999.99")
    code, _out, err = run_cli(capsys, "plan", "load", workspace_file, plan)
    assert code == 0, err


@pytest.mark.parametrize("name", ["TOTAL", "total", "Adjustments", "DRAW", " Draw "])
def test_reserved_component_rejected(workspace_file, tmp_path, capsys, name):
    plan = _plan_file(tmp_path, "version: 2", "name: Commission", f"name: '{name}'")
    code, _out, err = run_cli(capsys, "plan", "load", workspace_file, plan)
    assert code == 1
    assert "is reserved" in err
    assert f"component name {name!r}" in err


def test_calc_overflow_message(workspace_file, tmp_path, capsys):
    big = tmp_path / "big.csv"
    big.write_text("deal_id,owner,amount,currency,close_date,created_date,stage\n"
                   "BIG1,P1,99999999999999,USD,2017-02-01,2017-01-01,Won\n", encoding="utf-8")
    assert run_cli(capsys, "import", workspace_file, "deals", big)[0] == 0
    plan = _plan_file(tmp_path, "version: 2", "rate: 0.04", "rate: 99999")
    assert run_cli(capsys, "plan", "load", workspace_file, plan)[0] == 0
    code, _out, err = run_cli(capsys, "calc", workspace_file, "--period", "2017-Q1")
    assert code == 1
    assert "too large to store" in err
    assert "Traceback" not in err


def test_huge_adjustment_message(workspace_file, capsys):
    code, _out, err = run_cli(capsys, "adjust", "add", workspace_file, "--participant", "P1", "--period", "2017-Q1",
                              "--amount", "99999999999999999999999999", "--reason", "FIX")
    assert code == 1
    assert "has more than 14 integer digits" in err
    assert "Traceback" not in err


def test_huge_deal_amount_message(workspace_file, tmp_path, capsys):
    big = tmp_path / "big.csv"
    big.write_text("deal_id,owner,amount,currency,close_date,created_date,stage\n"
                   "BIG1,P1,922337203685477.5808,USD,2017-02-01,2017-01-01,Won\n", encoding="utf-8")
    code, _out, err = run_cli(capsys, "import", workspace_file, "deals", big)
    assert code == 1
    assert "Traceback" not in err


FORMULA_NAME = '=HYPERLINK("http://example.invalid","pay")'


@pytest.fixture
def formula_name_file(workspace_file, tmp_path, capsys):
    """The workspace with participant P2 named like a spreadsheet formula, calculated for 2017-Q1."""
    renamed = tmp_path / "renamed.csv"
    renamed.write_text("participant_id,name,role,hire_date,currency\n"
                       f'P2,"{FORMULA_NAME.replace(chr(34), chr(34) * 2)}",Sales Agent,2016-01-01,USD\n',
                       encoding="utf-8")
    code, _out, err = run_cli(capsys, "import", workspace_file, "participants", renamed)
    assert code == 0, err
    run_cli(capsys, "calc", workspace_file, "--period", "2017-Q1")
    return workspace_file


def test_results_csv_neutralises_name(formula_name_file, capsys):
    _code, out, _err = run_cli(capsys, "results", formula_name_file, "--period", "2017-Q1", "--format", "csv")
    assert "P2,\"'=HYPERLINK(\"\"http://example.invalid\"\",\"\"pay\"\")\",2017-Q1" in out


def test_results_csv_keeps_layout(formula_name_file, capsys):
    _code, out, _err = run_cli(capsys, "results", formula_name_file, "--period", "2017-Q1", "--format", "csv")
    lines = out.splitlines()
    assert lines[0] == "participant_id,participant_name,period,plan,component,metric_value,quota,attainment,earnings,currency"
    assert lines[1] == "P1,Ana Diaz,2017-Q1,Flat 2017,Commission,1200.00,,,48.00,USD"


def test_results_table_neutralises_name(formula_name_file, capsys):
    _code, out, _err = run_cli(capsys, "results", formula_name_file, "--period", "2017-Q1")
    assert "'=HYPERLINK" in out
