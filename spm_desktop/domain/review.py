"""Incentive alignment review: what the plans pay for, measured on one period's outcomes.

Every figure is a pure function of plain records (``ParticipantOutcome``, ``MetricOutline``,
``PlanOutline``) or of a deals frame, and returns a frozen dataclass with a headline
number, the data a chart needs and one sentence of plain explanation. Statistics
(correlations, shares) are exact ``Decimal`` values, never floats; charts convert to
float only when they draw.

The same module compares a what-if scenario with the actual plan: cost, cost per
participant, winners and losers, and the attainment needed for the same payout.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

from spm_desktop.domain.money import CONTEXT, from_record_units, round_half_up

ZERO = Decimal(0)
ONE = Decimal(1)

# Attainment bands of the distribution chart: (label, lower bound inclusive, upper bound exclusive).
ATTAINMENT_BANDS: tuple[tuple[str, Decimal, Decimal | None], ...] = (
    ("below 50%", Decimal("-Infinity"), Decimal("0.5")),
    ("50-75%", Decimal("0.5"), Decimal("0.75")),
    ("75-100%", Decimal("0.75"), Decimal("1.0")),
    ("100-125%", Decimal("1.0"), Decimal("1.25")),
    ("125-150%", Decimal("1.25"), Decimal("1.5")),
    ("150% and above", Decimal("1.5"), None),
)

DEFAULT_WINDOW_WEEKS = 2
# A period's late-close share of value that rises by this much over the plan's previous
# period is reported as a jump.
DEFAULT_JUMP_POINTS = Decimal("0.10")
MIN_CORRELATION_SIZE = 3


# --- Inputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ParticipantOutcome:
    """One participant's period: what they were paid and what they delivered.

    ``earnings`` is the period payout (the TOTAL result row). ``attainment`` is the
    attainment of the participant's main quota component, or None without a quota.
    ``credited`` is the revenue credited to them in the plan currency. ``margin`` is that
    revenue less the cost of the deals, or None when no deal carries a cost.
    ``target_incentive`` is the on-target incentive for the same period, if known.
    """

    participant_id: str
    name: str
    plan: str
    region: str | None
    earnings: Decimal
    attainment: Decimal | None = None
    credited: Decimal = ZERO
    margin: Decimal | None = None
    target_incentive: Decimal | None = None


@dataclass(frozen=True)
class MetricOutline:
    """The catalog facts about a metric that the review reads."""

    key: str
    name: str
    tier: str  # primary | supporting
    status: str  # draft | approved | retired
    unit: str = "currency"


@dataclass(frozen=True)
class ComponentOutline:
    """A plan component reduced to what the review counts."""

    name: str
    type: str
    metric: str | None
    gate: str | None = None
    expression: str | None = None
    has_cap: bool = False
    has_hold: bool = False
    grain: str = "period"

    def metrics_used(self) -> tuple[str, ...]:
        """Return the metric keys this component reads: its own and any ``metric("key")`` in a gate or formula."""
        keys = [self.metric] if self.metric else []
        for text in (self.gate, self.expression):
            if text:
                keys.extend(_METRIC_CALL.findall(text))
        return tuple(dict.fromkeys(keys))

    def conditional_terms(self) -> int:
        """Count the terms that make this component differ from a plain rate table."""
        terms = [self.gate is not None, self.has_cap, self.has_hold, self.type == "formula",
                 self.grain != "period"]
        return sum(terms)


_METRIC_CALL = re.compile(r"""metric\(\s*["']([^"']+)["']\s*\)""")


@dataclass(frozen=True)
class PlanOutline:
    """A plan version reduced to what the review counts.

    ``assigned_ids`` contains the participant ids when the plan is assigned by ids (None
    when it is assigned by role). ``participants`` are the ids on the plan in the period.
    ``exceptions`` counts the calculation problems recorded for those participants, such
    as a missing quota or credit dated outside their employment.
    """

    name: str
    version: int
    components: tuple[ComponentOutline, ...]
    assigned_ids: tuple[str, ...] | None = None
    participants: tuple[str, ...] = ()
    adjustments: int = 0
    quota_overrides: int = 0
    exceptions: int = 0


# --- Rank correlation -------------------------------------------------------------------


def average_ranks(values: Sequence[Decimal]) -> list[Decimal]:
    """Rank values from 1 (smallest); tied values share the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda index: values[index])
    ranks = [ZERO] * len(values)
    position = 0
    while position < len(order):
        end = position
        while end + 1 < len(order) and values[order[end + 1]] == values[order[position]]:
            end += 1
        shared = Decimal(position + end + 2) / 2
        for index in order[position:end + 1]:
            ranks[index] = shared
        position = end + 1
    return ranks


