"""Alignment review figures on a small data set whose values are worked out by hand below."""

import datetime as dt
from decimal import Decimal as D  # noqa: N817  (short for hand-computed tables)

import pandas as pd
import pytest

from spm_desktop.domain import review
from spm_desktop.domain.review import (
    ComponentOutline,
    MetricOutline,
    ParticipantOutcome,
    PeriodWindow,
    PlanOutline,
)

OUTCOMES = [
    ParticipantOutcome("P1", "Ana", "AE", "East", D("1000"), D("0.40"), D("40000"), D("10000"), D("2000")),
    ParticipantOutcome("P2", "Ben", "AE", "East", D("3000"), D("0.90"), D("90000"), D("30000"), D("2000")),
    ParticipantOutcome("P3", "Cai", "AE", "West", D("6000"), D("1.30"), D("130000"), D("20000"), D("2000")),
    ParticipantOutcome("P4", "Dee", "SE", "West", D("5000"), D("1.40"), D("55000"), D("25000"), D("4000")),
    ParticipantOutcome("P5", "Eve", "SE", "West", D("2000"), None, D("0"), None, None),
]


def close(value, expected, places=12):
    return abs(value - D(expected)) < D(10) ** -places


# --- ranks and correlation --------------------------------------------------------------


def test_average_ranks_share_ties():
    assert review.average_ranks([D(5), D(1), D(5), D(3)]) == [D("3.5"), D(1), D("3.5"), D(2)]


def test_spearman_without_ties():
    # d^2 = 0 + 0 + 1 + 1 = 2; rho = 1 - 6 * 2 / (4 * 15) = 0.8
    assert review.spearman([D(1), D(2), D(4), D(3)], [D(1), D(2), D(3), D(4)]) == D("0.8")


def test_spearman_with_ties_uses_average_ranks():
    # ranks x 1, 2.5, 2.5, 4 against 1, 2, 3, 4: 4.5 / sqrt(4.5 * 5) = sqrt(0.9)
    rho = review.spearman([D(1), D(2), D(2), D(3)], [D(1), D(2), D(3), D(4)])
    assert close(rho, "0.9486832980505137995996680633")


def test_spearman_constant_side_is_undefined():
    assert review.spearman([D(7), D(7), D(7)], [D(1), D(2), D(3)]) is None


def test_spearman_needs_three_pairs():
    assert review.spearman([D(1), D(2)], [D(1), D(2)]) is None


# --- pay for performance ----------------------------------------------------------------


def test_pay_for_performance_earnings_against_attainment():
    figure = review.pay_for_performance(OUTCOMES)
    assert figure.earnings_attainment == D("0.8")


def test_pay_for_performance_earnings_against_credited():
    # earnings ranks 1,3,5,4,2; credited ranks 2,4,5,3,1: d^2 = 4, rho = 1 - 24 / 120
    figure = review.pay_for_performance(OUTCOMES)
    assert figure.earnings_credited == D("0.8")


def test_pay_for_performance_earnings_against_margin():
    # four with margin: earnings ranks 1,2,4,3; margin ranks 1,4,2,3: d^2 = 8, rho = 1 - 48 / 60
    figure = review.pay_for_performance(OUTCOMES)
    assert figure.earnings_margin == D("0.2")


def test_pay_for_performance_scatter_leaves_out_no_quota():
    figure = review.pay_for_performance(OUTCOMES)
    assert [point.participant_id for point in figure.points] == ["P1", "P2", "P3", "P4"]


def test_pay_for_performance_explanation_names_strength():
    figure = review.pay_for_performance(OUTCOMES)
    assert "a strong positive rank correlation with attainment (Spearman 0.80 over 4" in figure.explanation


def test_pay_for_performance_too_few_people():
    figure = review.pay_for_performance(OUTCOMES[:2])
    assert figure.earnings_attainment is None
    assert "at least three" in figure.explanation


# --- top earners against top performers -------------------------------------------------


def test_top_overlap_decile_of_four_is_one():
    figure = review.top_overlap(OUTCOMES)
    assert figure.decile_size == 1


def test_top_overlap_names_each_side():
    figure = review.top_overlap(OUTCOMES)
    assert figure.earners_only == ("P3",)
    assert figure.performers_only == ("P4",)
    assert figure.overlap == D(0)


def test_top_overlap_explanation_names_people():
    figure = review.top_overlap(OUTCOMES)
    assert "Paid at the top without performing at the top: Cai." in figure.explanation
    assert "Performing at the top without being paid at the top: Dee." in figure.explanation


