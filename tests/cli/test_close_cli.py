"""``spm approve``, ``close``, ``periods``, ``adjust`` and ``inquiry`` as a user runs them."""

import csv
import io
import json

import pytest
from ae_plan import METRICS

from spm_desktop.cli import main
from spm_desktop.services import period_service
from spm_desktop.services.context import Workspace
from spm_desktop.store.tables.records import participants


@pytest.fixture
def ws(tmp_path):
    path = tmp_path / "close.spm"
    with Workspace.create(path, user="maker") as created, created.transaction() as unit:
        unit.connection.execute(participants.insert(), [
            {"participant_id": "P1", "name": "Ana Diaz", "currency": "USD",
             "record_key": '["P1"]'},
        ])
        # Stands in for 'spm calc' by maker until a plan is loaded in these tests.
        period_service.record_calculation(unit, "2017-Q1", 1)
    return str(path)


def test_approve_by_maker_exits_1(ws, capsys):
    assert main(["--user", "maker", "approve", ws, "--period", "2017-Q1"]) == 1
    assert "another user must approve it" in capsys.readouterr().err


def test_approve_and_close_by_checker(ws, capsys):
    assert main(["--user", "checker", "approve", ws, "--period", "2017-Q1"]) == 0
    assert "2017-Q1 approved by checker (run 1)" in capsys.readouterr().out
    assert main(["--user", "checker", "close", ws, "--period", "2017-Q1"]) == 0
    assert "2017-Q1 closed by checker" in capsys.readouterr().out


def test_close_unapproved_exits_1(ws, capsys):
    assert main(["--user", "checker", "close", ws, "--period", "2017-Q1"]) == 1
    assert "calculated, not approved" in capsys.readouterr().err


def test_close_prints_warnings(ws, capsys):
    assert main(["inquiry", "add", ws, "--participant", "P1", "--period", "2017-Q1", "--text", "Where is D-9?"]) == 0
    main(["--user", "checker", "approve", ws, "--period", "2017-Q1"])
    capsys.readouterr()
    assert main(["--user", "checker", "close", ws, "--period", "2017-Q1"]) == 0
    assert "warning: 1 inquiries about 2017-Q1 are not resolved yet" in capsys.readouterr().err


