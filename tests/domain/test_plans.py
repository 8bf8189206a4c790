import dataclasses
import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from spm_desktop.domain.plans import (
    Eligibility,
    PlanFormatError,
    assign_plans,
    describe_plan,
    diff_plans,
    dump_plan,
    load_plan,
    payout_curve,
    validate_plan,
)

FULL_PLAN = """
plan: Account Executive 2017
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31          # inclusive
currency: USD
period: quarter
participants: {role: Sales Agent}
quota_proration: days
fx: {rate_date: period_end, rate_type: end_of_day, max_age_days: 3}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    credit: team
    quota: bookings
    basis: ytd
    tiers:
      method: marginal
      by: attainment
      grain: period
      bands:
        - {from: 0,   rate: 0.03}
        - {from: 0.5, rate: 0.06}
        - {from: 1.0, rate: 0.09}
        - {from: 1.5, rate: 0.12}
    cap: 60000
    gate: ytd_attainment >= 0.5
    hold: {share: 0.5, until: service_start_date}
    reviewed_by: Finance
  - name: GTX Pro SPIF
    type: spif
    metric: gtx_pro_deals
    amount_per_unit: 100
  - name: Attainment bonus
    type: bonus
    metric: bookings
    quota: bookings
    target: 5000
    curve:
      - {attainment: 0.5, payout: 0}
      - {attainment: 1.0, payout: 1.0}
      - {attainment: 1.5, payout: 2.0}
  - name: Custom kicker
    type: formula
    metric: bookings
    quota: bookings
    expression: "if(attainment >= 1.2, 0.01 * credit, 0)"
draw: {amount: 2000, recoverable: true, year_end: forgive}
clawback: {window_days: 90, rate: original}
on: kept as text
"""
METRICS = {"bookings", "gtx_pro_deals"}
QUOTAS = {"bookings"}


def test_load_reads_exact_decimals():
    plan = load_plan(FULL_PLAN)
    rates = [band.rate for band in plan.components[0].tiers.bands]
    assert rates == [Decimal("0.03"), Decimal("0.06"), Decimal("0.09"), Decimal("0.12")]
    assert isinstance(plan.components[0].cap, Decimal)


def test_load_reads_header():
    plan = load_plan(FULL_PLAN)
    assert plan.effective_to == dt.date(2017, 12, 31)
    assert plan.participants.role == "Sales Agent"
    assert plan.fx.rate_date == "period_end"
    assert plan.draw.year_end == "forgive"
    assert plan.clawback.window_days == 90


def test_load_keeps_yes_like_keys_as_text():
    plan = load_plan(FULL_PLAN)
    assert plan.extra == {"on": "kept as text"}


def test_round_trip_without_loss():
    plan = load_plan(FULL_PLAN)
    assert load_plan(dump_plan(plan)) == plan


def test_round_trip_keeps_extra_keys():
    text = dump_plan(dataclasses.replace(load_plan(FULL_PLAN), source=None))
    assert "reviewed_by: Finance" in text
    assert "on: kept as text" in text


def test_dump_unchanged_plan_keeps_comments():
    assert dump_plan(load_plan(FULL_PLAN)) == FULL_PLAN


def test_dump_changed_plan_uses_standard_layout():
    changed = dataclasses.replace(load_plan(FULL_PLAN), version=2)
    text = dump_plan(changed)
    assert "# inclusive" not in text
    assert load_plan(text) == changed


def test_dump_keeps_decimal_digits():
    plan = load_plan(FULL_PLAN.replace("rate: 0.03", "rate: 0.0300"))
    assert "rate: 0.0300" in dump_plan(dataclasses.replace(plan, source=None))


def test_valid_plan_has_no_problems():
    assert validate_plan(load_plan(FULL_PLAN), METRICS, QUOTAS) == []


def test_unknown_band_key_rejected():
    text = FULL_PLAN.replace("{from: 0.5, rate: 0.06}", "{from: 0.5, rate: 0.06, upto: 1}")
    with pytest.raises(PlanFormatError) as raised:
        load_plan(text)
    assert raised.value.problems[0].code == "plan.unknown_band_key"
    assert "band 2" in raised.value.problems[0].message
    assert raised.value.problems[0].component == "Bookings commission"


def test_rate_that_is_not_a_number_rejected():
    with pytest.raises(PlanFormatError, match="rate"):
        load_plan(FULL_PLAN.replace("rate: 0.06", "rate: six percent"))


def test_infinite_rate_rejected():
    with pytest.raises(PlanFormatError, match="must be a number"):
        load_plan(FULL_PLAN.replace("rate: 0.06", "rate: .inf"))


def test_invalid_yaml_rejected():
    with pytest.raises(PlanFormatError, match="YAML"):
        load_plan("plan: [unclosed")


