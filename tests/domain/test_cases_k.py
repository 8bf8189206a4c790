"""Field cases of commission calculation, each with its worked-out expected value."""

import io
from decimal import Decimal

import pandas as pd
import pytest

from spm_desktop.domain.engine import CalculationInputs, calculate, exact_decimals
from spm_desktop.domain.metrics import MetricDefinition, compile_metric
from spm_desktop.domain.money import to_record_units
from spm_desktop.domain.plans import load_plan, validate_plan

MONEY = ("amount",)
DATES = ("close_date", "hire_date", "termination_date", "date", "service_start_date", "start_date", "end_date")
DECIMALS = ("share", "rate", "quantity")


def frame(text: str) -> pd.DataFrame:
    """Read a small CSV into a record frame: money in 1/10,000, dates, decimals and None for empty cells."""
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
    metrics = metrics or {"sales": metric()}
    plans = [load_plan(text) if isinstance(text, str) else text for text in plans]
    return calculate(CalculationInputs(period=period, plans=plans, participants=frame(people), deals=frame(deals),
                                       metrics=metrics, **frames))


def earnings(result, participant, component="Commission", period=None):
    return result.earnings(participant, component, period)


def plan_text(rate="0.04", tiers=None, period="month", extra="", who="{role: Rep}", name="Plan", by="amount"):
    tiers = tiers or f"{{method: flat, by: {by}, bands: [{{from: 0, rate: {rate}}}]}}"
    return f"""
plan: {name}
version: 1
effective_from: 2024-01-01
currency: USD
period: {period}
participants: {who}
components:
  - name: Commission
    type: commission
    metric: sales
    tiers: {tiers}
{extra}"""


PEOPLE = """
participant_id,name,role
A,Ann,Rep
B,Bob,Rep
"""


def test_k01_credit_note_reduces_commission():
    deals = """
deal_id,owner,amount,close_date,type,reference_deal_id
INV-1,A,1000.00,2024-03-05,sale,
CN-1,A,-200.00,2024-03-20,credit_note,INV-1
"""
    result = run([plan_text("0.04")], PEOPLE, deals, "2024-03")
    assert earnings(result, "A") == Decimal("32.00")


def test_k01_full_credit_nets_zero():
    deals = """
deal_id,owner,amount,close_date,type,reference_deal_id
INV-2,A,500.00,2024-03-05,sale,
CN-2,A,-500.00,2024-03-06,credit_note,INV-2
"""
    result = run([plan_text("0.10")], PEOPLE, deals, "2024-03")
    assert earnings(result, "A") == Decimal("0.00")


def test_k01_positive_credit_note_rejected():
    deals = """
deal_id,owner,amount,close_date,type,reference_deal_id
INV-3,A,500.00,2024-03-05,sale,
CN-3,A,500.00,2024-03-06,credit_note,INV-3
"""
    result = run([plan_text("0.10")], PEOPLE, deals, "2024-03")
    assert earnings(result, "A") == Decimal("50.00")
    assert [problem.code for problem in result.problems] == ["calc.positive_reversal"]


FX = """
date,from_currency,to_currency,rate,rate_type
2024-03-08,EUR,USD,1.0800,
2024-03-10,EUR,USD,1.0900,
"""
FX_DEALS = """
deal_id,owner,amount,currency,close_date
A-1,A,1000.00,EUR,2024-03-10
B-1,A,500.00,USD,2024-03-12
"""


def test_k02_credits_in_several_currencies():
    result = run([plan_text("0.10")], PEOPLE, FX_DEALS, "2024-03", fx_rates=frame(FX))
    assert earnings(result, "A") == Decimal("159.00")


def test_k02_fx_rate_on_line():
    result = run([plan_text("0.10")], PEOPLE, FX_DEALS, "2024-03", fx_rates=frame(FX))
    line = result.lines[result.lines["deal_id"] == "A-1"].iloc[0]
    assert line["fx_rate"] == Decimal("1.0900")
    assert line["credited"] == Decimal("1090.00")


def test_k02_missing_rate_names_pair_and_date():
    rates = frame("date,from_currency,to_currency,rate\n2024-02-01,EUR,USD,1.0800\n")
    result = run([plan_text("0.10")], PEOPLE, FX_DEALS, "2024-03", fx_rates=rates)
    errors = [problem for problem in result.problems if problem.severity == "error"]
    assert len(errors) == 1
    assert "EUR/USD" in errors[0].message
    assert "2024-03-10" in errors[0].message


def test_k02_rate_never_defaults_to_one():
    result = run([plan_text("0.10")], PEOPLE, FX_DEALS, "2024-03")
    assert earnings(result, "A") == Decimal("50.00")
    assert result.problems[0].code == "calc.missing_fx_rate"


