"""Calculation engine: crediting, measuring, earning, paying and the results layout."""

import io
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spm_desktop.domain.engine import (
    CalculationInputs,
    RecordedPeriod,
    calculate,
    format_results_csv,
)
from spm_desktop.domain.engine.earning import _FINE, _distribute, largest_remainder
from spm_desktop.domain.metrics import MetricDefinition, compile_metric
from spm_desktop.domain.money import CONTEXT, to_record_units
from spm_desktop.domain.plans import load_plan
from spm_desktop.domain.progress import Cancelled, CancelToken

MONEY = ("amount",)
DATES = ("close_date", "hire_date", "termination_date", "date", "service_start_date", "start_date", "end_date")
DECIMALS = ("share", "rate", "quantity")


def frame(text: str) -> pd.DataFrame:
    data = pd.read_csv(io.StringIO(text.strip()), dtype=str, keep_default_na=False, skipinitialspace=True)
    data = data.astype(object).where(data != "", None)
    for column in data.columns:
        if column in MONEY:
            data[column] = pd.array([None if value is None else to_record_units(Decimal(value))
                                     for value in data[column]], dtype="Int64")
        elif column in DATES:
            data[column] = pd.to_datetime(data[column])
        elif column in DECIMALS:
            data[column] = [None if value is None else Decimal(value) for value in data[column]]
    return data


def metric(key="sales", value="sum(amount)", filter="", unit="currency"):
    return compile_metric(MetricDefinition(key=key, name=key, value=value, filter=filter, unit=unit))


def run(plans, people, deals, period, metrics=None, **frames):
    plans = [load_plan(text) if isinstance(text, str) else text for text in plans]
    return calculate(CalculationInputs(period=period, plans=plans, participants=frame(people), deals=frame(deals),
                                       metrics=metrics or {"sales": metric()}, **frames))


def plan(components, period="month", header="", who="{role: Rep}", name="Plan"):
    return f"""
plan: {name}
version: 3
effective_from: 2024-01-01
currency: USD
period: {period}
participants: {who}
{header}
components:
{components}
"""


FLAT_10 = """
  - name: Commission
    type: commission
    metric: sales
    tiers: {method: flat, by: amount, bands: [{from: 0, rate: 0.10}]}
"""
PEOPLE = "participant_id,name,role,manager_id\nA,Ann,Rep,M\nB,Bob,Rep,M\nM,Mia,Manager,\n"


def component_earnings(result, participant, component="Commission"):
    return [row.earnings for row in result.rows if row.participant_id == participant and row.component == component]


# ---------------------------------------------------------------- crediting


def test_team_rolls_up_reports():
    team = FLAT_10.replace("metric: sales", "metric: sales\n    credit: team")
    deals = "deal_id,owner,amount,close_date\n1,A,1000,2024-03-01\n2,B,500,2024-03-02\n3,M,700,2024-03-03\n"
    result = run([plan(FLAT_10), plan(team, who="{role: Manager}", name="Managers")], PEOPLE, deals, "2024-03")
    assert component_earnings(result, "M") == [Decimal("150.00")]


def test_team_uses_hierarchy_on_credit_date():
    team = FLAT_10.replace("metric: sales", "metric: sales\n    credit: team")
    people = "participant_id,name,role\nA,Ann,Rep\nM,Mia,Manager\nN,Ned,Manager\n"
    hierarchy = frame("participant_id,manager_id,start_date,end_date\nA,M,2024-01-01,2024-03-15\n"
                      "A,N,2024-03-16,\n")
    deals = "deal_id,owner,amount,close_date\n1,A,1000,2024-03-10\n2,A,400,2024-03-20\n"
    result = run([plan(FLAT_10), plan(team, who="{role: Manager}", name="Managers")], people, deals, "2024-03",
                 hierarchy=hierarchy)
    assert component_earnings(result, "M") == [Decimal("100.00")]
    assert component_earnings(result, "N") == [Decimal("40.00")]


