"""A workspace with one stored calculation of 2017-Q3, for the statement service, CLI and GUI tests.

The run is stored through ``calc_service.store_run`` from rows written here, with the
figures worked out in the comments, so these tests do not depend on the engine.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

from spm_desktop.domain.canonical import sha256_hex
from spm_desktop.domain.periods import parse_period
from spm_desktop.services import adjustment_service, calc_service, metric_service, plan_service
from spm_desktop.services.context import Workspace
from spm_desktop.store.tables.records import deals, participants, quotas

PERIOD = "2017-Q3"
PLAN = "Account Executive 2017"
HOSTILE = '=HYPERLINK("http://example.invalid","x")'
METRICS_YAML = """\
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
"""
PLAN_YAML = """\
plan: Account Executive 2017
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31
currency: USD
period: quarter
participants: {role: Sales Agent}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    quota: bookings
    tiers:
      method: marginal
      by: attainment
      bands:
        - {from: 0, rate: 0.03}
        - {from: 0.5, rate: 0.06}
draw: {amount: 2000, recoverable: true, year_end: carry_forward}
clawback: {window_days: 90, rate: original}
"""


def _person(participant_id: str, name: str, role: str, manager: str | None, payroll: str | None) -> dict:
    return {"participant_id": participant_id, "name": name, "role": role, "manager_id": manager,
            "payroll_id": payroll, "currency": "USD", "record_key": json.dumps([participant_id]),
            "row_hash": sha256_hex(participant_id)[:32]}


def _deal(row_id: int, deal_id: str, deal_type: str, amount: str, day: str, customer: str, product: str,
          reference: str | None = None) -> dict:
    return {"id": row_id, "deal_id": deal_id, "owner": "P-1007", "amount_e4": int(Decimal(amount) * 10_000),
            "currency": "USD", "close_date": day, "stage": "Won", "product": product, "customer": customer,
            "type": deal_type, "reference_deal_id": reference, "record_key": json.dumps([deal_id, deal_type]),
            "row_hash": sha256_hex(deal_id + deal_type)[:32]}


def _seed(workspace: Workspace) -> None:
    with workspace.transaction() as unit:
        unit.connection.execute(participants.insert(), [
            _person("P-0002", "Summer Sewald", "Sales Manager", None, "PR-000002"),
            _person("P-1007", "Darcel Schlecht", "Sales Agent", "P-0002", "PR-004512"),
            _person("P/1010", HOSTILE, "Sales Agent", "P-0002", None),
        ])
        unit.connection.execute(deals.insert(), [
            _deal(1, "Z063OYW0", "sale", "4514", "2017-07-05", "Isdom", "GTX Pro"),
            _deal(2, "N9ZRY2MS", "sale", "6000", "2017-08-02", "=cmd|' /C calc'!A0", "MG Advanced"),
            _deal(3, "Z063OYW0", "credit_note", "-4514", "2017-09-01", "Isdom", "GTX Pro", "Z063OYW0"),
        ])
        unit.connection.execute(quotas.insert(), [
            {"participant_id": "P-1007", "quota_key": "bookings", "period": PERIOD, "amount_e4": 200_000_000,
             "currency": "USD", "record_key": json.dumps(["P-1007", "bookings", PERIOD]), "row_hash": "0" * 32},
        ])
    metric_service.load_yaml(workspace, METRICS_YAML)
    plan_service.load(workspace, PLAN_YAML, source="plan.yaml")


def _result(kind: str, participant: str, name: str, component: str, earnings_minor: int, **extra: object) -> dict:
    row = {"row_kind": kind, "participant_id": participant, "participant_name": name, "period": PERIOD,
           "plan": PLAN, "plan_version": 1, "component": component, "metric_key": None, "metric_version": None,
           "metric_unit": None, "metric_value": None, "quota": None, "attainment": None,
           "earnings_minor": earnings_minor, "currency": "USD"}
    row.update(extra)
    return row


def _line(participant: str, kind: str, row_id: int | None, deal_id: str, day: str, credited: str,
          earnings_minor: int, bands: list[str], rates: list[str], exact: str) -> dict:
    return {"participant_id": participant, "plan": PLAN, "component": "Bookings commission", "line_kind": kind,
            "deal_row_id": row_id, "deal_id": deal_id, "line_id": None, "credit_date": dt.date.fromisoformat(day),
            "share": "1", "credit_kind": "owner", "via_participant_id": None, "amount": credited, "credited": credited,
            "deal_currency": "USD", "fx_rate": None, "bands": json.dumps(bands), "rates": json.dumps(rates),
            "exact_earnings": exact, "earnings_minor": earnings_minor, "paid_now_minor": earnings_minor,
            "held_minor": 0, "currency": "USD", "source_batch": None, "source_row": None,
            "note": None, "_result_key": (participant, PLAN, "Bookings commission")}


def _prepared_run() -> calc_service.PreparedRun:
    commission = {"metric_key": "bookings", "metric_version": 2, "metric_unit": "currency", "quota": "20000",
                  "metric_value": "6000", "attainment": "0.3"}
    result_rows = [
        # 135.42 + 180.00 - 135.42 = 180.00 (6,000 at 3% in band 1: quota 20,000, edge 10,000)
        _result("component", "P-1007", "Darcel Schlecht", "Bookings commission", 18000, **commission),
        # Draw 2,000.00 - 180.00 = 1,820.00 top-up; adjustments 150.00; TOTAL 2,150.00
        _result("draw", "P-1007", "Darcel Schlecht", "Draw", 182000),
        _result("adjustments", "P-1007", "Darcel Schlecht", "Adjustments", 15000),
        _result("total", "P-1007", "Darcel Schlecht", "TOTAL", 215000),
        _result("component", "P/1010", HOSTILE, "Bookings commission", 0, metric_key="bookings", metric_version=2,
                metric_unit="currency", metric_value="0", quota="20000", attainment="0"),
        _result("draw", "P/1010", HOSTILE, "Draw", 200000),
        _result("total", "P/1010", HOSTILE, "TOTAL", 200000),
    ]
    line_rows = [
        _line("P-1007", "sale", 1, "Z063OYW0", "2017-07-05", "4514", 13542, ["1"], ["0.03"], "135.42"),
        _line("P-1007", "sale", 2, "N9ZRY2MS", "2017-08-02", "6000", 18000, ["1"], ["0.03"], "180.00"),
        _line("P-1007", "clawback", 3, "Z063OYW0", "2017-09-01", "-4514", -13542, ["1"], ["0.03"], "-135.42"),
    ]
    balance_rows = [
        {"participant_id": "P-1007", "plan": PLAN, "component": None, "kind": "draw_balance", "amount": "1820.00",
         "currency": "USD", "detail": None},
        {"participant_id": "P/1010", "plan": PLAN, "component": None, "kind": "draw_balance", "amount": "2000.00",
         "currency": "USD", "detail": None},
        {"participant_id": "P-1007", "plan": PLAN, "component": "Bookings commission", "kind": "held",
         "amount": "45.00", "currency": "USD",
         "detail": json.dumps({"deal_id": "N9ZRY2MS", "release_date": None, "until_field": "service_start_date"})},
    ]
    period = parse_period(PERIOD)
    return calc_service.PreparedRun(
        PERIOD, period.start, period.end, calc_service.OFFICIAL, None, "2017-10-04T09:30:00.000000+00:00",
        {"deals": "a" * 64, "plans": "b" * 64}, {"plans": {PLAN: 1}}, [], result_rows,
        {name: [row[name] for row in line_rows] for name in line_rows[0]}, balance_rows,
        period,
    )


def _calculate(workspace: Workspace) -> int:
    with workspace.transaction() as unit:
        return calc_service.store_run(unit, _prepared_run()).run_id


def create_statement_workspace(path: Path) -> Workspace:
    """Create a workspace calculated by "maker" with an approved 150.00 adjustment; the period is not approved."""
    created = Workspace.create(path, user="maker")
    _seed(created)
    created.set_setting("company.name", "Maven Analytics Sales Co.")
    adjustment = adjustment_service.create(created, "P-1007", PERIOD, "150.00", "SPIF-CORR",
                                           note="Missed SPIF for the GTX Pro promotion")
    adjustment_service.approve(created.as_user("checker"), adjustment.id)
    _calculate(created)
    return created
