"""Build the incentive alignment review of a period from official calculation results.

The review reads the latest official, not superseded run of every plan period inside
the requested label (one quarter, or all periods of a year). It also reads the
participants and deals records, the metric catalog and the plans in force, turns them
into the plain records of ``domain.review`` and computes every figure there. It writes
nothing.

``outcomes_from_results`` is shared with the scenario service, which reviews a
scenario run's results with the same rules.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from decimal import Decimal

import pandas as pd
from sqlalchemy import Connection, func, select

from spm_desktop.domain import plans as plan_domain
from spm_desktop.domain import review as review_domain
from spm_desktop.domain.expressions import ExpressionError
from spm_desktop.domain.metrics import compile_metric
from spm_desktop.domain.money import CONTEXT, from_minor, from_record_units
from spm_desktop.domain.periods import Period, PeriodError, months_in, periods_in, plan_year_of
from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.services import period_service, plan_service, record_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import NotFoundError, ValidationError
from spm_desktop.store.tables.calc import calc_runs, result_lines, results

log = logging.getLogger(__name__)

WINDOW_SETTING = "review.late_window_weeks"
OFFICIAL = "official"
VALUE_LINE_KINDS = ("sale", "reversal")
# Credit kinds that together count each deal once (owner or split shares add up to 1).
ONCE_PER_DEAL_KINDS = ("owner", "split")


# --- which runs -------------------------------------------------------------------------


def review_span(connection: Connection, label: str) -> Period:
    """Read the label to review with the workspace's fiscal start, or raise ValidationError.

    NOTE: a day label reads as a Monday-based week, so a single week or two-week cycle of
    a plan anchored on another weekday cannot be reviewed on its own. Its month can.
    """
    try:
        return period_service.read_period(connection, label) or _raise_label(label)
    except PeriodError as error:
        raise ValidationError(str(error)) from error


def _raise_label(label: str) -> Period:
    raise ValidationError(f"period label {label!r} is invalid; write a quarter 2017-Q3, a month 2017-07 or a year "
                          "2017")


def official_run_ids(connection: Connection, span: Period) -> list[int]:
    """Return the latest official, not superseded run of each plan period inside ``span``, oldest period first."""
    query = (
        select(calc_runs.c.period, func.max(calc_runs.c.id).label("run_id"), func.min(calc_runs.c.period_start))
        .where(calc_runs.c.kind == OFFICIAL, calc_runs.c.superseded.is_(False),
               calc_runs.c.period_start >= span.start, calc_runs.c.period_end <= span.end)
        .group_by(calc_runs.c.period)
        .order_by(func.min(calc_runs.c.period_start))
    )
    return [row.run_id for row in connection.execute(query)]


def reviewable_labels(workspace: Workspace) -> list[str]:
    """Return the labels with official results: each calculated plan period, then the years that contain them."""
    with workspace.read() as connection:
        query = (select(calc_runs.c.period).where(calc_runs.c.kind == OFFICIAL, calc_runs.c.superseded.is_(False))
                 .group_by(calc_runs.c.period).order_by(func.min(calc_runs.c.period_start)))
        periods = [label for (label,) in connection.execute(query)]
        years = []
        for label in periods:
            period = period_service.read_period(connection, label)
            if period is not None:
                years.append(plan_year_of(period).label)
    return periods + [year for year in dict.fromkeys(years) if year not in periods]


def load_results(connection: Connection, run_ids: Sequence[int]) -> pd.DataFrame:
    """Return the result rows of runs as a frame, in stored order."""
    query = select(results).where(results.c.run_id.in_(list(run_ids))).order_by(results.c.id)
    return _frame(connection, query, [column.name for column in results.c])


def _frame(connection: Connection, query: object, columns: list[str]) -> pd.DataFrame:
    # Plain tuples build a frame many times faster than SQLAlchemy rows, which pandas probes one by one.
    return pd.DataFrame([tuple(row) for row in connection.execute(query)], columns=columns)


# --- outcomes per participant -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MainComponent:
    """The component whose attainment stands for a participant's performance, and the one giving revenue."""

    attainment: str | None
    revenue: str | None