def test_overlay_never_rolls_up():
    team = FLAT_10.replace("metric: sales", "metric: sales\n    credit: team")
    people = "participant_id,name,role,manager_id\nA,Ann,Rep,M\nO,Oz,Rep,M\nM,Mia,Manager,\n"
    splits = frame("deal_id,participant_id,share,kind\n1,O,1,overlay\n")
    deals = "deal_id,owner,amount,close_date\n1,A,1000,2024-03-10\n"
    result = run([plan(FLAT_10), plan(team, who="{role: Manager}", name="Managers")], people, deals, "2024-03",
                 credit_splits=splits)
    assert component_earnings(result, "O") == [Decimal("100.00")]
    assert component_earnings(result, "M") == [Decimal("100.00")]


def test_credit_outside_employment_listed():
    people = "participant_id,name,role,hire_date,termination_date\nA,Ann,Rep,2024-03-05,2024-03-25\n"
    deals = "deal_id,owner,amount,close_date\nEARLY,A,1000,2024-03-01\nIN,A,500,2024-03-10\nLATE,A,700,2024-03-28\n"
    result = run([plan(FLAT_10)], people, deals, "2024-03")
    assert component_earnings(result, "A") == [Decimal("50.00")]
    exceptions = [problem for problem in result.problems if problem.code == "calc.outside_employment"]
    assert len(exceptions) == 1
    assert "EARLY" in exceptions[0].message
    assert "LATE" in exceptions[0].message


def test_reversal_follows_original_splits():
    deals = ("deal_id,owner,amount,close_date,type,reference_deal_id\n1,A,1000,2024-03-01,sale,\n"
             "R1,A,-1000,2024-03-10,refund,1\n")
    splits = frame("deal_id,participant_id,share,kind\n1,A,0.5,split\n1,B,0.5,split\n")
    result = run([plan(FLAT_10)], PEOPLE, deals, "2024-03", credit_splits=splits)
    assert component_earnings(result, "A") == [Decimal("0.00")]
    assert component_earnings(result, "B") == [Decimal("0.00")]


def test_reversal_counts_when_original_passes_filter():
    deals = ("deal_id,owner,amount,close_date,type,reference_deal_id,stage\n1,A,1000,2024-03-01,sale,,Won\n"
             "R1,A,-400,2024-03-10,refund,1,\n")
    won = metric(filter='stage == "Won"')
    result = run([plan(FLAT_10)], PEOPLE, deals, "2024-03", metrics={"sales": won})
    assert component_earnings(result, "A") == [Decimal("60.00")]


# ---------------------------------------------------------------- clawbacks


CLAWBACK = "clawback: {window_days: 30, rate: original}"
TIERED = """
  - name: Commission
    type: commission
    metric: sales
    tiers: {method: marginal, by: amount, bands: [{from: 0, rate: 0.05}, {from: 1000, rate: 0.10}]}
"""


def test_clawback_takes_back_original_line():
    deals = ("deal_id,owner,amount,close_date,type,reference_deal_id\n1,A,1500,2024-01-10,sale,\n"
             "2,A,500,2024-02-01,sale,\nR1,A,-1500,2024-02-05,refund,1\n")
    result = run([plan(TIERED, header=CLAWBACK)], PEOPLE, deals, "2024-02")
    assert component_earnings(result, "A") == [Decimal("-75.00")]


def test_clawback_outside_window_zero():
    deals = ("deal_id,owner,amount,close_date,type,reference_deal_id\n1,A,1500,2024-01-10,sale,\n"
             "R1,A,-1500,2024-03-05,refund,1\n")
    result = run([plan(TIERED, header=CLAWBACK)], PEOPLE, deals, "2024-03")
    assert component_earnings(result, "A") == [Decimal("0.00")]


def test_clawback_partial_scales_line():
    deals = ("deal_id,owner,amount,close_date,type,reference_deal_id\n1,A,2000,2024-01-10,sale,\n"
             "R1,A,-500,2024-01-20,credit_note,1\n")
    result = run([plan(TIERED, header=CLAWBACK)], PEOPLE, deals, "2024-01")
    assert component_earnings(result, "A") == [Decimal("112.50")]


