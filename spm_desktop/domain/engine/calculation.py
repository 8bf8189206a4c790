"""The calculation pipeline: credit, measure, earn and pay for every plan period, with lineage.

Earlier periods of the plan year are walked in order before the periods asked for. A
closed period is read from what it recorded and an open one is recalculated, so the
result does not depend on the order in which periods were calculated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any

import numpy as np
import pandas as pd

from spm_desktop.domain.engine.components import (
    EMPTY_BLOCK,
    Block,
    ComponentContext,
    ComponentOutcome,
    DealLines,
    LineDraft,
    earn_component,
)
from spm_desktop.domain.engine.crediting import Hierarchy, filled, prepare_deals, team_credits, text_or_none
from spm_desktop.domain.engine.earning import LabelTable
from spm_desktop.domain.engine.exact import EXACT_COLUMNS, product_parts, split_exact
from spm_desktop.domain.engine.measuring import (
    CreditedMetric,
    Employment,
    FxTable,
    MetricInfo,
    QuotaBook,
    credited_metric,
    metric_info,
    order_credits,
)
from spm_desktop.domain.engine.model import (
    ADJUSTMENTS,
    DRAW,
    LINE_COLUMNS,
    TOTAL,
    CalculationInputs,
    CalculationResult,
    HeldAmount,
    RecordedPeriod,
    ResultRow,
)
from spm_desktop.domain.money import CONTEXT, from_record_units, to_decimal, to_minor
from spm_desktop.domain.periods import Period, PeriodError, parse_period, periods_in, plan_year_of
from spm_desktop.domain.plan_assignment import PlanAssignment, assign_plans
from spm_desktop.domain.plans import Plan
from spm_desktop.domain.problems import Problem
from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress

logger = logging.getLogger(__name__)
ZERO = Decimal(0)


@dataclass
class YearState:
    """The state one plan carries from one period of a plan year to the next."""

    earned: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    periods_on_plan: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    draw_balances: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    held: list[HeldAmount] = field(default_factory=list)
    recorded_lines: dict[tuple[str, str, str, str | None, str], Decimal] = field(default_factory=dict)


class Calculation:
    """One run over the inputs; ``execute`` returns the result."""

    def __init__(self, inputs: CalculationInputs, progress: ProgressCallback, cancel: CancelToken | None) -> None:
        self.inputs = inputs
        self.progress = progress

        self.cancel = cancel
        self.problems: list[Problem] = []
        self.rows: list[ResultRow] = []
        # Parts of the lines frame, one per chunk. A kind or note part is None when every line of
        # the chunk is a deal line without a note, and an exact_decimal part is None when every
        # exact line of the chunk fits its integer columns. Band and rate tuples are codes in label_table.
        self.lines: dict[str, list[Any]] = {column: [] for column in (
            "kind", "label_codes", *EXACT_COLUMNS, "rounded_minor", "paid_now_minor", "held_minor", "note")}
        # One (head, source, first row, line count) per chunk of self.lines, in the same order.
        # Deal lines take their credit details from row ``first row + i`` of source block
        # ``source``. Other lines have source -1 and rows that index self.drafts.
        self.chunks: list[tuple[int, int, int, int]] = []
        # One entry per chunk: a mask of its plain deal lines (the credit times one band's rate), or
        # None. Their exact parts stay 0 in self.lines until _plain_parts fills all of them at once.
        self.plain: list[np.ndarray | None] = []
        # The chunk and the exact values of the other lines of those chunks, in chunk order.
        self.rest: list[tuple[int, np.ndarray]] = []
        self._nothing: np.ndarray | None = None
        self.heads: list[tuple[str, str, str, int, str, str]] = []
        self.drafts: list[LineDraft] = []
        self.sources: list[Block] = []
        self._adjusted: set[tuple[str, dt.date, dt.date]] = set()
        # exact lines of periods priced again for clawbacks, and compiled gates and formulas
        self.original_lines: dict[tuple[Any, ...], dict[tuple[int, str, Any], Decimal]] = {}
        # release dates of held lines by deal field, indexed once per field
        self.release_dates: dict[str, Any] = {}
        self.expressions: dict[str, Any] = {}
        self.band_labels: dict[int, Any] = {}
        # credit rows of one period priced for all participants of a component at once
        self.priced_together: dict[tuple[int, int, str], Any] = {}
        # per deal position, a code shared by the positions of one deal id (made when first needed)
        self.deal_codes: np.ndarray | None = None
        self.label_table = LabelTable()
        self.spif_codes: dict[int, int] = {}
        self.no_labels = self.label_table.add((), ())
        self.draw_balances: dict[tuple[str, str, str], Decimal] = {}
        self.held: list[HeldAmount] = []
        self.periods: list[str] = []
        self.participants = inputs.participants.assign(
            participant_id=inputs.participants["participant_id"].astype(str)).reset_index(drop=True)
        self.names = dict(zip(self.participants["participant_id"],
                              self.participants["name"].astype(str), strict=True))
        self.fields = {row["participant_id"]: row for row in self.participants.to_dict("records")}

        self.employment = Employment.from_frame(self.participants)
        self.prepared = prepare_deals(inputs.deals, inputs.credit_splits)
        self.problems += self.prepared.problems
        self.fx = FxTable(inputs.fx_rates)
        self.quotas = QuotaBook(inputs.quotas)
        self.hierarchy = Hierarchy(self.participants, inputs.hierarchy)
        self.metrics = {key: metric_info(key, metric) for key, metric in inputs.metrics.items()}
        self.recorded = {(item.plan, item.period): item for item in inputs.recorded}

        self._credited: dict[tuple[Any, ...], CreditedMetric] = {}
        self._blocks: dict[tuple[Any, ...], dict[str, Block]] = {}
        self._assignments: dict[tuple[dt.date, dt.date], tuple[list[PlanAssignment], list[Problem]]] = {}
        self._reported: set[str] = set()

    # ------------------------------------------------------------ inputs per metric

    def metric(self, key: str) -> MetricInfo | None:
        return self.metrics.get(key)

    def credited(self, plan: Plan, key: str, team_managers: frozenset[str] = frozenset()) -> pd.DataFrame:
        """Return credit rows of a metric in the plan currency; team rows for ``team_managers`` when asked."""
        info = self.metrics[key]
        base_key = (key, plan.currency, plan.fx, plan.period, plan.fiscal_start_month, plan.period_start)
        if base_key not in self._credited:
            credited = credited_metric(self.prepared, info, plan, self.fx, self.employment)
            self._report(credited.problems)
            self._credited[base_key] = credited
        frame = self._credited[base_key].frame
        if not team_managers:
            return frame
        team_key = (*base_key, team_managers)
        if team_key not in self._credited:
            team = team_credits(frame, self.hierarchy, set(team_managers))
            if not team.empty:
                active = self.employment.active_on(team["participant_id"].to_numpy(), team["credit_date"].to_numpy())
                team = team[active]
            team = order_credits(team, self.prepared)
            self._credited[team_key] = CreditedMetric(team, [])
        return self._credited[team_key].frame

    def block(self, plan: Plan, key: str, participant_id: str, team: bool, team_managers: frozenset[str]) -> Block:
        """Return one participant's credit rows of a metric, ordered by (credit date, deal id)."""
        cache_key = (key, plan.currency, plan.fx, plan.period, plan.fiscal_start_month, plan.period_start, team,
                     team_managers if team else frozenset())
        if cache_key not in self._blocks:
            frame = self.credited(plan, key, team_managers if team else frozenset())
            if team:
                frame = frame[frame["credit_kind"] == "team"].reset_index(drop=True)
            whole = Block.from_frame(frame) if not frame.empty else dataclasses.replace(EMPTY_BLOCK)
            whole.source = len(self.sources)
            self.sources.append(whole)
            self._blocks[cache_key] = _split_blocks(frame, whole)
        return self._blocks[cache_key].get(participant_id, EMPTY_BLOCK)

    def _report(self, problems: list[Problem]) -> None:
        for problem in problems:
            text = str(problem)
            if text not in self._reported:
                self._reported.add(text)
                self.problems.append(problem)

    def assignments(self, plan: Plan, period: Period) -> list[PlanAssignment]:
        key = (period.start, period.end)
        if key not in self._assignments:
            self._assignments[key] = assign_plans(list(self.inputs.plans), self.participants, period.start, period.end)
            self._report(self._assignments[key][1])
        found, _conflicts = self._assignments[key]
        return [item for item in found if item.plan is plan]

    # ------------------------------------------------------------ the walk

    def execute(self) -> CalculationResult:
        plans = sorted(self.inputs.plans, key=lambda item: (item.name, item.version))
        for number, plan in enumerate(plans):
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            self.progress(number, len(plans), f"calculating plan {plan.name}")
            self._plan(plan)
        self.progress(len(plans), len(plans), "calculation finished")
        # The credit frames are no longer needed; the blocks keep the arrays the lines take from.
        self._credited.clear()
        self._blocks.clear()
        lines = self._lines_frame()
        return CalculationResult(tuple(sort_rows(self.rows)), lines, dict(self.draw_balances), tuple(self.held),
                                 tuple(self.problems), tuple(self.periods))

    def _plan(self, plan: Plan) -> None:
        try:
            targets = periods_in(self.inputs.period, plan.period, plan.fiscal_start_month,  # type: ignore[arg-type]
                                 plan.period_start)
        except PeriodError as error:
            self._report([Problem("calc.period_mismatch", f"plan {plan.name!r} is not calculated for "
                                  f"{self.inputs.period}: {error}", severity="warning")])
            return
        targets = [period for period in targets if _overlaps(plan, period)]
        by_year: dict[str, list[Period]] = defaultdict(list)
        for period in targets:
            by_year[plan_year_of(period).label].append(period)
        for year_periods in by_year.values():
            self._plan_year(plan, year_periods)

    def _plan_year(self, plan: Plan, targets: list[Period]) -> None:
        year = plan_year_of(targets[0])
        walk = [period for period in periods_in(year.label, plan.period, plan.fiscal_start_month,  # type: ignore[arg-type]
                                                plan.period_start)
                if period.start <= targets[-1].start and _overlaps(plan, period)]
        state = self._opening_state(plan, walk[0] if walk else targets[0])
        wanted = {period.label for period in targets}
        for period in walk:
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            recorded = self.recorded.get((plan.name, period.label))
            if recorded is not None and period.label not in wanted:
                self._absorb(state, recorded)
                continue
            self._period(plan, period, state, emit=period.label in wanted)
        self.held += state.held

    def _opening_state(self, plan: Plan, first: Period) -> YearState:
        """Start a plan year: the draw balance carries from the latest recorded period before it, or is forgiven."""
        state = YearState()
        if plan.draw is None or plan.draw.year_end == "forgive":
            return state
        earlier = [item for (name, label), item in self.recorded.items()
                   if name == plan.name and _label_start(label, plan) is not None
                   and _label_start(label, plan) < first.start]  # type: ignore[operator]
        # NOTE: a balance left in an earlier plan year that was never closed is not carried.
        if earlier:
            latest = max(earlier, key=lambda item: _label_start(item.period, plan))  # type: ignore[arg-type, return-value]
            state.draw_balances.update(latest.draw_balances)
        return state

    def _absorb(self, state: YearState, recorded: RecordedPeriod) -> None:
        for key, amount in recorded.earnings.items():
            state.earned[key] += amount
        participants = {participant_id for participant_id, _component in recorded.earnings}
        for participant_id in participants:
            state.periods_on_plan[participant_id] += 1
        state.draw_balances.update(recorded.draw_balances)
        state.held = list(recorded.held)
        state.recorded_lines.update(recorded.lines)

    # ------------------------------------------------------------ one period

    def _period(self, plan: Plan, period: Period, state: YearState, emit: bool) -> None:
        if emit:
            self.periods.append(period.label)
        team_managers = frozenset(
            item.participant_id for item in self.assignments(plan, period)
            if any(component.credit == "team" for component in plan.components))
        for assignment in self.assignments(plan, period):
            participant_id = assignment.participant_id
            state.periods_on_plan[participant_id] += 1
            context = ComponentContext(self, plan, period, assignment, state, team_managers)
            outcomes = [earn_component(context, component) for component in plan.components]
            for outcome in outcomes:
                state.earned[(participant_id, outcome.component.name)] += outcome.earned
                self._report(outcome.problems)
            if emit:
                self._emit(plan, period, assignment, outcomes, state)
            else:
                self._settle_draw(plan, participant_id, outcomes, state)
        self.priced_together.clear()

    def _settle_draw(self, plan: Plan, participant_id: str, outcomes: list[ComponentOutcome],
                     state: YearState) -> Decimal | None:
        """Return the Draw row amount (top-up positive, recovery negative) and update the balance."""
        if plan.draw is None:
            return None
        earnings = sum((outcome.earnings for outcome in outcomes), ZERO)
        draw = plan.draw.amount
        balance = state.draw_balances[participant_id]
        if earnings < draw:
            top_up = draw - earnings
            if plan.draw.recoverable:
                state.draw_balances[participant_id] = balance + top_up
            return top_up
        recovery = min(balance, earnings - draw) if plan.draw.recoverable else ZERO
        state.draw_balances[participant_id] = balance - recovery
        return -recovery

    def _adjustments(self, plan: Plan, participant_id: str, period: Period) -> tuple[Decimal | None, list[tuple]]:
        frame = self.inputs.adjustments
        if frame is None or frame.empty:
            return None, []
        rows = frame[frame["participant_id"].astype(str) == participant_id]
        found = []
        for record in rows.to_dict("records"):
            if _label_span(str(record["period"]), plan) != (period.start, period.end):
                continue
            amount = record["amount"]
            value = from_record_units(int(amount)) if isinstance(amount, int | np.integer) else to_decimal(amount)
            currency = (text_or_none(record.get("currency")) or plan.currency).upper()
            rate = self.fx.rate(currency, plan.currency, period.end, plan.fx.rate_type, plan.fx.max_age_days)
            if rate is None:
                self._report([Problem("calc.missing_fx_rate", f"no {plan.fx.rate_type} rate {currency}/"
                                      f"{plan.currency} on {period.end} for an adjustment of participant "
                                      f"{participant_id}; import the rate", participant_id=participant_id,
                                      value=f"{currency}/{plan.currency} {period.end}")])
                continue
            found.append((value * rate, record, value, currency, rate))
        if not found:
            return None, []
        return sum((item[0] for item in found), ZERO), found

    def _emit(self, plan: Plan, period: Period, assignment: PlanAssignment, outcomes: list[ComponentOutcome],
              state: YearState) -> None:
        participant_id = assignment.participant_id
        name = self.names.get(participant_id, "")
        base = {"participant_id": participant_id, "participant_name": name, "period": period.label,
                "plan": plan.name, "plan_version": plan.version, "currency": plan.currency,
                "period_start": period.start}
        total = ZERO
        for outcome in outcomes:
            self.rows.append(ResultRow(component=outcome.component.name, metric_key=outcome.metric_key,
                                       metric_version=outcome.metric_version, metric_value=outcome.metric_value,
                                       metric_unit=outcome.metric_unit, quota=outcome.quota,
                                       attainment=outcome.attainment, earnings=outcome.earnings, **base))
            total += outcome.earnings
            if outcome.deal_lines is not None:
                self._emit_deal_lines(plan, period, participant_id, outcome.component.name, outcome.deal_lines)
            self._emit_lines(plan, period, participant_id, outcome.component.name, outcome.extra_lines)
        draw = self._settle_draw(plan, participant_id, outcomes, state)
        if draw is not None:
            self.rows.append(_money_row(base, DRAW, draw))
            total += draw
            balance = state.draw_balances[participant_id]
            self.draw_balances[(participant_id, plan.name, period.label)] = balance
            self._emit_lines(plan, period, participant_id, DRAW, [
                LineDraft(kind="draw", exact=draw, rounded=draw, paid_now=draw, held=ZERO,
                          note=f"draw {plan.draw.amount}; balance after the period {balance}")])  # type: ignore[union-attr]
        # A participant's adjustments of a period are paid once, with the first plan they are on then.
        adjustment_key = (participant_id, period.start, period.end)
        adjustment, found = (None, []) if adjustment_key in self._adjusted else self._adjustments(
            plan, participant_id, period)
        self._adjusted.add(adjustment_key)
        if adjustment is not None:
            rounded = [_round(item[0], plan.currency) for item in found]
            amount = sum(rounded, ZERO)
            self.rows.append(_money_row(base, ADJUSTMENTS, amount))
            total += amount
            self._emit_lines(plan, period, participant_id, ADJUSTMENTS, [
                LineDraft(kind="adjustment", exact=item[0], rounded=value, paid_now=value, held=ZERO,
                          amount=item[2], currency=item[3], fx_rate=item[4],
                          note=f"{item[1].get('reason_code')}: {text_or_none(item[1].get('note')) or ''}".strip())
                for item, value in zip(found, rounded, strict=True)])
        self.rows.append(_money_row(base, TOTAL, total))

    def _head(self, plan: Plan, period: Period, participant_id: str, component: str) -> int:
        self.heads.append((participant_id, period.label, plan.name, plan.version, component, plan.currency))
        return len(self.heads) - 1

    def _emit_lines(self, plan: Plan, period: Period, participant_id: str, component: str,
                    drafts: list[LineDraft]) -> None:
        if not drafts:
            return
        count = len(drafts)
        columns = self.lines
        self.chunks.append((self._head(plan, period, participant_id, component), -1, len(self.drafts), count))
        self.drafts += drafts
        for column in _LINE_VALUES:
            chunk = np.empty(count, dtype=object)
            chunk[:] = [getattr(draft, column) for draft in drafts]
            columns[column].append(chunk)
        exact = np.empty(count, dtype=object)
        exact[:] = [draft.exact for draft in drafts]
        self._append_exact(split_exact(exact))
        self.plain.append(None)
        for column in ("rounded", "paid_now", "held"):
            columns[f"{column}_minor"].append(np.array([to_minor(getattr(draft, column), plan.currency)
                                                        for draft in drafts], dtype=np.int64))
        columns["label_codes"].append(np.full(count, self.no_labels, dtype=np.int64))

    def _emit_deal_lines(self, plan: Plan, period: Period, participant_id: str, component: str,
                         lines: DealLines) -> None:
        count = len(lines.label_codes)
        if count == 0:
            return
        block = lines.block
        columns = self.lines
        self.chunks.append((self._head(plan, period, participant_id, component), block.source,
                            block.offset + lines.start, count))
        for column, values in (("kind", lines.kinds), ("label_codes", lines.label_codes),
                               ("rounded_minor", lines.rounded), ("paid_now_minor", lines.paid_now),
                               ("held_minor", lines.held), ("note", lines.notes)):
            columns[column].append(values)
        plain = lines.plain if lines.plain is not None and lines.plain.any() else None
        self.plain.append(plain)
        if plain is None:
            self._append_exact(split_exact(lines.exact))
            return
        # Every line of this chunk gets its parts at the end: the plain ones from integer parts,
        # the others from their Decimals, split together with those of all chunks.
        self._append_exact((np.zeros(count, dtype=np.int64), np.zeros(count, dtype=np.int16), None))
        if not plain.all():
            self.rest.append((len(self.chunks) - 1, lines.exact_where(~plain)))

    def _append_exact(self, parts: tuple[np.ndarray, np.ndarray, np.ndarray | None]) -> None:
        """Keep a chunk's exact lines as integer coefficients and exponents, so its Decimal objects can go."""
        for column, part in zip(EXACT_COLUMNS, parts, strict=True):
            self.lines[column].append(part)

    def _plain_parts(self, sources: np.ndarray, rows: np.ndarray, counts: list[int]) -> dict[int, Decimal]:
        """Fill the exact parts of all plain lines from the credit's and the band rate's parts in one step.

        The other lines of chunks with plain lines are split from their Decimals here, all at
        once. The parts go into the joined exact columns of self.lines (one part each
        afterwards). Returns the Decimal of each line whose value has no int64 parts, by line
        index (its parts stay 0).
        """
        found = [part if part is not None else np.zeros(count, dtype=bool)
                 for part, count in zip(self.plain, counts, strict=True)]
        self.plain = []
        plain = np.concatenate(found) if found else np.zeros(0, dtype=bool)
        del found
        others: dict[int, Decimal] = {}
        if not plain.any():
            return others
        joined = {}
        for column in ("label_codes", "exact_coefficient", "exact_exponent"):
            parts = self.lines[column]
            joined[column] = parts[0] if len(parts) == 1 else np.concatenate(parts)
            self.lines[column] = [joined[column]]
            del parts
        coefficients, exponents, codes = (joined[column] for column in
                                          ("exact_coefficient", "exact_exponent", "label_codes"))
        starts = np.cumsum([0] + [len(whole.pos) for whole in self.sources])
        credit_coefficients = np.concatenate([_parts_or_zeros(whole, 0) for whole in self.sources])
        credit_exponents = np.concatenate([_parts_or_zeros(whole, 1) for whole in self.sources])
        rate_coefficients, rate_exponents = self._rate_parts()
        # In slices, so that the temporary arrays stay small next to the lines.
        for first in range(0, len(plain), _SLICE):
            part = np.flatnonzero(plain[first:first + _SLICE]) + first
            line_sources = sources[part]
            index = starts[line_sources] + rows[part]
            part_codes = codes[part]
            products, product_exponents, fits = product_parts(
                credit_coefficients[index], credit_exponents[index], rate_coefficients[part_codes],
                rate_exponents[part_codes])
            coefficients[part] = products
            exponents[part] = product_exponents
            for position in np.flatnonzero(~fits).tolist():
                whole = self.sources[int(line_sources[position])]
                credited = whole.credited[int(rows[part[position]])]
                rate = self.label_table.rates[int(part_codes[position])][0]
                others[int(part[position])] = CONTEXT.multiply(credited, rate)
        if self.rest:
            offsets = np.cumsum([0, *counts])
            rest = np.concatenate([np.flatnonzero(~plain[offsets[chunk]:offsets[chunk + 1]]) + offsets[chunk]
                                   for chunk, _values in self.rest])
            rest_coefficients, rest_exponents, rest_others = split_exact(np.concatenate(
                [values for _chunk, values in self.rest]))
            self.rest = []
            coefficients[rest] = rest_coefficients
            exponents[rest] = rest_exponents
            if rest_others is not None:
                for position in np.flatnonzero(rest_others != None).tolist():  # noqa: E711 - element-wise test
                    others[int(rest[position])] = rest_others[position]
        return others

    def _rate_parts(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the one rate of each label code as int64 coefficient and exponent (0 for codes of no plain line)."""
        coefficients = np.zeros(len(self.label_table.rates), dtype=np.int64)
        exponents = np.zeros(len(self.label_table.rates), dtype=np.int64)
        for labels in self.band_labels.values():
            rate_coefficients, rate_exponents, usable = labels.rate_parts()
            for band, code in enumerate(labels.single.tolist()):
                if usable[band]:
                    coefficients[code], exponents[code] = rate_coefficients[band], rate_exponents[band]
        return coefficients, exponents

    def _credit_columns(self, sources: np.ndarray, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Take credit details of deal lines from their credit frames, and of other lines from their drafts.

        All credit frames and the drafts are stacked once, so each column is one take. A column
        that is None everywhere is the shared all-None array instead.
        """
        starts = np.cumsum([0] + [len(whole.pos) for whole in self.sources])
        draft_start = int(starts[-1])
        index = np.where(sources >= 0, starts[np.maximum(sources, 0)] + rows, draft_start + rows)
        count = len(self.drafts)
        data: dict[str, np.ndarray] = {}
        for column, attribute in _CREDIT_COLUMNS.items():
            tail = filled(count, None)
            if column in ("amount", "currency", "fx_rate"):
                tail[:] = [getattr(draft, _DRAFT_FIELDS[column]) for draft in self.drafts]
            parts = [*(getattr(whole, attribute) for whole in self.sources), tail]
            if all(_all_none(part) for part in parts):
                data[column] = self._none_column(len(index))
                continue
            data[column] = np.concatenate(parts)[index]
        days = [whole.days for whole in self.sources] + [np.full(count, np.datetime64("NaT"), "datetime64[D]")]
        data["credit_date"] = np.concatenate(days).astype("datetime64[D]")[index]
        data["_pos"] = np.concatenate([whole.pos for whole in self.sources] + [np.full(count, -1)])[index]
        return data

    def _none_column(self, count: int) -> np.ndarray:
        """Return an all-None object array, one that every all-None column of the lines frame shares.

        Sharing is safe only under copy-on-write (always on from pandas 3), where pandas copies
        a column before writing to it. Otherwise each column gets its own array.
        """
        if not _COPY_ON_WRITE:
            return filled(count, None)
        if self._nothing is None or len(self._nothing) != count:
            self._nothing = filled(count, None)
        return self._nothing

    def _lines_frame(self) -> pd.DataFrame:
        """Build the lines frame, dropping each input of the calculation once its columns are taken.

        The credit blocks and the prepared deals go before the per-line parts are joined, so
        they are not in memory together with the whole frame. The Calculation cannot run again
        afterwards.
        """
        heads, sources, rows = _expand_chunks(self.chunks)
        counts = [chunk[3] for chunk in self.chunks]
        self.chunks = []
        others = self._plain_parts(sources, rows, counts)
        data = self._credit_columns(sources, rows)
        del sources, rows
        self.sources = []

        positions = data.pop("_pos")
        data.update(self._deal_columns(positions))
        del positions
        del self.prepared

        data.update(self._head_columns(heads))
        del heads
        data.update(self._chunk_columns(counts))
        if others:
            if _all_none(data["exact_decimal"]):
                data["exact_decimal"] = filled(sum(counts), None)
            for index, value in others.items():
                data["exact_decimal"][index] = value
        del others
        # Object columns go in as object Series: pandas neither copies them into one block nor
        # turns text into str columns, which took 0.07 s per million lines and column.
        columns = {column: (pd.Series(values, dtype=object, copy=False) if isinstance(values, np.ndarray)
                            and values.dtype == object else values) for column, values in data.items()}
        return pd.DataFrame(columns, columns=list(LINE_COLUMNS), copy=False)

    def _chunk_columns(self, counts: list[int]) -> dict[str, Any]:
        """Join the per-chunk parts of kind, bands, rates, exact, rounded, paid, held and note."""
        chunks = self.lines
        self.lines = {column: [] for column in chunks}
        data: dict[str, Any] = {}
        for column in list(chunks):
            parts = chunks.pop(column)
            if column in _DEFAULT_TEXT:
                data[column] = _fill_parts(parts, counts, _DEFAULT_TEXT[column])
            elif column == "exact_decimal":
                data[column] = (self._none_column(sum(counts)) if all(part is None for part in parts)
                                else _fill_parts(parts, counts, None))
            elif column == "label_codes":
                codes = _joined(parts, np.int64)
                data["bands"], data["rates"] = self.label_table.columns(codes)
            else:
                data[column] = _joined(parts, _PART_TYPES[column])
            del parts
        return data

    def _head_columns(self, heads: np.ndarray) -> dict[str, Any]:
        """Return participant, period, plan, version, component and plan currency of every line."""
        data: dict[str, Any] = {}
        for index, column in enumerate((*LINE_COLUMNS[:5], "plan_currency")):
            per_head = [head[index] for head in self.heads]
            if column == "plan_version":
                data[column] = np.array(per_head, dtype=np.int64)[heads] if per_head else np.empty(0, np.int64)
                continue
            codes, categories = pd.factorize(pd.Series(per_head, dtype=object))
            data[column] = pd.Categorical.from_codes(codes[heads] if len(heads) else codes[:0], categories)
        return data

    def _deal_columns(self, positions: np.ndarray) -> dict[str, Any]:
        """Return deal identity and source lineage of every line, with None on lines at position -1 (no deal)."""
        data: dict[str, Any] = {}
        deals = self.prepared.deals
        without_deal = positions < 0
        for column, source in (("deal_id", "deal_id"), ("line_id", "_line_id"), ("row_id", "_row_id"),
                               ("batch_id", "_batch_id"), ("source_row", "_source_row")):
            if source not in deals.columns:
                data[column] = self._none_column(len(positions))
                continue
            # The prepared deal ids are already Python str objects, so taking them makes no new strings.
            values = self.prepared.deal_ids if source == "deal_id" else deals[source].to_numpy(dtype=object)
            if _all_none(values):
                data[column] = self._none_column(len(positions))
            else:
                data[column] = _take_or_none(values, positions, without_deal)
        return data


# The kind and note of lines in a chunk whose part is None.
_DEFAULT_TEXT = {"kind": "deal", "note": ""}


# Lines per slice when plain lines are priced from integer parts.
_SLICE = 1 << 19


def _joined(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    """Join a column's chunk parts; a single part (already joined) is used as it is."""
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def _parts_or_zeros(whole: Block, which: int) -> np.ndarray:
    """Return one of a credit block's parts arrays, or zeros where the block has none (it has no plain lines)."""
    if whole.credited_parts is None:
        return np.zeros(len(whole.pos), dtype=np.int64 if which == 0 else np.int16)
    return whole.credited_parts[which]


def _fill_parts(parts: list[np.ndarray | None], counts: list[int], default: str | None) -> np.ndarray:
    """Join the parts of one object column, where a part None stands for ``default`` on each line of its chunk."""
    joined = filled(sum(counts), default)
    offset = 0
    for part, count in zip(parts, counts, strict=True):
        if part is not None:
            joined[offset:offset + count] = part
        offset += count
    return joined


_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3 or pd.options.mode.copy_on_write is True
_LINE_VALUES = ("kind", "note")
_PART_TYPES = {"exact_coefficient": np.int64, "exact_exponent": np.int16, "rounded_minor": np.int64,
               "paid_now_minor": np.int64, "held_minor": np.int64}
_DRAFT_FIELDS = {"amount": "amount", "currency": "currency", "fx_rate": "fx_rate"}
_CREDIT_COLUMNS = {"credit_kind": "credit_kind", "via_participant_id": "via", "share": "share", "amount": "value",
                   "currency": "currency", "fx_rate": "fx_rate", "credited": "credited"}


def _expand_chunks(chunks: list[tuple[int, int, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the head, source and row of every line from the (head, source, first row, count) of each chunk."""
    spans = np.array(chunks, dtype=np.int64).reshape(-1, 4)
    counts = spans[:, 3]
    heads = np.repeat(spans[:, 0], counts)
    sources = np.repeat(spans[:, 1], counts)
    chunk_starts = np.cumsum(counts) - counts
    rows = np.repeat(spans[:, 2] - chunk_starts, counts)
    rows += np.arange(len(rows), dtype=np.int64)
    return heads, sources, rows


def _all_none(values: np.ndarray) -> bool:
    """Return whether every element of an object array is None; the first element decides most arrays at once."""
    if len(values) == 0:
        return True
    if values[0] is not None:
        return False
    try:
        return bool((values == None).all())  # noqa: E711 - element-wise test on an object array
    except TypeError:  # an element such as pd.NA has no truth value, so it is not None
        return False


def _take_or_none(values: np.ndarray, positions: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Take ``values`` at ``positions`` and put None where ``missing`` is set (a position of -1)."""
    taken = values[np.maximum(positions, 0)] if len(values) else filled(len(positions), None)
    if missing.any():
        taken[missing] = None
    return taken


def _split_blocks(frame: pd.DataFrame, whole: Block) -> dict[str, Block]:
    """Cut a credit frame sorted by participant into one block per participant."""
    if frame.empty:
        return {}
    participants = frame["participant_id"].to_numpy(dtype=object)
    starts = np.flatnonzero(np.r_[True, participants[1:] != participants[:-1]])
    stops = np.r_[starts[1:], len(participants)]
    blocks = {}
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        part = slice(start, stop)
        blocks[str(participants[start])] = Block(
            whole.pos[part], whole.dates[part], whole.days[part], whole.credit_kind[part], whole.via[part],
            whole.share[part], whole.value[part], whole.currency[part], whole.fx_rate[part], whole.credited[part],
            whole.source, start, None if whole.credited_units is None else whole.credited_units[part],
            None if whole.credited_parts is None else (whole.credited_parts[0][part], whole.credited_parts[1][part]))
    return blocks


def _overlaps(plan: Plan, period: Period) -> bool:
    return plan.effective_from <= period.end and (plan.effective_to is None or period.start <= plan.effective_to)


def _label_span(label: str, plan: Plan) -> tuple[dt.date, dt.date] | None:
    kind = plan.period if plan.period in ("week", "two_weeks") else None
    try:
        period = parse_period(label, kind, plan.fiscal_start_month, plan.period_start)  # type: ignore[arg-type]
    except PeriodError:
        return None
    return period.start, period.end


def _label_start(label: str, plan: Plan) -> dt.date | None:
    span = _label_span(label, plan)
    return span[0] if span is not None else None


def _round(value: Decimal, currency: str) -> Decimal:
    from spm_desktop.domain.engine.earning import round_minor

    return round_minor(value, currency)


def _money_row(base: Mapping[str, Any], component: str, amount: Decimal) -> ResultRow:
    return ResultRow(component=component, metric_key=None, metric_version=None, metric_value=None, metric_unit=None,
                     quota=None, attainment=None, earnings=_round(amount, str(base["currency"])), **base)


def _component_order(row: ResultRow) -> tuple[int, str]:
    return (1, "") if row.component == TOTAL else (0, row.component)


def sort_rows(rows: list[ResultRow]) -> list[ResultRow]:
    """Sort rows by participant id (code points), period, plan, then component with TOTAL last."""
    return sorted(rows, key=lambda row: (row.participant_id, row.period_start, row.plan, _component_order(row)))


def calculate(inputs: CalculationInputs, progress: ProgressCallback = no_progress,
              cancel: CancelToken | None = None) -> CalculationResult:
    """Calculate every plan period inside ``inputs.period``; problems of the data come back as problems.

    A result whose problems include an error (a missing exchange rate, a split table that
    does not add up to 100%) must not be approved, because the affected credit is left
    out. Raises Cancelled when ``cancel`` is set; other exceptions are program errors.
    """
    with localcontext(CONTEXT):
        return Calculation(inputs, progress, cancel).execute()