def test_periods_csv(ws, capsys):
    assert main(["periods", ws, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["period"] == "2017-Q1"
    assert rows[0]["state"] == "calculated"
    assert rows[0]["calculated_by"] == "maker"
    assert rows[0]["start"] == "2017-01-01"


def test_adjust_add_approve_list(ws, capsys):
    assert main(["--user", "maker", "adjust", "add", ws, "--participant", "P1", "--period", "2017-Q2",
                 "--amount", "-125.50", "--reason", "CLAWBACK_FIX", "--note", "returned order"]) == 0
    assert "adjustment 1 recorded: -125.50 USD for P1 in 2017-Q2" in capsys.readouterr().out
    assert main(["--user", "maker", "adjust", "approve", ws, "1"]) == 1
    assert "another user must approve it" in capsys.readouterr().err
    assert main(["--user", "checker", "adjust", "approve", ws, "1"]) == 0
    assert "adjustment 1 approved by checker" in capsys.readouterr().out
    assert main(["adjust", "list", ws, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["amount"] == "-125.50"
    assert listed[0]["status"] == "approved"
    assert listed[0]["note"] == "returned order"


def test_adjust_closed_period_exits_1(ws, capsys):
    main(["--user", "checker", "approve", ws, "--period", "2017-Q1"])
    main(["--user", "checker", "close", ws, "--period", "2017-Q1"])
    capsys.readouterr()
    assert main(["adjust", "add", ws, "--participant", "P1", "--period", "2017-Q1", "--amount", "5",
                 "--reason", "LATE"]) == 1
    assert "2017-Q1 is closed" in capsys.readouterr().err


def test_adjust_missing_option_is_usage_error(ws):
    with pytest.raises(SystemExit) as raised:
        main(["adjust", "add", ws, "--participant", "P1", "--period", "2017-Q2", "--amount", "5"])
    assert raised.value.code == 2


def test_adjust_stage_imported_records(ws, tmp_path, capsys):
    source = tmp_path / "adjustments.csv"
    source.write_text("participant_id,period,amount,currency,reason_code,note\n"
                      "P1,2017-Q2,-80.25,USD,RETURN,order 4711 returned\n", encoding="utf-8")
    assert main(["import", ws, "adjustments", str(source)]) == 0
    assert main(["--user", "maker", "adjust", "stage", ws]) == 0
    assert "staged 1 imported adjustments (ids 1)" in capsys.readouterr().out
    assert main(["adjust", "stage", ws]) == 0
    assert "staged 0 imported adjustments" in capsys.readouterr().out
    assert main(["adjust", "list", ws, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["amount"] == "-80.25"
    assert listed[0]["source"] == "import"
    assert listed[0]["status"] == "pending"


def test_adjust_stage_skips_closed_period(ws, tmp_path, capsys):
    main(["--user", "checker", "approve", ws, "--period", "2017-Q1"])
    main(["--user", "checker", "close", ws, "--period", "2017-Q1"])
    source = tmp_path / "adjustments.csv"
    source.write_text("participant_id,period,amount,reason_code\nP1,2017-Q2,10,OK\nP1,2017-Q1,20,LATE\n",
                      encoding="utf-8")
    assert main(["import", ws, "adjustments", str(source)]) == 0
    capsys.readouterr()
    assert main(["adjust", "stage", ws]) == 1
    captured = capsys.readouterr()
    assert "2017-Q1 is closed" in captured.err
    assert "staged 1 imported adjustments (ids 1)" in captured.out


def test_inquiry_lifecycle(ws, capsys):
    assert main(["inquiry", "add", ws, "--participant", "P1", "--period", "2017-Q2",
                 "--text", "My May deal is missing"]) == 0
    assert "inquiry 1 logged for P1 about 2017-Q2" in capsys.readouterr().out
    assert main(["inquiry", "answer", ws, "1", "--text", "It was credited to Ben"]) == 0
    assert main(["--user", "maker", "inquiry", "resolve", ws, "1", "--text", "Credited",
                 "--amount", "450", "--reason", "MISSED_CREDIT"]) == 0
    assert "adjustment 1 awaits approval" in capsys.readouterr().out
    assert main(["inquiry", "list", ws, "--state", "resolved", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["adjustment"] == "1"
    assert rows[0]["state"] == "resolved"


def test_inquiry_resolve_amount_without_reason(ws, capsys):
    main(["inquiry", "add", ws, "--participant", "P1", "--period", "2017-Q2", "--text", "?"])
    assert main(["inquiry", "resolve", ws, "1", "--text", "x", "--amount", "5"]) == 2
    assert "--amount and --reason go together" in capsys.readouterr().err


PLAN = """\
plan: AE
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31
currency: USD
period: quarter
participants: {role: AE}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    quota: bookings
    tiers:
      method: marginal
      by: attainment
      bands:
        - {from: 0, rate: 0.05}
        - {from: 1.0, rate: 0.10}
"""

FILES = {
    "participants.csv": "participant_id,name,role,currency,hire_date\nP1,Ana Diaz,AE,USD,2016-01-04\n",
    "quotas.csv": "participant_id,quota_key,period,amount,currency\n"
                  "P1,bookings,2017-Q1,100000,USD\nP1,bookings,2017-Q2,100000,USD\n",
    # Q1: 90,000 at 5% = 4,500.00. Q2: 50,000 at 5% = 2,500.00.
    "deals.csv": "deal_id,owner,amount,currency,close_date,stage\n"
                 "D1,P1,60000,USD,2017-01-10,Won\nD2,P1,30000,USD,2017-02-10,Won\nD4,P1,50000,USD,2017-05-10,Won\n",
    # Imported after the close: Q1 becomes 110,000 -> 5,000 + 1,000 = 6,000.00, so Q2 pays +1,500.00.
    "late.csv": "deal_id,owner,amount,currency,close_date,stage\nD3,P1,20000,USD,2017-01-05,Won\n",
    "metrics.yaml": METRICS,
    "plan.yaml": PLAN,
}


@pytest.mark.slow
def test_quarter_close_end_to_end(tmp_path, capsys):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    ws = str(tmp_path / "e2e.spm")
    assert main(["init", ws]) == 0
    for record_set in ("participants", "quotas", "deals"):
        assert main(["import", ws, record_set, str(tmp_path / f"{record_set}.csv")]) == 0
    assert main(["metrics", "load", ws, str(tmp_path / "metrics.yaml")]) == 0
    assert main(["plan", "load", ws, str(tmp_path / "plan.yaml")]) == 0
    assert main(["--user", "maker", "calc", ws, "--period", "2017-Q1"]) == 0
    assert main(["--user", "maker", "approve", ws, "--period", "2017-Q1"]) == 1
    assert main(["--user", "checker", "approve", ws, "--period", "2017-Q1"]) == 0
    assert main(["--user", "checker", "close", ws, "--period", "2017-Q1"]) == 0
    assert main(["--user", "maker", "calc", ws, "--period", "2017-Q1"]) == 1
    assert "2017-Q1 is closed" in capsys.readouterr().err

    assert main(["import", ws, "deals", str(tmp_path / "late.csv")]) == 0
    assert main(["--user", "maker", "calc", ws, "--period", "2017-Q2"]) == 0
    capsys.readouterr()
    assert main(["adjust", "list", ws, "--source", "prior_period", "--format", "csv"]) == 0
    adjustments = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(row["participant_id"], row["amount"], row["source_period"]) for row in adjustments] == [
        ("P1", "1500.00", "2017-Q1")]
    assert "late deal" in adjustments[0]["note"]
    assert main(["results", ws, "--period", "2017-Q2", "--format", "csv"]) == 0
    results = {row["component"]: row["earnings"] for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert results["Adjustments"] == "1500.00"
    assert results["TOTAL"] == "4000.00"
    assert main(["results", ws, "--period", "2017-Q1", "--format", "csv"]) == 0
    closed = {row["component"]: row["earnings"] for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert closed["TOTAL"] == "4500.00"
    assert main(["audit", "verify", ws]) == 0


def test_adjust_add_warns_without_plan(ws, capsys):
    assert main(["--user", "maker", "adjust", "add", ws, "--participant", "P1", "--period", "2017-Q2",
                 "--amount", "50", "--reason", "MISSED_DEAL"]) == 0
    assert "warning: no active plan is in force in 2017-Q2" in capsys.readouterr().err


def test_adjust_add_quiet_with_plan(ws, capsys):
    from pathlib import Path

    from spm_desktop.services import metric_service, plan_service
    from spm_desktop.services.context import Workspace

    demo = Path(__file__).resolve().parents[2] / "resources" / "demo"
    with Workspace.open(ws, "maker") as workspace:
        metric_service.load_yaml(workspace, (demo / "metrics.yaml").read_text(encoding="utf-8"))
        plan_service.load(workspace, (demo / "plan-agent.yaml").read_text(encoding="utf-8"), source="plan-agent.yaml")
    capsys.readouterr()
    assert main(["--user", "maker", "adjust", "add", ws, "--participant", "P1", "--period", "2017-Q2",
                 "--amount", "50", "--reason", "MISSED_DEAL"]) == 0
    assert "warning" not in capsys.readouterr().err