def test_current_rate_prices_reversal_on_tiers():
    deals = ("deal_id,owner,amount,close_date,type,reference_deal_id\n1,A,2000,2024-01-10,sale,\n"
             "R1,A,-500,2024-01-20,credit_note,1\n")
    result = run([plan(TIERED, header="clawback: {window_days: 30, rate: current}")], PEOPLE, deals, "2024-01")
    assert component_earnings(result, "A") == [Decimal("100.00")]


def test_clawback_in_other_currency_nets_zero():
    deals = ("deal_id,owner,amount,currency,close_date,type,reference_deal_id\n1,A,1000,EUR,2024-01-10,sale,\n"
             "R1,A,-1000,EUR,2024-01-25,refund,1\n")
    rates = frame("date,from_currency,to_currency,rate\n2024-01-10,EUR,USD,1.10\n2024-01-25,EUR,USD,1.30\n")
    result = run([plan(TIERED, header=CLAWBACK)], PEOPLE, deals, "2024-01", fx_rates=rates)
    assert component_earnings(result, "A") == [Decimal("0.00")]


# ---------------------------------------------------------------- quotas, ytd, gates, caps


QUOTA_TIERS = """
  - name: Commission
    type: commission
    metric: sales
    quota: sales
    basis: {basis}
    tiers: {{method: marginal, by: attainment, bands: [{{from: 0, rate: 0.05}}, {{from: 1, rate: 0.10}}]}}
"""
QUOTAS = "participant_id,quota_key,period,amount\n" + "\n".join(
    f"A,sales,2024-{month:02d},1000" for month in range(1, 13))


def test_missing_quota_pays_zero_with_problem():
    deals = "deal_id,owner,amount,close_date\n1,A,1000,2024-03-01\n"
    result = run([plan(QUOTA_TIERS.format(basis="period"))], PEOPLE, deals, "2024-03")
    assert component_earnings(result, "A") == [Decimal("0.00")]
    problem = next(problem for problem in result.problems if problem.participant_id == "A")
    assert problem.code == "calc.missing_quota"
    assert problem.component == "Commission"


def test_attainment_and_quota_on_row():
    deals = "deal_id,owner,amount,close_date\n1,A,1500,2024-03-01\n"
    result = run([plan(QUOTA_TIERS.format(basis="period"))], "participant_id,name,role\nA,Ann,Rep\n", deals,
                 "2024-03", quotas=frame(QUOTAS))
    row = result.rows[0]
    assert row.quota == Decimal(1000)
    assert row.attainment == Decimal("1.5")
    assert row.earnings == Decimal("100.00")


def test_ytd_true_up():
    deals = "deal_id,owner,amount,close_date\n1,A,500,2024-01-10\n2,A,1000,2024-02-10\n3,A,1500,2024-03-10\n"
    people = "participant_id,name,role\nA,Ann,Rep\n"
    result = run([plan(QUOTA_TIERS.format(basis="ytd"))], people, deals, "2024-Q1", quotas=frame(QUOTAS))
    assert component_earnings(result, "A") == [Decimal("25.00"), Decimal("50.00"), Decimal("75.00")]


def test_ytd_negative_true_up():
    deals = ("deal_id,owner,amount,close_date,type,reference_deal_id\n1,A,3000,2024-01-10,sale,\n"
             "R1,A,-3000,2024-02-10,refund,1\n")
    people = "participant_id,name,role\nA,Ann,Rep\n"
    result = run([plan(QUOTA_TIERS.format(basis="ytd"))], people, deals, "2024-Q1", quotas=frame(QUOTAS))
    assert component_earnings(result, "A") == [Decimal("250.00"), Decimal("-250.00"), Decimal("0.00")]


def test_ytd_cap_carries_within_year():
    capped = QUOTA_TIERS.format(basis="ytd") + "    cap: 100\n"
    deals = "deal_id,owner,amount,close_date\n1,A,3000,2024-01-10\n"
    people = "participant_id,name,role\nA,Ann,Rep\n"
    result = run([plan(capped)], people, deals, "2024-Q1", quotas=frame(QUOTAS))
    assert component_earnings(result, "A") == [Decimal("100.00"), Decimal("100.00"), Decimal("-50.00")]


