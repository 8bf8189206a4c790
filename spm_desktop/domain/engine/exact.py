"""Exact statement lines as int64 coefficient and exponent pairs instead of one Decimal object per line.

A Decimal line ``c * 10**e`` is stored as ``exact_coefficient = c`` and ``exact_exponent = e``.
That keeps every digit and the exponent, so ``Decimal("1.50")`` and ``Decimal("1.5")`` stay
apart. A value that does not fit (a coefficient beyond int64, an exponent beyond int16, a
negative zero, NaN or infinity) is kept as the Decimal itself in ``exact_decimal``, which is
None on every other line.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from itertools import repeat

import numpy as np
import pandas as pd

EXACT_COLUMNS = ("exact_coefficient", "exact_exponent", "exact_decimal")

# Enough digits for any int64 coefficient, so rebuilding a Decimal never rounds.
_REBUILD = decimal.Context(prec=40, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
_EXPONENT = np.iinfo(np.int16)


def split_exact(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Split an object array of Decimal into int64 coefficients, int16 exponents and the values that do not fit.

    The third array is None when every value fits. Otherwise it contains the Decimal of each
    value that does not fit and None elsewhere, and those lines have coefficient and exponent 0.
    """
    # str() of a Decimal is plain digits with at most one point when its exponent is at most 0 and
    # its adjusted exponent at least -6. Otherwise it is scientific notation, which int() rejects.
    # map() over builtins keeps the per-line loop in C.
    count = len(values)
    texts = list(map(str, values.tolist()))
    try:
        coefficients = np.fromiter(map(int, map(str.replace, texts, repeat("."), repeat(""))),
                                   dtype=np.int64, count=count)
    except (ValueError, OverflowError):  # scientific notation, NaN, infinity or a coefficient beyond int64
        return _split_each(values)
    points = np.fromiter(map(str.find, texts, repeat(".")), dtype=np.int64, count=count)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=count)
    exponents = np.where(points >= 0, points + 1 - lengths, 0).astype(np.int16)
    zeros = np.flatnonzero(coefficients == 0)
    if len(zeros) and any(texts[index].startswith("-") for index in zeros.tolist()):
        return _split_each(values)
    return coefficients, exponents, None


def split_distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Split values like ``split_exact``, reading each distinct object once.

    Shares and rates repeat the same few objects over many rows, so this is much cheaper
    than one string per row there.
    """
    if len(values) < 64:
        return split_exact(values)
    identities = np.fromiter(map(id, values.tolist()), dtype=np.int64, count=len(values))
    _unique, first, inverse = np.unique(identities, return_index=True, return_inverse=True)
    if len(first) * 2 > len(values):
        return split_exact(values)
    coefficients, exponents, others = split_exact(values[first])
    return coefficients[inverse], exponents[inverse], None if others is None else others[inverse]


def product_parts(left_coefficients: np.ndarray, left_exponents: np.ndarray, right_coefficients: np.ndarray,
                  right_exponents: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the parts of element-wise Decimal products and where those parts fit.

    In a context of 19 digits or more, the product of ``a * 10**e`` and ``b * 10**f`` is exactly
    ``(a * b) * 10**(e + f)``, because Decimal keeps every digit and does not drop trailing zeros.
    A product does not fit when it overflows int64 or its exponent leaves int16. It does not fit
    either when it is zero with a negative factor, because Decimal makes that a negative zero,
    which an int64 cannot represent. Such products get coefficient and exponent 0.
    """
    right = right_coefficients.astype(np.int64)
    # int64's minimum has no absolute value in int64, so such a factor never fits.
    left_ok = left_coefficients != np.iinfo(np.int64).min
    limits = np.iinfo(np.int64).max // np.maximum(np.abs(right), 1)
    fits = left_ok & (np.abs(np.where(left_ok, left_coefficients, 0)) <= limits)
    exponents = left_exponents.astype(np.int64) + right_exponents
    fits &= (exponents >= _EXPONENT.min) & (exponents <= _EXPONENT.max)
    coefficients = np.where(fits, left_coefficients, 0) * right
    fits &= (coefficients != 0) | ((left_coefficients >= 0) & (right >= 0))
    coefficients[~fits] = 0
    return coefficients, np.where(fits, exponents, 0).astype(np.int16), fits


