"""Prior-period adjustments from a recomputed closed period, with recorded runs written row by row.

These tests store a closed period's run the way the calculation does (calc_runs, results,
result_lines) and hand ``prior_period_adjustments`` a recomputation, so the comparison
is checked without the engine.
"""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from spm_desktop.services import adjustment_service, close_service, period_service, prior_period
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import PeriodLockedError
from spm_desktop.services.prior_period import RecomputedPeriod
from spm_desktop.store.tables.calc import calc_runs, result_lines, results
from spm_desktop.store.tables.close import adjustments


@pytest.fixture
def maker(tmp_path):
    with Workspace.create(tmp_path / "prior.spm", user="maker") as created:
        yield created


@pytest.fixture
def checker(maker):
    return maker.as_user("checker")


def _run(run_id, period, start, end):
    return {"id": run_id, "period": period, "period_start": start, "period_end": end, "kind": "official",
            "user": "maker", "started_at": "t", "finished_at": "t", "status": "complete",
            "input_fingerprint": "f" * 64, "inputs": "{}", "versions": "{}", "problems": "[]",
            "results_hash": "0" * 64, "lines_hash": "0" * 64, "superseded": False}


def _result(result_id, run_id, participant, component, earnings_minor, row_kind="component"):
    return {"id": result_id, "run_id": run_id, "row_kind": row_kind, "participant_id": participant,
            "participant_name": "Ana Diaz", "period": "2017-Q1", "plan": "AE", "component": component,
            "earnings_minor": earnings_minor, "currency": "USD", "row_hash": "0" * 64}


def _line(line_id, run_id, participant, component, deal_id, earnings_minor, line_kind="sale"):
    return {"id": line_id, "run_id": run_id, "participant_id": participant, "plan": "AE", "component": component,
            "line_kind": line_kind, "deal_id": deal_id, "earnings_minor": earnings_minor,
            "paid_now_minor": earnings_minor, "held_minor": 0, "currency": "USD", "row_hash": "0" * 64}


def _close_q1_with_run(maker, checker):
    import datetime as dt

    with maker.transaction() as unit:
        unit.connection.execute(calc_runs.insert(), [_run(1, "2017-Q1", dt.date(2017, 1, 1), dt.date(2017, 3, 31))])
        unit.connection.execute(results.insert(), [
            _result(1, 1, "P1", "Bookings", 30000),
            _result(2, 1, "P1", "Adjustments", 0, "adjustments"),
            _result(3, 1, "P1", "TOTAL", 30000, "total"),
        ])
        unit.connection.execute(result_lines.insert(), [
            _line(1, 1, "P1", "Bookings", "D1", 10000),
            _line(2, 1, "P1", "Bookings", "D2", 20000),
        ])
        period_service.record_calculation(unit, "2017-Q1", 1)
        period_service.record_calculation(unit, "2017-Q2", 2)
    close_service.approve(checker, "2017-Q1")
    close_service.close(checker, "2017-Q1")


def _recomputed(lines):
    total = sum(amount for _deal, amount, _kind in lines)
    return RecomputedPeriod(
        results=[{"participant_id": "P1", "participant_name": "Ana Diaz", "component": "Bookings",
                  "row_kind": "component", "earnings_minor": total, "currency": "USD"},
                 {"participant_id": "P1", "component": "TOTAL", "row_kind": "total",
                  "earnings_minor": total, "currency": "USD"}],
        lines=[{"participant_id": "P1", "component": "Bookings", "deal_id": deal, "line_kind": kind,
                "earnings_minor": amount, "currency": "USD"} for deal, amount, kind in lines],
    )


def _prior(maker, label, recomputed):
    # Only 2017-Q1 has changed data; other closed periods report no change.
    def recompute(closed_label):
        return recomputed if closed_label == "2017-Q1" else None

    with maker.read() as connection:
        return prior_period.prior_period_adjustments(connection, label, recompute)