def test_closed_period_read_as_recorded():
    deals = "deal_id,owner,amount,close_date\n1,A,500,2024-01-10\n2,A,1000,2024-02-10\n"
    people = "participant_id,name,role\nA,Ann,Rep\n"
    recorded = RecordedPeriod(plan="Plan", period="2024-01", earnings={("A", "Commission"): Decimal("20.00")})
    result = run([plan(QUOTA_TIERS.format(basis="ytd"))], people, deals, "2024-02", quotas=frame(QUOTAS),
                 recorded=[recorded])
    assert component_earnings(result, "A") == [Decimal("55.00")]


def test_gate_blocks_component():
    gated = FLAT_10 + "    gate: credit >= 1000\n"
    deals = "deal_id,owner,amount,close_date\n1,A,900,2024-03-01\n2,B,1200,2024-03-01\n"
    result = run([plan(gated)], PEOPLE, deals, "2024-03")
    assert component_earnings(result, "A") == [Decimal("0.00")]
    assert component_earnings(result, "B") == [Decimal("120.00")]


def test_gate_on_participant_field():
    gated = FLAT_10 + '    gate: region == "West"\n'
    people = "participant_id,name,role,region\nA,Ann,Rep,West\nB,Bob,Rep,East\n"
    deals = "deal_id,owner,amount,close_date\n1,A,100,2024-03-01\n2,B,100,2024-03-01\n"
    result = run([plan(gated)], people, deals, "2024-03")
    assert component_earnings(result, "A") == [Decimal("10.00")]
    assert component_earnings(result, "B") == [Decimal("0.00")]


def test_cap_limits_period_with_cap_line():
    capped = FLAT_10 + "    cap: 50\n"
    deals = "deal_id,owner,amount,close_date\n1,A,900,2024-03-01\n"
    result = run([plan(capped)], PEOPLE, deals, "2024-03")
    assert component_earnings(result, "A") == [Decimal("50.00")]
    assert list(result.lines["kind"]) == ["deal", "cap"]


def test_formula_component():
    formula = """
  - name: Kicker
    type: formula
    metric: sales
    expression: "if(credit >= 1000, 0.01 * credit, 0)"
"""
    deals = "deal_id,owner,amount,close_date\n1,A,1500,2024-03-01\n2,B,500,2024-03-01\n"
    result = run([plan(formula)], PEOPLE, deals, "2024-03")
    assert component_earnings(result, "A", "Kicker") == [Decimal("15.00")]
    assert component_earnings(result, "B", "Kicker") == [Decimal("0.00")]


def test_formula_error_is_problem():
    formula = "  - name: Kicker\n    type: formula\n    metric: sales\n    expression: \"credit / 0\"\n"
    deals = "deal_id,owner,amount,close_date\n1,A,1500,2024-03-01\n"
    result = run([plan(formula)], PEOPLE, deals, "2024-03")
    assert component_earnings(result, "A", "Kicker") == [Decimal("0.00")]
    assert any(problem.code == "calc.formula_failed" for problem in result.problems)


def test_bonus_on_curve():
    bonus = """
  - name: Bonus
    type: bonus
    metric: sales
    quota: sales
    target: 1000
    curve: [{attainment: 0.5, payout: 0}, {attainment: 1.0, payout: 1.0}, {attainment: 1.5, payout: 2.0}]
"""
    deals = "deal_id,owner,amount,close_date\n1,A,1250,2024-03-01\n"
    result = run([plan(bonus)], "participant_id,name,role\nA,Ann,Rep\n", deals, "2024-03", quotas=frame(QUOTAS))
    assert component_earnings(result, "A", "Bonus") == [Decimal("1500.00")]


def test_spif_per_unit_with_split():
    spif = "  - name: SPIF\n    type: spif\n    metric: units\n    amount_per_unit: 100\n"
    deals = "deal_id,owner,amount,quantity,close_date\n1,A,10,3,2024-03-01\n"
    splits = frame("deal_id,participant_id,share,kind\n1,A,0.5,split\n1,B,0.5,split\n")
    units = metric("units", "sum(quantity)", unit="count")
    result = run([plan(spif)], PEOPLE, deals, "2024-03", metrics={"units": units}, credit_splits=splits)
    assert component_earnings(result, "A", "SPIF") == [Decimal("150.00")]