def spearman(xs: Sequence[Decimal], ys: Sequence[Decimal]) -> Decimal | None:
    """Return Spearman's rank correlation, or None below three pairs or when either side is constant.

    Computed as the Pearson correlation of average ranks, so ties are handled; the
    result is exact to the 34 significant digits of ``money.CONTEXT``.
    """
    if len(xs) != len(ys):
        raise ValueError(f"spearman needs pairs: {len(xs)} x values and {len(ys)} y values")
    if len(xs) < MIN_CORRELATION_SIZE:
        return None
    rank_x = average_ranks(xs)
    rank_y = average_ranks(ys)
    mean = Decimal(len(xs) + 1) / 2
    covariance = sum(((a - mean) * (b - mean) for a, b in zip(rank_x, rank_y, strict=True)), ZERO)
    spread_x = sum(((a - mean) ** 2 for a in rank_x), ZERO)
    spread_y = sum(((b - mean) ** 2 for b in rank_y), ZERO)
    if spread_x == 0 or spread_y == 0:
        return None
    return CONTEXT.divide(covariance, CONTEXT.sqrt(spread_x * spread_y))


def describe_strength(rho: Decimal) -> str:
    """Return the strength of a correlation in words ("a strong positive", "no")."""
    size = abs(rho)
    if size >= Decimal("0.7"):
        strength = "strong"
    elif size >= Decimal("0.4"):
        strength = "moderate"
    elif size >= Decimal("0.1"):
        strength = "weak"
    else:
        return "no"
    return f"a {strength} {'positive' if rho > 0 else 'negative'}"


# --- Figure 1: pay for performance ------------------------------------------------------


@dataclass(frozen=True)
class ScatterPoint:
    participant_id: str
    name: str
    attainment: Decimal
    earnings: Decimal
    plan: str = ""


@dataclass(frozen=True)
class PayForPerformance:
    earnings_attainment: Decimal | None
    earnings_credited: Decimal | None
    earnings_margin: Decimal | None
    participants_with_quota: int
    points: tuple[ScatterPoint, ...]
    explanation: str


def pay_for_performance(outcomes: Sequence[ParticipantOutcome]) -> PayForPerformance:
    """Correlate earnings with attainment, with credited revenue and with margin (when costs exist)."""
    with_quota = [o for o in outcomes if o.attainment is not None]
    by_attainment = spearman([o.earnings for o in with_quota], [o.attainment for o in with_quota])
    by_credited = spearman([o.earnings for o in outcomes], [o.credited for o in outcomes])
    with_margin = [o for o in outcomes if o.margin is not None]
    by_margin = spearman([o.earnings for o in with_margin], [o.margin for o in with_margin])
    points = tuple(ScatterPoint(o.participant_id, o.name, o.attainment, o.earnings, o.plan) for o in with_quota)
    return PayForPerformance(by_attainment, by_credited, by_margin, len(with_quota), points,
                             _explain_pay_for_performance(by_attainment, by_credited, len(with_quota)))


def _explain_pay_for_performance(by_attainment: Decimal | None, by_credited: Decimal | None, count: int) -> str:
    if by_attainment is None:
        return (f"Earnings cannot be correlated with attainment: {count} participants have a quota, "
                "and at least three with different earnings are needed.")
    text = (f"Earnings show {describe_strength(by_attainment)} rank correlation with attainment "
            f"(Spearman {format_ratio(by_attainment)} over {count} participants)")
    if by_credited is not None:
        text += f" and {describe_strength(by_credited)} one with credited revenue ({format_ratio(by_credited)})"
    if by_attainment < Decimal("0.4"):
        return text + ": pay does not follow performance closely, so look at caps, draws, gates and one-off terms."
    return text + ": the people who perform better are, by and large, the people who earn more."


# --- Figure 2: top earners against top performers ---------------------------------------


@dataclass(frozen=True)
class TopOverlap:
    decile_size: int
    top_earners: tuple[str, ...]
    top_performers: tuple[str, ...]
    both: tuple[str, ...]
    earners_only: tuple[str, ...]
    performers_only: tuple[str, ...]
    overlap: Decimal | None
    explanation: str


