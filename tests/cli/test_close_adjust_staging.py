"""``spm adjust stage`` and ``spm adjust withdraw``: one bad imported row no longer blocks the others."""

import json

import pytest

from spm_desktop.cli import main
from spm_desktop.services import adjustment_service, close_service, period_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ConflictError, NotFoundError
from spm_desktop.store.tables.core import audit_log
from spm_desktop.store.tables.records import participants

ROWS = ("participant_id,period,amount,reason_code,note\n"
        "P1,2017-Q2,100.00,FIX,ok\n"
        "P1,2017-Q1,50.00,FIX,closed period\n"
        "P1,2017-Q2,0.001,FIX,below a cent\n")


@pytest.fixture
def ws(tmp_path):
    path = tmp_path / "close.spm"
    with Workspace.create(path, user="maker") as created:
        with created.transaction() as unit:
            unit.connection.execute(participants.insert(), [
                {"participant_id": "P1", "name": "Ana Diaz", "currency": "USD", "record_key": '["P1"]'}])
            period_service.record_calculation(unit, "2017-Q1", 1)
        close_service.approve(created.as_user("checker"), "2017-Q1")
        close_service.close(created.as_user("checker"), "2017-Q1")
    return str(path)


def _import(ws, tmp_path, text, name="adjustments.csv"):
    source = tmp_path / name
    source.write_text(text, encoding="utf-8")
    assert main(["import", ws, "adjustments", str(source)]) == 0


def _listed(ws, capsys):
    capsys.readouterr()
    assert main(["adjust", "list", ws, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_stage_keeps_valid_rows(ws, tmp_path, capsys):
    _import(ws, tmp_path, ROWS)
    capsys.readouterr()
    assert main(["--user", "maker", "adjust", "stage", ws]) == 1
    captured = capsys.readouterr()
    assert "staged 1 imported adjustments (ids 1)" in captured.out
    assert "2 imported adjustment rows were rejected" in captured.err
    assert [row["amount"] for row in _listed(ws, capsys)] == ["100.00"]


def test_stage_reports_row_reason_and_fix(ws, tmp_path, capsys):
    _import(ws, tmp_path, ROWS)
    capsys.readouterr()
    main(["adjust", "stage", ws])
    err = capsys.readouterr().err
    assert "row 3 of adjustments.csv: 2017-Q1 is closed" in err
    assert "row 4 of adjustments.csv: adjustment amount 0.001 has more decimals than USD allows (2)" in err
    assert "'spm adjust withdraw WORKSPACE 3'" in err


def test_withdrawn_rows_no_longer_block(ws, tmp_path, capsys):
    _import(ws, tmp_path, ROWS)
    main(["adjust", "stage", ws])
    _import(ws, tmp_path, "participant_id,period,amount,reason_code,note\nP1,2017-Q2,50.00,FIX,fixed\n", "fixed.csv")
    capsys.readouterr()
    assert main(["--user", "admin", "adjust", "withdraw", ws, "2", "--note", "typo"]) == 0
    assert "imported adjustment record 2 (row 3 of adjustments.csv) withdrawn" in capsys.readouterr().out
    assert main(["adjust", "withdraw", ws, "3"]) == 0
    capsys.readouterr()
    assert main(["adjust", "stage", ws]) == 0
    assert "staged 1 imported adjustments (ids 2)" in capsys.readouterr().out
    assert [row["amount"] for row in _listed(ws, capsys)] == ["50.00", "100.00"]


def test_withdraw_is_audited(ws, tmp_path):
    _import(ws, tmp_path, ROWS)
    with Workspace.open(ws, "admin") as workspace:
        adjustment_service.withdraw_imported(workspace, 3, "below a cent")
        with workspace.read() as connection:
            entry = connection.execute(audit_log.select().where(
                audit_log.c.action == adjustment_service.WITHDRAW_IMPORT_ACTION)).mappings().one()
    after = json.loads(entry["after"])
    assert entry["user"] == "admin"
    assert entry["entity_id"] == "3"
    assert after["amount"] == "0.001"
    assert after["note"] == "below a cent"


def test_withdraw_staged_record_rejected(ws, tmp_path):
    _import(ws, tmp_path, "participant_id,period,amount,reason_code\nP1,2017-Q2,10,OK\n")
    with Workspace.open(ws, "admin") as workspace:
        adjustment_service.stage_imported(workspace)
        with pytest.raises(ConflictError, match="already staged as a pending adjustment"):
            adjustment_service.withdraw_imported(workspace, 1)


def test_withdraw_unknown_record_exits_1(ws, capsys):
    assert main(["adjust", "withdraw", ws, "99"]) == 1
    assert "imported adjustment record 99 does not exist" in capsys.readouterr().err


def test_withdraw_twice_rejected(ws, tmp_path):
    _import(ws, tmp_path, ROWS)
    with Workspace.open(ws, "admin") as workspace:
        adjustment_service.withdraw_imported(workspace, 2)
        with pytest.raises(ConflictError, match="already withdrawn"):
            adjustment_service.withdraw_imported(workspace, 2)
        with pytest.raises(NotFoundError):
            adjustment_service.withdraw_imported(workspace, 42)


def test_unstaged_imports_lists_open_rows(ws, tmp_path):
    _import(ws, tmp_path, ROWS)
    with Workspace.open(ws, "admin") as workspace:
        adjustment_service.stage_imported(workspace)
        rows = adjustment_service.unstaged_imports(workspace)
    assert [row.record_id for row in rows] == [2, 3]
    assert rows[0].location() == "row 3 of adjustments.csv"
