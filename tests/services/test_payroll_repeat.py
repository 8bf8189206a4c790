"""Payroll export of plan periods that payroll already received: rejected, or repeated with a warning."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from spm_desktop import cli
from spm_desktop.services import close_service, payroll_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ConflictError
from spm_desktop.store.tables.core import audit_log

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "exporting"))
from statement_workspace import PERIOD, _calculate, create_statement_workspace


@pytest.fixture
def approved(tmp_path: Path):
    with create_statement_workspace(tmp_path / "statements.spm") as created:
        close_service.approve(created.as_user("checker"), PERIOD)
        yield created.as_user("finance")


def _exports(workspace: Workspace) -> list[dict]:
    with workspace.read() as connection:
        rows = connection.execute(select(audit_log.c.user, audit_log.c.after)
                                  .where(audit_log.c.action == payroll_service.EXPORT_ACTION)).all()
    return [{"user": user, **json.loads(after)} for user, after in rows]


def test_second_export_rejected(approved: Workspace, tmp_path: Path) -> None:
    payroll_service.export_payroll(approved, PERIOD, tmp_path / "first.csv")
    with pytest.raises(payroll_service.PayrollAlreadyExportedError) as raised:
        payroll_service.export_payroll(approved, PERIOD, tmp_path / "second.csv")
    message = str(raised.value)
    assert "payroll of 2017-Q3 was already exported by finance at" in message
    assert "file first.csv, total 4150.00 USD" in message
    assert "from the same approved run" in message
    assert not (tmp_path / "second.csv").exists()


def test_second_export_with_again_recorded(approved: Workspace, tmp_path: Path) -> None:
    first = payroll_service.export_payroll(approved, PERIOD, tmp_path / "first.csv")
    second = payroll_service.export_payroll(approved, PERIOD, tmp_path / "second.csv", again=True)
    assert second.file_sha256 == first.file_sha256
    assert [entry.file_name for entry in second.earlier] == ["first.csv"]
    recorded = _exports(approved)
    assert [entry["again"] for entry in recorded] == [False, True]
    assert recorded[1]["totals"] == {"USD": "4150.00"}
    assert recorded[1]["period"] == PERIOD


def test_superseded_exported_run_rejected(approved: Workspace, tmp_path: Path) -> None:
    payroll_service.export_payroll(approved, PERIOD, tmp_path / "first.csv")
    run_id = _calculate(approved.as_user("maker"))
    with pytest.raises(ConflictError) as raised:
        payroll_service.export_payroll(approved, PERIOD, tmp_path / "second.csv", again=True)
    message = str(raised.value)
    assert f"2017-Q3 was recalculated in run {run_id} after its approved payouts were exported" in message
    assert "approve it first" in message


def test_newly_approved_run_needs_again(approved: Workspace, tmp_path: Path) -> None:
    payroll_service.export_payroll(approved, PERIOD, tmp_path / "first.csv")
    _calculate(approved.as_user("maker"))
    close_service.approve(approved.as_user("checker"), PERIOD)
    with pytest.raises(payroll_service.PayrollAlreadyExportedError, match="from an earlier approved run"):
        payroll_service.export_payroll(approved, PERIOD, tmp_path / "second.csv")


def test_cli_repeat_exits_1_naming_earlier(approved: Workspace, tmp_path: Path, capsys) -> None:
    arguments = ["--user", "finance", "payroll", str(approved.path), "--period", PERIOD]
    assert cli.main([*arguments, "-o", str(tmp_path / "first.csv")]) == 0
    capsys.readouterr()
    assert cli.main([*arguments, "-o", str(tmp_path / "second.csv")]) == 1
    err = capsys.readouterr().err
    assert "already exported by finance at" in err
    assert "spm payroll --again" in err


def test_cli_again_warns_and_exits_0(approved: Workspace, tmp_path: Path, capsys) -> None:
    arguments = ["--user", "finance", "payroll", str(approved.path), "--period", PERIOD]
    assert cli.main([*arguments, "-o", str(tmp_path / "first.csv")]) == 0
    capsys.readouterr()
    assert cli.main([*arguments, "-o", str(tmp_path / "second.csv"), "--again"]) == 0
    captured = capsys.readouterr()
    assert "warning: payroll of 2017-Q3 was already exported by finance" in captured.err
    assert "wrote 2 payroll rows" in captured.out
    assert (tmp_path / "second.csv").exists()
