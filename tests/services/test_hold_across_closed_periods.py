"""A held part of a deal line survives later closed periods until its release date arrives."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from spm_desktop.services import calc_service, close_service, import_service, metric_service, plan_service
from spm_desktop.services.context import Workspace

PARTICIPANTS = "participant_id,name,role\nA1,Ann Example,Sales Agent\n"
DEALS_Q1 = "deal_id,owner,amount,close_date,stage,service_start_date\nD1,A1,1000.00,2017-02-10,Won,\n"
DEALS_Q3 = "deal_id,owner,amount,close_date,stage,service_start_date\nD1,A1,1000.00,2017-02-10,Won,2017-08-01\n"
METRICS = """metrics:
  - {key: bookings, name: Bookings, owner: Finance, tier: primary, source: deals, filter: 'stage == "Won"',
     value: sum(amount), date: close_date, unit: currency, status: approved}
"""
PLAN = """plan: Held plan
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
        - {from: 0, rate: 0.10}
    hold: {share: 0.5, until: service_start_date}
"""


def _import(workspace: Workspace, tmp_path: Path, record_set: str, content: str, name: str) -> None:
    source = tmp_path / name
    source.write_text(content, encoding="utf-8")
    import_service.commit(workspace, import_service.ImportRequest(record_set, source))


def _close(workspace: Workspace, label: str) -> None:
    calc_service.calculate(workspace, label)
    close_service.approve(workspace.as_user("checker"), label)
    close_service.close(workspace.as_user("checker"), label)


def _commission(workspace: Workspace, label: str) -> Decimal:
    rows = calc_service.period_results(workspace, label)
    return next(Decimal(str(row.earnings)) for row in rows if row.component == "Commission")


def test_hold_from_q1_released_in_q3_after_q2_closed(workspace_path: Path, tmp_path: Path) -> None:
    with Workspace.open(workspace_path, "maker") as workspace:
        _import(workspace, tmp_path, "participants", PARTICIPANTS, "participants.csv")
        _import(workspace, tmp_path, "deals", DEALS_Q1, "deals-q1.csv")
        metric_service.load_yaml(workspace, METRICS)
        plan_service.load(workspace, PLAN, source="plan.yaml")
        _close(workspace, "2017-Q1")
        _close(workspace, "2017-Q2")
        _import(workspace, tmp_path, "deals", DEALS_Q3, "deals-q3.csv")
        calc_service.calculate(workspace, "2017-Q3")
        q1 = _commission(workspace, "2017-Q1")
        q3 = _commission(workspace, "2017-Q3")
    # 10% of 1,000.00 is 100.00: half paid in Q1, the held half released in Q3.
    assert q1 == Decimal("50.00")
    assert q3 == Decimal("50.00")