# ---------------------------------------------------------------- paying


def test_nonrecoverable_draw_tops_up_without_balance():
    draw = plan(FLAT_10, header="draw: {amount: 100, recoverable: false}")
    deals = "deal_id,owner,amount,close_date\n1,A,500,2024-01-10\n2,A,3000,2024-02-10\n"
    result = run([draw], "participant_id,name,role\nA,Ann,Rep\n", deals, "2024-Q1")
    totals = component_earnings(result, "A", "TOTAL")
    assert totals == [Decimal("100.00"), Decimal("300.00"), Decimal("100.00")]


def test_forgiven_balance_resets_each_year():
    draw = plan(FLAT_10, header="draw: {amount: 100, recoverable: true, year_end: forgive}")
    deals = "deal_id,owner,amount,close_date\n1,A,3000,2025-01-10\n"
    recorded = RecordedPeriod(plan="Plan", period="2024-12", draw_balances={"A": Decimal("1000")})
    result = run([draw], "participant_id,name,role\nA,Ann,Rep\n", deals, "2025-01", recorded=[recorded])
    assert component_earnings(result, "A", "Draw") == [Decimal("0.00")]


def test_carried_balance_recovered_next_year():
    draw = plan(FLAT_10, header="draw: {amount: 100, recoverable: true, year_end: carry_forward}")
    deals = "deal_id,owner,amount,close_date\n1,A,3000,2025-01-10\n"
    recorded = RecordedPeriod(plan="Plan", period="2024-12", draw_balances={"A": Decimal("150")})
    result = run([draw], "participant_id,name,role\nA,Ann,Rep\n", deals, "2025-01", recorded=[recorded])
    assert component_earnings(result, "A", "Draw") == [Decimal("-150.00")]


def test_adjustments_row_and_total():
    adjustments = frame("participant_id,period,amount,reason_code,note\nA,2024-03,25.50,SPIFF,late deal\n"
                        "A,2024-03,-5,FIX,\nA,2024-04,99,X,\n")
    deals = "deal_id,owner,amount,close_date\n1,A,1000,2024-03-01\n"
    result = run([plan(FLAT_10)], PEOPLE, deals, "2024-03", adjustments=adjustments)
    assert component_earnings(result, "A", "Adjustments") == [Decimal("20.50")]
    assert component_earnings(result, "A", "TOTAL") == [Decimal("120.50")]


def test_total_is_sum_of_rows():
    draw = plan(FLAT_10, header="draw: {amount: 100, recoverable: true}")
    deals = "deal_id,owner,amount,close_date\n1,A,300,2024-03-01\n"
    result = run([draw], PEOPLE, deals, "2024-03")
    rows = [row for row in result.rows if row.participant_id == "A"]
    assert rows[-1].component == "TOTAL"
    assert rows[-1].earnings == sum(row.earnings for row in rows[:-1])


# ---------------------------------------------------------------- lines and layout


def test_lines_carry_lineage():
    deals = frame("deal_id,owner,amount,close_date\n1,A,1000,2024-03-01\n").assign(
        _row_id=[41], _batch_id=[7], _source_row=[2])
    result = calculate(CalculationInputs(period="2024-03", plans=[load_plan(plan(FLAT_10))],
                                         participants=frame(PEOPLE), deals=deals, metrics={"sales": metric()}))
    line = next(result.iter_lines())
    assert (line.deal_id, line.row_id, line.batch_id, line.source_row) == ("1", 41, 7, 2)
    assert line.bands == (1,)
    assert line.rates == (Decimal("0.10"),)


def test_lines_add_up_to_component():
    deals = "deal_id,owner,amount,close_date\n" + "\n".join(f"{index},A,0.33,2024-03-01" for index in range(7))
    result = run([plan(FLAT_10.replace("0.10", "0.5"))], PEOPLE, deals, "2024-03")
    assert component_earnings(result, "A") == [Decimal("1.16")]
    assert sum(line.rounded for line in result.iter_lines()) == Decimal("1.16")


