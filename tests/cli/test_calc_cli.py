"""``spm plan``, ``spm calc`` and ``spm results`` as a user runs them, on a workspace built with ``spm``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from spm_desktop.cli import main

PARTICIPANTS = """\
participant_id,name,role,hire_date,currency
P1,Ana Diaz,Sales Agent,2016-01-01,USD
P2,Ben Ode,Sales Agent,2016-01-01,USD
P10,Cleo Ruiz,Sales Agent,2017-02-01,USD
"""

# Two EUR deals check the FX conversion (1.09 USD per EUR on 2017-03-10): 100.00 EUR = 109.00 USD.
DEALS = """\
deal_id,owner,amount,currency,close_date,stage
D1,P1,1000.00,USD,2017-01-15,Won
D2,P1,200.00,USD,2017-02-10,Won
D3,P2,100.00,EUR,2017-03-10,Won
D4,P2,50.00,USD,2017-03-11,Won
D5,P10,500.00,USD,2017-04-02,Won
"""

FX = """\
date,from_currency,to_currency,rate,rate_type
2017-03-10,EUR,USD,1.09,average
"""

METRICS = """\
metrics:
  - key: bookings
    name: Bookings
    owner: Finance
    tier: primary
    description: Won deal value, credited on the close date.
    source: deals
    filter: stage == "Won"
    value: sum(amount)
    date: close_date
    unit: currency
    status: approved
  - key: won_deals
    name: Won deals
    owner: Finance
    tier: supporting
    description: Number of won deals.
    source: deals
    filter: stage == "Won"
    value: count()
    date: close_date
    unit: count
    status: approved
"""

PLAN = """\
plan: Flat 2017
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31
currency: USD
period: quarter
participants: {role: Sales Agent}
components:
  - name: Commission
    type: commission
    metric: bookings
    tiers:
      method: flat
      by: amount
      bands:
        - {from: 0, rate: 0.04}
  - name: Deal SPIF
    type: spif
    metric: won_deals
    amount_per_unit: 25
