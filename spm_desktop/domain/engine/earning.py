"""Earning: tiers over cumulative credit line by line, and rounding lines to the component total.

All arithmetic runs in the caller's decimal context (``money.CONTEXT``: 34 digits, half up).
"""

from __future__ import annotations

import decimal
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from spm_desktop.domain.engine.exact import largest_magnitude
from spm_desktop.domain.money import minor_exponent
from spm_desktop.domain.plan_tiers import band_index, marginal_bands, marginal_earnings
from spm_desktop.domain.plans import Tiers

ZERO = Decimal(0)
_SCALE = np.frompyfunc(Decimal.scaleb, 2, 1)
_FLOOR = np.frompyfunc(math.floor, 1, 1)
_TO_FLOAT = np.frompyfunc(float, 1, 1)


class LabelTable:
    """The distinct (band tuple, rate tuple) pairs of statement lines. A line stores only its index here."""

    def __init__(self) -> None:
        self.bands: list[tuple[int, ...]] = []
        self.rates: list[tuple[Decimal, ...]] = []

    def add(self, bands: tuple[int, ...], rates: tuple[Decimal, ...]) -> int:
        self.bands.append(bands)
        self.rates.append(rates)
        return len(self.bands) - 1

    def columns(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the band and rate tuples of lines with these codes, as object arrays of shared tuples."""
        bands = np.empty(len(self.bands), dtype=object)
        rates = np.empty(len(self.rates), dtype=object)
        for code, (band, rate) in enumerate(zip(self.bands, self.rates, strict=True)):
            bands[code], rates[code] = band, rate
        return bands[codes], rates[codes]


class BandLabels:
    """Codes in a LabelTable of the 1-based band tuples and rate tuples of one tier table."""

    def __init__(self, tiers: Tiers, table: LabelTable | None = None) -> None:
        self.table = table if table is not None else LabelTable()
        self.rates = [band.rate for band in tiers.bands]
        self.single = np.array([self.table.add((index + 1,), (rate,)) for index, rate in enumerate(self.rates)],
                               dtype=np.int64)
        self._spans: dict[tuple[int, ...], int] = {}
        self._factors: dict[tuple[int, int], list[int | None]] = {}
        self._rate_parts: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def rate_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return each band's rate as int64 coefficient and exponent, and whether the rate has such parts.

        The arrays have one more entry than there are bands, an unusable one, so that band -1
        (a line across bands) indexes it.
        """
        if self._rate_parts is None:
            coefficients, exponents, usable = [], [], []
            for rate in self.rates:
                sign, digits, exponent = rate.as_tuple()
                coefficient = int("".join(map(str, digits)) or "0")
                fits = (isinstance(exponent, int) and rate.is_finite() and coefficient.bit_length() <= 62
                        and -2**15 <= exponent < 2**15 and not (coefficient == 0 and sign))
                if not fits:
                    coefficient, exponent = 0, 0
                coefficients.append(-coefficient if sign else coefficient)
                exponents.append(exponent)
                usable.append(fits)
            self._rate_parts = (np.array([*coefficients, 0], dtype=np.int64), np.array([*exponents, 0], dtype=np.int64),
                                np.array([*usable, False], dtype=bool))
        return self._rate_parts

    def fine_factors(self, scale: int, exponent: int) -> list[int | None]:
        """Return per band the integer that turns credit in 1/10**scale into lines in 1/10**exponent.

        A band gets None when its rate times 10**(exponent - scale) is not an integer, so its
        lines cannot be priced in integers exactly.
        """
        key = (scale, exponent)
        if key not in self._factors:
            factors: list[int | None] = []
            for rate in self.rates:
                numerator, denominator = rate.as_integer_ratio()
                shift = exponent - scale
                scaled = numerator * 10**shift if shift >= 0 else None
                factors.append(scaled // denominator if scaled is not None and scaled % denominator == 0 else None)
            self._factors[key] = factors
        return self._factors[key]

    def bands_of(self, codes: np.ndarray) -> np.ndarray:
        """Return the 0-based band of lines with single-band codes, and -1 for lines that cross bands."""
        bands = codes - self.single[0] if len(self.single) else np.full(len(codes), -1)
        return np.where((bands >= 0) & (bands < len(self.single)), bands, -1)

    def span(self, touched: tuple[int, ...]) -> int:
        """Return the code of a line that crosses the 0-based bands ``touched``."""
        code = self._spans.get(touched)
        if code is None:
            code = self._spans[touched] = self.table.add(tuple(band + 1 for band in touched),
                                                         tuple(self.rates[band] for band in touched))
        return code


def _band_of(values: np.ndarray, edges: Sequence[Decimal]) -> np.ndarray:
    """Return the 0-based band of each value; values below the second edge fall in the first band."""
    bands = np.zeros(len(values), dtype=np.int64)
    for edge in edges[1:]:
        bands += values >= edge
    return bands


def _marginal_vector(values: np.ndarray, edges: Sequence[Decimal], labels: BandLabels,
                     whole: WholeUnits | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Price credits of one group in order with marginal tiers, vectorised where a credit stays in one band."""
    rates = np.array(labels.rates, dtype=object)
    if whole is not None:
        band_after = _band_of(np.cumsum(whole.units), whole.edges)
    else:
        after = np.cumsum(values) if len(values) else values
        band_after = _band_of(after, edges)
    band_before = np.concatenate(([0], band_after[:-1])) if len(values) else band_after
    exact = values * rates[band_after]
    codes = labels.single[band_after]
    crossings = np.flatnonzero(band_after != band_before)
    plain = labels.rate_parts()[2][band_after]
    plain[crossings] = False
    if whole is not None and len(crossings):
        # The running Decimal sums, added left to right as before, are needed up to the last crossing only.
        after = np.cumsum(values[:crossings[-1] + 1])
    for index in crossings.tolist():
        exact[index], codes[index] = _crossing_line(after[index - 1] if index > 0 else ZERO, after[index], edges,
                                                    labels)
    return exact, codes, plain


def _crossing_line(before: Decimal, after: Decimal, edges: Sequence[Decimal], labels: BandLabels) -> tuple[
        Decimal, int]:
    """Return the exact line and the code of a credit that takes the running sum from ``before`` to ``after``."""
    exact = marginal_earnings(after, edges, labels.rates) - marginal_earnings(before, edges, labels.rates)
    return exact, labels.span(marginal_bands(before, after, edges))


def _marginal_each(values: np.ndarray, edges: Sequence[Decimal], labels: BandLabels) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """Price each credit on its own from 0 with marginal tiers (every credit is its own group)."""
    exact = np.empty(len(values), dtype=object)
    codes = np.empty(len(values), dtype=np.int64)
    for index, value in enumerate(values.tolist()):
        exact[index] = marginal_earnings(value, edges, labels.rates)
        codes[index] = labels.span(marginal_bands(ZERO, value, edges))
    return exact, codes, np.zeros(len(values), dtype=bool)


def _grouped(values: np.ndarray, groups: np.ndarray, tiers: Tiers, edges: Sequence[Decimal],
             labels: BandLabels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    exact = np.empty(len(values), dtype=object)
    codes = np.empty(len(values), dtype=np.int64)
    plain = np.ones(len(values), dtype=bool)
    members: dict[object, list[int]] = {}
    for index, key in enumerate(groups.tolist()):
        members.setdefault(key, []).append(index)
    for indexes in members.values():
        part = np.array(indexes, dtype=np.int64)
        if tiers.method == "marginal":
            exact[part], codes[part], plain[part] = _marginal_vector(values[part], edges, labels)
            continue
        total = sum(values[part].tolist(), ZERO)
        band = band_index(total, edges) if tiers.method == "retroactive" else 0
        exact[part] = values[part] * labels.rates[band]
        codes[part] = labels.single[band]
        plain[part] = labels.rate_parts()[2][band]
    return exact, codes, plain


@dataclass(frozen=True)
class WholeUnits:
    """Credits and band edges as int64 counts of one small unit, for comparing them without Decimal objects."""

    units: np.ndarray
    edges: np.ndarray


def whole_units(units: np.ndarray | None, scale: int, edges: Sequence[Decimal]) -> WholeUnits | None:
    """Return credits in 1/10**scale and the edges in the same unit, or None when an edge is not a whole count.

    Also None when a running sum of the credits could overflow int64.
    """
    if units is None or len(units) == 0:
        return None
    whole_edges = edge_units(tuple(edges), scale)
    if whole_edges is None:
        return None
    if largest_magnitude(units) * len(units) >= 2**63:
        return None
    return WholeUnits(units, whole_edges)


@functools.lru_cache(maxsize=4096)
def edge_units(edges: tuple[Decimal, ...], scale: int) -> np.ndarray | None:
    """Return band edges in 1/10**scale as int64, or None; amount tiers share one table over all participants.

    Equal Decimals give equal counts, so a key that equals in value is a correct hit. The
    result is read only.
    """
    whole = integer_units(np.array(list(edges), dtype=object), scale)
    if whole is not None:
        whole.flags.writeable = False
    return whole


def price_tiers(values: np.ndarray, groups: np.ndarray | None, tiers: Tiers, edges: Sequence[Decimal],
                labels: BandLabels | None = None, whole: WholeUnits | None = None) -> tuple[
                    np.ndarray, np.ndarray, np.ndarray]:
    """Return each credit's exact line, the code of its band and rate tuples, and which lines are plain.

    A plain line is the credit times the rate of the one band its code names, a rate with an
    int64 coefficient (see ``BandLabels.rate_parts``). The others cross bands, were priced on
    their own from 0, or have a rate with more digits.

    ``values`` is an object array of Decimal. ``groups`` contains the grain key of each credit
    (None for ``grain: period``): credits with the same key are tiered together from 0, as
    one deal or one order. The codes index ``labels.table``, and ``labels`` are the tier table's
    codes, when the caller keeps them between calls. ``whole``, when given, contains the same
    credits and edges as int64 counts, so bands are found without comparing Decimals.
    """
    labels = labels or BandLabels(tiers)
    values = np.asarray(values, dtype=object)
    if groups is not None and len(set(groups.tolist())) < len(groups):
        return _grouped(values, groups, tiers, edges, labels)
    if tiers.method == "marginal":
        if groups is None:
            return _marginal_vector(values, edges, labels, whole)
        return _marginal_each(values, edges, labels)
    if tiers.method == "retroactive":
        if groups is None:
            total = Decimal(int(whole.units.sum())) if whole is not None else sum(values.tolist(), ZERO)
            edge_list = list(whole.edges.tolist()) if whole is not None else edges
            band = np.full(len(values), band_index(total, edge_list), dtype=np.int64)
        else:
            band = _band_of(whole.units, whole.edges) if whole is not None else _band_of(values, edges)
    else:
        band = np.zeros(len(values), dtype=np.int64)
    rates = np.array(labels.rates, dtype=object)
    return values * rates[band], labels.single[band], labels.rate_parts()[2][band]


@dataclass
class SegmentPrices:
    """Bands, codes and plain flags of credit rows priced in segments, one segment per participant.

    The rows are those of the segments laid end to end. Lines that cross bands are at the
    sorted row indexes ``crossings``, with their exact values in ``crossing_exact``. Every
    other line is its credit times the rate of its band.
    """

    bands: np.ndarray
    codes: np.ndarray
    plain: np.ndarray
    crossings: np.ndarray
    crossing_exact: list[Decimal]


def price_segments(values: np.ndarray, units: np.ndarray, lengths: np.ndarray, edges: Sequence[Sequence[Decimal]],
                   whole_edges: np.ndarray, method: str, per_row: bool, labels: BandLabels,
                   scale: int, exponents: np.ndarray | None = None) -> SegmentPrices:
    """Price the credit rows of many segments at once, as ``price_tiers`` prices each segment.

    ``values`` and ``units`` are the credits of all segments as Decimal and as int64 counts of
    1/10**scale. ``lengths`` gives each segment's row count (none is 0). ``edges`` and
    ``whole_edges`` give each segment's band edges, as Decimal and in that unit (one row per
    segment). ``per_row`` prices each credit as its own group (a grain whose keys do not repeat
    within a segment); marginal tiers need ``per_row`` False. ``exponents``, when given, are the
    exponents of the credits' Decimals, so running sums at crossings are made from the units.
    The caller makes sure that no running sum overflows int64.
    """
    firsts = np.cumsum(lengths) - lengths
    segment = np.repeat(np.arange(len(lengths)), lengths)
    crossings = np.empty(0, dtype=np.int64)
    if method == "marginal":
        running = np.cumsum(units)
        running -= np.repeat(running[firsts] - units[firsts], lengths)
        bands = _segment_bands(running, whole_edges, segment)
        before = np.empty_like(bands)
        before[1:] = bands[:-1]
        before[firsts] = 0
        crossings = np.flatnonzero(bands != before)
        sums = _RunningSums(values, running, exponents, segment, scale)
    elif method == "retroactive" and per_row:
        bands = _segment_bands(units, whole_edges, segment)
    elif method == "retroactive":
        # Each segment takes the band of its total, as band_index finds it.
        totals = np.add.reduceat(units, firsts)
        reached = totals >= whole_edges[:, 0]
        band = np.zeros(len(lengths), dtype=np.int64)
        for column in range(1, whole_edges.shape[1]):
            reached &= totals >= whole_edges[:, column]
            band += reached
        bands = np.repeat(band, lengths)
    else:
        bands = np.zeros(len(units), dtype=np.int64)
    codes = labels.single[bands]
    plain = labels.rate_parts()[2][bands]
    plain[crossings] = False
    crossing_exact: list[Decimal] = []
    owners = segment[crossings]
    ends = firsts + lengths
    for owner, first, end, row in zip(owners.tolist(), firsts[owners].tolist(), ends[owners].tolist(),
                                      crossings.tolist(), strict=True):
        before = sums.at(row - 1, first, end) if row > first else ZERO
        exact, codes[row] = _crossing_line(before, sums.at(row, first, end), edges[owner], labels)
        crossing_exact.append(exact)
    return SegmentPrices(bands, codes, plain, crossings, crossing_exact)


# Larger than the spread of int16 exponents, so that a running minimum restarts in each segment.
_EXPONENT_SPAN = 1 << 17


class _RunningSums:
    """Running Decimal sums of a segment's credits at a row, equal to adding them left to right.

    Adding exact Decimals keeps the smallest exponent, so the sum at a row is its running
    count of units written with the smallest exponent so far. Without exponents, or where
    that would take more digits than the context keeps, the segment's Decimals are added.
    """

    def __init__(self, values: np.ndarray, running: np.ndarray, exponents: np.ndarray | None, segment: np.ndarray,
                 scale: int) -> None:
        self.values, self.running, self.scale = values, running, scale
        # A sum made from units must not have more digits than the context keeps when adding.
        self.digits = decimal.getcontext().prec
        self.lowest = None
        if exponents is not None:
            shift = segment.astype(np.int64) * _EXPONENT_SPAN
            self.lowest = np.minimum.accumulate(exponents.astype(np.int64) - shift) + shift
        self._added: tuple[int, np.ndarray] | None = None

    def at(self, row: int, first: int, end: int) -> Decimal:
        """Return the sum of the credits from row ``first`` to ``row`` of the segment ending before ``end``."""
        if self.lowest is not None:
            exponent = int(self.lowest[row])
            units = int(self.running[row])
            if exponent <= -self.scale:
                coefficient = units * 10 ** (-self.scale - exponent)
            else:
                coefficient = units // 10 ** (exponent + self.scale)
            if len(str(abs(coefficient))) <= self.digits:
                return Decimal(coefficient).scaleb(exponent)
        if self._added is None or self._added[0] != first:
            self._added = (first, np.cumsum(self.values[first:end]))
        return self._added[1][row - first]


def _segment_bands(values: np.ndarray, whole_edges: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Return the band of each row as ``_band_of`` finds it, against the edges of the row's segment."""
    bands = np.zeros(len(values), dtype=np.int64)
    for column in range(1, whole_edges.shape[1]):
        bands += values >= whole_edges[segment, column]
    return bands


def round_minor(value: Decimal, currency: str) -> Decimal:
    """Round half up (away from zero) to the currency's minor unit."""
    return value.quantize(Decimal(1).scaleb(-minor_exponent(currency)), rounding=ROUND_HALF_UP)


def largest_remainder(exact: np.ndarray, currency: str, total: Decimal | None = None,
                      fine: np.ndarray | None = None, known: np.ndarray | None = None) -> tuple[Decimal, np.ndarray]:
    """Round the total once, half up, and round lines so that they add up to it exactly.

    Returns the rounded total and each line as an integer count of minor units (int64).
    Each line is first rounded down to the minor unit. The units still missing go to the
    lines with the largest remainders, earlier lines first on ties. ``total`` is the sum
    of ``exact`` when the caller already has it. ``fine`` optionally contains the lines as
    int64 counts of 1/10^8 minor units where ``known`` is True, which saves converting them.
    """
    exact = np.asarray(exact, dtype=object)
    exponent = minor_exponent(currency)
    if total is None:
        total = sum(exact.tolist(), ZERO)
    rounded_total = round_minor(total, currency)
    if len(exact) == 0:
        return rounded_total, np.zeros(0, dtype=np.int64)
    fast = _fill_fine(exact, exponent, fine, known) if fine is not None else integer_units(
        exact, exponent + FINE_DIGITS)
    if fast is not None:
        return rounded_total, _distribute(fast, int(rounded_total.scaleb(exponent)))
    scaled = _SCALE(exact, exponent)
    floors = _FLOOR(scaled)
    units = floors.astype(np.int64)
    missing = int(rounded_total.scaleb(exponent)) - int(units.sum())
    if missing > 0:
        units[_largest(scaled - floors, missing)] += 1
    return rounded_total, units


# Lines with at most this many decimals beyond the minor unit are rounded in int64.
FINE_DIGITS = 8
_FINE = 10**FINE_DIGITS
_INT = np.frompyfunc(int, 1, 1)


def integer_units(values: np.ndarray, scale: int) -> np.ndarray | None:
    """Return Decimal values times 10**scale as int64, or None when one of them would not be an exact int64.

    None also when a value is not a Decimal, so such input takes the Decimal path.
    """
    try:
        scaled = _SCALE(values, scale)
    except TypeError:
        return None
    integers = _INT(scaled)
    if not (integers == scaled).all():
        return None
    try:
        return integers.astype(np.int64)
    except OverflowError:
        return None


def _fill_fine(exact: np.ndarray, exponent: int, fine: np.ndarray, known: np.ndarray) -> np.ndarray | None:
    """Convert the lines that ``known`` does not cover and return all lines in 1/10^8 minor units."""
    missing = np.flatnonzero(~known)
    if len(missing) == 0:
        return fine
    converted = integer_units(exact[missing], exponent + FINE_DIGITS)
    if converted is None:
        return None
    fine = fine.copy()
    fine[missing] = converted
    return fine


def _distribute(fine: np.ndarray, total_units: int) -> np.ndarray:
    """Round int64 lines in 1/10^8 minor units down to minor units and give the missing units by remainder."""
    units = np.floor_divide(fine, _FINE)
    remainders = fine - units * _FINE
    missing = total_units - int(units.sum())
    if missing >= len(units) > 0:
        units += 1
    elif missing > 0:
        # The lines above the missing-th largest remainder get a unit each, and the lines equal
        # to it the units left, earlier lines first: the lines that a stable sort would pick.
        cut = np.partition(remainders, len(remainders) - missing)[len(remainders) - missing]
        above = remainders > cut
        units[above] += 1
        units[np.flatnonzero(remainders == cut)[:missing - int(np.count_nonzero(above))]] += 1
    return units


def round_segments(fine: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Round the lines of many segments as ``largest_remainder`` rounds each segment to its own total.

    ``fine`` contains every line in 1/10^8 minor units, segment after segment, with ``lengths``
    rows each (none is 0). Returns each line and each segment's total rounded half up, as
    integer minor units. The caller makes sure that no segment's sum overflows int64.
    """
    firsts = np.cumsum(lengths) - lengths
    units = np.floor_divide(fine, _FINE)
    remainders = fine - units * _FINE
    sums = np.add.reduceat(fine, firsts)
    totals = np.sign(sums) * ((np.abs(sums) + _FINE // 2) // _FINE)
    missing = totals - np.add.reduceat(units, firsts)
    # Within each segment, the lines by falling remainder, earlier lines first on ties. Remainders
    # are below _FINE, so one int64 key sorts by segment, then remainder, faster than lexsort.
    segment = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    order = np.argsort(segment * _FINE + (_FINE - 1 - remainders), kind="stable")
    rank = np.empty(len(fine), dtype=np.int64)
    rank[order] = np.arange(len(fine)) - np.repeat(firsts, lengths)
    units += rank < np.repeat(missing, lengths)
    return units, totals


def minor_to_decimal(units: int, currency: str) -> Decimal:
    """Turn an integer count of minor units into a Decimal with the currency's decimals."""
    return Decimal(int(units)).scaleb(-minor_exponent(currency))


def _largest(remainders: np.ndarray, count: int) -> np.ndarray:
    """Return the indexes of the ``count`` largest remainders, earlier lines first on ties, exactly.

    Sorting runs on binary floats for speed. Conversion to float never reverses an order,
    so only values whose floats tie at the cut are compared again as Decimal.
    """
    keys = _TO_FLOAT(remainders).astype(np.float64)
    order = np.argsort(-keys, kind="stable")
    if count >= len(order) or keys[order[count - 1]] != keys[order[count]]:
        return order[:count]
    cut = keys[order[count - 1]]
    above = order[keys[order] > cut]
    tied = np.flatnonzero(keys == cut)
    exact_order = sorted(tied.tolist(), key=lambda index: (-remainders[index], index))
    return np.concatenate([above, np.array(exact_order[:count - len(above)], dtype=np.int64)])
