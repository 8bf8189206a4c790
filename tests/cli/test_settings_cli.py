"""``spm settings`` as a user runs it: list, show, set, reset, and the exit codes of each failure."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from spm_desktop.cli import main
from spm_desktop.services import close_service, period_service
from spm_desktop.services.context import Workspace
from spm_desktop.store.tables.core import audit_log

METRIC_YAML = """\
metrics:
  - {key: bookings, name: Bookings, owner: Finance, tier: primary, source: deals, filter: 'stage == "Won"',
     value: sum(amount), date: close_date, unit: currency, status: approved}
"""
# A plan that states its own fiscal year start (April); it is rejected at calculation when the workspace's differs.
PLAN_YAML = """\
plan: AE Q
version: 1
effective_from: 2017-01-01
currency: USD
period: quarter
fiscal_start_month: 4
participants: {role: AE}
components:
  - {name: Bookings commission, type: commission, metric: bookings,
     tiers: {method: marginal, by: amount, bands: [{from: 0, rate: 0.05}]}}
"""


def _stored(path: Path, key: str) -> object:
    with Workspace.open(path, "tester") as workspace:
        return workspace.get_setting(key)


def test_list_shows_every_setting(workspace_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", str(workspace_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["setting", "value", "default", "source", "label"]
    assert "statements.page_size" in out
    assert "signals.behind_pace" in out


def test_list_csv_marks_stored(workspace_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", str(workspace_path), "currency", "EUR"]) == 0
    capsys.readouterr()
    assert main(["settings", str(workspace_path), "--format", "csv"]) == 0
    rows = {row["setting"]: row for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert rows["currency"]["value"] == "EUR"
    assert rows["currency"]["source"] == "stored"
    assert rows["company.name"]["source"] == "default"


def test_show_one_setting(workspace_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", str(workspace_path), "fiscal_year.start_month"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fiscal_year.start_month: 1 (default)")
    assert "allowed: a whole number from 1 to 12" in out


def test_show_one_as_json(workspace_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", str(workspace_path), "signals.open_stages", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["value"] == ["Prospecting", "Engaging"]
    assert shown["is_set"] is False


def test_set_stores_value(workspace_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", str(workspace_path), "statements.page_size", "letter"]) == 0
    assert "statements.page_size = Letter" in capsys.readouterr().out
    assert _stored(workspace_path, "statements.page_size") == "Letter"


def test_set_records_user_after_command(workspace_path: Path) -> None:
    assert main(["settings", str(workspace_path), "company.name", "Acme", "--user", "dana"]) == 0
    with Workspace.open(workspace_path, "tester") as workspace, workspace.read() as connection:
        user = connection.execute(select(audit_log.c.user).where(audit_log.c.entity_id == "company.name")).scalar()
    assert user == "dana"


def test_set_records_global_user(workspace_path: Path) -> None:
    assert main(["--user", "erin", "settings", str(workspace_path), "currency", "GBP"]) == 0
    with Workspace.open(workspace_path, "tester") as workspace, workspace.read() as connection:
        user = connection.execute(select(audit_log.c.user).where(audit_log.c.entity_id == "currency")).scalar()
    assert user == "erin"


def test_reset_restores_default(workspace_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", str(workspace_path), "review.late_window_weeks", "4"]) == 0
    assert main(["settings", str(workspace_path), "review.late_window_weeks", "--reset"]) == 0
    assert "reset to its default: 2" in capsys.readouterr().out
    assert _stored(workspace_path, "review.late_window_weeks") is None


def test_invalid_value_is_user_error(workspace_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", str(workspace_path), "fiscal_year.start_month", "13"]) == 1
    err = capsys.readouterr().err
    assert "invalid value '13' for setting fiscal_year.start_month" in err
    assert "from 1 to 12" in err


def test_unknown_key_is_user_error(workspace_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", str(workspace_path), "page_size", "A4"]) == 1
    assert "did you mean statements.page_size" in capsys.readouterr().err


def test_reset_with_value_is_usage_error(workspace_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", str(workspace_path), "currency", "EUR", "--reset"]) == 2
    assert "--reset needs KEY and no VALUE" in capsys.readouterr().err


def test_reset_without_key_is_usage_error(workspace_path: Path) -> None:
    assert main(["settings", str(workspace_path), "--reset"]) == 2


def test_missing_workspace_is_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", str(tmp_path / "none.spm")]) == 1
    assert "none.spm" in capsys.readouterr().err


def test_fiscal_change_after_close_is_user_error(workspace_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Workspace.open(workspace_path, "maker") as workspace:
        with workspace.transaction() as unit:
            period_service.record_calculation(unit, "2017-Q1", 1)
        close_service.approve(workspace.as_user("checker"), "2017-Q1")
        close_service.close(workspace.as_user("checker"), "2017-Q1")
    assert main(["settings", str(workspace_path), "fiscal_year.start_month", "4"]) == 1
    assert "closed period" in capsys.readouterr().err
    assert _stored(workspace_path, "fiscal_year.start_month") is None


def test_console_script_usage_error_exit_code() -> None:
    finished = subprocess.run([sys.executable, "-m", "spm_desktop.cli", "settings"], capture_output=True,
                              text=True, check=False)
    assert finished.returncode == 2
    assert "WS" in finished.stderr


def test_fiscal_change_warns_about_plan(workspace_path: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "metrics.yaml").write_text(METRIC_YAML, encoding="utf-8")
    (tmp_path / "plan.yaml").write_text(PLAN_YAML, encoding="utf-8")
    assert main(["metrics", "load", str(workspace_path), str(tmp_path / "metrics.yaml")]) == 0
    assert main(["plan", "load", str(workspace_path), str(tmp_path / "plan.yaml")]) == 0
    capsys.readouterr()
    assert main(["settings", str(workspace_path), "fiscal_year.start_month", "7"]) == 0
    assert "warning: plan 'AE Q' sets fiscal_start_month 4" in capsys.readouterr().err