def test_missing_components_rejected():
    with pytest.raises(PlanFormatError, match="components"):
        load_plan("plan: Empty\neffective_from: 2024-01-01\ncurrency: USD\nperiod: month\n"
                  "participants: {role: Rep}\n")


def _bands_plan(bands: str) -> str:
    return f"""
plan: Bands
effective_from: 2024-01-01
currency: USD
period: month
participants: {{role: Rep}}
components:
  - name: Commission
    type: commission
    metric: bookings
    tiers:
      method: marginal
      by: amount
      bands: {bands}
"""


@pytest.mark.parametrize(("bands", "code", "band"), [
    ("[{from: 100, rate: 0.05}]", "plan.band_start", "band 1"),
    ("[{from: 0, rate: 0.05}, {from: 0, rate: 0.06}]", "plan.band_order", "band 2"),
    ("[{from: 0, rate: 0.05}, {from: 500, rate: 0.06}, {from: 400, rate: 0.07}]", "plan.band_order", "band 3"),
    ("[{from: 0, to: 1000, rate: 0.05}, {from: 1001, rate: 0.08}]", "plan.band_gap", "band 1"),
    ("[{from: 0, to: 1200, rate: 0.05}, {from: 1000, rate: 0.08}]", "plan.band_overlap", "band 1"),
    ("[{from: 0, rate: 0.05}, {from: 1000, to: 5000, rate: 0.08}]", "plan.band_open_end", "band 2"),
    ("[{from: 0, rate: -0.05}]", "plan.negative_rate", "band 1"),
])
def test_band_rules_name_band(bands, code, band):
    problems = validate_plan(load_plan(_bands_plan(bands)), {"bookings"}, set())
    assert [problem.code for problem in problems] == [code]
    assert band in problems[0].message
    assert problems[0].component == "Commission"


def test_band_with_matching_to_accepted():
    plan = load_plan(_bands_plan("[{from: 0, to: 1000, rate: 0.05}, {from: 1000, rate: 0.08}]"))
    assert validate_plan(plan, {"bookings"}, set()) == []


def test_unknown_metric_and_quota_named():
    problems = validate_plan(load_plan(FULL_PLAN), {"bookings"}, set())
    messages = " ".join(problem.message for problem in problems)
    assert "gtx_pro_deals" in messages
    assert "quota key 'bookings'" in messages


def test_invalid_gate_named():
    plan = load_plan(FULL_PLAN.replace("gate: ytd_attainment >= 0.5", "gate: ytd_attainment >= "))
    problems = validate_plan(plan, METRICS, QUOTAS)
    assert [problem.code for problem in problems] == ["plan.invalid_expression"]
    assert problems[0].component == "Bookings commission"


def test_invalid_choices_named():
    plan = load_plan(FULL_PLAN.replace("method: marginal", "method: stepped").replace("period: quarter",
                                                                                       "period: fortnight"))
    codes = [problem.code for problem in validate_plan(plan, METRICS, QUOTAS)]
    assert codes.count("plan.invalid_choice") == 2


def test_attainment_tiers_need_quota():
    plan = load_plan(_bands_plan("[{from: 0, rate: 0.05}]").replace("by: amount", "by: attainment"))
    assert [problem.code for problem in validate_plan(plan, {"bookings"}, set())] == ["plan.missing_quota"]


def test_duplicate_component_names_rejected():
    plan = load_plan(FULL_PLAN.replace("name: GTX Pro SPIF", "name: Attainment bonus"))
    codes = [problem.code for problem in validate_plan(plan, METRICS, QUOTAS)]
    assert codes == ["plan.duplicate_component"]


PEOPLE = pd.DataFrame({
    "participant_id": ["A", "B", "C"],
    "name": ["Ann", "Bob", "Cy"],
    "role": ["Sales Agent", "Sales Agent", "Manager"],
    "hire_date": pd.to_datetime(["2017-03-15", None, None]),
    "termination_date": pd.to_datetime([None, "2017-05-31", None]),
})


def test_assignment_by_role_within_employment():
    plan = load_plan(FULL_PLAN)
    assignments, problems = assign_plans([plan], PEOPLE, dt.date(2017, 1, 1), dt.date(2017, 12, 31))
    spans = {item.participant_id: (item.start, item.end) for item in assignments}
    assert spans == {"A": (dt.date(2017, 3, 15), dt.date(2017, 12, 31)),
                     "B": (dt.date(2017, 1, 1), dt.date(2017, 5, 31))}
    assert problems == []


def test_assignment_by_ids():
    plan = dataclasses.replace(load_plan(FULL_PLAN), participants=dataclasses.replace(
        load_plan(FULL_PLAN).participants, role=None, ids=("C",)))
    assignments, _problems = assign_plans([plan], PEOPLE, dt.date(2017, 1, 1), dt.date(2017, 3, 31))
    assert [item.participant_id for item in assignments] == ["C"]


