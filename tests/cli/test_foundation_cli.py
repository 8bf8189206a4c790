"""``spm init``, ``spm audit verify`` and ``spm audit export`` as a user runs them."""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from spm_desktop.cli import main


def test_init_creates_workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ws.spm"
    assert main(["--user", "alice", "init", str(path)]) == 0
    assert "created" in capsys.readouterr().out
    assert path.exists()


def test_init_existing_file_is_user_error(workspace_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(workspace_path)]) == 1
    assert "already exists" in capsys.readouterr().err


def test_verify_ok_and_tampered(workspace_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", str(workspace_path)]) == 0
    assert "OK: 1 audit entries verified" in capsys.readouterr().out
    connection = sqlite3.connect(workspace_path)
    connection.execute("UPDATE audit_log SET user = 'mallory' WHERE seq = 1")
    connection.commit()
    connection.close()
    assert main(["audit", "verify", str(workspace_path)]) == 1
    assert "audit entry 1" in capsys.readouterr().err


def test_export_csv_and_xlsx(workspace_path: Path, tmp_path: Path) -> None:
    assert main(["audit", "export", str(workspace_path), "-o", str(tmp_path / "trail.csv")]) == 0
    with (tmp_path / "trail.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:4] == ["seq", "time_utc", "user", "action"]
    assert rows[1][3] == "workspace.create"
    assert main(["audit", "export", str(workspace_path), "-o", str(tmp_path / "trail.xlsx")]) == 0
    sheet = openpyxl.load_workbook(tmp_path / "trail.xlsx").active
    assert sheet.cell(2, 4).value == "workspace.create"
    # The csv export itself was audited before the xlsx export ran.
    assert sheet.cell(3, 4).value == "audit.export"


def test_export_rejects_unknown_format(workspace_path: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "export", str(workspace_path), "-o", str(tmp_path / "trail.pdf")]) == 1
    assert ".xlsx or .csv" in capsys.readouterr().err


def test_not_a_workspace_is_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n" * 40)
    assert main(["audit", "verify", str(path)]) == 1
    assert "not an SPM Desktop workspace" in capsys.readouterr().err


def test_usage_error_exits_2() -> None:
    result = subprocess.run([sys.executable, "-m", "spm_desktop.cli", "audit"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 2
    assert "usage" in result.stderr


def test_help_lists_commands() -> None:
    result = subprocess.run([sys.executable, "-m", "spm_desktop.cli", "--help"], capture_output=True, text=True,
                            check=True)
    for command in ("init", "audit"):
        assert command in result.stdout


def test_empty_user_is_usage_error(workspace_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "spm_desktop.cli", "--user", " ", "audit", "verify",
                             str(workspace_path)], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "--user is empty" in result.stderr
