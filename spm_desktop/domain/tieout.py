"""Tie-out matching: our figures against finance's or payroll's own, with exact money.

A figure on their side is matched to one of ours in two passes:

1. By id: their row names our id (a shared deal id, an ``our_id`` column, or a pair
   saved earlier in the id map).
2. By a composite key that the admin chooses (customer, date, amount, participant).
   Every unmatched figure of ours that agrees on all key fields is a candidate. A
   record with exactly one candidate, which is no other record's candidate, is matched.
   Two or more candidates make the record ambiguous, so it is listed with its ranked
   candidates and never matched by guess.

Amounts in another currency are converted with the rates handed in. Without a rate the
pair is reported as "currency differs" and never compared as if equal.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from spm_desktop.domain.money import CONTEXT

KEY_FIELDS = ("customer", "date", "amount", "participant_id")

MATCHED = "matched"
WITHIN_TOLERANCE = "within_tolerance"
OUTSIDE_TOLERANCE = "outside_tolerance"
CURRENCY_DIFFERS = "currency_differs"
ONLY_OURS = "only_ours"
ONLY_THEIRS = "only_theirs"
AMBIGUOUS = "ambiguous"
STATUSES = (MATCHED, WITHIN_TOLERANCE, OUTSIDE_TOLERANCE, CURRENCY_DIFFERS, ONLY_OURS, ONLY_THEIRS, AMBIGUOUS)

# Candidate ranks, best first: all key fields equal, then dates within the window, then
# amounts within tolerance (dates may also be off).
RANK_EXACT = 1
RANK_DATE_WINDOW = 2
RANK_AMOUNT_TOLERANCE = 3


class TieoutError(ValueError):
    """Options that cannot be used for matching (an unknown key field, a negative tolerance)."""


@dataclass(frozen=True)
class Figure:
    """One amount on either side: a deal's credit, a participant's payout or a line of their report.

    ``record_id`` is our id on our side and their id on theirs. ``our_id`` on their side
    is our id when their file carries it.
    """

    record_id: str
    amount: Decimal
    currency: str
    participant_id: str | None = None
    period: str | None = None
    date: dt.date | None = None
    customer: str | None = None
    our_id: str | None = None
    source_row: int | None = None
    records: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatchOptions:
    """How to match: the composite key, the date window and the amount tolerance.

    The allowed difference of a pair is the larger of ``absolute_tolerance`` and
    ``relative_tolerance`` times our amount (0.01 is one percent).
    """

    key_fields: tuple[str, ...] = ()
    date_window_days: int = 0
    absolute_tolerance: Decimal = Decimal(0)
    relative_tolerance: Decimal = Decimal(0)

    def check(self) -> None:
        unknown = [name for name in self.key_fields if name not in KEY_FIELDS]
        if unknown:
            raise TieoutError(f"key field {unknown[0]!r} is invalid; choose from: {', '.join(KEY_FIELDS)}")
        if self.date_window_days < 0:
            raise TieoutError(f"date window {self.date_window_days} is negative; give 0 or more days")
        if self.absolute_tolerance < 0 or self.relative_tolerance < 0:
            raise TieoutError("a tolerance is negative; give 0 or a positive amount or fraction")

    def allowed_difference(self, ours: Decimal) -> Decimal:
        relative = CONTEXT.multiply(self.relative_tolerance, abs(ours))
        return max(self.absolute_tolerance, relative)


class FxRates:
    """Dated exchange rates: units of ``to`` for one unit of ``from``.

    A pair uses the latest rate dated on or before the day asked for, or the inverse of
    the reverse pair's rate. A figure without a date takes the latest rate.
    """

    def __init__(self, rows: Iterable[tuple[dt.date, str, str, Decimal]] = ()) -> None:
        self._rates: dict[tuple[str, str], list[tuple[dt.date, Decimal]]] = defaultdict(list)
        for day, from_currency, to_currency, rate in rows:
            self._rates[(from_currency.upper(), to_currency.upper())].append((day, rate))
        for series in self._rates.values():
            series.sort()

    def rate(self, from_currency: str, to_currency: str, day: dt.date | None) -> Decimal | None:
        """Return the rate that converts ``from_currency`` into ``to_currency``, or None when there is none."""
        from_currency, to_currency = from_currency.upper(), to_currency.upper()
        if from_currency == to_currency:
            return Decimal(1)
        direct = self._latest(self._rates.get((from_currency, to_currency), []), day)
        if direct is not None:
            return direct
        reverse = self._latest(self._rates.get((to_currency, from_currency), []), day)
        if reverse is None or reverse == 0:
            return None
        return CONTEXT.divide(Decimal(1), reverse)

    @staticmethod
    def _latest(series: list[tuple[dt.date, Decimal]], day: dt.date | None) -> Decimal | None:
        found = None
        for rate_day, rate in series:
            if day is not None and rate_day > day:
                break
            found = rate
        return found


@dataclass(frozen=True)
class Candidate:
    """One of our figures that could be the partner of a record of theirs, with its rank."""

    ours: Figure
    rank: int
    date_gap_days: int | None
    amount_gap: Decimal | None


@dataclass(frozen=True)
class Comparison:
    """Their amount in our currency and the difference (theirs minus ours)."""

    status: str
    converted: Decimal | None = None
    rate: Decimal | None = None
    difference: Decimal | None = None


@dataclass(frozen=True)
class TieoutLine:
    """One finding: a pair, a figure on one side only, or an ambiguous record with its candidates."""

    status: str
    ours: Figure | None
    theirs: Figure | None
    method: str | None = None  # id | id_map | key
    comparison: Comparison | None = None
    candidates: tuple[Candidate, ...] = ()

    @property
    def key(self) -> str:
        """Return a stable name of the line, used to attach explanations."""
        ours = self.ours.record_id if self.ours else ""
        theirs = self.theirs.record_id if self.theirs else ""
        return f"{ours}|{theirs}"

    @property
    def participant_id(self) -> str | None:
        for figure in (self.ours, self.theirs):
            if figure is not None and figure.participant_id:
                return figure.participant_id
        return None

    @property
    def period(self) -> str | None:
        for figure in (self.ours, self.theirs):
            if figure is not None and figure.period:
                return figure.period
        return None

    @property
    def difference(self) -> Decimal | None:
        return None if self.comparison is None else self.comparison.difference


@dataclass(frozen=True)
class StatusSummary:
    count: int
    ours: Decimal
    theirs: Decimal


@dataclass
class TieoutResult:
    """Every finding of one tie-out, with totals per side in our currency."""

    currency: str
    lines: list[TieoutLine] = field(default_factory=list)
    # Every figure of ours, also those listed only as candidates of an ambiguous record.
    our_figures: tuple[Figure, ...] = ()

    def by_status(self, status: str) -> list[TieoutLine]:
        return [line for line in self.lines if line.status == status]

    @property
    def ours_total(self) -> Decimal:
        return sum((figure.amount for figure in self.our_figures), Decimal(0))

    @property
    def theirs_total(self) -> Decimal | None:
        """Return the total of their side in our currency, or None when an amount could not be converted."""
        total = Decimal(0)
        for line in self.lines:
            if line.theirs is None:
                continue
            if line.comparison is None or line.comparison.converted is None:
                return None
            total += line.comparison.converted
        return total

    def key_matches(self) -> list[tuple[str, str]]:
        """Return (our id, their id) of the pairs matched by composite key, to save in the id map."""
        return [(line.ours.record_id, line.theirs.record_id) for line in self.lines
                if line.method == "key" and line.ours is not None and line.theirs is not None]

    def summary(self) -> dict[str, StatusSummary]:
        """Return count and amounts per status; their amounts are in their currency when not converted."""
        result = {}
        for status in STATUSES:
            lines = self.by_status(status)
            ours = sum((line.ours.amount for line in lines if line.ours is not None), Decimal(0))
            theirs = sum((line.theirs.amount for line in lines if line.theirs is not None), Decimal(0))
            result[status] = StatusSummary(len(lines), ours, theirs)
        return result

    def grouped(self, by: str) -> dict[str, GroupSummary]:
        """Return counts per status and totals of both sides for each participant (``by='participant'``) or period.

        Our total of a group sums every figure of ours in it, also the candidates of
        ambiguous records. Their total is None when an amount of the group could not be converted.
        """
        groups: dict[str, GroupSummary] = {}

        def group(name: str | None) -> GroupSummary:
            return groups.setdefault(name or "", GroupSummary(dict.fromkeys(STATUSES, 0)))

        for figure in self.our_figures:
            summary = group(figure.participant_id if by == "participant" else figure.period)
            summary.ours += figure.amount
        for line in self.lines:
            summary = group(line.participant_id if by == "participant" else line.period)
            summary.counts[line.status] += 1
            if line.theirs is None or summary.theirs is None:
                continue
            converted = None if line.comparison is None else line.comparison.converted
            summary.theirs = None if converted is None else summary.theirs + converted
        return dict(sorted(groups.items()))


@dataclass
class GroupSummary:
    """Findings of one participant or period: count per status, our total and their total in our currency."""

    counts: dict[str, int]
    ours: Decimal = Decimal(0)
    theirs: Decimal | None = Decimal(0)


def compare_amounts(ours: Figure, theirs: Figure, options: MatchOptions, rates: FxRates) -> Comparison:
    """Convert their amount into our currency and classify the difference against the tolerance."""
    rate = rates.rate(theirs.currency, ours.currency, theirs.date or ours.date)
    if rate is None:
        return Comparison(CURRENCY_DIFFERS)
    converted = CONTEXT.multiply(theirs.amount, rate)
    difference = converted - ours.amount
    if difference == 0:
        status = MATCHED
    elif abs(difference) <= options.allowed_difference(ours.amount):
        status = WITHIN_TOLERANCE
    else:
        status = OUTSIDE_TOLERANCE
    return Comparison(status, converted, rate, difference)


def convert_alone(theirs: Figure, currency: str, rates: FxRates) -> Comparison | None:
    """Return their amount converted into our currency, for a record with no partner."""
    rate = rates.rate(theirs.currency, currency, theirs.date)
    if rate is None:
        return None
    return Comparison(ONLY_THEIRS, CONTEXT.multiply(theirs.amount, rate), rate)


def match(ours: Sequence[Figure], theirs: Sequence[Figure], options: MatchOptions, *,
          currency: str, id_map: Mapping[str, str] | None = None, rates: FxRates | None = None) -> TieoutResult:
    """Match their figures to ours by id, then by composite key, and compare the amounts of each pair.

    ``id_map`` maps their id to our id (pairs confirmed earlier). ``currency`` is our
    currency, used for the totals of their side.
    """
    options.check()
    rates = rates or FxRates()
    id_map = id_map or {}
    result = TieoutResult(currency, our_figures=tuple(ours))
    ours_by_id = _unique_by_id(ours)
    paired_ids: set[str] = set()
    unmatched_theirs: list[Figure] = []

    # Pass 1: ids shared by both systems, named in their file, or saved in the id map.
    for figure in theirs:
        our_id, method = _our_id_of(figure, ours_by_id, id_map, paired_ids)
        if our_id is None:
            unmatched_theirs.append(figure)
            continue
        paired_ids.add(our_id)
        partner = ours_by_id[our_id]
        comparison = compare_amounts(partner, figure, options, rates)
        result.lines.append(TieoutLine(comparison.status, partner, figure, method, comparison))

    # Pass 2: composite key among what is left.
    remaining_ours = [figure for figure in ours if figure.record_id not in paired_ids]
    if options.key_fields:
        unmatched_theirs = _match_by_key(result, remaining_ours, unmatched_theirs, options, rates, paired_ids)
        remaining_ours = [figure for figure in ours if figure.record_id not in paired_ids]

    for figure in remaining_ours:
        result.lines.append(TieoutLine(ONLY_OURS, figure, None))
    for figure in unmatched_theirs:
        result.lines.append(TieoutLine(ONLY_THEIRS, None, figure, comparison=convert_alone(figure, currency, rates)))
    return result


def _unique_by_id(figures: Sequence[Figure]) -> dict[str, Figure]:
    by_id: dict[str, Figure] = {}
    for figure in figures:
        if figure.record_id in by_id:
            raise TieoutError(f"our id {figure.record_id!r} appears twice; combine the figures before matching")
        by_id[figure.record_id] = figure
    return by_id


def _our_id_of(figure: Figure, ours_by_id: Mapping[str, Figure], id_map: Mapping[str, str],
               paired_ids: set[str]) -> tuple[str | None, str | None]:
    for our_id, method in ((figure.our_id, "id"), (id_map.get(figure.record_id), "id_map"), (figure.record_id, "id")):
        if our_id and our_id in ours_by_id and our_id not in paired_ids:
            return our_id, method
    return None, None


def _match_by_key(result: TieoutResult, ours: list[Figure], theirs: list[Figure], options: MatchOptions,
                  rates: FxRates, paired_ids: set[str]) -> list[Figure]:
    """Add key matches and ambiguous records to ``result``; return their figures left without a partner."""
    pool = _CandidatePool(ours, options)
    candidates = {index: _candidates(figure, pool, options, rates) for index, figure in enumerate(theirs)}
    claims: dict[str, int] = defaultdict(int)
    for found in candidates.values():
        for candidate in found:
            claims[candidate.ours.record_id] += 1

    left: list[Figure] = []
    for index, figure in enumerate(theirs):
        found = candidates[index]
        if not found:
            left.append(figure)
            continue
        if len(found) == 1 and claims[found[0].ours.record_id] == 1:
            partner = found[0].ours
            paired_ids.add(partner.record_id)
            comparison = compare_amounts(partner, figure, options, rates)
            result.lines.append(TieoutLine(comparison.status, partner, figure, "key", comparison))
            continue
        result.lines.append(TieoutLine(AMBIGUOUS, None, figure, candidates=tuple(found),
                                       comparison=convert_alone(figure, result.currency, rates)))

    # Our figures that are candidates of an ambiguous record are listed with it, not as only ours.
    for line in result.lines:
        if line.status == AMBIGUOUS:
            paired_ids.update(candidate.ours.record_id for candidate in line.candidates)
    return left


class _CandidatePool:
    """Our unmatched figures indexed by the exact key fields and the date, so a lookup scans few figures.

    Customer and participant must be equal and dates within the window, so only the
    buckets for those values are read. A key of amount alone still compares every figure.
    """

    def __init__(self, ours: list[Figure], options: MatchOptions) -> None:
        self.exact_fields = [name for name in ("customer", "participant_id") if name in options.key_fields]
        self.by_date = "date" in options.key_fields
        self.window = options.date_window_days
        self.buckets: dict[tuple, list[Figure]] = defaultdict(list)
        for figure in ours:
            if self.by_date and figure.date is None:
                continue
            self.buckets[self._key(figure, figure.date)].append(figure)

    def _key(self, figure: Figure, day: dt.date | None) -> tuple:
        values: list[object] = [_exact_value(figure, name) for name in self.exact_fields]
        if self.by_date:
            values.append(day)
        return tuple(values)

    def near(self, theirs: Figure) -> list[Figure]:
        if not self.by_date:
            return self.buckets.get(self._key(theirs, None), [])
        if theirs.date is None:
            return []
        found: list[Figure] = []
        for offset in range(-self.window, self.window + 1):
            found.extend(self.buckets.get(self._key(theirs, theirs.date + dt.timedelta(days=offset)), []))
        return found


def _exact_value(figure: Figure, name: str) -> str:
    return _folded(figure.customer) if name == "customer" else figure.participant_id or ""


def _candidates(theirs: Figure, pool: _CandidatePool, options: MatchOptions, rates: FxRates) -> list[Candidate]:
    found = []
    for figure in pool.near(theirs):
        candidate = _candidate(figure, theirs, options, rates)
        if candidate is not None:
            found.append(candidate)
    found.sort(key=lambda item: (item.rank, item.date_gap_days or 0, abs(item.amount_gap or 0), item.ours.record_id))
    return found


def _candidate(ours: Figure, theirs: Figure, options: MatchOptions, rates: FxRates) -> Candidate | None:
    rank = RANK_EXACT
    date_gap = None
    amount_gap = None
    for name in options.key_fields:
        if name == "customer" and _folded(ours.customer) != _folded(theirs.customer):
            return None
        if name == "participant_id" and (ours.participant_id or "") != (theirs.participant_id or ""):
            return None
        if name == "date":
            if ours.date is None or theirs.date is None:
                return None
            date_gap = abs((theirs.date - ours.date).days)
            if date_gap > options.date_window_days:
                return None
            if date_gap:
                rank = max(rank, RANK_DATE_WINDOW)
        if name == "amount":
            comparison = compare_amounts(ours, theirs, options, rates)
            if comparison.status in (CURRENCY_DIFFERS, OUTSIDE_TOLERANCE):
                return None
            amount_gap = comparison.difference
            if comparison.status == WITHIN_TOLERANCE:
                rank = RANK_AMOUNT_TOLERANCE
    return Candidate(ours, rank, date_gap, amount_gap)


def _folded(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def combine(figures: Iterable[Figure], key: str) -> list[Figure]:
    """Sum figures that share a participant (``key='participant'``) or a record id into one figure each.

    Figures combined must share a currency; the combined figure keeps the earliest date
    and lists the ids it was made of in ``records``.
    """
    groups: dict[str, list[Figure]] = {}
    for figure in figures:
        name = (figure.participant_id or "") if key == "participant" else figure.record_id
        groups.setdefault(name, []).append(figure)
    combined = []
    for name, members in groups.items():
        currencies = {member.currency for member in members}
        if len(currencies) > 1:
            raise TieoutError(f"figures of {name!r} are in several currencies ({', '.join(sorted(currencies))}); "
                              "give one currency per participant or record")
        first = members[0]
        dates = [member.date for member in members if member.date is not None]
        combined.append(replace(
            first, record_id=name, amount=sum((member.amount for member in members), Decimal(0)),
            date=min(dates) if dates else None, source_row=first.source_row if len(members) == 1 else None,
            records=tuple(member.record_id for member in members)))
    return combined