def whole_counts(coefficients: np.ndarray, exponents: np.ndarray, scale: int) -> np.ndarray | None:
    """Return ``coefficient * 10**(exponent + scale)`` as int64, or None when one is not a whole int64."""
    if len(coefficients) == 0:
        return np.zeros(0, dtype=np.int64)
    shifts = exponents.astype(np.int64) + scale
    result = np.empty(len(coefficients), dtype=np.int64)
    for shift in np.unique(shifts).tolist():
        rows = shifts == shift
        part = coefficients[rows]
        if shift >= 0:
            if shift > 18 or largest_magnitude(part) * 10**shift >= 2**63:
                return None
            result[rows] = part * 10**shift
        else:
            if -shift > 18:
                if (part != 0).any():
                    return None
                result[rows] = 0
                continue
            divisor = 10**-shift
            if (part % divisor != 0).any():
                return None
            result[rows] = part // divisor
    return result


def largest_magnitude(values: np.ndarray) -> int:
    """Return the largest absolute value of an int64 array as a Python int, so int64's minimum cannot overflow."""
    return max(abs(int(values.max())), abs(int(values.min()))) if len(values) else 0


def stable_order(keys: list[np.ndarray]) -> np.ndarray:
    """Return the stable order of rows by int64 keys, the most significant first, as lexsort gives it.

    When every key is non-negative and the product of their ranges fits int64, the keys are
    combined into one, and a stable argsort of it takes about a third of lexsort's time.
    """
    if len(keys[0]) and all(int(key.min()) >= 0 for key in keys):
        spans = [int(key.max()) + 1 for key in keys]
        if np.prod([float(span) for span in spans]) < 2**62:
            combined = keys[0].astype(np.int64)
            for key, span in zip(keys[1:], spans[1:], strict=True):
                combined = combined * span + key
            return np.argsort(combined, kind="stable")
    return np.lexsort(tuple(reversed(keys)))


def _split_each(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Split values one by one, keeping a value as Decimal when its coefficient or exponent does not fit.

    Negative zero is kept as Decimal too, because an int64 has no sign of zero.
    """
    count = len(values)
    coefficients = np.zeros(count, dtype=np.int64)
    exponents = np.zeros(count, dtype=np.int16)
    others = np.full(count, None, dtype=object)
    for index, value in enumerate(values.tolist()):
        if not value.is_finite() or (value.is_zero() and value.is_signed()):
            others[index] = value
            continue
        sign, digits, exponent = value.as_tuple()
        coefficient = int("".join(map(str, digits)))
        if coefficient.bit_length() > 62 or not _EXPONENT.min <= exponent <= _EXPONENT.max:
            others[index] = value
            continue
        coefficients[index] = -coefficient if sign else coefficient
        exponents[index] = exponent
    return coefficients, exponents, None if _none_everywhere(others) else others


def join_exact(coefficients: np.ndarray, exponents: np.ndarray, others: np.ndarray | None) -> np.ndarray:
    """Return the Decimal of every line as an object array, the reverse of ``split_exact``."""
    joined = np.empty(len(coefficients), dtype=object)
    joined[:] = [Decimal(coefficient).scaleb(exponent, _REBUILD) for coefficient, exponent in
                 zip(coefficients.tolist(), exponents.tolist(), strict=True)]
    if others is not None:
        for index in np.flatnonzero(others != None).tolist():  # noqa: E711 - element-wise test on an object array
            joined[index] = others[index]
    return joined


def exact_decimals(lines: pd.DataFrame) -> np.ndarray:
    """Return the exact line of every row of an engine lines frame as an object array of Decimal.

    This makes one Decimal per line, so a consumer of millions of lines should take them in parts.
    """
    others = lines["exact_decimal"].to_numpy(dtype=object)
    return join_exact(lines["exact_coefficient"].to_numpy(dtype=np.int64),
                      lines["exact_exponent"].to_numpy(dtype=np.int16),
                      None if _none_everywhere(others) else others)


def exact_value(coefficient: int, exponent: int, other: Decimal | None) -> Decimal:
    """Return the Decimal of one line from its three exact columns."""
    if other is not None:
        return other
    return Decimal(int(coefficient)).scaleb(int(exponent), _REBUILD)


def _none_everywhere(values: np.ndarray) -> bool:
    if len(values) == 0 or values[0] is not None:
        return len(values) == 0
    return bool((values == None).all())  # noqa: E711 - element-wise test on an object array