def test_unchanged_period_gives_nothing(maker, checker):
    _close_q1_with_run(maker, checker)
    found = _prior(maker, "2017-Q2", _recomputed([("D1", 10000, "sale"), ("D2", 20000, "sale")]))
    assert found == []


def test_recompute_none_gives_nothing(maker, checker):
    _close_q1_with_run(maker, checker)
    assert _prior(maker, "2017-Q2", None) == []


def test_late_deal_with_tier_effect(maker, checker):
    _close_q1_with_run(maker, checker)
    # A late deal D3 lifts the period into a higher band, re-pricing D2 as well.
    found = _prior(maker, "2017-Q2", _recomputed([("D1", 10000, "sale"), ("D2", 24000, "sale"),
                                                 ("D3", 9000, "sale")]))
    assert len(found) == 1
    adjustment = found[0]
    assert adjustment.amount_minor == 13000
    assert adjustment.source_period == "2017-Q1"
    assert adjustment.period == "2017-Q2"
    assert adjustment.component == "Bookings"
    assert adjustment.deals == {"D2": 4000, "D3": 9000}
    assert adjustment.causes == ("late deal", "re-priced deal (amount, rate or tier changed)")
    assert "2017-Q1 Bookings" in adjustment.note


def test_cancellation_gives_negative_adjustment(maker, checker):
    _close_q1_with_run(maker, checker)
    found = _prior(maker, "2017-Q2", _recomputed([("D1", 10000, "sale"), ("D2", 20000, "sale"),
                                                 ("D2", -20000, "clawback")]))
    assert found[0].amount_minor == -20000
    assert found[0].causes == ("cancellation",)
    assert found[0].deals == {"D2": -20000}


def test_changed_quota_without_deal_change(maker, checker):
    _close_q1_with_run(maker, checker)
    recomputed = _recomputed([("D1", 10000, "sale"), ("D2", 20000, "sale")])
    bumped = RecomputedPeriod(
        results=[{**recomputed.results[0], "earnings_minor": 30500}, recomputed.results[1]],
        lines=recomputed.lines,
    )
    found = _prior(maker, "2017-Q2", bumped)
    assert found[0].amount_minor == 500
    assert found[0].causes == ("changed quota, draw or other input",)


def _record_with(unit, run_id, found):
    """Record a calculation of 2017-Q2 that pays ``found``, as an official run stores it."""
    period_service.record_calculation(unit, "2017-Q2", run_id)
    adjustment_service.store_prior_period_adjustments(unit, "2017-Q2", run_id, found)


def test_stored_with_calculation_and_replaced(maker, checker):
    _close_q1_with_run(maker, checker)
    found = _prior(maker, "2017-Q2", _recomputed([("D1", 10000, "sale"), ("D2", 20000, "sale"),
                                                 ("D3", 500, "sale")]))
    for run_id in (3, 4):
        with maker.transaction() as unit:
            _record_with(unit, run_id, found)
    stored = adjustment_service.list_adjustments(maker, source="prior_period")
    assert len(stored) == 1
    assert stored[0].run_id == 4
    assert stored[0].status == "approved"
    assert stored[0].reason_code == "PRIOR_PERIOD"
    assert stored[0].details["deals"] == {"D3": 500}


def test_paid_adjustment_not_carried_twice(maker, checker):
    _close_q1_with_run(maker, checker)
    recomputed = _recomputed([("D1", 10000, "sale"), ("D2", 20000, "sale"), ("D3", 500, "sale")])
    found = _prior(maker, "2017-Q2", recomputed)
    with maker.transaction() as unit:
        _record_with(unit, 3, found)
    close_service.approve(checker, "2017-Q2")
    close_service.close(checker, "2017-Q2")
    assert _prior(maker, "2017-Q3", recomputed) == []


