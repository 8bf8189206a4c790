"""A run whose calculation reported errors cannot be approved, so it is never paid."""

from __future__ import annotations

from pathlib import Path

import pytest

from spm_desktop.services import calc_service, close_service, import_service, metric_service, plan_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ConflictError

PARTICIPANTS = "participant_id,name,role\nA1,Ann Example,Sales Agent\n"
DEALS = "deal_id,owner,amount,close_date,stage\nD1,A1,1000.00,2017-08-01,Won\n"
METRICS = """metrics:
  - {key: bookings, name: Bookings, owner: Finance, tier: primary, source: deals, filter: 'stage == "Won"',
     value: sum(amount), date: close_date, unit: currency, status: approved}
"""
PLAN = """plan: Kicker plan
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31
currency: USD
period: quarter
participants: {role: Sales Agent}
components:
  - name: Kicker
    type: formula
    metric: bookings
    expression: "{expression}"
"""


def _workspace(path: Path, tmp_path: Path, expression: str) -> Workspace:
    workspace = Workspace.open(path, "alice")
    for record_set, content in (("participants", PARTICIPANTS), ("deals", DEALS)):
        source = tmp_path / f"{record_set}.csv"
        source.write_text(content, encoding="utf-8")
        import_service.commit(workspace, import_service.ImportRequest(record_set, source))
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN.replace("{expression}", expression), source="plan.yaml")
    return workspace


def test_run_with_formula_error_cannot_be_approved(workspace_path: Path, tmp_path: Path) -> None:
    with _workspace(workspace_path, tmp_path, "credit / 0") as workspace:
        calc_service.calculate(workspace, "2017-Q3")
        with pytest.raises(ConflictError, match="calculation error"):
            close_service.approve(workspace.as_user("bob"), "2017-Q3")


def test_run_without_errors_can_be_approved(workspace_path: Path, tmp_path: Path) -> None:
    with _workspace(workspace_path, tmp_path, "credit * 0.01") as workspace:
        calc_service.calculate(workspace, "2017-Q3")
        approved = close_service.approve(workspace.as_user("bob"), "2017-Q3")
    assert approved.state == "approved"


def test_overlapping_plan_rejected_at_load(workspace_path: Path, tmp_path: Path) -> None:
    from spm_desktop.services.errors import ValidationError

    with _workspace(workspace_path, tmp_path, "credit * 0.01") as workspace:
        overlapping = PLAN.replace("Kicker plan", "Second plan").replace("{expression}", "credit * 0.02")
        with pytest.raises(ValidationError) as raised:
            plan_service.load(workspace, overlapping, source="second.yaml")
    messages = " ".join(problem.message for problem in raised.value.problems)
    assert "Kicker plan" in messages
    assert "Second plan" in messages


def test_new_version_of_same_plan_is_not_a_conflict(workspace_path: Path, tmp_path: Path) -> None:
    with _workspace(workspace_path, tmp_path, "credit * 0.01") as workspace:
        second = PLAN.replace("version: 1", "version: 2").replace("{expression}", "credit * 0.02")
        result = plan_service.load(workspace, second, source="v2.yaml")
    assert result.plan.version == 2


def test_calc_cli_exits_1_on_calculation_errors(workspace_path: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from spm_desktop.cli import main

    _workspace(workspace_path, tmp_path, "credit / 0").close()
    assert main(["--user", "alice", "calc", str(workspace_path), "--period", "2017-Q3"]) == 1
    assert "cannot be approved" in capsys.readouterr().err