def test_k03_copied_split_rows_count_once():
    deals = "deal_id,owner,amount,close_date\nD-1,B,10000.00,2024-03-05\n"
    splits = frame("deal_id,participant_id,share,kind\nD-1,A,1,split\nD-1,A,1,split\n")
    result = run([plan_text("0.05")], PEOPLE, deals, "2024-03", credit_splits=splits)
    assert earnings(result, "A") == Decimal("500.00")
    assert earnings(result, "B") == Decimal("0.00")


def test_k03_split_not_hundred_percent_rejected():
    deals = "deal_id,owner,amount,close_date\nD-2,B,10000.00,2024-03-05\n"
    splits = frame("deal_id,participant_id,share,kind\nD-2,A,0.6,split\nD-2,B,0.3,split\n")
    result = run([plan_text("0.05")], PEOPLE, deals, "2024-03", credit_splits=splits)
    errors = [problem for problem in result.problems if problem.code == "calc.split_total"]
    assert len(errors) == 1
    assert "D-2" in errors[0].message
    assert earnings(result, "A") == Decimal("0.00")


def test_k03_split_scales_units():
    deals = """
deal_id,owner,amount,quantity,close_date
1,A,100.00,5,2024-03-05
2,A,100.00,10,2024-03-06
"""
    splits = frame("deal_id,participant_id,share,kind\n2,A,0.5,split\n2,B,0.5,split\n")
    units = metric("units", "sum(quantity)", unit="count")
    result = run([plan_text("1", tiers=None).replace("metric: sales", "metric: units")], PEOPLE, deals, "2024-03",
                 metrics={"units": units}, credit_splits=splits)
    rows = {row.participant_id: row.metric_value for row in result.rows if row.component == "Commission"}
    assert rows["A"] == Decimal(10)
    assert rows["B"] == Decimal(5)


def test_k04_split_and_overlay():
    people = "participant_id,name,role\nP,Pat,Rep\nL,Lee,Rep\nM,Mo,Manager\n"
    plans = [plan_text("0.10", who="{ids: [P]}", name="P plan"), plan_text("0", who="{ids: [L]}", name="L plan"),
             plan_text("0.015", who="{ids: [M]}", name="M plan")]
    deals = "deal_id,owner,amount,close_date\nD-4,P,1000.00,2024-03-05\n"
    splits = frame("deal_id,participant_id,share,kind\nD-4,P,0.6,split\nD-4,L,0.4,split\nD-4,M,1,overlay\n")
    result = run(plans, people, deals, "2024-03", credit_splits=splits)
    assert earnings(result, "P") == Decimal("60.00")
    assert earnings(result, "L") == Decimal("0.00")
    assert earnings(result, "M") == Decimal("15.00")
    assert not result.problems


def test_k05_non_commissionable_lines_filtered():
    deals = """
deal_id,line_id,owner,amount,product,close_date
INV-5,1,A,5000.00,Consulting,2024-03-05
INV-5,2,A,800.00,Travel,2024-03-05
"""
    eligible = metric(filter='product != "Travel"')
    result = run([plan_text("0.10")], PEOPLE, deals, "2024-03", metrics={"sales": eligible})
    assert earnings(result, "A") == Decimal("500.00")


K06_BANDS = ("{{method: {method}, by: amount, grain: {grain}, bands: [{{from: 0, to: 1000, rate: 0.05}}, "
             "{{from: {second}, rate: 0.08}}]}}")
K06_DEALS = """
deal_id,owner,amount,close_date
D-1,A,600.00,2024-03-05
D-2,A,700.00,2024-03-06
D-3,A,900.00,2024-03-07
"""


def test_k06_band_gap_rejected():
    tiers = K06_BANDS.format(method="retroactive", grain="deal", second="1001")
    problems = validate_plan(load_plan(plan_text(tiers=tiers)), {"sales"}, set())
    assert [problem.code for problem in problems] == ["plan.band_gap"]
    assert "band 1" in problems[0].message
    assert problems[0].component == "Commission"


def test_k06_deal_grain_pays_per_deal():
    tiers = K06_BANDS.format(method="retroactive", grain="deal", second="1000")
    result = run([plan_text(tiers=tiers)], PEOPLE, K06_DEALS, "2024-03")
    assert earnings(result, "A") == Decimal("110.00")


def test_k06_period_grain_retroactive():
    tiers = K06_BANDS.format(method="retroactive", grain="period", second="1000")
    result = run([plan_text(tiers=tiers)], PEOPLE, K06_DEALS, "2024-03")
    assert earnings(result, "A") == Decimal("176.00")


