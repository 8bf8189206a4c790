"""Close with the real calculation: prior-period adjustments, FX edits after close, cancellations.

One quarterly plan, quota 100,000 per participant and quarter, marginal 5% up to quota
and 10% above, clawback at the original rate within 90 days. Figures by hand:

* P1, 2017-Q1: D1 60,000 (Jan 10) and D2 30,000 (Feb 10) -> 90,000 x 5% = 4,500.00.
  Late deal D3 20,000 dated Jan 5, imported after the close: in (date, deal) order D3
  pays 1,000.00, D1 3,000.00 and D2 now crosses the quota: 20,000 x 5% + 10,000 x 10%
  = 2,000.00 instead of 1,500.00. Q1 as of now: 6,000.00, so Q2 carries +1,500.00
  (D3 +1,000.00, D2 +500.00).
* P2, 2017-Q1: D10 10,000 EUR on Feb 15 at 1.10 -> 11,000 USD x 5% = 550.00. The rate
  is corrected to 1.20 after the close: 12,000 x 5% = 600.00, so Q2 carries +50.00.
* P3, 2017-Q1: D20 40,000 on Mar 1 -> 2,000.00. A cancellation of D20 dated Mar 25
  (inside the 90-day window) arrives after the close: Q2 carries -2,000.00.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

import pytest

from spm_desktop.cli import main
from spm_desktop.domain.records import RECORD_SETS
from spm_desktop.services import (
    adjustment_service,
    calc_service,
    close_service,
    metric_service,
    period_service,
    plan_service,
    prior_period,
)
from spm_desktop.services.context import Workspace
from spm_desktop.store.tables.records import RECORD_TABLES, column_name

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
"""

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
clawback: {window_days: 90, rate: original}
"""

_row_number = iter(range(1, 1_000_000))


def insert_records(connection, record_set, rows):
    """Write record rows the way an import stores them (money already in 1/10,000 units)."""
    spec = RECORD_SETS[record_set]
    stored = []
    for row in rows:
        values = {column_name(field): row.get(field.name) for field in spec.fields}
        values["record_key"] = json.dumps([row.get(name) for name in spec.natural_key] + [next(_row_number)])
        stored.append(values)
    connection.execute(RECORD_TABLES[record_set].insert(), stored)


def deal(deal_id, owner, amount, day, currency="USD", deal_type="sale", reference=None):
    return {"deal_id": deal_id, "owner": owner, "amount": amount * 10_000, "currency": currency,
            "close_date": day, "stage": "Won", "type": deal_type, "reference_deal_id": reference}


@pytest.fixture
def maker(tmp_path):
    workspace = Workspace.create(tmp_path / "close.spm", user="maker")
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN)
    with workspace.transaction() as unit:
        insert_records(unit.connection, "participants", [
            {"participant_id": pid, "name": f"Rep {pid}", "role": "AE", "currency": "USD", "hire_date": "2016-01-04"}
            for pid in ("P1", "P2", "P3")])
        insert_records(unit.connection, "quotas", [
            {"participant_id": pid, "quota_key": "bookings", "period": period, "amount": 100_000 * 10_000,
             "currency": "USD"} for pid in ("P1", "P2", "P3") for period in ("2017-Q1", "2017-Q2")])
        insert_records(unit.connection, "fx_rates", [
            {"date": "2017-02-15", "from_currency": "EUR", "to_currency": "USD", "rate": "1.10",
             "rate_type": "average"}])
        insert_records(unit.connection, "deals", [
            deal("D1", "P1", 60_000, "2017-01-10"), deal("D2", "P1", 30_000, "2017-02-10"),
            deal("D10", "P2", 10_000, "2017-02-15", currency="EUR"), deal("D20", "P3", 40_000, "2017-03-01"),
            deal("D4", "P1", 50_000, "2017-05-10"),
        ])
    yield workspace
    workspace.close()


@pytest.fixture
def checker(maker):
    return maker.as_user("checker")


@pytest.fixture
def closed_q1(maker, checker):
    calc_service.calculate(maker, "2017-Q1")
    close_service.approve(checker, "2017-Q1")
    close_service.close(checker, "2017-Q1")
    return maker


def _earnings(workspace, period, participant, component):
    for row in calc_service.period_results(workspace, period):
        if row.participant_id == participant and row.component == component:
            return row.earnings
    raise KeyError((period, participant, component))


def _late_changes(workspace):
    with workspace.transaction() as unit:
        insert_records(unit.connection, "deals", [
            deal("D3", "P1", 20_000, "2017-01-05"),
            deal("D20", "P3", -40_000, "2017-03-25", deal_type="cancellation", reference="D20"),
        ])
        table = RECORD_TABLES["fx_rates"]
        unit.connection.execute(table.update().values(rate="1.20"))
        # Stands for the imports that make these changes, so audit verify accepts them.
        unit.audit("records.import", "import_batch", "late changes", after={"record_set": "deals"})


def _prior_of(workspace, label):
    with workspace.read() as connection:
        inputs = calc_service.read_inputs(connection, label)
        return prior_period.apply_prior_period_adjustments(connection, inputs).get(label, [])


def _by_participant(found):
    return {item.participant_id: item for item in found}


def test_q1_paid_as_hand_computed(closed_q1):
    assert _earnings(closed_q1, "2017-Q1", "P1", "Bookings commission") == Decimal("4500.00")
    assert _earnings(closed_q1, "2017-Q1", "P2", "Bookings commission") == Decimal("550.00")
    assert _earnings(closed_q1, "2017-Q1", "P3", "Bookings commission") == Decimal("2000.00")


def test_closed_quarter_rejects_recalculation(closed_q1):
    from spm_desktop.services.errors import PeriodLockedError

    with pytest.raises(PeriodLockedError, match="2017-Q1 is closed"):
        calc_service.calculate(closed_q1, "2017-Q1")


def test_no_change_no_adjustment(closed_q1):
    assert _prior_of(closed_q1, "2017-Q2") == []


def test_late_deal_with_tier_effect(closed_q1):
    _late_changes(closed_q1)
    late = _by_participant(_prior_of(closed_q1, "2017-Q2"))["P1"]
    assert late.amount == Decimal("1500.00")
    assert late.source_period == "2017-Q1"
    assert late.deals == {"D2": 50000, "D3": 100000}
    assert late.causes == ("late deal", "re-priced deal (amount, rate or tier changed)")


def test_fx_edit_after_close(closed_q1):
    _late_changes(closed_q1)
    corrected = _by_participant(_prior_of(closed_q1, "2017-Q2"))["P2"]
    assert corrected.amount == Decimal("50.00")
    assert _earnings(closed_q1, "2017-Q1", "P2", "Bookings commission") == Decimal("550.00")


def test_cancellation_inside_clawback_window(closed_q1):
    _late_changes(closed_q1)
    cancelled = _by_participant(_prior_of(closed_q1, "2017-Q2"))["P3"]
    assert cancelled.amount == Decimal("-2000.00")
    assert "cancellation" in cancelled.causes


def test_closed_results_unchanged_after_late_data(closed_q1):
    before = calc_service.period_results(closed_q1, "2017-Q1")
    _late_changes(closed_q1)
    _prior_of(closed_q1, "2017-Q2")
    assert calc_service.period_results(closed_q1, "2017-Q1") == before


def test_next_quarter_pays_adjustments(closed_q1):
    _late_changes(closed_q1)
    calc_service.calculate(closed_q1, "2017-Q2")
    assert _earnings(closed_q1, "2017-Q2", "P1", "Adjustments") == Decimal("1500.00")
    assert _earnings(closed_q1, "2017-Q2", "P1", "TOTAL") == Decimal("4000.00")
    assert _earnings(closed_q1, "2017-Q2", "P2", "Adjustments") == Decimal("50.00")
    assert _earnings(closed_q1, "2017-Q2", "P3", "Adjustments") == Decimal("-2000.00")
    stored = adjustment_service.list_adjustments(closed_q1, source="prior_period")
    assert {item.participant_id for item in stored} == {"P1", "P2", "P3"}


def test_recalculation_replaces_adjustments_and_verifies(closed_q1):
    from spm_desktop.services import audit_service

    _late_changes(closed_q1)
    calc_service.calculate(closed_q1, "2017-Q2")
    calc_service.calculate(closed_q1, "2017-Q2")
    stored = adjustment_service.list_adjustments(closed_q1, source="prior_period")
    assert len(stored) == 3
    report = audit_service.verify(closed_q1)
    assert report.content_problems == []
    assert report.chain_break is None


def test_paid_adjustments_not_carried_again(closed_q1, checker):
    _late_changes(closed_q1)
    calc_service.calculate(closed_q1, "2017-Q2")
    close_service.approve(checker, "2017-Q2")
    close_service.close(checker, "2017-Q2")
    assert _prior_of(closed_q1, "2017-Q3") == []


def test_manual_adjustment_in_calculation(maker, checker):
    created = adjustment_service.create(maker, "P1", "2017-Q1", "250.00", "SPIF_FIX")
    adjustment_service.approve(checker, created.id)
    calc_service.calculate(maker, "2017-Q1")
    assert _earnings(maker, "2017-Q1", "P1", "Adjustments") == Decimal("250.00")
    assert _earnings(maker, "2017-Q1", "P1", "TOTAL") == Decimal("4750.00")


def test_approval_requires_other_user_after_calc(maker, checker):
    from spm_desktop.services.errors import PermissionDeniedError

    calc_service.calculate(maker, "2017-Q1")
    with pytest.raises(PermissionDeniedError):
        close_service.approve(maker, "2017-Q1")
    assert close_service.approve(checker, "2017-Q1").state == "approved"


def test_inquiry_on_line_resolved_with_adjustment(closed_q1, checker):
    from spm_desktop.services import inquiry_service

    with closed_q1.read() as connection:
        period = period_service.state(connection, "2017-Q1")
    with closed_q1.read() as connection:
        line = next(line for line in calc_service.iter_lines(connection, period.latest_run_id) if line.deal_id == "D2")
    raised = inquiry_service.raise_inquiry(closed_q1, "P1", "2017-Q1", "D2 paid at 5%?", result_line_id=line.id)
    assert raised.result_line_id == line.id
    with closed_q1.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q2", 99)
    request = inquiry_service.AdjustmentRequest(amount="100", reason_code="RATE_FIX")
    resolved = inquiry_service.resolve(checker, raised.id, "Goodwill", request)
    with closed_q1.read() as connection:
        created = adjustment_service.get(connection, resolved.adjustment_id)
    assert created.period == "2017-Q2"
    assert created.status == "pending"


def test_audit_verify_names_edited_result_row(closed_q1, capsys):
    path = closed_q1.path
    with sqlite3.connect(path) as connection:
        row_id = connection.execute("SELECT id FROM results WHERE participant_id = 'P1' "
                                    "AND component = 'Bookings commission'").fetchone()[0]
        connection.execute("UPDATE results SET earnings_minor = earnings_minor + 100000 WHERE id = ?", (row_id,))
    assert main(["audit", "verify", str(path)]) == 1
    assert f"result row {row_id}" in capsys.readouterr().err


def _recompute(workspace, label):
    with workspace.read() as connection:
        return prior_period.recompute_closed_period(connection, label)


def test_closed_period_not_recomputed_without_change(closed_q1):
    assert _recompute(closed_q1, "2017-Q1") is None


def test_change_outside_closed_period_not_recomputed(closed_q1):
    with closed_q1.transaction() as unit:
        insert_records(unit.connection, "deals", [deal("D5", "P1", 7_000, "2017-05-20")])
    assert _recompute(closed_q1, "2017-Q1") is None


def test_change_inside_closed_period_recomputed(closed_q1):
    _late_changes(closed_q1)
    recomputed = _recompute(closed_q1, "2017-Q1")
    assert recomputed is not None
    assert recomputed.inputs is not None


def test_carried_change_not_recomputed_again(closed_q1, checker):
    _late_changes(closed_q1)
    calc_service.calculate(closed_q1, "2017-Q2")
    close_service.approve(checker, "2017-Q2")
    close_service.close(checker, "2017-Q2")
    assert _recompute(closed_q1, "2017-Q1") is None


def test_close_stores_inputs_fingerprint(closed_q1):
    with closed_q1.read() as connection:
        closed = period_service.state(connection, "2017-Q1")
        expected = prior_period.period_inputs_fingerprint(connection, closed)
    assert closed.closed_inputs == expected


def test_later_period_with_stale_prior_adjustments_rejected(closed_q1, checker):
    from spm_desktop.services.errors import ConflictError

    _late_changes(closed_q1)
    # 2017-Q3 is calculated while 2017-Q2 was never calculated, so Q3 carries the changes.
    calc_service.calculate(closed_q1, "2017-Q3")
    calc_service.calculate(closed_q1, "2017-Q2")
    close_service.approve(checker, "2017-Q2")
    close_service.close(checker, "2017-Q2")
    with pytest.raises(ConflictError, match="recalculate 2017-Q3 first"):
        close_service.approve(checker, "2017-Q3")
    calc_service.calculate(closed_q1, "2017-Q3")
    assert adjustment_service.list_adjustments(closed_q1, period="2017-Q3", source="prior_period") == []
    assert close_service.approve(checker, "2017-Q3").state == "approved"
