"""Tier arithmetic on exact decimals: band lookup, marginal and retroactive earnings, bonus curves.

Band edges are in credit units: ``from`` itself with ``by: amount``, ``from × quota`` with
``by: attainment``. Credit below 0 (more reversals than sales) falls in the first band,
so a negative amount earns the first rate and never more.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from spm_desktop.domain.money import CONTEXT

if TYPE_CHECKING:
    from spm_desktop.domain.plans import CurvePoint, Tiers

ZERO = Decimal(0)


def band_edges(tiers: Tiers, quota: Decimal | None) -> tuple[Decimal, ...]:
    """Return the lower edge of each band in credit units; ``quota`` is needed when tiers are by attainment."""
    if tiers.by == "attainment":
        if quota is None:
            raise ValueError("tiers by attainment need a quota")
        return tuple(CONTEXT.multiply(band.start, quota) for band in tiers.bands)
    return tuple(band.start for band in tiers.bands)


def band_index(value: Decimal, edges: Sequence[Decimal]) -> int:
    """Return the index of the band that contains ``value`` (``from`` inclusive, the first band below 0)."""
    index = 0
    for position, edge in enumerate(edges):
        if value >= edge:
            index = position
        else:
            break
    return index


def marginal_earnings(value: Decimal, edges: Sequence[Decimal], rates: Sequence[Decimal]) -> Decimal:
    """Return earnings on ``value`` with each band's rate applied only to the part inside that band."""
    if value <= 0:
        return CONTEXT.multiply(value, rates[0])
    total = ZERO
    for position, edge in enumerate(edges):
        if value <= edge:
            break
        upper = edges[position + 1] if position + 1 < len(edges) else None
        top = value if upper is None or value < upper else upper
        total = CONTEXT.add(total, CONTEXT.multiply(CONTEXT.subtract(top, edge), rates[position]))
    return total


def marginal_bands(before: Decimal, after: Decimal, edges: Sequence[Decimal]) -> tuple[int, ...]:
    """Return the indexes of the bands that the credit between ``before`` and ``after`` falls in."""
    low, high = (before, after) if before <= after else (after, before)
    first = band_index(low, edges)
    last = band_index(high, edges)
    if high > low and last > first and high == edges[last]:
        last -= 1
    return tuple(range(first, last + 1))


def tier_earnings(tiers: Tiers, value: Decimal, quota: Decimal | None = None) -> Decimal:
    """Return the earnings of one amount (or period credit) under a band table."""
    edges = band_edges(tiers, quota)
    rates = [band.rate for band in tiers.bands]
    if tiers.method == "marginal":
        return marginal_earnings(value, edges, rates)
    if tiers.method == "retroactive":
        return CONTEXT.multiply(value, rates[band_index(value, edges)])
    return CONTEXT.multiply(value, rates[0])


def bonus_multiple(curve: Sequence[CurvePoint], attainment: Decimal) -> Decimal:
    """Return the payout multiple of target at ``attainment``: linear between points, flat beyond the ends."""
    if attainment <= curve[0].attainment:
        return curve[0].payout
    for left, right in itertools.pairwise(curve):
        if attainment <= right.attainment:
            width = CONTEXT.subtract(right.attainment, left.attainment)
            fraction = CONTEXT.divide(CONTEXT.subtract(attainment, left.attainment), width)
            rise = CONTEXT.subtract(right.payout, left.payout)
            return CONTEXT.add(left.payout, CONTEXT.multiply(fraction, rise))
    return curve[-1].payout