def test_k06_amount_in_former_gap_pays():
    tiers = K06_BANDS.format(method="retroactive", grain="deal", second="1000")
    deals = "deal_id,owner,amount,close_date\nD-9,A,1000.50,2024-03-05\n"
    result = run([plan_text(tiers=tiers)], PEOPLE, deals, "2024-03")
    assert earnings(result, "A") == Decimal("80.04")


K07_TIERS = ("{{method: {method}, by: amount, bands: [{{from: 0, rate: 0.02}}, {{from: 50000, rate: 0.025}}, "
             "{{from: 80000, rate: 0.03}}]}}")


@pytest.mark.parametrize(("method", "sales", "expected"), [
    ("retroactive", "90000.00", "2700.00"),
    ("marginal", "90000.00", "2050.00"),
    ("retroactive", "80000.00", "2400.00"),
    ("retroactive", "79000.00", "1975.00"),
])
def test_k07_marginal_versus_retroactive(method, sales, expected):
    deals = f"deal_id,owner,amount,close_date\nD-1,A,{sales},2024-03-05\n"
    result = run([plan_text(tiers=K07_TIERS.format(method=method))], PEOPLE, deals, "2024-03")
    assert earnings(result, "A") == Decimal(expected)


def test_k07_marginal_small_bands():
    tiers = ("{method: marginal, by: amount, bands: [{from: 0, rate: 0.03}, {from: 500, rate: 0.05}, "
             "{from: 750, rate: 0.075}]}")
    deals = "deal_id,owner,amount,close_date\nD-1,A,800.00,2024-03-05\n"
    result = run([plan_text(tiers=tiers)], PEOPLE, deals, "2024-03")
    assert earnings(result, "A") == Decimal("31.25")


K08_PLAN = """
plan: Accelerator
version: 1
effective_from: 2024-01-01
currency: USD
period: quarter
participants: {role: Rep}
components:
  - name: Commission
    type: commission
    metric: sales
    quota: revenue
    tiers:
      method: marginal
      by: attainment
      bands: [{from: 0, rate: 0.05}, {from: 1.0, rate: 0.075}, {from: 1.25, rate: 0.125}]
"""
K08_QUOTAS = "participant_id,quota_key,period,amount\nA,revenue,2024-Q1,100000.00\n"


@pytest.mark.parametrize(("revenue", "expected"), [("130000.00", "7500.00"), ("90000.00", "4500.00")])
def test_k08_accelerators_never_negative(revenue, expected):
    deals = f"deal_id,owner,amount,close_date\nD-1,A,{revenue},2024-02-05\n"
    result = run([K08_PLAN], "participant_id,name,role\nA,Ann,Rep\n", deals, "2024-Q1", quotas=frame(K08_QUOTAS))
    assert earnings(result, "A") == Decimal(expected)


def test_k08_upper_tiers_untouched_below_goal():
    deals = "deal_id,owner,amount,close_date\nD-1,A,90000.00,2024-02-05\n"
    result = run([K08_PLAN], "participant_id,name,role\nA,Ann,Rep\n", deals, "2024-Q1", quotas=frame(K08_QUOTAS))
    line = result.lines.iloc[0]
    assert line["bands"] == (1,)
    assert exact_decimals(result.lines)[0] == Decimal("4500")


def test_k09_two_week_cycles_without_carry_over():
    tiers = ("{method: marginal, by: amount, bands: [{from: 0, rate: 0.25}, {from: 500, rate: 0.30}, "
             "{from: 3000, rate: 0.40}]}")
    plan = plan_text(tiers=tiers, period="two_weeks").replace("currency: USD", "currency: USD\nperiod_start: 2024-01-01")
    deals = """
deal_id,owner,amount,close_date
C-1,A,400.00,2024-01-03
C-2,A,100.00,2024-01-16
C-3,A,1500.00,2024-02-01
C-4,A,5000.00,2024-02-13
"""
    result = run([plan], PEOPLE, deals, "2024-Q1")
    by_cycle = {row.period: row.earnings for row in result.rows
                if row.participant_id == "A" and row.component == "Commission"}
    assert by_cycle["2024-01-01"] == Decimal("100.00")
    assert by_cycle["2024-01-15"] == Decimal("25.00")
    assert by_cycle["2024-01-29"] == Decimal("425.00")
    assert by_cycle["2024-02-12"] == Decimal("1675.00")
    assert sum(by_cycle.values()) == Decimal("2225.00")


K10_PLAN = plan_text("1", extra="draw: {amount: 2000, recoverable: true, year_end: carry_forward}")
K10_DEALS = """
deal_id,owner,amount,close_date
M1,A,2750.00,2024-01-10
M2,A,3000.00,2024-02-10
M3,A,1500.00,2024-03-10
M4,A,2375.00,2024-04-10
M5,A,3000.00,2024-05-10
M6,A,2750.00,2024-06-10
"""
K10_ONE = "participant_id,name,role\nA,Ann,Rep\n"