def main_components(plan: plan_domain.Plan | None, rows: pd.DataFrame) -> MainComponent:
    """Pick the first component with a quota (plan order) and the first that credits money.

    Without the plan document (a plan no longer in force) the result rows' order is used.
    """
    names = [component.name for component in plan.components] if plan else list(dict.fromkeys(rows["component"]))
    quota_components = set(rows.loc[rows["quota"].notna(), "component"])
    money_components = set(rows.loc[rows["metric_unit"] == "currency", "component"])
    attainment = next((name for name in names if name in quota_components), None)
    revenue = next((name for name in names if name in money_components), None)
    return MainComponent(attainment, revenue)


def _decimal_sum(values: Iterable[object]) -> Decimal:
    return sum((Decimal(value) for value in values if _present(value)), Decimal(0))


def outcomes_from_results(rows: pd.DataFrame, plans: dict[str, plan_domain.Plan], participants: pd.DataFrame,
                          span: Period, margins: dict[str, Decimal] | None = None
                          ) -> tuple[list[review_domain.ParticipantOutcome], dict[str, MainComponent]]:
    """Turn result rows into one outcome per participant, with the main components per plan."""
    if rows.empty:
        return [], {}
    component_rows = rows[rows["row_kind"] == "component"]
    mains = {plan: main_components(plans.get(plan), group) for plan, group in component_rows.groupby("plan")}
    tallies: dict[str, _Tally] = {}
    for row in rows.itertuples(index=False):
        tally = tallies.setdefault(row.participant_id, _Tally(row.participant_id))
        tally.add(row, mains.get(row.plan, MainComponent(None, None)))
    facts = _people_facts(participants, span)
    margins = margins or {}
    outcomes = []
    for participant_id in sorted(tallies):
        tally = tallies[participant_id]
        region, target = facts.get(participant_id, (None, None))
        outcomes.append(review_domain.ParticipantOutcome(
            participant_id, tally.name, tally.plan, region, tally.earnings, tally.attainment(), tally.credited,
            margins.get(participant_id), target))
    return outcomes, mains


def _present(value: object) -> bool:
    return value is not None and not pd.isna(value)


@dataclasses.dataclass
class _Tally:
    """Running sums of one participant's result rows over every run read."""

    participant_id: str
    name: str = ""
    plan: str = ""
    earnings: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)
    quota: Decimal = Decimal(0)
    credited: Decimal = Decimal(0)

    def add(self, row: object, main: MainComponent) -> None:
        r = row
        self.plan = r.plan  # type: ignore[attr-defined]  # the latest period's plan wins
        if _present(r.participant_name):  # type: ignore[attr-defined]
            self.name = str(r.participant_name)  # type: ignore[attr-defined]
        if r.row_kind == "total":  # type: ignore[attr-defined]
            self.earnings += from_minor(int(r.earnings_minor), r.currency)  # type: ignore[attr-defined]
            return
        if r.row_kind != "component":  # type: ignore[attr-defined]
            return
        value = Decimal(r.metric_value) if _present(r.metric_value) else Decimal(0)  # type: ignore[attr-defined]
        if r.component == main.attainment and _present(r.quota):  # type: ignore[attr-defined]
            self.credit += value
            self.quota += Decimal(r.quota)  # type: ignore[attr-defined]
        if r.component == main.revenue:  # type: ignore[attr-defined]
            self.credited += value

    def attainment(self) -> Decimal | None:
        if self.quota <= 0:
            return None
        return CONTEXT.divide(self.credit, self.quota)


def _people_facts(participants: pd.DataFrame, span: Period) -> dict[str, tuple[str | None, Decimal | None]]:
    """Return each participant's region and target incentive for the span (None where unknown)."""
    facts: dict[str, tuple[str | None, Decimal | None]] = {}
    if participants.empty:
        return facts
    regions = participants["region"] if "region" in participants else [None] * len(participants)
    targets = participants["target_incentive"] if "target_incentive" in participants else [None] * len(participants)
    share = _year_share(span)
    for participant_id, region, annual in zip(participants["participant_id"], regions, targets, strict=True):
        target = from_record_units(int(annual)) * share if _present(annual) else None
        facts[participant_id] = (str(region) if _present(region) else None, target)
    return facts


def _year_share(span: Period) -> Decimal:
    """Return the part of a year a span covers: months over 12, or days over 365 for weeks."""
    months = months_in(span)
    if months:
        return CONTEXT.divide(Decimal(months), Decimal(12))
    return CONTEXT.divide(Decimal(span.days), Decimal(365))


# --- margin and revenue from the result lines -------------------------------------------