def top_decile(outcomes: Sequence[ParticipantOutcome], key: str) -> tuple[str, ...]:
    """Return the ids of the top tenth (at least one) by ``earnings`` or ``attainment``.

    The decile contains ceil(n / 10) participants. Ties at the cut-off are broken by
    participant id, so the list is deterministic but may leave out an equal value.
    """
    ranked = [o for o in outcomes if getattr(o, key) is not None]
    if not ranked:
        return ()
    size = max(1, math.ceil(len(ranked) / 10))
    ranked.sort(key=lambda o: o.participant_id)
    ranked.sort(key=lambda o: getattr(o, key), reverse=True)
    return tuple(o.participant_id for o in ranked[:size])


def top_overlap(outcomes: Sequence[ParticipantOutcome]) -> TopOverlap:
    """Compare the top tenth by earnings with the top tenth by attainment."""
    with_quota = [o for o in outcomes if o.attainment is not None]
    earners = top_decile(with_quota, "earnings")
    performers = top_decile(with_quota, "attainment")
    both = tuple(pid for pid in earners if pid in performers)
    earners_only = tuple(pid for pid in earners if pid not in performers)
    performers_only = tuple(pid for pid in performers if pid not in earners)
    overlap = CONTEXT.divide(Decimal(len(both)), Decimal(len(earners))) if earners else None
    names = {o.participant_id: o.name for o in outcomes}
    return TopOverlap(len(earners), earners, performers, both, earners_only, performers_only, overlap,
                      _explain_overlap(overlap, len(earners), earners_only, performers_only, names))


def _explain_overlap(overlap: Decimal | None, size: int, earners_only: tuple[str, ...],
                     performers_only: tuple[str, ...], names: dict[str, str]) -> str:
    if overlap is None:
        return "No participant has a quota, so top performers cannot be named."
    text = (f"{size - len(earners_only)} of the {size} top earners are also top performers by attainment "
            f"({format_percent(overlap)}).")
    if earners_only:
        text += f" Paid at the top without performing at the top: {_name_list(earners_only, names)}."
    if performers_only:
        text += f" Performing at the top without being paid at the top: {_name_list(performers_only, names)}."
    return text


def _name_list(ids: Iterable[str], names: dict[str, str], limit: int = 5) -> str:
    ids = list(ids)
    listed = ", ".join(names.get(pid, pid) for pid in ids[:limit])
    return listed if len(ids) <= limit else f"{listed} and {len(ids) - limit} more"


# --- Figure 3: attainment and payout distributions --------------------------------------


@dataclass(frozen=True)
class BandRow:
    """One attainment band: who is in it and what they earned on average."""

    label: str
    participants: int
    mean_attainment: Decimal | None
    mean_earnings: Decimal | None
    pay_ratio: Decimal | None  # mean earnings over mean target incentive, when all targets are known


@dataclass(frozen=True)
class Distributions:
    participants: int
    with_quota: int
    reached_quota: int
    reached_share: Decimal | None
    bands: tuple[BandRow, ...]
    earnings_sorted: tuple[Decimal, ...]
    earnings_quartiles: tuple[Decimal, Decimal, Decimal] | None  # 25th, 50th, 75th percentile
    top_tenth_share: Decimal | None  # share of all earnings paid to the top tenth of earners
    leverage: Decimal | None  # mean earnings at or above quota over mean earnings below quota
    explanation: str


def nearest_rank(sorted_values: Sequence[Decimal], share: Decimal) -> Decimal:
    """Return the nearest-rank percentile: the smallest value with at least ``share`` of values at or below it."""
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def _mean(values: Sequence[Decimal]) -> Decimal | None:
    if not values:
        return None
    return CONTEXT.divide(sum(values, ZERO), Decimal(len(values)))


def band_of(attainment: Decimal) -> str:
    for label, low, high in ATTAINMENT_BANDS:
        if attainment >= low and (high is None or attainment < high):
            return label
    raise AssertionError(f"attainment {attainment} falls in no band")


def distributions(outcomes: Sequence[ParticipantOutcome]) -> Distributions:
    """Count attainment by band, describe the payout spread and the earnings leverage curve."""
    with_quota = [o for o in outcomes if o.attainment is not None]
    reached = [o for o in with_quota if o.attainment >= ONE]
    below = [o for o in with_quota if o.attainment < ONE]
    bands = tuple(_band_row(label, [o for o in with_quota if band_of(o.attainment) == label])
                  for label, _, _ in ATTAINMENT_BANDS)

    earnings = tuple(sorted(o.earnings for o in outcomes))
    quartiles = None
    if earnings:
        quartiles = tuple(nearest_rank(earnings, Decimal(q) / 4) for q in (1, 2, 3))
    top_share = None
    total = sum(earnings, ZERO)
    if earnings and total > 0:
        size = max(1, math.ceil(len(earnings) / 10))
        top_share = CONTEXT.divide(sum(earnings[-size:], ZERO), total)

    mean_reached = _mean([o.earnings for o in reached])
    mean_below = _mean([o.earnings for o in below])
    leverage = None
    if mean_reached is not None and mean_below:
        leverage = CONTEXT.divide(mean_reached, mean_below)
    reached_share = CONTEXT.divide(Decimal(len(reached)), Decimal(len(with_quota))) if with_quota else None
    result = Distributions(len(outcomes), len(with_quota), len(reached), reached_share, bands, earnings,
                           quartiles, top_share, leverage, "")
    return _with_explanation(result)