"""

# Ana: (1,000 + 200) x 4% = 48.00 and 2 deals x 25 = 50.00. Ben: (109 + 50) x 4% = 6.36 and 50.00.
# Cleo (P10) was hired in February and closed nothing in Q1: rows with 0.00, sorted after P1 (code points).
RESULTS_Q1 = """\
participant_id,participant_name,period,plan,component,metric_value,quota,attainment,earnings,currency
P1,Ana Diaz,2017-Q1,Flat 2017,Commission,1200.00,,,48.00,USD
P1,Ana Diaz,2017-Q1,Flat 2017,Deal SPIF,2,,,50.00,USD
P1,Ana Diaz,2017-Q1,Flat 2017,TOTAL,,,,98.00,USD
P10,Cleo Ruiz,2017-Q1,Flat 2017,Commission,0.00,,,0.00,USD
P10,Cleo Ruiz,2017-Q1,Flat 2017,Deal SPIF,0,,,0.00,USD
P10,Cleo Ruiz,2017-Q1,Flat 2017,TOTAL,,,,0.00,USD
P2,Ben Ode,2017-Q1,Flat 2017,Commission,159.00,,,6.36,USD
P2,Ben Ode,2017-Q1,Flat 2017,Deal SPIF,2,,,50.00,USD
P2,Ben Ode,2017-Q1,Flat 2017,TOTAL,,,,56.36,USD
"""


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main(["--user", "maker", *[str(arg) for arg in args]])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def workspace_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "cli.spm"
    assert _run(capsys, "init", path)[0] == 0
    for record_set, content in (("participants", PARTICIPANTS), ("deals", DEALS), ("fx_rates", FX)):
        source = tmp_path / f"{record_set}.csv"
        source.write_text(content, encoding="utf-8")
        code, _out, err = _run(capsys, "import", path, record_set, source)
        assert code == 0, err
    metrics = tmp_path / "metrics.yaml"
    metrics.write_text(METRICS, encoding="utf-8")
    assert _run(capsys, "metrics", "load", path, metrics)[0] == 0
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    code, out, err = _run(capsys, "plan", "load", path, plan, "--reason", "first version")
    assert code == 0, err
    assert "stored plan 'Flat 2017' version 1" in out
    return path


def test_results_csv_exact(workspace_file, capsys):
    code, out, err = _run(capsys, "calc", workspace_file, "--period", "2017-Q1")
    assert code == 0, err
    assert "2017-Q1: run 1, 3 participants" in out
    code, out, _err = _run(capsys, "results", workspace_file, "--period", "2017-Q1", "--format", "csv")
    assert code == 0
    assert out == RESULTS_Q1


def test_results_json_rows(workspace_file, capsys):
    _run(capsys, "calc", workspace_file, "--period", "2017-Q1")
    code, out, _err = _run(capsys, "results", workspace_file, "--period", "2017-Q1", "--format", "json")
    rows = json.loads(out)
    assert code == 0
    assert rows[2] == {"participant_id": "P1", "participant_name": "Ana Diaz", "period": "2017-Q1",
                       "plan": "Flat 2017", "component": "TOTAL", "metric_value": "", "quota": "",
                       "attainment": "", "earnings": "98.00", "currency": "USD"}


def test_results_table_aligned(workspace_file, capsys):
    _run(capsys, "calc", workspace_file, "--period", "2017-Q1")
    code, out, _err = _run(capsys, "results", workspace_file, "--period", "2017-Q1")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith("participant_id  participant_name")
    assert len(lines) == 10


def test_year_label_calculates_quarters(workspace_file, capsys):
    code, out, _err = _run(capsys, "calc", workspace_file, "--period", "2017")
    assert code == 0
    assert [line.split(":")[0] for line in out.splitlines()] == ["2017-Q1", "2017-Q2", "2017-Q3", "2017-Q4"]


def test_results_before_calc_is_user_error(workspace_file, capsys):
    code, _out, err = _run(capsys, "results", workspace_file, "--period", "2017-Q1")
    assert code == 1
    assert "no calculation of 2017-Q1 is stored" in err


def test_invalid_period_is_user_error(workspace_file, capsys):
    code, _out, err = _run(capsys, "calc", workspace_file, "--period", "2017-Q5")
    assert code == 1
    assert "2017-Q5" in err


def test_missing_period_is_usage_error(workspace_file, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["calc", str(workspace_file)])
    assert raised.value.code == 2


def test_missing_fx_rate_reported(workspace_file, capsys, tmp_path):
    extra = tmp_path / "late.csv"
    extra.write_text("deal_id,owner,amount,currency,close_date,stage\nD9,P1,10.00,GBP,2017-03-20,Won\n",
                     encoding="utf-8")
    _run(capsys, "import", workspace_file, "deals", extra)
    code, _out, err = _run(capsys, "calc", workspace_file, "--period", "2017-Q1")
    assert code == 1
    assert "GBP" in err
    assert "2017-03-20" in err
    assert "cannot be approved" in err


def test_plan_export_round_trip(workspace_file, capsys, tmp_path):
    target = tmp_path / "exported.yaml"
    code, out, _err = _run(capsys, "plan", "export", workspace_file, "Flat 2017", "-o", target)
    assert code == 0
    assert "version 1" in out
    assert target.read_text(encoding="utf-8") == PLAN


def test_plan_list_and_diff(workspace_file, capsys, tmp_path):
    second = tmp_path / "plan2.yaml"
    second.write_text(PLAN.replace("version: 1", "version: 2").replace("rate: 0.04", "rate: 0.05"),
                      encoding="utf-8")
    assert _run(capsys, "plan", "load", workspace_file, second)[0] == 0
    code, out, _err = _run(capsys, "plan", "list", workspace_file)
    assert code == 0
    assert len(out.splitlines()) == 3
    code, out, _err = _run(capsys, "plan", "diff", workspace_file, "Flat 2017", "1", "2")
    assert code == 0
    assert "component 'Commission', tiers, bands, band 1, rate: 0.04 -> 0.05" in out


def test_plan_with_gap_rejected(workspace_file, capsys, tmp_path):
    gapped = tmp_path / "gapped.yaml"
    gapped.write_text(PLAN.replace("version: 1", "version: 2").replace(
        "method: flat", "method: retroactive").replace(
        "- {from: 0, rate: 0.04}", "- {from: 0, to: 1000, rate: 0.05}\n        - {from: 1001, rate: 0.08}"),
        encoding="utf-8")
    code, _out, err = _run(capsys, "plan", "load", workspace_file, gapped)
    assert code == 1
    assert "component 'Commission', band 1 (from 0): to 1000 must equal the next band's from 1001" in err


def test_plan_export_unknown_version(workspace_file, capsys, tmp_path):
    code, _out, err = _run(capsys, "plan", "export", workspace_file, "Flat 2017", "--version", "4",
                           "-o", tmp_path / "x.yaml")
    assert code == 1
    assert "has no version 4; stored versions: 1" in err


def test_audit_verify_names_edited_row(workspace_file, capsys):
    _run(capsys, "calc", workspace_file, "--period", "2017-Q1")
    connection = sqlite3.connect(workspace_file)
    row_id = connection.execute("SELECT id FROM results WHERE participant_id = 'P2' AND component = 'TOTAL'").fetchone()[0]
    connection.execute("UPDATE results SET earnings_minor = 99999 WHERE id = ?", (row_id,))
    connection.commit()
    connection.close()
    code, _out, err = _run(capsys, "audit", "verify", workspace_file)
    assert code == 1
    assert f"result row {row_id} of calculation run 1 was changed outside SPM Desktop" in err


def test_retired_plan_not_calculated(workspace_file, capsys):
    code, out, _err = _run(capsys, "plan", "status", workspace_file, "Flat 2017", "1", "retired",
                           "--reason", "replaced by the 2018 plan")
    assert code == 0
    assert "version 1 is retired" in out
    code, _out, err = _run(capsys, "calc", workspace_file, "--period", "2017-Q1")
    assert code == 1
    assert "no active plan is in force in 2017-Q1" in err


def test_plan_check_reports_conflict(workspace_file, capsys, tmp_path):
    assert _run(capsys, "plan", "check", workspace_file, "--period", "2017-Q1")[0] == 0
    other = tmp_path / "other.yaml"
    other.write_text(PLAN.replace("plan: Flat 2017", "plan: Second 2017").replace(
        "participants: {role: Sales Agent}", "participants: {ids: [P2]}"), encoding="utf-8")
    code, _out, err = _run(capsys, "plan", "load", workspace_file, other)
    assert code == 1
    assert "participant P2 is on plan 'Flat 2017' version 1 and plan 'Second 2017' version 1" in err
    assert _run(capsys, "plan", "check", workspace_file, "--period", "2017-Q1")[0] == 0
