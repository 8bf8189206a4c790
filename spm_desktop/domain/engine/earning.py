"""Earning: tiers over cumulative credit line by line, and rounding lines to the component total.

All arithmetic runs in the caller's decimal context (``money.CONTEXT``: 34 digits, half up).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from spm_desktop.domain.money import minor_exponent
from spm_desktop.domain.plan_tiers import band_index, marginal_bands, marginal_earnings
from spm_desktop.domain.plans import Tiers

ZERO = Decimal(0)
_SCALE = np.frompyfunc(Decimal.scaleb, 2, 1)
_FLOOR = np.frompyfunc(math.floor, 1, 1)
_TO_FLOAT = np.frompyfunc(float, 1, 1)


class BandLabels:
    """Shared 1-based band tuples and rate tuples of one tier table, so lines point at the same objects."""

    def __init__(self, tiers: Tiers) -> None:
        self.rates = [band.rate for band in tiers.bands]
        self.single_bands = np.empty(len(self.rates), dtype=object)
        self.single_rates = np.empty(len(self.rates), dtype=object)
        for index, rate in enumerate(self.rates):
            self.single_bands[index] = (index + 1,)
            self.single_rates[index] = (rate,)

    def spans(self, touched: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[Decimal, ...]]:
        return tuple(band + 1 for band in touched), tuple(self.rates[band] for band in touched)


def _band_of(values: np.ndarray, edges: Sequence[Decimal]) -> np.ndarray:
    """Return the 0-based band of each value; values below the second edge fall in the first band."""
    bands = np.zeros(len(values), dtype=np.int64)
    for edge in edges[1:]:
        bands += values >= edge
    return bands


def _marginal_vector(values: np.ndarray, edges: Sequence[Decimal], labels: BandLabels) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """Price credits of one group in order with marginal tiers, vectorised where a credit stays in one band."""
    rates = np.array(labels.rates, dtype=object)
    after = np.cumsum(values) if len(values) else values
    band_after = _band_of(after, edges)
    band_before = np.concatenate(([0], band_after[:-1])) if len(values) else band_after
    exact = values * rates[band_after]
    bands = labels.single_bands[band_after]
    rate_labels = labels.single_rates[band_after]
    for index in np.flatnonzero(band_after != band_before).tolist():
        before = after[index - 1] if index > 0 else ZERO
        exact[index] = marginal_earnings(after[index], edges, labels.rates) - marginal_earnings(
            before, edges, labels.rates)
        bands[index], rate_labels[index] = labels.spans(marginal_bands(before, after[index], edges))
    return exact, bands, rate_labels


def _marginal_each(values: np.ndarray, edges: Sequence[Decimal], labels: BandLabels) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """Price each credit on its own from 0 with marginal tiers (every credit is its own group)."""
    exact = np.empty(len(values), dtype=object)
    bands = np.empty(len(values), dtype=object)
    rate_labels = np.empty(len(values), dtype=object)
    for index, value in enumerate(values.tolist()):
        exact[index] = marginal_earnings(value, edges, labels.rates)
        bands[index], rate_labels[index] = labels.spans(marginal_bands(ZERO, value, edges))
    return exact, bands, rate_labels


def _grouped(values: np.ndarray, groups: np.ndarray, tiers: Tiers, edges: Sequence[Decimal],
             labels: BandLabels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    exact = np.empty(len(values), dtype=object)
    bands = np.empty(len(values), dtype=object)
    rate_labels = np.empty(len(values), dtype=object)
    members: dict[object, list[int]] = {}
    for index, key in enumerate(groups.tolist()):
        members.setdefault(key, []).append(index)
    for indexes in members.values():
        part = np.array(indexes, dtype=np.int64)
        if tiers.method == "marginal":
            exact[part], bands[part], rate_labels[part] = _marginal_vector(values[part], edges, labels)
            continue
        total = sum(values[part].tolist(), ZERO)
        band = band_index(total, edges) if tiers.method == "retroactive" else 0
        exact[part] = values[part] * labels.rates[band]
        bands[part] = [labels.single_bands[band]] * len(indexes)
        rate_labels[part] = [labels.single_rates[band]] * len(indexes)
    return exact, bands, rate_labels


def price_tiers(values: np.ndarray, groups: np.ndarray | None, tiers: Tiers, edges: Sequence[Decimal],
                labels: BandLabels | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return each credit's exact line, its 1-based band tuple and its rate tuple, priced in the given order.

    ``values`` is an object array of Decimal. ``groups`` contains the grain key of each credit
    (None for ``grain: period``): credits with the same key are tiered together from 0, as
    one deal or one order. ``labels`` are the tier table's shared band tuples, when the
    caller keeps them between calls.
    """
    labels = labels or BandLabels(tiers)
    values = np.asarray(values, dtype=object)
    if groups is not None and len(set(groups.tolist())) < len(groups):
        return _grouped(values, groups, tiers, edges, labels)
    if tiers.method == "marginal":
        if groups is None:
            return _marginal_vector(values, edges, labels)
        return _marginal_each(values, edges, labels)
    if tiers.method == "retroactive":
        if groups is None:
            band = np.full(len(values), band_index(sum(values.tolist(), ZERO), edges), dtype=np.int64)
        else:
            band = _band_of(values, edges)
    else:
        band = np.zeros(len(values), dtype=np.int64)
    rates = np.array(labels.rates, dtype=object)
    return values * rates[band], labels.single_bands[band], labels.single_rates[band]


def round_minor(value: Decimal, currency: str) -> Decimal:
    """Round half up (away from zero) to the currency's minor unit."""
    return value.quantize(Decimal(1).scaleb(-minor_exponent(currency)), rounding=ROUND_HALF_UP)


def largest_remainder(exact: np.ndarray, currency: str, total: Decimal | None = None) -> tuple[Decimal, np.ndarray]:
    """Round the total once, half up, and round lines so that they add up to it exactly.

    Returns the rounded total and each line as an integer count of minor units (int64).
    Each line is first rounded down to the minor unit. The units still missing go to the
    lines with the largest remainders, earlier lines first on ties. ``total`` is the sum
    of ``exact`` when the caller already has it.
    """
    exact = np.asarray(exact, dtype=object)
    exponent = minor_exponent(currency)
    if total is None:
        total = sum(exact.tolist(), ZERO)
    rounded_total = round_minor(total, currency)
    if len(exact) == 0:
        return rounded_total, np.zeros(0, dtype=np.int64)
    fast = _integer_lines(exact, exponent)
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
_FINE_DIGITS = 8
_FINE = 10**_FINE_DIGITS
_INT = np.frompyfunc(int, 1, 1)


def _integer_lines(exact: np.ndarray, exponent: int) -> np.ndarray | None:
    """Return the lines as int64 counts of 1/10^8 minor units, or None when that would not be exact."""
    scaled = _SCALE(exact, exponent + _FINE_DIGITS)
    integers = _INT(scaled)
    if not (integers == scaled).all():
        return None
    try:
        fine = integers.astype(np.int64)
    except OverflowError:
        return None
    return fine


def _distribute(fine: np.ndarray, total_units: int) -> np.ndarray:
    """Round int64 lines in 1/10^8 minor units down to minor units and give the missing units by remainder."""
    units = np.floor_divide(fine, _FINE)
    remainders = fine - units * _FINE
    missing = total_units - int(units.sum())
    if missing > 0:
        # A stable sort on the negated remainder puts the earlier line first on ties.
        order = np.argsort(-remainders, kind="stable")
        units[order[:missing]] += 1
    return units


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
