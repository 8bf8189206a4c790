"""Earning one component for one participant in one period: lines, clawbacks, gate, cap, rounding and holds."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from spm_desktop.domain.engine.crediting import filled, text_or_none
from spm_desktop.domain.engine.earning import (
    FINE_DIGITS,
    BandLabels,
    SegmentPrices,
    edge_units,
    integer_units,
    largest_remainder,
    minor_to_decimal,
    price_segments,
    price_tiers,
    round_minor,
    round_segments,
    whole_units,
)
from spm_desktop.domain.engine.exact import largest_magnitude, split_exact, whole_counts
from spm_desktop.domain.engine.measuring import prorate
from spm_desktop.domain.engine.model import HeldAmount
from spm_desktop.domain.money import minor_exponent, to_minor
from spm_desktop.domain.periods import Period, period_containing, plan_year_of
from spm_desktop.domain.plan_assignment import PlanAssignment
from spm_desktop.domain.plan_tiers import band_edges, bonus_multiple
from spm_desktop.domain.plans import Component, Plan
from spm_desktop.domain.problems import Problem

if TYPE_CHECKING:
    from spm_desktop.domain.engine.calculation import Calculation, YearState

ZERO = Decimal(0)
ONE = Decimal(1)
_NO_POSITION = -1


@dataclass
class LineDraft:
    """A statement line that is not tied to one credit row (true-up, cap, gate, bonus, draw, release...)."""

    kind: str
    exact: Decimal
    rounded: Decimal = ZERO
    paid_now: Decimal = ZERO
    held: Decimal = ZERO
    note: str = ""
    position: int = _NO_POSITION
    amount: Decimal | None = None
    currency: str | None = None
    fx_rate: Decimal | None = None


# Credit with up to six decimals (four of a record amount, two of a share) is priced in integers.
CREDIT_SCALE = 6


@dataclass
class Block:
    """One participant's credit rows of a metric as arrays, ordered by (credit date, deal id)."""

    pos: np.ndarray
    dates: np.ndarray
    days: np.ndarray
    credit_kind: np.ndarray
    via: np.ndarray
    share: np.ndarray
    value: np.ndarray
    currency: np.ndarray
    fx_rate: np.ndarray
    credited: np.ndarray
    # which whole credit frame these rows come from, and where they start in it
    source: int = -1
    offset: int = 0
    # credited values in 1/10**CREDIT_SCALE as int64, or None when one of them is not a whole count
    credited_units: np.ndarray | None = None
    # credited values as int64 coefficients and int16 exponents, or None when one of them has no such parts
    credited_parts: tuple[np.ndarray, np.ndarray] | None = None
    # row ranges found by ``span``: components on the same metric ask for the same dates
    spans: dict[tuple[dt.date, dt.date], tuple[int, int]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Block:
        dates = frame["credit_date"].to_numpy(dtype="datetime64[ns]")
        credited = frame["credited"].to_numpy(dtype=object)
        parts = units = None
        if "credited_coefficient" in frame.columns:
            # Parts that crediting took from the metric's fixed-point values.
            parts = (frame["credited_coefficient"].to_numpy(dtype=np.int64),
                     frame["credited_exponent"].to_numpy(dtype=np.int16))
            units = whole_counts(*parts, CREDIT_SCALE)
        elif len(credited):
            coefficients, exponents, others = split_exact(credited)
            if others is None:
                parts = (coefficients, exponents)
                units = whole_counts(coefficients, exponents, CREDIT_SCALE)
            else:
                units = integer_units(credited, CREDIT_SCALE)
        return cls(frame["_pos"].to_numpy(dtype=np.int64), dates, dates.astype("datetime64[D]"),
                   frame["credit_kind"].to_numpy(dtype=object), frame["via_participant_id"].to_numpy(dtype=object),
                   frame["share"].to_numpy(dtype=object), frame["value"].to_numpy(dtype=object),
                   frame["currency"].to_numpy(dtype=object), frame["fx_rate"].to_numpy(dtype=object),
                   credited, credited_units=units, credited_parts=parts)

    def span(self, first: dt.date, last: dt.date) -> tuple[int, int]:
        """Return the index range of rows dated from ``first`` to ``last`` inclusive."""
        if len(self.days) == 0:
            return 0, 0  # nothing to find, and the shared empty block keeps no entries
        found = self.spans.get((first, last))
        if found is None:
            low = int(np.searchsorted(self.days, np.datetime64(first, "D"), side="left"))
            high = int(np.searchsorted(self.days, np.datetime64(last, "D"), side="right"))
            found = self.spans[(first, last)] = (low, high)
        return found


def _parts_sum(block: Block, start: int, stop: int) -> Decimal | None:
    """Return the Decimal sum of credited rows from their integer parts, or None when they may overflow.

    Adding Decimals from 0 keeps every digit and the smallest exponent, so the sum is the
    coefficients brought to that exponent and added, with that exponent.
    """
    if block.credited_parts is None or stop <= start:
        return None
    coefficients, exponents = block.credited_parts[0][start:stop], block.credited_parts[1][start:stop]
    lowest = min(int(exponents.min()), 0)
    highest_shift = int(exponents.max()) - lowest
    largest = largest_magnitude(coefficients)
    if highest_shift > 18 or largest * 10**highest_shift * (stop - start) >= 2**63:
        return None
    scaled = coefficients * 10 ** (exponents.astype(np.int64) - lowest) if highest_shift else coefficients
    return Decimal(int(scaled.sum())).scaleb(lowest)


EMPTY_BLOCK = Block(*(np.empty(0, dtype=kind) for kind in (np.int64, "datetime64[ns]", "datetime64[D]")),
                    *(np.empty(0, dtype=object) for _ in range(7)))


@dataclass
class DealLines:
    """Lines of credit rows ``start``..``stop`` of a block, with their pricing and rounding."""

    block: Block
    start: int
    stop: int
    # the exact lines, or the way to make them when lines priced with others are first read
    exact_lines: np.ndarray | LazyExact
    # codes of the band and rate tuples in the calculation's LabelTable
    label_codes: np.ndarray
    # None when every line is a deal line without a note, the case of a range without reversals
    kinds: np.ndarray | None
    notes: np.ndarray | None
    # exact lines in 1/10^8 minor units where ``known`` is True, or None when not priced in integers
    fine: np.ndarray | None = None
    known: np.ndarray | None = None
    # where the line is the credit times its one band's rate (see ``price_tiers``) and that rate
    # has integer parts, so that the calculation can store it from the credit's parts
    plain: np.ndarray | None = None
    # the lines rounded to their total in minor units, and that total, when priced with others
    shared_rounded: np.ndarray | None = None
    shared_total: int = 0
    # statement lines in integer minor units of the plan currency
    rounded: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    paid_now: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    held: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @property
    def exact(self) -> np.ndarray:
        """The exact line of each credit row, as an object array of Decimal."""
        if isinstance(self.exact_lines, LazyExact):
            self.exact_lines = self.exact_lines.full()
        return self.exact_lines

    def exact_where(self, mask: np.ndarray) -> np.ndarray:
        """Return the exact lines where ``mask`` is True, without making the others."""
        if isinstance(self.exact_lines, LazyExact):
            return self.exact_lines.where(np.flatnonzero(mask))
        return self.exact_lines[mask]


class LazyExact:
    """Exact lines made only when read: each credit times its band's rate, or the line across bands.

    Lines priced together with other participants are mostly stored from integer parts and
    rounded in integers, so their Decimals are often never needed.
    """

    def __init__(self, values: np.ndarray, rates: np.ndarray, bands: np.ndarray, crossings: np.ndarray,
                 crossing_exact: list[Decimal]) -> None:
        self.values, self.rates, self.bands = values, rates, bands
        self.crossings = dict(zip(crossings.tolist(), crossing_exact, strict=True))

    def __len__(self) -> int:
        return len(self.values)

    def full(self) -> np.ndarray:
        """Return every exact line, as an object array of Decimal."""
        exact = self.values * self.rates[self.bands]
        for offset, value in self.crossings.items():
            exact[offset] = value
        return exact

    def where(self, indexes: np.ndarray) -> np.ndarray:
        """Return the exact lines at ``indexes`` only."""
        exact = self.values[indexes] * self.rates[self.bands[indexes]]
        if self.crossings:
            for position, index in enumerate(indexes.tolist()):
                if index in self.crossings:
                    exact[position] = self.crossings[index]
        return exact


@dataclass
class ComponentOutcome:
    """The earnings of one component for one participant in one period, with lines and problems."""

    component: Component
    metric_key: str | None
    metric_version: int | None
    metric_unit: str | None
    metric_value: Decimal | None
    quota: Decimal | None
    attainment: Decimal | None
    earnings: Decimal
    earned: Decimal
    deal_lines: DealLines | None = None
    extra_lines: list[LineDraft] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class ComponentContext:
    """Everything one participant's components need in one period."""

    def __init__(self, calculation: Calculation, plan: Plan, period: Period, assignment: PlanAssignment,
                 state: YearState, team_managers: frozenset[str]) -> None:
        self.calculation = calculation
        self.plan = plan
        self.period = period
        self.assignment = assignment
        self.state = state
        self.team_managers = team_managers
        self.participant_id = assignment.participant_id
        self.year = plan_year_of(period)
        # Credit sums by (block id, start, stop): components on the same metric share them.
        self.credit_sums: dict[tuple[int, int, int], Decimal] = {}

    def credit_sum(self, block: Block, start: int, stop: int) -> Decimal:
        """Return the sum of a block's credited values in rows ``start`` to ``stop``."""
        key = (id(block), start, stop)
        if key not in self.credit_sums:
            total = _parts_sum(block, start, stop)
            self.credit_sums[key] = total if total is not None else sum(block.credited[start:stop].tolist(), ZERO)
        return self.credit_sums[key]

    def problem(self, code: str, message: str, component: Component | None = None,
                severity: str = "warning", value: object = None) -> Problem:
        return Problem(code, message, severity=severity, participant_id=self.participant_id,  # type: ignore[arg-type]
                       component=component.name if component else None,
                       value=None if value is None else str(value))

    def block(self, component: Component, metric_key: str | None = None, team: bool | None = None) -> Block:
        key = metric_key or component.metric
        use_team = component.credit == "team" if team is None else team
        return self.calculation.block(self.plan, key, self.participant_id, use_team, self.team_managers)

    def quota(self, component: Component, period: Period | None = None,
              assignment: PlanAssignment | None = None) -> Decimal | None:
        """Return the prorated quota of a period in the plan currency, or None when it is missing or zero."""
        period = period or self.period
        assignment = assignment or self.assignment
        found = self.calculation.quotas.amount(assignment.participant_id, str(component.quota), period, self.plan)
        if found is None:
            return None
        amount, currency = found
        if currency is not None and currency.upper() != self.plan.currency:
            rate = self.calculation.fx.rate(currency.upper(), self.plan.currency, period.end,
                                            self.plan.fx.rate_type, self.plan.fx.max_age_days)
            if rate is None:
                return None
            amount = amount * rate
        quota = prorate(amount, period, self.plan.quota_proration, assignment.start, assignment.end)
        return quota if quota != 0 else None

    def ytd_quota(self, component: Component) -> Decimal | None:
        """Return the sum of this participant's prorated quotas of the plan year up to this period."""
        total = ZERO
        for period in self.calculation_periods():
            assignment = next((item for item in self.calculation.assignments(self.plan, period)
                               if item.participant_id == self.participant_id), None)
            if assignment is None:
                continue
            quota = self.quota(component, period, assignment)
            if quota is None:
                return None
            total += quota
        return total if total != 0 else None

    def calculation_periods(self) -> list[Period]:
        from spm_desktop.domain.periods import periods_in

        periods = periods_in(self.year.label, self.plan.period, self.plan.fiscal_start_month,  # type: ignore[arg-type]
                             self.plan.period_start)
        return [period for period in periods if period.start <= self.period.start
                and self.plan.effective_from <= period.end
                and (self.plan.effective_to is None or period.start <= self.plan.effective_to)]

    def ytd_first_day(self) -> dt.date:
        return max(self.year.start, self.plan.effective_from)


# ---------------------------------------------------------------- credit pricing


def _group_keys(context: ComponentContext, component: Component, block: Block, start: int,
                stop: int) -> np.ndarray | None:
    """Return the grain key of each credit row: its deal (a reversal's original deal) or a deal field."""
    tiers = component.tiers
    if tiers is None or tiers.grain == "period":
        return None
    prepared = context.calculation.prepared
    sources = prepared.grain_source[block.pos[start:stop]]
    if tiers.grain == "deal":
        return prepared.deal_ids[sources]
    deals = prepared.deals
    if tiers.grain not in deals.columns:
        return prepared.deal_ids[sources]
    values = deals[tiers.grain].to_numpy(dtype=object)[sources]
    return np.array([text_or_none(value) or f"deal {deal}" for value, deal in
                     zip(values.tolist(), prepared.deal_ids[sources].tolist(), strict=True)], dtype=object)


def _price_rows(context: ComponentContext, component: Component, block: Block, start: int, stop: int,
                quota: Decimal | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the exact line of each credit row, the code of its band and rate tuples, and which lines are plain.

    A plain line is the credit times the rate of the band its code names (see ``price_tiers``).
    """
    values = block.credited[start:stop]
    calculation = context.calculation
    if component.type == "spif":
        price = component.amount_per_unit or ZERO
        code = calculation.spif_codes.get(id(component))
        if code is None:
            code = calculation.spif_codes[id(component)] = calculation.label_table.add((), (price,))
        return values * price, np.full(stop - start, code, dtype=np.int64), np.zeros(stop - start, dtype=bool)
    tiers = component.tiers
    assert tiers is not None
    edges = band_edges(tiers, quota)
    labels = calculation.band_labels.get(id(tiers))
    if labels is None:
        labels = calculation.band_labels[id(tiers)] = BandLabels(tiers, calculation.label_table)
    units = None if block.credited_units is None else block.credited_units[start:stop]
    return price_tiers(values, _group_keys(context, component, block, start, stop), tiers, edges, labels,
                       whole_units(units, CREDIT_SCALE, edges))


def _original_lines(context: ComponentContext, component: Component, block: Block, original_day: dt.date,
                    quota_for: Any) -> dict[tuple[int, str, Any], Decimal]:
    """Price the period that contains an original deal and return its exact lines by (position, kind, via)."""
    plan = context.plan
    period = period_containing(original_day, plan.period, plan.fiscal_start_month, plan.period_start)  # type: ignore[arg-type]
    cache = context.calculation.original_lines
    key = (plan.name, plan.version, component.name, context.participant_id, period.label)
    if key not in cache:
        start, stop = block.span(period.start, period.end)
        quota = quota_for(period)
        if component.type == "commission" and component.tiers is not None and component.tiers.by == "attainment" \
                and quota is None:
            cache[key] = {}
        else:
            exact, _codes, _plain = _price_rows(context, component, block, start, stop, quota)
            cache[key] = {(int(block.pos[start + offset]), block.credit_kind[start + offset],
                           block.via[start + offset]): line for offset, line in enumerate(exact.tolist())}
    return cache[key]


def _recorded_original(context: ComponentContext, component: Component, originals: tuple[int, ...],
                       credit_kind: str) -> dict[int, Decimal] | None:
    """Return the original deal's exact lines as a closed period recorded them, when it did."""
    recorded = context.state.recorded_lines
    if not recorded:
        return None
    deals = context.calculation.prepared.deals
    found = {}
    for original in originals:
        key = (context.participant_id, component.name, str(deals["deal_id"].iat[original]),
               deals["_line_id"].iat[original], credit_kind)
        if key not in recorded:
            return None
        found[original] = recorded[key]
    return found


def _apply_clawbacks(context: ComponentContext, component: Component, block: Block, start: int, stop: int,
                     exact: np.ndarray, kinds: np.ndarray, notes: np.ndarray, quota_for: Any) -> None:
    """Replace reversal lines by minus the original's exact line within the window (``rate: original``)."""
    plan = context.plan
    prepared = context.calculation.prepared
    if not prepared.is_reversal[block.pos[start:stop]].any():
        return
    here = {(int(block.pos[start + offset]), block.credit_kind[start + offset], block.via[start + offset]): offset
            for offset in range(stop - start)}
    position_day = {int(block.pos[index]): block.days[index].astype(dt.date) for index in range(len(block.pos))}
    value_of = {int(block.pos[index]): block.value[index] for index in range(len(block.pos))}
    for offset in range(stop - start):
        index = start + offset
        position = int(block.pos[index])
        originals = prepared.originals.get(position)
        if originals is None:
            continue
        kinds[offset] = "reversal"
        if plan.clawback is None or plan.clawback.rate != "original":
            continue
        kinds[offset] = "clawback"
        original_day = position_day.get(originals[0])
        if original_day is None:
            notes[offset] = "original deal not credited to this participant; priced at the current rate"
            continue
        reversal_day = block.days[index].astype(dt.date)
        if (reversal_day - original_day).days > plan.clawback.window_days:
            exact[offset] = ZERO
            notes[offset] = f"outside the {plan.clawback.window_days}-day clawback window: no clawback"
            continue
        lines = None
        key = (block.credit_kind[index], block.via[index])
        if all((original, *key) in here for original in originals if original in position_day):
            lines = {original: exact[here[(original, *key)]] for original in originals if original in position_day}
        else:
            lines = _recorded_original(context, component, originals, block.credit_kind[index])
        if lines is None:
            priced = _original_lines(context, component, block, original_day, quota_for)
            found = {original: priced.get((original, *key)) for original in originals if original in position_day}
            if all(value is not None for value in found.values()) and found:
                lines = found
        if lines is None:
            notes[offset] = "original line not found; priced at the current rate"
            continue
        original_value = sum((value_of[original] for original in lines), ZERO)
        if original_value == 0:
            continue
        # The reversed share of the amount is negative, so the line takes back part of the original.
        ratio = block.value[index] / original_value
        exact[offset] = sum(lines.values(), ZERO) * ratio
        deal_ids = ", ".join(str(prepared.deals["deal_id"].iat[original]) for original in lines)
        notes[offset] = f"clawback at the original rate of deal {deal_ids}"


# ---------------------------------------------------------------- expressions


def _participant_variables(context: ComponentContext) -> dict[str, object]:
    record = context.calculation.fields.get(context.participant_id, {})
    variables: dict[str, object] = {}
    for key, value in record.items():
        if isinstance(value, pd.Timestamp):
            variables[key] = value.to_pydatetime()
        elif value is None or value is pd.NA or (isinstance(value, float) and value != value):
            variables[key] = None
        elif isinstance(value, np.integer):
            variables[key] = Decimal(int(value))
        else:
            variables[key] = value
    return variables


def _evaluate(context: ComponentContext, component: Component, text: str, variables: dict[str, object]) -> Any:
    from spm_desktop.domain.expressions import compile_expression

    cache = context.calculation.expressions
    if text not in cache:
        cache[text] = compile_expression(text)

    def metric(key: str) -> Decimal:
        if context.calculation.metric(key) is None:
            raise KeyError(f"metric {key!r} is not defined")
        block = context.block(component, key, team=False)
        start, stop = block.span(context.assignment.start, context.assignment.end)
        return sum(block.credited[start:stop].tolist(), ZERO)

    return cache[text].evaluate_scalar(variables, {"metric": metric})


_MEASURE_NAMES = ("credit", "quota", "attainment", "ytd_credit", "ytd_quota", "ytd_attainment")


def _variables(context: ComponentContext, measures: dict[str, Decimal | None]) -> dict[str, object]:
    variables = _participant_variables(context)
    variables.update({name: measures[name] for name in _MEASURE_NAMES})
    return variables


# ---------------------------------------------------------------- the component


def _measures(context: ComponentContext, component: Component, block: Block) -> dict[str, Any]:
    start, stop = block.span(context.assignment.start, context.assignment.end)
    credit = context.credit_sum(block, start, stop)
    quota = context.quota(component) if component.quota is not None else None
    needs_ytd = component.basis == "ytd" or "ytd_" in (component.gate or "") + (component.expression or "")
    ytd_start, ytd_stop, ytd_credit, ytd_quota = start, stop, None, None
    if needs_ytd:
        # NOTE: year-to-date credit also counts days of the plan year spent on another plan.
        ytd_start, ytd_stop = block.span(context.ytd_first_day(), context.assignment.end)
        ytd_credit = context.credit_sum(block, ytd_start, ytd_stop)
        ytd_quota = context.ytd_quota(component) if component.quota is not None else None
    return {
        "range": (start, stop), "ytd_range": (ytd_start, ytd_stop),
        "credit": credit, "quota": quota, "attainment": credit / quota if quota else None,
        "ytd_credit": ytd_credit, "ytd_quota": ytd_quota,
        "ytd_attainment": ytd_credit / ytd_quota if ytd_quota and ytd_credit is not None else None,
    }


def _needs_quota(component: Component) -> bool:
    if component.type == "bonus":
        return True
    return component.type == "commission" and component.tiers is not None and component.tiers.by == "attainment"


def _credit_lines(context: ComponentContext, component: Component, block: Block,
                  measures: dict[str, Any]) -> tuple[DealLines, Decimal]:
    """Price the credit rows and return this period's deal lines and the total they stand for."""
    ytd = component.basis == "ytd"
    start, stop = measures["ytd_range"] if ytd else measures["range"]
    quota = measures["ytd_quota"] if ytd else measures["quota"]
    kinds = notes = None
    shared = None if ytd else _priced_with_others(context, component, block, start, stop, quota)
    if shared is not None:
        exact, codes, plain, fine, known, shared_rounded, shared_total = shared
    else:
        shared_rounded, shared_total = None, 0
        exact, codes, plain = _price_rows(context, component, block, start, stop, quota)
        if context.calculation.prepared.is_reversal[block.pos[start:stop]].any():
            kinds = filled(len(exact), "deal")
            notes = filled(len(exact), "")

            def quota_for(period: Period) -> Decimal | None:
                return context.quota(component, period) if component.quota is not None else None

            _apply_clawbacks(context, component, block, start, stop, exact, kinds, notes, quota_for)
        fine, known = _fine_lines(context, component, block, start, stop, codes)
        if fine is not None and known is not None and kinds is not None:
            # Clawbacks replace reversal lines, so their integer figures no longer hold.
            known &= ~context.calculation.prepared.is_reversal[block.pos[start:stop]]
    total = _integer_total(context, component, fine, known)
    if total is None:
        if isinstance(exact, LazyExact):
            exact = exact.full()
        total = sum(exact.tolist(), ZERO)
    period_start, period_stop = measures["range"]
    skip = period_start - start
    keep = slice(skip, skip + (period_stop - period_start))
    if block.credited_parts is None:
        plain = np.zeros(len(plain), dtype=bool)  # a new array: ``plain`` may be a view of shared prices
    elif kinds is not None:
        # Clawbacks replace reversal lines, so those are no longer the credit times the rate.
        plain &= kinds == "deal"
    # Lines priced with others cover the period exactly (no year-to-date rows before it).
    lines = DealLines(block, period_start, period_stop, exact if isinstance(exact, LazyExact) else exact[keep],
                      codes[keep],
                      None if kinds is None else kinds[keep], None if notes is None else notes[keep],
                      None if fine is None else fine[keep], None if known is None else known[keep], plain[keep],
                      shared_rounded, shared_total)
    return lines, total


@dataclass
class PricedTogether:
    """A component's credit rows in one period, priced for all its participants in one pass.

    Earning participant by participant spends most of its time on the overhead of many small
    array operations, so the rows that price the same way for everyone are priced at once.
    ``segments`` maps each participant priced here to its first and end row in ``prices``,
    the rows of the whole credit block they are, the quota their band edges came from and
    the number of its segment.
    """

    source: int
    prices: SegmentPrices | None
    rates: np.ndarray
    fine: np.ndarray | None
    known: np.ndarray | None
    segments: dict[str, tuple[int, int, int, int, Decimal | None, int]]
    # every line rounded within its segment and each segment's rounded total (see ``round_segments``)
    rounded: tuple[np.ndarray, np.ndarray] | None = None


def _priced_with_others(context: ComponentContext, component: Component, block: Block, start: int, stop: int,
                        quota: Decimal | None) -> tuple[Any, ...] | None:
    """Return exact lines, codes, plain flags, fine lines, known flags, rounded lines and their total, or None.

    Returns None when this participant's rows were not priced together with the others (see
    ``_price_together``) or were priced for other rows or another quota. The rounded lines
    are None when the lines were not rounded together.
    """
    calculation = context.calculation
    key = (id(context.plan), id(component), context.period.label)
    together = calculation.priced_together.get(key)
    if together is None:
        together = calculation.priced_together[key] = _price_together(context, component)
    found = together.segments.get(context.participant_id)
    if found is None or together.prices is None or block.source != together.source:
        return None
    first, end, block_start, block_stop, used_quota, segment = found
    if block_start != block.offset + start or block_stop != block.offset + stop or used_quota != quota:
        return None
    prices = together.prices
    low, high = np.searchsorted(prices.crossings, (first, end)).tolist()
    exact = LazyExact(block.credited[start:stop], together.rates, prices.bands[first:end],
                      prices.crossings[low:high] - first, prices.crossing_exact[low:high])
    codes = prices.codes[first:end]
    if together.fine is None or together.known is None:
        fine, known = _fine_lines(context, component, block, start, stop, codes)
    else:
        fine, known = together.fine[first:end], together.known[first:end]
    rounded, total = None, 0
    if together.rounded is not None:
        rounded, total = together.rounded[0][first:end], int(together.rounded[1][segment])
    return exact, codes, prices.plain[first:end], fine, known, rounded, total


def _price_together(context: ComponentContext, component: Component) -> PricedTogether:
    """Price the credit rows of every participant of the period whose rows ``price_segments`` can price.

    That is a commission with tiers on the period's credit, tiered by period or by deal (not
    marginal by deal), for participants with one assignment, credit in whole units, band
    edges in whole units and no reversal in their rows. The others are priced one by one.
    """
    calculation, plan, period, tiers = context.calculation, context.plan, context.period, component.tiers
    nothing = PricedTogether(-1, None, np.empty(0, dtype=object), None, None, {})
    if (component.type != "commission" or tiers is None or component.basis == "ytd"
            or tiers.grain not in ("period", "deal") or (tiers.grain == "deal" and tiers.method == "marginal")):
        return nothing
    assignments = calculation.assignments(plan, period)
    repeated = {pid for pid, count in Counter(item.participant_id for item in assignments).items() if count > 1}
    team = component.credit == "team"
    whole: Block | None = None
    ranges: list[tuple[int, int, str, Decimal | None, tuple[Decimal, ...], np.ndarray]] = []
    for assignment in assignments:
        participant_id = assignment.participant_id
        if participant_id in repeated:
            continue
        block = calculation.block(plan, component.metric, participant_id, team, context.team_managers)
        if len(block.pos) == 0 or block.credited_units is None:
            continue
        start, stop = block.span(assignment.start, assignment.end)
        quota = context.quota(component, period, assignment) if component.quota is not None else None
        if stop <= start or (tiers.by == "attainment" and quota is None):
            continue
        edges = band_edges(tiers, quota)
        units_edges = edge_units(tuple(edges), CREDIT_SCALE)
        if units_edges is None:
            continue
        whole = calculation.sources[block.source]
        ranges.append((block.offset + start, block.offset + stop, participant_id, quota, edges, units_edges))
    if whole is None or whole.credited_units is None:
        return nothing
    ranges.sort(key=lambda item: item[0])
    starts = np.array([item[0] for item in ranges], dtype=np.int64)
    stops = np.array([item[1] for item in ranges], dtype=np.int64)
    reversals = np.concatenate(([0], np.cumsum(calculation.prepared.is_reversal[whole.pos])))
    keep = reversals[stops] == reversals[starts]
    if tiers.grain == "deal":
        keep &= ~_repeated_deals(calculation, whole, starts, stops)
    ranges = [item for item, kept in zip(ranges, keep.tolist(), strict=True) if kept]
    if not ranges:
        return nothing
    starts, stops = starts[keep], stops[keep]
    lengths = stops - starts
    rows = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(int(lengths.sum()))
    units = whole.credited_units[rows]
    largest = largest_magnitude(units)
    if largest * len(units) >= 2**63:
        return nothing
    labels = calculation.band_labels.get(id(tiers))
    if labels is None:
        labels = calculation.band_labels[id(tiers)] = BandLabels(tiers, calculation.label_table)
    prices = price_segments(whole.credited[rows], units, lengths, [item[4] for item in ranges],
                            np.stack([item[5] for item in ranges]), tiers.method, tiers.grain == "deal", labels,
                            CREDIT_SCALE, None if whole.credited_parts is None else whole.credited_parts[1][rows])
    fine = known = rounded = None
    exponent = minor_exponent(plan.currency) + FINE_DIGITS
    factors = labels.fine_factors(CREDIT_SCALE, exponent)
    factor_of = np.array([factor or 0 for factor in factors] + [0], dtype=object)
    if max(abs(int(factor)) for factor in factor_of) * largest < 2**63:
        bands = labels.bands_of(prices.codes)
        known = np.array([factor is not None for factor in factors] + [False], dtype=bool)[bands]
        fine = units * factor_of[bands].astype(np.int64)
        unknown = ~known
        unknown[prices.crossings] = False
        # Lines across bands get their figures from their Decimals, as largest_remainder would.
        crossing = (integer_units(np.array(prices.crossing_exact, dtype=object), exponent)
                    if len(prices.crossings) else np.empty(0, dtype=np.int64))
        if not unknown.any() and crossing is not None:
            fine[prices.crossings] = crossing
            known[:] = True
            if len(fine) == 0 or int(np.abs(fine).max()) * int(lengths.max()) < 2**63:
                rounded = round_segments(fine, lengths)
    firsts = np.cumsum(lengths) - lengths
    segments = {item[2]: (first, first + length, item[0], item[1], item[3], number) for number, (item, first, length)
                in enumerate(zip(ranges, firsts.tolist(), lengths.tolist(), strict=True))}
    return PricedTogether(whole.source, prices, np.array(labels.rates, dtype=object), fine, known, segments, rounded)


def _repeated_deals(calculation: Calculation, whole: Block, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Return which row ranges credit one deal (or a reversal's original deal) more than once."""
    prepared = calculation.prepared
    if calculation.deal_codes is None:
        # Equal deal ids are neighbours in deal rank order, so a code is the count of changes there.
        order = np.argsort(prepared.deal_rank)
        ranked = prepared.deal_ids[order]
        codes = np.empty(len(order), dtype=np.int64)
        codes[order] = np.concatenate(([0], np.cumsum(ranked[1:] != ranked[:-1]))) if len(order) else order
        calculation.deal_codes = codes
    lengths = stops - starts
    rows = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(int(lengths.sum()))
    span = len(calculation.deal_codes) + 1
    keys = np.sort(np.repeat(np.arange(len(starts), dtype=np.int64), lengths) * span
                   + calculation.deal_codes[prepared.grain_source[whole.pos[rows]]])
    repeated = np.zeros(len(starts), dtype=bool)
    repeated[keys[1:][keys[1:] == keys[:-1]] // span] = True
    return repeated


def _integer_total(context: ComponentContext, component: Component, fine: np.ndarray | None,
                   known: np.ndarray | None) -> Decimal | None:
    """Return the sum of the lines from their integer figures, where only its rounded value is used.

    Without a gate, a cap or a year-to-date basis the total is only rounded to the minor
    unit, so a value-equal Decimal with another exponent gives the same result. Returns None
    otherwise, or when a line has no integer figure.
    """
    if fine is None or known is None or not known.all():
        return None
    if component.gate is not None or component.cap is not None or component.basis == "ytd":
        return None
    if len(fine) and int(np.abs(fine).max()) * len(fine) >= 2**63:
        return None
    exponent = minor_exponent(context.plan.currency) + FINE_DIGITS
    return Decimal(int(fine.sum())).scaleb(-exponent)


def _fine_lines(context: ComponentContext, component: Component, block: Block, start: int, stop: int,
                codes: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Return single-band lines as credit units times the band's integer factor, in 1/10^8 minor units.

    Lines that cross bands, and lines of a band whose rate has too many decimals, are marked
    unknown. Returns (None, None) when the credit is not in whole units or the product could
    overflow int64.
    """
    units = block.credited_units
    if component.type == "spif" or component.tiers is None or units is None or stop == start:
        return None, None
    labels = context.calculation.band_labels[id(component.tiers)]
    factors = labels.fine_factors(CREDIT_SCALE, minor_exponent(context.plan.currency) + FINE_DIGITS)
    bands = labels.bands_of(codes)
    usable = np.array([factor is not None for factor in factors] + [False], dtype=bool)
    factor_of = np.array([factor or 0 for factor in factors] + [0], dtype=object)
    largest_factor = max(abs(int(factor)) for factor in factor_of)
    credit = units[start:stop]
    largest_credit = largest_magnitude(credit)
    if largest_factor * largest_credit >= 2**63:
        return None, None
    # Band -1 (a line across bands) takes the unusable entry at the end.
    known = usable[bands]
    fine = credit * factor_of[bands].astype(np.int64)
    return fine, known


def _single_line(context: ComponentContext, component: Component, measures: dict[str, Any]) -> Decimal:
    ytd = component.basis == "ytd"
    if component.type == "bonus":
        attainment = measures["ytd_attainment"] if ytd else measures["attainment"]
        multiple = bonus_multiple(component.curve, attainment)
        periods = context.state.periods_on_plan[context.participant_id] if ytd else 1
        return (component.target or ZERO) * multiple * periods
    value = _evaluate(context, component, str(component.expression), _variables(context, measures))
    if not isinstance(value, Decimal):
        raise TypeError(f"formula {component.expression!r} returned {value!r}, not a number")
    return value


def _gate_passes(context: ComponentContext, component: Component, measures: dict[str, Any],
                 outcome: ComponentOutcome) -> bool:
    if component.gate is None:
        return True
    from spm_desktop.domain.expressions import ExpressionError

    try:
        value = _evaluate(context, component, component.gate, _variables(context, measures))
    except (ExpressionError, KeyError) as error:
        outcome.problems.append(context.problem("calc.gate_failed", f"gate {component.gate!r} of component "
                                                f"{component.name!r} failed: {error}; the component pays 0",
                                                component, severity="error"))
        return False
    if value is None:
        outcome.problems.append(context.problem("calc.gate_empty", f"gate {component.gate!r} of component "
                                                f"{component.name!r} is empty (a missing quota or field); the "
                                                "component pays 0", component))
        return False
    if not isinstance(value, bool):
        outcome.problems.append(context.problem("calc.gate_not_boolean", f"gate {component.gate!r} returned "
                                                f"{value!r}, not true or false; the component pays 0", component,
                                                severity="error"))
        return False
    return value


def _release_holds(context: ComponentContext, component: Component) -> list[LineDraft]:
    """Release held amounts whose date now falls in or before this period; keep the rest."""
    state = context.state
    releases = []
    kept = []
    for item in state.held:
        mine = (item.participant_id == context.participant_id and item.plan == context.plan.name
                and item.component == component.name)
        if not mine:
            kept.append(item)
            continue
        day = _release_date(context, item.deal_id, item.line_id, item.until_field) or item.release_date
        if day is not None and day <= context.period.end:
            releases.append(LineDraft("hold_release", item.amount, item.amount, item.amount, ZERO,
                                      f"released: held in {item.held_in_period} for deal {item.deal_id}"))
        else:
            kept.append(item)
    state.held = kept
    return releases


def _release_date(context: ComponentContext, deal_id: str, line_id: str | None, field_name: str) -> dt.date | None:
    deals = context.calculation.prepared.deals
    if field_name not in deals.columns:
        return None
    index = context.calculation.release_dates.get(field_name)
    if index is None:
        index = context.calculation.release_dates[field_name] = ReleaseDates(deals, field_name)
    return index.lookup(deal_id, line_id)


class ReleaseDates:
    """The first valid date of a deal field per deal id and per (deal id, line id), in deal order.

    Built once per field, so that each held line looks its date up instead of scanning the deals.
    """

    def __init__(self, deals: pd.DataFrame, field_name: str) -> None:
        self._deal_ids = deals["deal_id"].to_numpy(dtype=object)
        self._line_ids = deals["_line_id"].to_numpy(dtype=object)
        values = deals[field_name]
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            self._days = pd.to_datetime(values)
        else:
            self._days = pd.Series([pd.to_datetime(value, errors="coerce") for value in values.tolist()],
                                   index=values.index, dtype=object)
        self._valid = np.flatnonzero(self._days.notna().to_numpy())
        self._by_deal: dict[str, int] | None = None
        self._by_line: dict[tuple[str, object], int] | None = None

    def lookup(self, deal_id: str, line_id: object) -> dt.date | None:
        if line_id is None:
            if self._by_deal is None:
                self._by_deal = _first_positions(self._deal_ids[self._valid].tolist(), self._valid)
            position = self._by_deal.get(deal_id)
        else:
            if self._by_line is None:
                keys = list(zip(self._deal_ids[self._valid].tolist(), self._line_ids[self._valid].tolist(),
                                strict=True))
                self._by_line = _first_positions(keys, self._valid)
            position = self._by_line.get((deal_id, line_id))
        return None if position is None else pd.Timestamp(self._days.iat[position]).date()


def _first_positions(keys: list[Any], positions: np.ndarray) -> dict[Any, int]:
    """Map each key to the position of its first row; writing in reverse leaves the first row last."""
    return dict(zip(reversed(keys), reversed(positions.tolist()), strict=True))


def _hold(context: ComponentContext, component: Component, lines: DealLines) -> None:
    """Split each positive deal line into the part paid now and the part held until its release date."""
    hold = component.hold
    lines.paid_now = lines.rounded
    lines.held = np.zeros(len(lines.rounded), dtype=np.int64)
    if hold is None:
        return
    lines.paid_now = lines.rounded.copy()
    deals = context.calculation.prepared.deals
    currency = context.plan.currency
    for offset, rounded in enumerate(lines.rounded.tolist()):
        if (lines.kinds is not None and lines.kinds[offset] != "deal") or rounded <= 0:
            continue
        position = int(lines.block.pos[lines.start + offset])
        deal_id = str(deals["deal_id"].iat[position])
        line_id = deals["_line_id"].iat[position]
        release = _release_date(context, deal_id, line_id, hold.until)
        if release is not None and release <= context.period.end:
            continue
        paid = to_minor(lines.exact[offset] * (ONE - hold.share), currency)
        lines.paid_now[offset] = paid
        lines.held[offset] = rounded - paid
        context.state.held.append(HeldAmount(context.participant_id, context.plan.name, component.name, deal_id,
                                             line_id, context.period.label, minor_to_decimal(rounded - paid, currency),
                                             hold.until, release))


def earn_component(context: ComponentContext, component: Component) -> ComponentOutcome:
    """Credit, measure and earn one component; missing quotas and failing expressions become problems."""
    info = context.calculation.metric(component.metric)
    outcome = ComponentOutcome(component, component.metric, None, None, None, None, None, ZERO, ZERO)
    if info is None:
        outcome.problems.append(context.problem("calc.unknown_metric", f"metric {component.metric!r} of component "
                                                f"{component.name!r} is not defined; the component pays 0",
                                                component, severity="error", value=component.metric))
        return outcome
    outcome.metric_version, outcome.metric_unit = info.version, info.unit
    if not info.additive:
        outcome.problems.append(context.problem("calc.metric_not_additive", f"metric {component.metric!r} is an "
                                                "average or distinct count, which cannot be credited deal by deal; "
                                                "use a sum or count metric", component, severity="error"))
        return outcome
    block = context.block(component)
    if block is None or len(block.pos) == 0:
        block = EMPTY_BLOCK
    measures = _measures(context, component, block)
    outcome.metric_value = measures["credit"]
    outcome.quota, outcome.attainment = measures["quota"], measures["attainment"]
    if component.quota is not None and measures["quota"] is None:
        outcome.problems.append(context.problem("calc.missing_quota", f"no {component.quota!r} quota (or a zero "
                                                f"quota) for {context.period.label}; the component pays 0 until "
                                                "it is imported", component, value=component.quota))
    ytd = component.basis == "ytd"
    quota_needed = measures["ytd_quota"] if ytd else measures["quota"]
    if _needs_quota(component) and quota_needed is None:
        return outcome

    deal_lines = None
    try:
        if component.type in ("commission", "spif"):
            deal_lines, total = _credit_lines(context, component, block, measures)
        else:
            total = _single_line(context, component, measures)
    except Exception as error:
        from spm_desktop.domain.expressions import ExpressionError

        if not isinstance(error, ExpressionError | TypeError | KeyError):
            raise
        outcome.problems.append(context.problem("calc.formula_failed", f"component {component.name!r} failed: "
                                                f"{error}; the component pays 0", component, severity="error"))
        return outcome
    return _finish(context, component, outcome, deal_lines, total, measures)


def _round_lines(deal_lines: DealLines | None, extra: list[LineDraft], currency: str,
                 period_total: Decimal) -> tuple[Decimal, np.ndarray]:
    """Round the deal lines and the extra lines together to the period total (see ``largest_remainder``)."""
    extra_exact = np.empty(len(extra), dtype=object)
    extra_exact[:] = [line.exact for line in extra]
    if deal_lines is None:
        exact = extra_exact
    elif extra:
        exact = np.concatenate([deal_lines.exact, extra_exact])
    else:
        exact = deal_lines.exact
    fine = known = None
    if deal_lines is not None and deal_lines.fine is not None and deal_lines.known is not None:
        fine = np.concatenate([deal_lines.fine, np.zeros(len(extra), dtype=np.int64)]) if extra else deal_lines.fine
        known = np.concatenate([deal_lines.known, np.zeros(len(extra), dtype=bool)]) if extra else deal_lines.known
    return largest_remainder(exact, currency, period_total, fine, known)


def _finish(context: ComponentContext, component: Component, outcome: ComponentOutcome, deal_lines: DealLines | None,
            total: Decimal, measures: dict[str, Any]) -> ComponentOutcome:
    """Apply true-up, gate and cap, round the lines to the total, then hold and release."""
    extra: list[LineDraft] = []
    if deal_lines is None:
        extra.append(LineDraft(component.type, total))
        listed = total
    else:
        listed = total if component.basis != "ytd" else sum(deal_lines.exact.tolist(), ZERO)
    if component.basis == "ytd":
        prior = context.state.earned[(context.participant_id, component.name)]
        period_total = total - prior
        if period_total != listed:
            extra.append(LineDraft("true_up", period_total - listed,
                                   note=f"year to date {total}, earned in earlier periods {prior}"))
    else:
        period_total = total
    if not _gate_passes(context, component, measures, outcome) and period_total != 0:
        extra.append(LineDraft("gate", -period_total, note=f"gate {component.gate} is not met"))
        period_total = ZERO
    if component.cap is not None and period_total > component.cap:
        extra.append(LineDraft("cap", component.cap - period_total, note=f"cap {component.cap}"))
        period_total = component.cap

    currency = context.plan.currency
    # The lines always add up to the period total: true-up, gate and cap lines are differences.
    shared = None
    if deal_lines is not None and not extra and deal_lines.shared_rounded is not None:
        rounded_total = round_minor(period_total, currency)
        if int(rounded_total.scaleb(minor_exponent(currency))) == deal_lines.shared_total:
            shared = rounded_total, deal_lines.shared_rounded
    rounded_total, rounded = shared or _round_lines(deal_lines, extra, currency, period_total)
    count = len(deal_lines.label_codes) if deal_lines is not None else 0
    for line, units in zip(extra, rounded[count:].tolist(), strict=True):
        line.rounded = line.paid_now = minor_to_decimal(units, currency)
    earnings = rounded_total
    if deal_lines is not None:
        deal_lines.rounded = rounded[:count]
        _hold(context, component, deal_lines)
        if component.hold is not None:
            earnings = minor_to_decimal(int(deal_lines.paid_now.sum()), currency) + sum(
                (line.rounded for line in extra), ZERO)
    releases = _release_holds(context, component) if component.hold is not None else []
    earnings += sum((line.rounded for line in releases), ZERO)
    outcome.deal_lines, outcome.extra_lines = deal_lines, extra + releases
    outcome.earnings, outcome.earned = earnings, rounded_total
    return outcome