def test_later_open_period_gets_nothing(maker, checker):
    _close_q1_with_run(maker, checker)
    with maker.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q3", 5)
    recomputed = _recomputed([("D1", 10000, "sale"), ("D2", 20000, "sale"), ("D3", 500, "sale")])
    assert _prior(maker, "2017-Q3", recomputed) == []


def test_closed_label_rejected(maker, checker):
    _close_q1_with_run(maker, checker)
    with pytest.raises(PeriodLockedError):
        _prior(maker, "2017-Q1", None)


def test_closed_results_unchanged(maker, checker):
    _close_q1_with_run(maker, checker)
    with maker.read() as connection:
        before = connection.execute(select(results).order_by(results.c.id)).all()
    found = _prior(maker, "2017-Q2", _recomputed([("D1", 99999, "sale")]))
    with maker.transaction() as unit:
        _record_with(unit, 3, found)
    with maker.read() as connection:
        after = connection.execute(select(results).order_by(results.c.id)).all()
        stored = connection.execute(select(adjustments.c.detail)).scalars().all()
    assert after == before
    assert json.loads(stored[0])["deals"] == {"D1": 89999, "D2": -20000}


def _rows_and_lines(deal_amounts):
    """Build result rows and lines of one period from {(participant, component): {deal: minor}}."""
    rows, lines = [], []
    for (participant, component), deals in deal_amounts.items():
        rows.append({"participant_id": participant, "component": component, "row_kind": "component",
                     "earnings_minor": sum(deals.values()), "currency": "USD"})
        for deal_id, amount in deals.items():
            lines.append({"participant_id": participant, "component": component, "deal_id": deal_id,
                          "line_kind": "sale", "earnings_minor": amount, "currency": "USD"})
    return rows, lines


_deal_maps = st.dictionaries(
    st.tuples(st.sampled_from(["P1", "P2", "P3"]), st.sampled_from(["Bookings", "SPIF"])),
    st.dictionaries(st.sampled_from(["D1", "D2", "D3", "D4"]), st.integers(-10**9, 10**9), min_size=1),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(paid_deals=_deal_maps, now_deals=_deal_maps)
def test_differences_add_up(paid_deals, now_deals):
    paid = prior_period._earnings_from_rows(*_rows_and_lines(paid_deals))
    now = prior_period._earnings_from_rows(*_rows_and_lines(now_deals))
    found = prior_period._differences("2017-Q1", "2017-Q2", paid, now, None)
    paid_total = sum(sum(deals.values()) for deals in paid_deals.values())
    now_total = sum(sum(deals.values()) for deals in now_deals.values())
    assert sum(item.amount_minor for item in found) == now_total - paid_total
    for item in found:
        assert item.amount_minor != 0
        assert sum(item.deals.values()) == item.amount_minor
        assert 0 not in item.deals.values()


def test_changed_measured_credit_is_named(maker, checker):
    # A team bonus has no deal lines of its own: a report's late deal moves its measured credit.
    _close_q1_with_run(maker, checker)
    recomputed = _recomputed([("D1", 10000, "sale"), ("D2", 20000, "sale")])
    bumped = RecomputedPeriod(
        results=[{**recomputed.results[0], "earnings_minor": 30500, "metric_value": "311148.00"},
                 recomputed.results[1]],
        lines=recomputed.lines,
    )
    cause = ("changed credit measured by the component (none -> 311148.00), such as a late or corrected deal of "
             "someone whose credit it counts")
    assert _prior(maker, "2017-Q2", bumped)[0].causes == (cause,)


def test_changed_quota_is_named(maker, checker):
    _close_q1_with_run(maker, checker)
    recomputed = _recomputed([("D1", 10000, "sale"), ("D2", 20000, "sale")])
    bumped = RecomputedPeriod(
        results=[{**recomputed.results[0], "earnings_minor": 30500, "quota": "90000"}, recomputed.results[1]],
        lines=recomputed.lines,
    )
    assert _prior(maker, "2017-Q2", bumped)[0].causes == ("changed quota (none -> 90000)",)