def test_largest_remainder_gives_cents_to_largest():
    total, lines = largest_remainder([Decimal("0.333"), Decimal("0.336"), Decimal("0.331")], "USD")
    assert total == Decimal("1.00")
    assert lines.tolist() == [33, 34, 33]


def test_largest_remainder_negative_lines():
    total, lines = largest_remainder([Decimal("-0.335"), Decimal("-0.336"), Decimal("1.001")], "USD")
    assert total == Decimal("0.33")
    assert lines.tolist() == [-33, -34, 100]


def test_largest_remainder_ties_go_to_earlier_lines():
    # Seven lines of a third of a cent each round to 2 cents: the first two tied lines get them.
    total, lines = largest_remainder([Decimal("0.00333")] * 3 + [Decimal("0.001")] + [Decimal("0.00333")] * 3, "USD")
    assert total == Decimal("0.02")
    assert lines.tolist() == [1, 1, 0, 0, 0, 0, 0]


@given(st.lists(st.integers(min_value=-10**9, max_value=10**9), min_size=1, max_size=60))
def test_distribute_matches_a_stable_sort_by_remainder(fine):
    values = np.array(fine, dtype=np.int64) * 1000  # few distinct remainders, so ties are common
    floors = np.floor_divide(values, _FINE)
    for missing in range(len(values) + 1):
        expected = floors.copy()
        order = sorted(range(len(values)), key=lambda index: (-(values[index] - floors[index] * _FINE), index))
        expected[order[:missing]] += 1
        assert _distribute(values, int(floors.sum()) + missing).tolist() == expected.tolist()


def test_largest_remainder_yen_has_no_decimals():
    total, lines = largest_remainder([Decimal("10.6"), Decimal("10.6")], "JPY")
    assert total == Decimal(21)
    assert lines.tolist() == [11, 10]


def test_largest_remainder_long_decimals():
    third = CONTEXT.divide(Decimal(1), Decimal(3))
    total, lines = largest_remainder([third, third, third, Decimal("0.005")], "USD")
    assert total == Decimal("1.01")
    assert lines.tolist() == [34, 33, 33, 1]


def test_largest_remainder_negative_half_rounds_away():
    total, _lines = largest_remainder([Decimal("-0.005")], "USD")
    assert total == Decimal("-0.01")


def test_results_csv_layout():
    units = metric("units", "sum(quantity)", unit="count")
    components = FLAT_10 + "  - name: A units\n    type: spif\n    metric: units\n    amount_per_unit: 1\n"
    deals = "deal_id,owner,amount,quantity,close_date\n1,B,1234.5,2,2024-03-01\n"
    splits = frame("deal_id,participant_id,share,kind\n1,B,0.25,split\n1,A,0.75,split\n")
    result = run([plan(components, header="draw: {amount: 10, recoverable: false}")], PEOPLE, deals, "2024-03",
                 metrics={"sales": metric(), "units": units}, credit_splits=splits)
    lines = format_results_csv([row for row in result.rows if row.participant_id in ("A", "B")]).splitlines()
    assert lines[0] == ("participant_id,participant_name,period,plan,component,metric_value,quota,attainment,"
                        "earnings,currency")
    assert lines[1] == "A,Ann,2024-03,Plan,A units,1.50,,,1.50,USD"
    assert lines[2] == "A,Ann,2024-03,Plan,Commission,925.88,,,92.59,USD"
    assert lines[3] == "A,Ann,2024-03,Plan,Draw,,,,0.00,USD"
    assert lines[4] == "A,Ann,2024-03,Plan,TOTAL,,,,94.09,USD"
    assert lines[5] == "B,Bob,2024-03,Plan,A units,0.50,,,0.50,USD"


def test_participant_without_credit_gets_rows():
    deals = "deal_id,owner,amount,close_date\n1,A,100,2024-03-01\n"
    result = run([plan(FLAT_10)], PEOPLE, deals, "2024-03")
    assert [(row.component, row.metric_value, row.earnings) for row in result.rows if row.participant_id == "B"] == [
        ("Commission", Decimal(0), Decimal("0.00")), ("TOTAL", None, Decimal("0.00"))]