def _band_row(label: str, members: list[ParticipantOutcome]) -> BandRow:
    targets = [o.target_incentive for o in members]
    mean_earnings = _mean([o.earnings for o in members])
    pay_ratio = None
    if members and all(target is not None for target in targets):
        mean_target = _mean(targets)
        if mean_target:
            pay_ratio = CONTEXT.divide(mean_earnings, mean_target)
    return BandRow(label, len(members), _mean([o.attainment for o in members]), mean_earnings, pay_ratio)


def _with_explanation(result: Distributions) -> Distributions:
    if not result.with_quota:
        text = f"None of the {result.participants} participants has a quota, so attainment cannot be shown."
    else:
        text = (f"{result.reached_quota} of {result.with_quota} participants with a quota reached it "
                f"({format_percent(result.reached_share)}).")
        if result.leverage is not None:
            text += (f" Those at or above quota earned {format_ratio(result.leverage, 2)} times the mean "
                     "earnings of those below it.")
        if result.top_tenth_share is not None:
            text += f" The top tenth of earners took {format_percent(result.top_tenth_share)} of all earnings."
    return Distributions(**{**result.__dict__, "explanation": text})


# --- Figure 4: cost of sales ------------------------------------------------------------


@dataclass(frozen=True)
class CostRow:
    group: str
    participants: int
    earnings: Decimal
    credited: Decimal
    cost_of_sales: Decimal | None  # earnings / credited revenue


@dataclass(frozen=True)
class CostOfSales:
    total_earnings: Decimal
    revenue: Decimal
    cost_of_sales: Decimal | None
    by_plan: tuple[CostRow, ...]
    by_region: tuple[CostRow, ...]
    explanation: str


def cost_of_sales(outcomes: Sequence[ParticipantOutcome], revenue: Decimal | None = None) -> CostOfSales:
    """Relate payouts to credited revenue, overall and per plan and region.

    ``revenue`` is the period's revenue counted once per deal. Without it the overall
    figure uses the sum of credited revenue, which counts a deal again for every overlay
    and manager roll-up and so understates the cost.
    """
    total_earnings = sum((o.earnings for o in outcomes), ZERO)
    base = revenue if revenue is not None else sum((o.credited for o in outcomes), ZERO)
    overall = CONTEXT.divide(total_earnings, base) if base else None
    by_plan = _cost_rows(outcomes, lambda o: o.plan)
    by_region = _cost_rows(outcomes, lambda o: o.region or "(no region)")
    return CostOfSales(total_earnings, base, overall, by_plan, by_region,
                       _explain_cost(overall, by_plan))