def line_facts(connection: Connection, run_ids: Sequence[int], mains: dict[str, MainComponent],
               rows: pd.DataFrame, deals: pd.DataFrame) -> tuple[dict[str, Decimal], Decimal | None]:
    """Return each participant's margin on their revenue lines, and the revenue counted once per deal.

    Margin is credited x (amount - cost) / amount over the lines whose deal has a cost, so
    a participant none of whose deals carries a cost gets no margin. Revenue counts the
    owner and split lines of the revenue components, whose shares add up to each deal once.
    """
    pairs = {(pid, mains[plan].revenue) for pid, plan in rows[["participant_id", "plan"]].drop_duplicates()
             .itertuples(index=False) if plan in mains and mains[plan].revenue}
    if not pairs:
        return {}, None
    lines = _revenue_lines(connection, run_ids, {component for _pid, component in pairs})
    if lines.empty:
        return {}, None
    keys = list(zip(lines["participant_id"], lines["component"], strict=True))
    lines = lines[[key in pairs for key in keys]]
    once = lines[lines["credit_kind"].isin(ONCE_PER_DEAL_KINDS)]
    revenue = _decimal_sum(once["credited"]) if not once.empty else None
    return _margins(lines, deals), revenue


def _revenue_lines(connection: Connection, run_ids: Sequence[int], components: set[str]) -> pd.DataFrame:
    query = (select(result_lines.c.participant_id, result_lines.c.component, result_lines.c.deal_row_id,
                    result_lines.c.credit_kind, result_lines.c.credited)
             .where(result_lines.c.run_id.in_(list(run_ids)), result_lines.c.component.in_(sorted(components)),
                    result_lines.c.line_kind.in_(VALUE_LINE_KINDS)))
    return _frame(connection, query, ["participant_id", "component", "deal_row_id", "credit_kind", "credited"])


def _margins(lines: pd.DataFrame, deals: pd.DataFrame) -> dict[str, Decimal]:
    if deals.empty or "cost" not in deals or deals["cost"].isna().all():
        return {}
    costed = deals.loc[deals["cost"].notna() & deals["amount"].notna() & (deals["amount"] != 0),
                       ["_row_id", "amount", "cost"]]
    joined = lines.merge(costed, left_on="deal_row_id", right_on="_row_id", how="inner")
    margins: dict[str, Decimal] = {}
    for participant_id, credited, amount, cost in zip(joined["participant_id"], joined["credited"], joined["amount"],
                                                      joined["cost"], strict=True):
        if credited is None:
            continue
        share = CONTEXT.divide(Decimal(int(amount) - int(cost)), Decimal(int(amount)))
        margins[participant_id] = margins.get(participant_id, Decimal(0)) + Decimal(credited) * share
    return margins


# --- catalog and plans ------------------------------------------------------------------


def metric_outlines(connection: Connection) -> tuple[list[review_domain.MetricOutline], list[str]]:
    """Return the current metric definitions as review records, and a note when the catalog is empty."""
    from spm_desktop.services import metric_service

    outlines = []
    for key in metric_service.metric_keys(connection):
        definition = metric_service.get_definition(connection, key)
        outlines.append(review_domain.MetricOutline(definition.key, definition.name, definition.tier,
                                                    definition.status, definition.unit))
    notes = [] if outlines else ["The metric catalog is empty, so every paid metric counts as missing from it."]
    return outlines, notes


def outline_plan(plan: plan_domain.Plan, participants: Sequence[str], adjustments: int,
                 quota_overrides: int = 0, exceptions: int = 0) -> review_domain.PlanOutline:
    """Reduce a plan to the facts the complexity and behaviour figures count."""
    components = tuple(
        review_domain.ComponentOutline(
            name=component.name, type=component.type, metric=component.metric, gate=component.gate,
            expression=component.expression, has_cap=component.cap is not None, has_hold=component.hold is not None,
            grain=component.tiers.grain if component.tiers else "period")
        for component in plan.components)
    return review_domain.PlanOutline(plan.name, plan.version, components, plan.participants.ids,
                                     tuple(participants), adjustments, quota_overrides, exceptions)


def exception_counts(connection: Connection, run_ids: Sequence[int], plan_of: dict[str, str]) -> Counter:
    """Count the problems the runs recorded per plan, by the participant each problem names."""
    counts: Counter = Counter()
    query = select(calc_runs.c.problems).where(calc_runs.c.id.in_(list(run_ids)))
    for (text,) in connection.execute(query):
        for problem in json.loads(text or "[]"):
            plan = plan_of.get(problem.get("participant_id"))
            if plan is not None:
                counts[plan] += 1
    return counts