def test_top_decile_breaks_ties_by_id():
    # eleven equal earners make a decile of two
    outcomes = [ParticipantOutcome(f"P{i:02d}", f"N{i}", "AE", None, D(100), D(1)) for i in range(11)]
    assert review.top_decile(outcomes, "earnings") == ("P00", "P01")


# --- distributions ----------------------------------------------------------------------


def test_distributions_reached_quota():
    figure = review.distributions(OUTCOMES)
    assert figure.reached_quota == 2
    assert figure.with_quota == 4
    assert figure.reached_share == D("0.5")


def test_distributions_band_counts():
    figure = review.distributions(OUTCOMES)
    assert [band.participants for band in figure.bands] == [1, 0, 1, 0, 2, 0]


def test_distributions_band_means_and_pay_ratio():
    band = review.distributions(OUTCOMES).bands[4]
    assert band.mean_attainment == D("1.35")
    assert band.mean_earnings == D("5500")
    assert close(band.pay_ratio, "1.833333333333333333333333333333")


def test_distributions_quartiles_by_nearest_rank():
    figure = review.distributions(OUTCOMES)
    assert figure.earnings_quartiles == (D(2000), D(3000), D(5000))


def test_distributions_top_tenth_share():
    # one of five earners: 6,000 / 17,000
    figure = review.distributions(OUTCOMES)
    assert close(figure.top_tenth_share, "0.3529411764705882352941176470588")


def test_distributions_leverage():
    # mean at or above quota 5,500 against 2,000 below it
    figure = review.distributions(OUTCOMES)
    assert figure.leverage == D("2.75")


def test_distributions_explanation():
    figure = review.distributions(OUTCOMES)
    assert figure.explanation.startswith("2 of 4 participants with a quota reached it (50.0%).")


def test_band_edges_are_lower_inclusive():
    assert review.band_of(D("1.0")) == "100-125%"
    assert review.band_of(D("0.9999")) == "75-100%"
    assert review.band_of(D("-0.2")) == "below 50%"


# --- cost of sales ----------------------------------------------------------------------


def test_cost_of_sales_overall_on_credited():
    figure = review.cost_of_sales(OUTCOMES)
    assert figure.total_earnings == D(17000)
    assert figure.revenue == D(315000)
    assert close(figure.cost_of_sales, D(17000) / D(315000))


def test_cost_of_sales_overall_on_revenue_counted_once():
    figure = review.cost_of_sales(OUTCOMES, revenue=D(300000))
    assert close(figure.cost_of_sales, "0.05666666666666666666666666666667")


def test_cost_of_sales_per_plan():
    rows = {row.group: row for row in review.cost_of_sales(OUTCOMES).by_plan}
    assert rows["AE"].earnings == D(10000)
    assert rows["AE"].credited == D(260000)
    assert close(rows["SE"].cost_of_sales, D(7000) / D(55000))


def test_cost_of_sales_per_region():
    rows = {row.group: row for row in review.cost_of_sales(OUTCOMES).by_region}
    assert close(rows["East"].cost_of_sales, D(4000) / D(130000))
    assert close(rows["West"].cost_of_sales, D(13000) / D(185000))


def test_cost_of_sales_explanation_names_plans():
    figure = review.cost_of_sales(OUTCOMES, revenue=D(300000))
    assert figure.explanation == ("Incentive pay cost 5.7% of revenue. Against the revenue credited to its own "
                                  "participants, plan SE costs the most (12.7%) and plan AE the least (3.8%).")


def test_cost_of_sales_without_revenue():
    figure = review.cost_of_sales([OUTCOMES[4]])
    assert figure.cost_of_sales is None


# --- behaviours not paid for ------------------------------------------------------------

METRICS = [
    MetricOutline("bookings", "Bookings", "primary", "approved"),
    MetricOutline("margin", "Margin", "primary", "approved"),
    MetricOutline("renewals", "Renewals", "primary", "approved"),
    MetricOutline("meetings", "Meetings", "supporting", "approved", "count"),
    MetricOutline("pipeline", "Pipeline", "primary", "draft"),
]

PLANS = [
    PlanOutline("AE", 1, (
        ComponentOutline("Bookings commission", "commission", "bookings", gate="attainment >= 0.5", has_cap=True),
        ComponentOutline("Meetings SPIF", "spif", "meetings"),
        ComponentOutline("Kicker", "formula", "bookings", expression='if(metric("pipeline") > 0, 100, 0)'),
    ), participants=("P1", "P2", "P3"), adjustments=2, exceptions=1),
    PlanOutline("SE", 2, (
        ComponentOutline("Margin bonus", "bonus", "margin", has_hold=True),
        ComponentOutline("Mystery", "commission", "nps", grain="deal"),
    ), assigned_ids=("P4", "P5"), participants=("P4", "P5")),
]