def test_k10_recoverable_draw_payouts():
    result = run([K10_PLAN], K10_ONE, K10_DEALS, "2024-Q1")
    later = run([K10_PLAN], K10_ONE, K10_DEALS, "2024-Q2")
    paid = [row.earnings for row in (*result.rows, *later.rows) if row.component == "TOTAL"]
    assert paid == [Decimal(value) for value in ("2750.00", "3000.00", "2000.00", "2000.00", "2875.00", "2750.00")]


def test_k10_draw_balances():
    result = run([K10_PLAN], K10_ONE, K10_DEALS, "2024-Q1")
    later = run([K10_PLAN], K10_ONE, K10_DEALS, "2024-Q2")
    balances = [*result.draw_balances.values(), *later.draw_balances.values()]
    assert balances == [Decimal(value) for value in ("0", "0", "500.00", "125.00", "0.00", "0.00")]


def test_k10_total_paid_equals_earned():
    result = run([K10_PLAN], K10_ONE, K10_DEALS, "2024")
    paid = sum(row.earnings for row in result.rows if row.component == "TOTAL" and row.period <= "2024-06")
    assert paid == Decimal("15375.00")


def test_k10_draw_row_signs():
    result = run([K10_PLAN], K10_ONE, K10_DEALS, "2024-Q2")
    draws = [row.earnings for row in result.rows if row.component == "Draw"]
    assert draws == [Decimal("-375.00"), Decimal("-125.00"), Decimal("0.00")]


K11_PLAN = """
plan: Annual quota
version: 1
effective_from: 2019-01-01
currency: USD
period: quarter
participants: {role: Rep}
quota_proration: months
components:
  - name: Commission
    type: commission
    metric: sales
    quota: revenue
    tiers: {method: flat, by: attainment, bands: [{from: 0, rate: 0.01}]}
"""


@pytest.mark.parametrize(("hired", "expected"), [
    ("2019-03-01", "86666.67"), ("2019-10-01", "40000.00"), ("2019-11-01", "26666.67"), ("2019-12-01", "13333.33"),
])
def test_k11_proration_by_whole_months(hired, expected):
    people = f"participant_id,name,role,hire_date\nA,Ann,Rep,{hired}\n"
    quotas = "\n".join(["participant_id,quota_key,period,amount"] + [
        f"A,revenue,2019-Q{quarter},{amount}" for quarter, amount in ((1, 20000), (2, 20000), (3, 20000), (4, 40000))])
    deals = "deal_id,owner,amount,close_date\nD-1,A,100.00,2019-12-20\n"
    result = run([K11_PLAN], people, deals, "2019", quotas=frame(quotas))
    total = sum(row.quota for row in result.rows if row.component == "Commission")
    assert total.quantize(Decimal("0.01")) == Decimal(expected)


def test_k11_no_rows_before_hire():
    people = "participant_id,name,role,hire_date\nA,Ann,Rep,2019-10-01\n"
    quotas = "participant_id,quota_key,period,amount\nA,revenue,2019-Q4,40000\n"
    deals = "deal_id,owner,amount,close_date\nD-1,A,100.00,2019-12-20\n"
    result = run([K11_PLAN], people, deals, "2019", quotas=frame(quotas))
    assert {row.period for row in result.rows} == {"2019-Q4"}


K12_PLAN = plan_text("0.074", period="quarter",
                     extra="").replace("    tiers:", "    hold: {share: 0.5, until: service_start_date}\n    tiers:")


def test_k12_hold_pays_half_now():
    deals = "deal_id,owner,amount,close_date,service_start_date\nD-1,A,93139.00,2024-03-05,2024-05-02\n"
    result = run([K12_PLAN], K10_ONE, deals, "2024-Q1")
    assert earnings(result, "A") == Decimal("3446.14")
    assert result.held[0].amount == Decimal("3446.15")


def test_k12_release_pays_other_half():
    deals = "deal_id,owner,amount,close_date,service_start_date\nD-1,A,93139.00,2024-03-05,2024-05-02\n"
    result = run([K12_PLAN], K10_ONE, deals, "2024-Q2")
    assert earnings(result, "A") == Decimal("3446.15")
    assert not result.held


def test_k12_line_adds_to_statement_line():
    deals = "deal_id,owner,amount,close_date,service_start_date\nD-1,A,93139.00,2024-03-05,\n"
    result = run([K12_PLAN], K10_ONE, deals, "2024-Q1")
    line = next(result.iter_lines())
    assert line.rounded == Decimal("6892.29")
    assert line.paid_now + line.held == line.rounded
    assert result.held[0].release_date is None