def test_rows_sorted_by_code_point():
    people = "participant_id,name,role\nb,Bee,Rep\nB,Bob,Rep\nA10,Al,Rep\nA2,Ax,Rep\n"
    deals = "deal_id,owner,amount,close_date\n1,b,100,2024-03-01\n"
    result = run([plan(FLAT_10)], people, deals, "2024-03")
    order = list(dict.fromkeys(row.participant_id for row in result.rows))
    assert order == ["A10", "A2", "B", "b"]


def test_period_finer_than_plan_reported():
    deals = "deal_id,owner,amount,close_date\n1,A,100,2024-03-01\n"
    result = run([plan(FLAT_10, period="quarter")], PEOPLE, deals, "2024-03")
    assert result.rows == ()
    assert result.problems[0].code == "calc.period_mismatch"


def test_unknown_metric_reported():
    deals = "deal_id,owner,amount,close_date\n1,A,100,2024-03-01\n"
    result = run([plan(FLAT_10.replace("metric: sales", "metric: revenue"))], PEOPLE, deals, "2024-03")
    assert any(problem.code == "calc.unknown_metric" for problem in result.problems)


def test_cancel_stops_run():
    token = CancelToken()
    token.cancel()
    deals = "deal_id,owner,amount,close_date\n1,A,100,2024-03-01\n"
    with pytest.raises(Cancelled):
        calculate(CalculationInputs(period="2024-03", plans=[load_plan(plan(FLAT_10))], participants=frame(PEOPLE),
                                    deals=frame(deals), metrics={"sales": metric()}), cancel=token)


def test_result_independent_of_order():
    deals = "deal_id,owner,amount,close_date\n1,A,500,2024-01-10\n2,A,1000,2024-02-10\n3,A,1500,2024-03-10\n"
    people = "participant_id,name,role\nA,Ann,Rep\n"
    whole = run([plan(QUOTA_TIERS.format(basis="ytd"))], people, deals, "2024-Q1", quotas=frame(QUOTAS))
    alone = run([plan(QUOTA_TIERS.format(basis="ytd"))], people, deals, "2024-03", quotas=frame(QUOTAS))
    assert component_earnings(alone, "A") == component_earnings(whole, "A")[2:]


# ---------------------------------------------------------------- more paths


def test_field_grain_sums_order_lines():
    tiers = """
  - name: Commission
    type: commission
    metric: sales
    tiers:
      method: retroactive
      by: amount
      grain: customer
      bands: [{from: 0, rate: 0.01}, {from: 1000, rate: 0.05}]
"""
    deals = ("deal_id,owner,amount,customer,close_date\n1,A,600,Acme,2024-03-01\n2,A,600,Acme,2024-03-02\n"
             "3,A,600,Bolt,2024-03-03\n")
    result = run([plan(tiers)], PEOPLE, deals, "2024-03")
    assert component_earnings(result, "A") == [Decimal("66.00")]


def test_hold_released_when_date_imported_later():
    held = FLAT_10 + "    hold: {share: 0.5, until: service_start_date}\n"
    people = "participant_id,name,role\nA,Ann,Rep\n"
    before = run([plan(held)], people, "deal_id,owner,amount,close_date,service_start_date\n1,A,1000,2024-01-10,\n",
                 "2024-Q1")
    after = run([plan(held)], people,
                "deal_id,owner,amount,close_date,service_start_date\n1,A,1000,2024-01-10,2024-03-15\n", "2024-Q1")
    assert component_earnings(before, "A") == [Decimal("50.00"), Decimal("0.00"), Decimal("0.00")]
    assert component_earnings(after, "A") == [Decimal("50.00"), Decimal("0.00"), Decimal("50.00")]


def test_recorded_line_prices_clawback():
    deals = ("deal_id,owner,amount,close_date,type,reference_deal_id\n1,A,1500,2024-01-10,sale,\n"
             "R1,A,-1500,2024-02-05,refund,1\n")
    recorded = RecordedPeriod(plan="Plan", period="2024-01", earnings={("A", "Commission"): Decimal("100.00")},
                              lines={("A", "Commission", "1", None, "owner"): Decimal("100")})
    result = run([plan(TIERED, header=CLAWBACK)], PEOPLE, deals, "2024-02", recorded=[recorded])
    assert component_earnings(result, "A") == [Decimal("-100.00")]