def test_behaviour_gaps_unpaid_primary():
    figure = review.behaviour_gaps(METRICS, PLANS)
    assert [metric.key for metric in figure.unpaid_primary] == ["renewals"]


def test_behaviour_gaps_weak_payments():
    figure = review.behaviour_gaps(METRICS, PLANS)
    found = [(w.plan, w.component, w.metric, w.reason) for w in figure.weak_payments]
    assert found == [
        ("AE", "Meetings SPIF", "meetings", "supporting"),
        ("AE", "Kicker", "pipeline", "draft"),
        ("SE", "Mystery", "nps", "not in the catalog"),
    ]


def test_behaviour_gaps_count():
    assert review.behaviour_gaps(METRICS, PLANS).count == 4


def test_behaviour_gaps_none():
    figure = review.behaviour_gaps(METRICS[:1], PLANS[:1][:0] or [PlanOutline("X", 1, (
        ComponentOutline("C", "commission", "bookings"),))])
    assert figure.explanation == "Every approved primary metric is paid for, and every component pays on one."


def test_component_reads_metric_calls_in_gate():
    component = ComponentOutline("C", "commission", "bookings", gate="metric('meetings') >= 10")
    assert component.metrics_used() == ("bookings", "meetings")


# --- plan complexity --------------------------------------------------------------------


def test_plan_complexity_rows():
    rows = review.plan_complexity(PLANS).rows
    found = [(r.plan, r.components, r.conditional_terms, r.exceptions, r.overrides, r.participants, r.one_off)
             for r in rows]
    assert found == [("AE", 3, 3, 1, 2, 3, False), ("SE", 2, 2, 0, 0, 2, True)]


def test_plan_complexity_explanation():
    assert review.plan_complexity(PLANS).explanation == (
        "2 plan(s) carry 5 components and 5 conditional terms, with 1 calculation exceptions and 2 overrides in "
        "the period; 2 participant(s) are on one-off plans assigned to one or two people.")


def test_plan_complexity_one_off_participants():
    assert review.plan_complexity(PLANS).one_off_participants == ("P4", "P5")


def test_plan_for_three_ids_is_not_one_off():
    plan = PlanOutline("Trio", 1, (), assigned_ids=("A", "B", "C"))
    assert review.plan_complexity([plan]).one_off_participants == ()


# --- forecast distortion ----------------------------------------------------------------

PERIODS = [
    PeriodWindow("2017-Q1", dt.date(2017, 1, 1), dt.date(2017, 3, 31)),
    PeriodWindow("2017-Q2", dt.date(2017, 4, 1), dt.date(2017, 6, 30)),
]


def _deals():
    rows = [
        ("P1", "2017-01-10", 100), ("P2", "2017-02-05", 300), ("P1", "2017-03-20", 100),
        ("P1", "2017-04-05", 100), ("P2", "2017-06-20", 300), ("P2", "2017-06-30", 200),
        ("P1", "2017-05-01", None), ("P4", "2017-04-10", 1000), ("P9", "2017-06-29", 5000),
        ("P2", None, 700),
    ]
    return pd.DataFrame({
        "owner": [r[0] for r in rows],
        "close_date": pd.to_datetime([r[1] for r in rows]),
        "amount": pd.array([None if r[2] is None else r[2] * 10_000 for r in rows], dtype="Int64"),
    })


PLAN_OF = {"P1": "AE", "P2": "AE", "P4": "SE"}


def test_distortion_first_period_shares():
    figure = review.forecast_distortion(_deals(), PLAN_OF, PERIODS, "2017-Q2")
    row = figure.rows[0]
    assert (row.plan, row.period, row.deals, row.late_deals) == ("AE", "2017-Q1", 3, 1)
    assert row.late_value_share == D("0.2")
    assert close(row.late_deal_share, D(1) / D(3))


def test_distortion_expected_share_is_window_days():
    row = review.forecast_distortion(_deals(), PLAN_OF, PERIODS, "2017-Q2").rows[0]
    assert close(row.expected_share, D(14) / D(90))


def test_distortion_counts_deal_without_amount():
    row = review.forecast_distortion(_deals(), PLAN_OF, PERIODS, "2017-Q2").rows[1]
    assert (row.deals, row.value, row.late_deals, row.late_value) == (4, D(600), 2, D(500))


def test_distortion_flags_the_jump():
    figure = review.forecast_distortion(_deals(), PLAN_OF, PERIODS, "2017-Q2")
    assert [(row.plan, row.period) for row in figure.jumps] == [("AE", "2017-Q2")]


def test_distortion_review_period_share():
    # AE 500 late of 600, SE 0 of 1,000; the owner on no plan is left out
    figure = review.forecast_distortion(_deals(), PLAN_OF, PERIODS, "2017-Q2")
    assert figure.late_value_share == D("0.3125")