def _adjustment_counts(connection: Connection, labels: set[str], plan_of: dict[str, str]) -> Counter:
    frame = record_service.load_frame(connection, "adjustments")
    counts: Counter = Counter()
    if frame.empty:
        return counts
    for participant_id, period in zip(frame["participant_id"], frame["period"], strict=True):
        if period in labels and participant_id in plan_of:
            counts[plan_of[participant_id]] += 1
    return counts


# --- forecast distortion ----------------------------------------------------------------


def distortion(connection: Connection, span: Period, plans: dict[str, plan_domain.Plan],
               plan_of: dict[str, str], reviewed: set[str], window_weeks: int, value_metric: str | None,
               deals: pd.DataFrame) -> tuple[review_domain.ForecastDistortion | None, list[str]]:
    """Measure late closing over the plan year up to the end of the reviewed span.

    ``deals`` are the deals closed from the start of the plan year to the end of the span.
    """
    kinds = Counter(plans[plan].period for plan in set(plan_of.values()) if plan in plans)
    if not kinds:
        return None, ["No plan in force has results in the period, so late closing is not measured."]
    kind, _count = kinds.most_common(1)[0]
    notes = [] if len(kinds) == 1 else [(f"Late closing is measured on {kind} periods; plans on other period kinds "
                                        "are measured on the same calendar.")]
    anchor = next((plans[p].period_start for p in plans if plans[p].period == kind), None)
    year = plan_year_of(span)
    windows = [review_domain.PeriodWindow(p.label, p.start, p.end)
               for p in periods_in(year.label, kind, year.fiscal_start_month, anchor) if p.end <= span.end]
    closed, note = closed_deals(connection, deals, value_metric)
    notes.extend(note)
    reviewed_labels = {w.label for w in windows if w.start >= span.start} or reviewed
    figure = review_domain.forecast_distortion(closed, plan_of, windows, span.label, reviewed=reviewed_labels,
                                               window_weeks=window_weeks)
    return figure, notes


def closed_deals(connection: Connection, deals: pd.DataFrame, value_metric: str | None) -> tuple[pd.DataFrame, list]:
    """Keep the deals that the revenue metric counts (its filter), or the won ones without a metric."""
    if deals.empty:
        return deals, []
    if value_metric:
        try:
            selected = _metric_selection(connection, value_metric, deals)
            return deals[selected.to_numpy(dtype=bool)], []
        except (NotFoundError, ExpressionError) as error:
            log.warning("metric %s cannot select the deals of the review: %s", value_metric, error)
    if deals["stage"].notna().any():
        won = deals["stage"].fillna("").str.lower().str.contains("won")
        return deals[won], [("Closed deals are those whose stage contains 'won', because the revenue metric's "
                            "filter could not be applied.")]
    return deals, []


def _metric_selection(connection: Connection, key: str, deals: pd.DataFrame) -> pd.Series:
    from spm_desktop.services import metric_service

    _version, definition = metric_service.current_version(connection, key)
    compiled = compile_metric(definition, metric_service.field_kinds(definition.source, deals))
    return compiled.select(deals)


# --- the review -------------------------------------------------------------------------


def window_weeks(workspace: Workspace) -> int:
    value = workspace.get_setting(WINDOW_SETTING, review_domain.DEFAULT_WINDOW_WEEKS)
    return value if isinstance(value, int) and value >= 1 else review_domain.DEFAULT_WINDOW_WEEKS


def review(workspace: Workspace, label: str, weeks: int | None = None, *, progress: ProgressCallback = no_progress,
           cancel: CancelToken | None = None) -> review_domain.AlignmentReview:
    """Compute the alignment review of a period or year from its official results."""
    weeks = weeks or window_weeks(workspace)
    with workspace.read() as connection:
        span = review_span(connection, label)
        run_ids = official_run_ids(connection, span)
        if not run_ids:
            raise NotFoundError(f"no official calculation lies inside {span.label}; calculate it first "
                                f"(spm calc WS --period {span.label})")
        progress(1, 5, "reading results")
        rows = load_results(connection, run_ids)
        _check_cancel(cancel)
        review_result = review_runs(connection, span, run_ids, rows, weeks=weeks, progress=progress, cancel=cancel)
    log.info("review of %s computed from %d runs", span.label, len(run_ids))
    return review_result