def test_period_end_rate_date():
    header = "fx: {rate_date: period_end, rate_type: average, max_age_days: 5}"
    deals = "deal_id,owner,amount,currency,close_date\n1,A,1000,EUR,2024-03-05\n"
    rates = frame("date,from_currency,to_currency,rate\n2024-03-05,EUR,USD,1.10\n2024-03-29,EUR,USD,1.20\n")
    result = run([plan(FLAT_10, header=header)], PEOPLE, deals, "2024-03", fx_rates=rates)
    assert component_earnings(result, "A") == [Decimal("120.00")]


def test_stale_rate_rejected():
    deals = "deal_id,owner,amount,currency,close_date\n1,A,1000,EUR,2024-03-15\n"
    rates = frame("date,from_currency,to_currency,rate\n2024-03-05,EUR,USD,1.10\n")
    result = run([plan(FLAT_10)], PEOPLE, deals, "2024-03", fx_rates=rates)
    assert [problem.code for problem in result.problems] == ["calc.missing_fx_rate"]


def test_inverse_rate_used():
    deals = "deal_id,owner,amount,currency,close_date\n1,A,1250,EUR,2024-03-15\n"
    rates = frame("date,from_currency,to_currency,rate\n2024-03-15,USD,EUR,0.8\n")
    result = run([plan(FLAT_10)], PEOPLE, deals, "2024-03", fx_rates=rates)
    assert component_earnings(result, "A") == [Decimal("156.25")]


def test_end_of_day_rate_type():
    header = "fx: {rate_date: credit_date, rate_type: end_of_day, max_age_days: 5}"
    deals = "deal_id,owner,amount,currency,close_date\n1,A,1000,EUR,2024-03-15\n"
    rates = frame("date,from_currency,to_currency,rate,rate_type\n2024-03-15,EUR,USD,1.10,\n"
                  "2024-03-15,EUR,USD,1.30,end_of_day\n")
    result = run([plan(FLAT_10, header=header)], PEOPLE, deals, "2024-03", fx_rates=rates)
    assert component_earnings(result, "A") == [Decimal("130.00")]


def test_quota_prorated_by_days():
    commission = QUOTA_TIERS.format(basis="period")
    people = "participant_id,name,role,hire_date\nA,Ann,Rep,2024-03-17\n"
    deals = "deal_id,owner,amount,close_date\n1,A,100,2024-03-20\n"
    result = run([plan(commission, header="quota_proration: days")], people, deals, "2024-03", quotas=frame(QUOTAS))
    assert result.rows[0].quota == CONTEXT.multiply(Decimal(1000), CONTEXT.divide(Decimal(15), Decimal(31)))


def test_fiscal_quarter_label_runs_plan():
    header = "fiscal_start_month: 7"
    deals = "deal_id,owner,amount,close_date\n1,A,100,2024-08-01\n"
    result = run([plan(FLAT_10, period="quarter", header=header)], PEOPLE, deals, "FY2025-Q1")
    assert {row.period for row in result.rows} == {"FY2025-Q1"}
    assert component_earnings(result, "A") == [Decimal("10.00")]


def test_progress_reported():
    calls = []
    deals = "deal_id,owner,amount,close_date\n1,A,100,2024-03-01\n"
    calculate(CalculationInputs(period="2024-03", plans=[load_plan(plan(FLAT_10))], participants=frame(PEOPLE),
                                deals=frame(deals), metrics={"sales": metric()}),
              progress=lambda done, total, message: calls.append((done, total)))
    assert calls[-1] == (1, 1)


def test_held_amount_listed_once():
    held = FLAT_10 + "    hold: {share: 0.5, until: service_start_date}\n"
    people = "participant_id,name,role\nA,Ann,Rep\n"
    deals = "deal_id,owner,amount,close_date,service_start_date\n1,A,1000,2024-01-10,\n"
    result = run([plan(held)], people, deals, "2024-Q1")
    assert [(item.deal_id, item.held_in_period, item.amount) for item in result.held] == [
        ("1", "2024-01", Decimal("50.00"))]