def test_assignment_conflict_names_both_plans():
    first = load_plan(FULL_PLAN)
    second = dataclasses.replace(first, name="Overlay plan", participants=dataclasses.replace(
        first.participants, role=None, ids=("B",)))
    assignments, problems = assign_plans([first, second], PEOPLE, dt.date(2017, 1, 1), dt.date(2017, 3, 31))
    assert [item.participant_id for item in assignments] == ["A"]
    assert len(problems) == 1
    assert "Account Executive 2017" in problems[0].message
    assert "Overlay plan" in problems[0].message


def test_assignment_outside_plan_dates_empty():
    assignments, _problems = assign_plans([load_plan(FULL_PLAN)], PEOPLE, dt.date(2018, 1, 1), dt.date(2018, 3, 31))
    assert assignments == []


def test_description_reads_like_plan():
    text = describe_plan(load_plan(FULL_PLAN))
    assert "every quarter" in text
    assert "3% from 0% of quota up to 50% of quota" in text
    assert "Pays at most 60,000.00 USD per quarter." in text
    assert "held until" in text
    assert "forgiven at year end" in text


def test_curve_of_marginal_commission():
    component = load_plan(FULL_PLAN).components[0]
    curve = payout_curve(component, Decimal(100000), [Decimal("0.5"), Decimal(1), Decimal(2)])
    assert curve == [(Decimal("0.5"), Decimal("1500")), (Decimal(1), Decimal("4500")), (Decimal(2), Decimal("15000"))]


def test_curve_applies_cap():
    component = load_plan(FULL_PLAN).components[0]
    assert payout_curve(component, Decimal(1000000), [Decimal(2)]) == [(Decimal(2), Decimal(60000))]


def test_curve_of_bonus_interpolates():
    component = load_plan(FULL_PLAN).components[2]
    curve = payout_curve(component, Decimal(100000), [Decimal("0.25"), Decimal("0.75"), Decimal(3)])
    assert [earnings for _attainment, earnings in curve] == [Decimal(0), Decimal("2500.0"), Decimal("10000.0")]


def test_curve_default_points_start_at_zero():
    curve = payout_curve(load_plan(FULL_PLAN).components[0], Decimal(100000))
    assert len(curve) == 31
    assert curve[0] == (Decimal(0), Decimal(0))


def test_curve_of_spif_rejected():
    with pytest.raises(ValueError, match="spif"):
        payout_curve(load_plan(FULL_PLAN).components[1], Decimal(100))


def test_diff_names_changed_band():
    old = load_plan(FULL_PLAN)
    new = load_plan(FULL_PLAN.replace("version: 1", "version: 2").replace("rate: 0.06", "rate: 0.07"))
    assert diff_plans(old, new) == ["version: 1 -> 2",
                                    "component 'Bookings commission', tiers, bands, band 2, rate: 0.06 -> 0.07"]


def test_diff_lists_added_and_removed_components():
    old = load_plan(FULL_PLAN)
    new = dataclasses.replace(old, components=(*old.components[1:], dataclasses.replace(old.components[0], name="New commission")))
    lines = diff_plans(old, new)
    assert "component 'Bookings commission' removed" in lines
    assert "component 'New commission' added" in lines


def test_diff_of_equal_plans_empty():
    assert diff_plans(load_plan(FULL_PLAN), load_plan(FULL_PLAN)) == []


@pytest.mark.parametrize("text", ["?0", "? Sales Agent", "-x", "#7", "'q", "a\x85b", "a\u2028b", "x: y"])
def test_dump_plan_quotes_text_yaml_would_misread(text):
    plan = dataclasses.replace(load_plan(FULL_PLAN), participants=Eligibility(text, (text,)))
    assert load_plan(dump_plan(plan)).participants == plan.participants


MINIMAL = """\
plan: Fiscal
version: 1
effective_from: 2024-01-01
currency: USD
period: quarter
participants: {role: Rep}
components:
  - {name: Flat, type: commission, metric: bookings, tiers: {method: flat, bands: [{from: 0, rate: 0.1}]}}
"""


def test_plan_without_fiscal_start_follows_the_workspace():
    plan = load_plan(MINIMAL)
    assert plan.fiscal_start_month == 1
    assert not plan.fiscal_start_stated
    assert "fiscal_start_month" not in dump_plan(plan)


def test_stated_january_survives_a_round_trip():
    plan = load_plan(MINIMAL + "fiscal_start_month: 1\n")
    assert plan.fiscal_start_month == 1
    assert plan.fiscal_start_stated
    again = load_plan(dump_plan(dataclasses.replace(plan, source=None)))
    assert again == plan
    assert again.fiscal_start_stated


def test_any_other_month_is_stated():
    plan = dataclasses.replace(load_plan(MINIMAL), fiscal_start_month=7)
    assert plan.fiscal_start_stated
    assert load_plan(dump_plan(plan)).fiscal_start_month == 7