def review_runs(connection: Connection, span: Period, run_ids: Sequence[int], rows: pd.DataFrame, *,
                weeks: int, plans_override: dict[str, plan_domain.Plan] | None = None,
                quota_overrides: int = 0, progress: ProgressCallback = no_progress,
                cancel: CancelToken | None = None) -> review_domain.AlignmentReview:
    """Compute the review of stored result rows (official or scenario) of runs inside ``span``."""
    plans = {plan.name: plan for _version, plan in plan_service.plans_in_force(connection, span.start, span.end)}
    plans.update(plans_override or {})
    participants = record_service.load_frame(connection, "participants")
    outcomes, mains = outcomes_from_results(rows, plans, participants, span)
    progress(2, 5, "reading deals and result lines")
    # One read serves both the margins of the span and late closing over the plan year so far.
    deals = record_service.load_frame(connection, "deals", date_from=min(plan_year_of(span).start, span.start),
                                      date_to=span.end)
    margins, revenue = line_facts(connection, run_ids, mains, rows, deals)
    if margins:
        outcomes = [dataclasses.replace(o, margin=margins.get(o.participant_id)) for o in outcomes]
    _check_cancel(cancel)

    progress(3, 5, "reading metrics and plans")
    metrics, notes = metric_outlines(connection)
    plan_of = {o.participant_id: o.plan for o in outcomes}
    labels = set(rows["period"]) if not rows.empty else set()
    adjustments = _adjustment_counts(connection, labels, plan_of)
    exceptions = exception_counts(connection, run_ids, plan_of)
    members: dict[str, list[str]] = {}
    for participant_id, plan in plan_of.items():
        members.setdefault(plan, []).append(participant_id)
    outlines = [outline_plan(plan, members.get(name, []), adjustments[name],
                             quota_overrides if plans_override and name in plans_override else 0, exceptions[name])
                for name, plan in plans.items() if name in members]
    _check_cancel(cancel)

    progress(4, 5, "measuring late closing")
    value_metric = _value_metric(plans, mains)
    late, late_notes = distortion(connection, span, plans, plan_of, labels, weeks, value_metric, deals)
    notes.extend(late_notes)
    currencies = Counter(rows.loc[rows["row_kind"] == "total", "currency"]) if not rows.empty else Counter()
    currency = currencies.most_common(1)[0][0] if currencies else "USD"
    if len(currencies) > 1:
        notes.append(f"Payouts are in {len(currencies)} currencies and are added without conversion.")
    progress(5, 5, "done")
    return review_domain.build_review(span.label, currency, outcomes, metrics, outlines, revenue=revenue,
                                      distortion=late, notes=notes)


def _value_metric(plans: dict[str, plan_domain.Plan], mains: dict[str, MainComponent]) -> str | None:
    keys = Counter()
    for plan_name, main in mains.items():
        plan = plans.get(plan_name)
        if plan is None or not main.revenue:
            continue
        keys.update(c.metric for c in plan.components if c.name == main.revenue)
    return keys.most_common(1)[0][0] if keys else None


def _check_cancel(cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.raise_if_cancelled()


# --- output -----------------------------------------------------------------------------

CSV_HEADER = ("figure", "title", "value", "unit", "explanation")


# The review's "percent" figures are fractions (0.0848 is 8.48%), so files call them that.
CSV_UNITS = {"percent": "fraction"}


def headline_rows(result: review_domain.AlignmentReview) -> list[tuple[str, str, str, str, str]]:
    """Return one CSV row per figure: the value as a plain decimal (four places), empty when undefined."""
    rows = []
    for headline in result.headlines():
        value = "" if headline.value is None else _plain_value(headline.value, headline.unit)
        unit = CSV_UNITS.get(headline.unit, headline.unit)
        rows.append((headline.key, headline.title, value, unit, headline.explanation))
    return rows


def _plain_value(value: Decimal, unit: str) -> str:
    if unit == "count":
        return str(int(value))
    return f"{review_domain.round_half_up(value, 4):f}"


def review_as_dict(result: review_domain.AlignmentReview) -> dict[str, object]:
    """Return the whole review as JSON-ready data: decimals and dates as text."""
    return json.loads(json.dumps(dataclasses.asdict(result), default=_json_default))


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