def _cost_rows(outcomes: Sequence[ParticipantOutcome], group_of) -> tuple[CostRow, ...]:
    groups: dict[str, list[ParticipantOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault(group_of(outcome), []).append(outcome)
    rows = []
    for name in sorted(groups):
        members = groups[name]
        earned = sum((o.earnings for o in members), ZERO)
        credited = sum((o.credited for o in members), ZERO)
        ratio = CONTEXT.divide(earned, credited) if credited else None
        rows.append(CostRow(name, len(members), earned, credited, ratio))
    return tuple(rows)


def _explain_cost(overall: Decimal | None, by_plan: tuple[CostRow, ...]) -> str:
    if overall is None:
        return "No revenue was credited in the period, so the cost of sales cannot be computed."
    text = f"Incentive pay cost {format_percent(overall)} of revenue."
    priced = [row for row in by_plan if row.cost_of_sales is not None]
    if len(priced) > 1:
        highest = max(priced, key=lambda row: row.cost_of_sales)
        lowest = min(priced, key=lambda row: row.cost_of_sales)
        text += (f" Against the revenue credited to its own participants, plan {highest.group} costs the most "
                 f"({format_percent(highest.cost_of_sales)}) and plan {lowest.group} the least "
                 f"({format_percent(lowest.cost_of_sales)}).")
    return text


# --- Figure 5: behaviours not paid for --------------------------------------------------


@dataclass(frozen=True)
class UnpaidMetric:
    key: str
    name: str


@dataclass(frozen=True)
class WeakPayment:
    """A component that pays on a metric that does not define success."""

    plan: str
    component: str
    metric: str
    reason: str  # supporting | draft | retired | not in the catalog


@dataclass(frozen=True)
class BehaviourGaps:
    unpaid_primary: tuple[UnpaidMetric, ...]
    weak_payments: tuple[WeakPayment, ...]
    explanation: str

    @property
    def count(self) -> int:
        return len(self.unpaid_primary) + len(self.weak_payments)


def behaviour_gaps(metrics: Sequence[MetricOutline], plans: Sequence[PlanOutline]) -> BehaviourGaps:
    """List approved primary metrics no component reads, and components that pay on weak metrics."""
    catalog = {metric.key: metric for metric in metrics}
    used: set[str] = set()
    weak: list[WeakPayment] = []
    for plan in plans:
        for component in plan.components:
            for key in component.metrics_used():
                used.add(key)
                reason = _weakness(catalog.get(key))
                if reason:
                    weak.append(WeakPayment(plan.name, component.name, key, reason))
    unpaid = tuple(UnpaidMetric(m.key, m.name) for m in sorted(metrics, key=lambda m: m.key)
                   if m.tier == "primary" and m.status == "approved" and m.key not in used)
    return BehaviourGaps(unpaid, tuple(weak), _explain_gaps(unpaid, weak))


def _weakness(metric: MetricOutline | None) -> str | None:
    if metric is None:
        return "not in the catalog"
    if metric.status != "approved":
        return metric.status
    if metric.tier != "primary":
        return metric.tier
    return None


def _explain_gaps(unpaid: tuple[UnpaidMetric, ...], weak: list[WeakPayment]) -> str:
    if not unpaid and not weak:
        return "Every approved primary metric is paid for, and every component pays on one."
    parts = []
    if unpaid:
        parts.append(f"{len(unpaid)} approved primary metric(s) that define success pay nothing: "
                     + ", ".join(metric.name for metric in unpaid) + ".")
    if weak:
        parts.append(f"{len(weak)} component(s) pay on metrics that are supporting or not approved: "
                     + ", ".join(f"{w.plan} / {w.component} ({w.metric}, {w.reason})" for w in weak[:5])
                     + ("" if len(weak) <= 5 else f" and {len(weak) - 5} more") + ".")
    return " ".join(parts)


# --- Figure 6: plan complexity ----------------------------------------------------------


@dataclass(frozen=True)
class ComplexityRow:
    plan: str
    version: int
    components: int
    conditional_terms: int  # gates, caps, holds, formulas and per-deal grains
    exceptions: int  # calculation problems recorded for the plan's participants
    overrides: int  # manual adjustments and quota overrides in the period
    participants: int
    one_off: bool  # assigned by ids to one or two people


@dataclass(frozen=True)
class PlanComplexity:
    rows: tuple[ComplexityRow, ...]
    one_off_participants: tuple[str, ...]
    explanation: str


ONE_OFF_MAX_PEOPLE = 2


def plan_complexity(plans: Sequence[PlanOutline]) -> PlanComplexity:
    """Count components, conditional terms and overrides per plan, and who is on one-off terms."""
    rows = []
    one_off_people: list[str] = []
    for plan in sorted(plans, key=lambda p: (p.name, p.version)):
        one_off = plan.assigned_ids is not None and 0 < len(plan.assigned_ids) <= ONE_OFF_MAX_PEOPLE
        if one_off:
            one_off_people.extend(plan.assigned_ids)
        rows.append(ComplexityRow(plan.name, plan.version, len(plan.components),
                                  sum(c.conditional_terms() for c in plan.components), plan.exceptions,
                                  plan.adjustments + plan.quota_overrides, len(plan.participants), one_off))
    people = tuple(dict.fromkeys(one_off_people))
    return PlanComplexity(tuple(rows), people, _explain_complexity(rows, people))


def _explain_complexity(rows: list[ComplexityRow], people: tuple[str, ...]) -> str:
    if not rows:
        return "No plan is in force in the period."
    components = sum(row.components for row in rows)
    terms = sum(row.conditional_terms for row in rows)
    exceptions = sum(row.exceptions for row in rows)
    overrides = sum(row.overrides for row in rows)
    text = (f"{len(rows)} plan(s) carry {components} components and {terms} conditional terms, with "
            f"{exceptions} calculation exceptions and {overrides} overrides in the period")
    if people:
        text += f"; {len(people)} participant(s) are on one-off plans assigned to one or two people"
    return text + "."


# --- Figure 7: forecast distortion ------------------------------------------------------


@dataclass(frozen=True)
class PeriodWindow:
    """A period to measure, with its first and last day (inclusive)."""

    label: str
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class DistortionRow:
    plan: str
    period: str
    deals: int
    value: Decimal
    late_deals: int
    late_value: Decimal
    late_deal_share: Decimal | None
    late_value_share: Decimal | None
    expected_share: Decimal  # the window's share of the period's days
    jump: bool


@dataclass(frozen=True)
class ForecastDistortion:
    window_weeks: int
    rows: tuple[DistortionRow, ...]
    review_period: str
    late_value_share: Decimal | None
    expected_share: Decimal | None
    jumps: tuple[DistortionRow, ...]
    explanation: str


def forecast_distortion(deals: pd.DataFrame, plan_of: dict[str, str], periods: Sequence[PeriodWindow],
                        review_period: str, *, reviewed: Collection[str] | None = None,
                        window_weeks: int = DEFAULT_WINDOW_WEEKS,
                        jump_points: Decimal = DEFAULT_JUMP_POINTS) -> ForecastDistortion:
    """Measure the share of closed deals and value that lands in the last weeks of each period.

    ``periods`` are the plan periods to measure, in order, because earlier ones give the
    baseline for jumps. The headline share covers the ``reviewed`` labels, by default the
    one ``review_period``. A year review passes the year's label and its periods.

    ``deals`` are closed deals with ``owner``, ``close_date`` (datetime64) and ``amount``
    (Int64 counts of 1/10,000). Rows without a close date are ignored, and rows without
    an amount count as deals of value 0. ``plan_of`` maps owners to their plan; deals of
    other owners are left out. A period jumps when its late share of value exceeds the
    plan's previous period by ``jump_points`` or more.

    NOTE: amounts are summed in their own currencies, so a plan paid on deals in several
    currencies gets a value share that mixes them. The deal-count share is unaffected.
    """
    if window_weeks < 1:
        raise ValueError(f"the late-close window must be at least one week, not {window_weeks}")
    frame = _prepare_deals(deals, plan_of)
    rows: list[DistortionRow] = []
    for plan in sorted(set(plan_of.values())):
        rows.extend(_plan_distortion(frame[frame["plan"] == plan], plan, periods, window_weeks, jump_points))
    return _summarise_distortion(rows, review_period, set(reviewed or {review_period}), window_weeks)


def _prepare_deals(deals: pd.DataFrame, plan_of: dict[str, str]) -> pd.DataFrame:
    frame = deals.loc[deals["close_date"].notna(), ["owner", "close_date", "amount"]].copy()
    frame["plan"] = frame["owner"].map(plan_of)
    frame = frame[frame["plan"].notna()]
    frame["amount"] = frame["amount"].astype("Int64").fillna(0)
    frame["day"] = pd.to_datetime(frame["close_date"]).dt.normalize()
    return frame


def _plan_distortion(frame: pd.DataFrame, plan: str, periods: Sequence[PeriodWindow], window_weeks: int,
                     jump_points: Decimal) -> list[DistortionRow]:
    rows: list[DistortionRow] = []
    previous: Decimal | None = None
    for period in periods:
        start = pd.Timestamp(period.start)
        end = pd.Timestamp(period.end)
        late_start = max(start, end - pd.Timedelta(days=7 * window_weeks - 1))
        inside = frame[(frame["day"] >= start) & (frame["day"] <= end)]
        late = inside[inside["day"] >= late_start]
        value = from_record_units(int(inside["amount"].sum()))
        late_value = from_record_units(int(late["amount"].sum()))
        deal_share = CONTEXT.divide(Decimal(len(late)), Decimal(len(inside))) if len(inside) else None
        value_share = CONTEXT.divide(late_value, value) if value else None
        days = (period.end - period.start).days + 1
        window_days = (end - late_start).days + 1
        expected = CONTEXT.divide(Decimal(window_days), Decimal(days))
        jump = previous is not None and value_share is not None and value_share - previous >= jump_points
        rows.append(DistortionRow(plan, period.label, len(inside), value, len(late), late_value, deal_share,
                                  value_share, expected, jump))
        if value_share is not None:
            previous = value_share
    return rows


def _summarise_distortion(rows: list[DistortionRow], review_period: str, reviewed: set[str],
                          window_weeks: int) -> ForecastDistortion:
    current = [row for row in rows if row.period in reviewed]
    value = sum((row.value for row in current), ZERO)
    late_value = sum((row.late_value for row in current), ZERO)
    share = CONTEXT.divide(late_value, value) if value else None
    expected = _mean([row.expected_share for row in current]) if current else None
    jumps = tuple(row for row in rows if row.jump)
    weeks = "week" if window_weeks == 1 else f"{window_weeks} weeks"
    if share is None:
        text = f"No closed deal with a value falls in {review_period}, so late closing cannot be measured."
    else:
        text = (f"{format_percent(share)} of the value closed in {review_period} closed in its last {weeks}, "
                f"which is {format_percent(expected)} of its days")
        text += "; deals are being pulled into the period end." if share >= 2 * expected else "."
    if jumps:
        text += " The late share jumped in " + ", ".join(f"{row.plan} {row.period}" for row in jumps[:5])
        text += "." if len(jumps) <= 5 else f" and {len(jumps) - 5} more."
    return ForecastDistortion(window_weeks, tuple(rows), review_period, share, expected, jumps, text)


# --- The whole review -------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """A figure of the review as one number and one sentence, for lists, CSV and the command line."""

    key: str
    title: str
    value: Decimal | None
    unit: str  # ratio | percent | count
    explanation: str


@dataclass(frozen=True)
class AlignmentReview:
    period: str
    currency: str
    pay_for_performance: PayForPerformance
    top_overlap: TopOverlap
    distributions: Distributions
    cost_of_sales: CostOfSales
    behaviour_gaps: BehaviourGaps
    plan_complexity: PlanComplexity
    forecast_distortion: ForecastDistortion | None
    notes: tuple[str, ...] = field(default=())

    def headlines(self) -> list[Headline]:
        """Return the figures in reading order, each with its headline number."""
        items = [
            Headline("pay_for_performance", "Pay for performance", self.pay_for_performance.earnings_attainment,
                     "ratio", self.pay_for_performance.explanation),
            Headline("top_overlap", "Top earners against top performers", self.top_overlap.overlap, "percent",
                     self.top_overlap.explanation),
            Headline("distributions", "Attainment and payout distributions", self.distributions.reached_share,
                     "percent", self.distributions.explanation),
            Headline("cost_of_sales", "Cost of sales", self.cost_of_sales.cost_of_sales, "percent",
                     self.cost_of_sales.explanation),
            Headline("behaviour_gaps", "Behaviours not paid for", Decimal(self.behaviour_gaps.count), "count",
                     self.behaviour_gaps.explanation),
            Headline("plan_complexity", "Plan complexity", Decimal(len(self.plan_complexity.one_off_participants)),
                     "count", self.plan_complexity.explanation),
        ]
        if self.forecast_distortion is not None:
            items.append(Headline("forecast_distortion", "Forecast distortion",
                                  self.forecast_distortion.late_value_share, "percent",
                                  self.forecast_distortion.explanation))
        return items


def build_review(period: str, currency: str, outcomes: Sequence[ParticipantOutcome],
                 metrics: Sequence[MetricOutline], plans: Sequence[PlanOutline], *,
                 revenue: Decimal | None = None, distortion: ForecastDistortion | None = None,
                 notes: Sequence[str] = ()) -> AlignmentReview:
    """Compute every figure of the review from one period's outcomes and the catalogs."""
    return AlignmentReview(
        period=period,
        currency=currency,
        pay_for_performance=pay_for_performance(outcomes),
        top_overlap=top_overlap(outcomes),
        distributions=distributions(outcomes),
        cost_of_sales=cost_of_sales(outcomes, revenue),
        behaviour_gaps=behaviour_gaps(metrics, plans),
        plan_complexity=plan_complexity(plans),
        forecast_distortion=distortion,
        notes=tuple(notes),
    )


# --- Scenario comparison ----------------------------------------------------------------


@dataclass(frozen=True)
class PayoutChange:
    participant_id: str
    name: str
    actual: Decimal
    scenario: Decimal

    @property
    def difference(self) -> Decimal:
        return self.scenario - self.actual


@dataclass(frozen=True)
class SameParity:
    """The attainment the scenario needs to pay what the actual plan pays at one attainment."""

    attainment: Decimal
    actual_payout: Decimal
    scenario_attainment: Decimal | None  # None when the scenario never pays that much


@dataclass(frozen=True)
class ScenarioComparison:
    currency: str
    changes: tuple[PayoutChange, ...]
    actual_cost: Decimal
    scenario_cost: Decimal
    participants: int
    winners: tuple[PayoutChange, ...]
    losers: tuple[PayoutChange, ...]
    unchanged: int
    parity: tuple[SameParity, ...]
    explanation: str

    @property
    def cost_difference(self) -> Decimal:
        return self.scenario_cost - self.actual_cost

    @property
    def actual_cost_per_participant(self) -> Decimal | None:
        return CONTEXT.divide(self.actual_cost, Decimal(self.participants)) if self.participants else None

    @property
    def scenario_cost_per_participant(self) -> Decimal | None:
        return CONTEXT.divide(self.scenario_cost, Decimal(self.participants)) if self.participants else None


def compare_payouts(actual: dict[str, Decimal], scenario: dict[str, Decimal], names: dict[str, str],
                    currency: str, parity: Sequence[SameParity] = ()) -> ScenarioComparison:
    """Compare per-participant payouts of the actual plan and a scenario.

    A participant missing on one side counts 0 there (a scenario may move people on or
    off a plan). Winners and losers are sorted by the size of the change, largest first.
    """
    ids = sorted(set(actual) | set(scenario))
    changes = tuple(PayoutChange(pid, names.get(pid, pid), actual.get(pid, ZERO), scenario.get(pid, ZERO))
                    for pid in ids)
    winners = tuple(sorted((c for c in changes if c.difference > 0), key=lambda c: (-c.difference, c.participant_id)))
    losers = tuple(sorted((c for c in changes if c.difference < 0), key=lambda c: (c.difference, c.participant_id)))
    actual_cost = sum((c.actual for c in changes), ZERO)
    scenario_cost = sum((c.scenario for c in changes), ZERO)
    unchanged = len(changes) - len(winners) - len(losers)
    text = _explain_comparison(actual_cost, scenario_cost, len(changes), winners, losers, currency)
    return ScenarioComparison(currency, changes, actual_cost, scenario_cost, len(changes), winners, losers,
                              unchanged, tuple(parity), text)


def _explain_comparison(actual_cost: Decimal, scenario_cost: Decimal, count: int, winners: tuple, losers: tuple,
                        currency: str) -> str:
    difference = scenario_cost - actual_cost
    direction = "more" if difference > 0 else "less"
    if difference == 0:
        text = f"The scenario costs the same as the actual plan ({format_amount(actual_cost)} {currency})"
    else:
        change = f" ({format_percent(CONTEXT.divide(difference, actual_cost))})" if actual_cost else ""
        text = (f"The scenario costs {format_amount(abs(difference))} {currency} {direction} than the actual plan"
                f"{change}")
    return text + f": {len(winners)} of {count} participants earn more and {len(losers)} earn less."


def attainment_for_payout(curve: Sequence[tuple[Decimal, Decimal]], payout: Decimal) -> Decimal | None:
    """Return the lowest attainment at which a payout curve reaches ``payout``.

    The curve is a list of (attainment, earnings) points in rising attainment order, read
    as straight lines between points. That is exact for marginal tiers sampled at their
    band edges, and a retroactive step shows as a steep segment between two close points.
    Returns None when the curve never reaches the payout.
    """
    if not curve:
        return None
    if curve[0][1] >= payout:
        return curve[0][0]
    for (low_a, low_e), (high_a, high_e) in itertools.pairwise(curve):
        if low_e < payout <= high_e:
            share = CONTEXT.divide(payout - low_e, high_e - low_e)
            return low_a + share * (high_a - low_a)
    return None


def payout_parity(actual_curve: Sequence[tuple[Decimal, Decimal]], scenario_curve: Sequence[tuple[Decimal, Decimal]],
                  levels: Iterable[Decimal]) -> tuple[SameParity, ...]:
    """For each attainment level, find the scenario attainment that pays what the actual plan pays there."""
    rows = []
    for level in levels:
        payout = _curve_value(actual_curve, level)
        rows.append(SameParity(level, payout, attainment_for_payout(scenario_curve, payout)))
    return tuple(rows)


def _curve_value(curve: Sequence[tuple[Decimal, Decimal]], attainment: Decimal) -> Decimal:
    if attainment <= curve[0][0]:
        return curve[0][1]
    for (low_a, low_e), (high_a, high_e) in itertools.pairwise(curve):
        if low_a <= attainment <= high_a:
            if high_a == low_a:
                return high_e
            return low_e + CONTEXT.divide((attainment - low_a) * (high_e - low_e), high_a - low_a)
    return curve[-1][1]


# --- Formatting for sentences -----------------------------------------------------------


def format_ratio(value: Decimal | None, decimals: int = 2) -> str:
    return "n/a" if value is None else f"{round_half_up(value, decimals):f}"


def format_percent(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{round_half_up(value * 100, 1):f}%"


def format_amount(value: Decimal) -> str:
    return f"{round_half_up(value, 2):,f}"