def test_distortion_window_of_one_week():
    figure = review.forecast_distortion(_deals(), PLAN_OF, PERIODS, "2017-Q2", window_weeks=1)
    # June 24-30 holds only the 200 deal of June 30
    assert figure.rows[1].late_value == D(200)
    assert close(figure.rows[1].expected_share, D(7) / D(91))


def test_distortion_rejects_empty_window():
    with pytest.raises(ValueError, match="at least one week"):
        review.forecast_distortion(_deals(), PLAN_OF, PERIODS, "2017-Q2", window_weeks=0)


def test_distortion_explanation():
    figure = review.forecast_distortion(_deals(), PLAN_OF, PERIODS, "2017-Q2")
    assert figure.explanation.startswith("31.3% of the value closed in 2017-Q2 closed in its last 2 weeks, "
                                         "which is 15.4% of its days; deals are being pulled")


# --- the whole review -------------------------------------------------------------------


def test_build_review_headlines_in_order():
    distortion = review.forecast_distortion(_deals(), PLAN_OF, PERIODS, "2017-Q2")
    result = review.build_review("2017-Q2", "USD", OUTCOMES, METRICS, PLANS, distortion=distortion)
    keys = [headline.key for headline in result.headlines()]
    assert keys == ["pay_for_performance", "top_overlap", "distributions", "cost_of_sales", "behaviour_gaps",
                    "plan_complexity", "forecast_distortion"]


def test_build_review_headline_values():
    result = review.build_review("2017-Q2", "USD", OUTCOMES, METRICS, PLANS)
    values = {headline.key: headline.value for headline in result.headlines()}
    assert values["pay_for_performance"] == D("0.8")
    assert values["behaviour_gaps"] == D(4)
    assert values["plan_complexity"] == D(2)


# --- scenario comparison ----------------------------------------------------------------


def _comparison():
    actual = {"P1": D(100), "P2": D(200), "P3": D(300)}
    scenario = {"P1": D(150), "P2": D(200), "P4": D(50)}
    return review.compare_payouts(actual, scenario, {"P1": "Ana"}, "USD")


def test_compare_costs():
    result = _comparison()
    assert result.actual_cost == D(600)
    assert result.scenario_cost == D(400)
    assert result.cost_difference == D(-200)


def test_compare_cost_per_participant():
    result = _comparison()
    assert result.actual_cost_per_participant == D(150)
    assert result.scenario_cost_per_participant == D(100)


def test_compare_winners_and_losers():
    result = _comparison()
    assert [c.participant_id for c in result.winners] == ["P1", "P4"]
    assert [c.participant_id for c in result.losers] == ["P3"]
    assert result.unchanged == 1


def test_compare_explanation():
    assert _comparison().explanation == ("The scenario costs 200.00 USD less than the actual plan (-33.3%): "
                                         "2 of 4 participants earn more and 1 earn less.")


ACTUAL_CURVE = [(D(0), D(0)), (D(1), D(5000)), (D("1.5"), D(10000))]
SCENARIO_CURVE = [(D(0), D(0)), (D(1), D(4000)), (D("1.5"), D(10000))]


def test_parity_below_quota():
    (row,) = review.payout_parity(ACTUAL_CURVE, SCENARIO_CURVE, [D("0.5")])
    assert row.actual_payout == D(2500)
    assert row.scenario_attainment == D("0.625")


def test_parity_at_quota():
    (row,) = review.payout_parity(ACTUAL_CURVE, SCENARIO_CURVE, [D(1)])
    assert close(row.scenario_attainment, "1.083333333333333333333333333333")


def test_parity_beyond_curve_end():
    (row,) = review.payout_parity(ACTUAL_CURVE, SCENARIO_CURVE, [D(2)])
    assert row.scenario_attainment == D("1.5")


def test_attainment_never_reached():
    assert review.attainment_for_payout(SCENARIO_CURVE, D(11000)) is None


def test_distortion_over_several_reviewed_periods():
    # AE 100 + 500 late of 500 + 600, SE 0 of 1,000: 600 / 2,100
    figure = review.forecast_distortion(_deals(), PLAN_OF, PERIODS, "2017-H1", reviewed=["2017-Q1", "2017-Q2"])
    assert close(figure.late_value_share, D(2) / D(7))


def test_build_review_of_nobody():
    result = review.build_review("2017-Q2", "USD", [], [], [])
    values = {headline.key: headline.value for headline in result.headlines()}
    assert values["pay_for_performance"] is None
    assert values["top_overlap"] is None
    assert values["distributions"] is None
    assert values["cost_of_sales"] is None
