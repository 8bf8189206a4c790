"""Exact money arithmetic: parsing, rounding and the integer units used in storage.

Two integer scales exist, and the suffix of every money column names the one it uses:

* Imported record amounts (deal amounts, costs, quotas) keep four decimals, because
  finance exports such as SQL Server ``money`` columns carry four. They are stored as
  integer counts of 1/10,000 of the currency unit (``RECORD_SCALE``).
* Calculated money (earnings, payouts, adjustments) is rounded to the currency's minor
  unit and stored as integer minor units (cents for USD, yen for JPY).
"""

from __future__ import annotations

import decimal
from decimal import ROUND_HALF_UP, Decimal

# Decimal context for every calculation: 28 significant digits is the floor that the
# workspace format sets for non-terminating values such as a quota prorated by 1/3.
CONTEXT = decimal.Context(prec=34, rounding=ROUND_HALF_UP, traps=[decimal.InvalidOperation, decimal.DivisionByZero])

RECORD_SCALE = 4
RECORD_FACTOR = 10**RECORD_SCALE

# ISO 4217 exponents that differ from 2. Any other three-letter code has two decimals.
_MINOR_EXPONENTS = {
    "BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0,
    "JOD": 3, "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0,
    "RWF": 0, "TND": 3, "UGX": 0, "UYI": 0, "UYW": 4, "VND": 0, "VUV": 0, "XAF": 0,
    "XOF": 0, "XPF": 0,
}


class MoneyError(ValueError):
    """A value that cannot be read or stored as exact money."""


def minor_exponent(currency: str) -> int:
    """Return the number of decimals of a currency's minor unit (2 for USD, 0 for JPY)."""
    return _MINOR_EXPONENTS.get(currency.upper(), 2)


def to_decimal(value: object) -> Decimal:
    """Convert text, int or Decimal to Decimal without passing through binary floats.

    Floats are accepted only through their shortest repr (``repr(0.1) == '0.1'``), which
    is how spreadsheet readers hand over numeric cells.
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise MoneyError(f"{value!r} is a boolean, not an amount")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise MoneyError(f"{value!r} is not a finite amount")
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except decimal.InvalidOperation:
            raise MoneyError(f"{value!r} is not a number") from None
        if not result.is_finite():
            raise MoneyError(f"{value!r} is not a finite amount")
        return result
    raise MoneyError(f"{value!r} ({type(value).__name__}) is not a number")


def round_half_up(value: Decimal, decimals: int) -> Decimal:
    """Round half away from zero, so 0.005 becomes 0.01 and -0.005 becomes -0.01."""
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP, context=CONTEXT)


def round_money(value: Decimal, currency: str) -> Decimal:
    """Round an amount half up to the currency's minor unit."""
    return round_half_up(value, minor_exponent(currency))


def to_minor(value: Decimal, currency: str) -> int:
    """Round half up to the minor unit and return the integer count of minor units."""
    exponent = minor_exponent(currency)
    return int(round_half_up(value, exponent).scaleb(exponent))


def from_minor(units: int, currency: str) -> Decimal:
    """Turn an integer count of minor units back into a Decimal with the right exponent."""
    return Decimal(units).scaleb(-minor_exponent(currency))


def to_record_units(value: Decimal) -> int:
    """Store an imported amount as an integer count of 1/10,000.

    Raises MoneyError when the amount has more than four decimals, because storing it
    would change the figure silently.
    """
    scaled = value.scaleb(RECORD_SCALE)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{value} has more than {RECORD_SCALE} decimals")
    return int(scaled)


def from_record_units(units: int) -> Decimal:
    """Turn a stored record amount (1/10,000 units) back into a Decimal."""
    return Decimal(units).scaleb(-RECORD_SCALE)


def format_plain(value: Decimal, currency: str) -> str:
    """Format money for files: the minor unit's decimals, no thousands separators."""
    return f"{round_money(value, currency):f}"
