"""Turn one column of raw cells into stored values, deciding ambiguous formats per column.

Every parser takes the cells of one column (a list of ``None``, ``str``, ``float``,
``int``, ``bool``, ``date`` or ``datetime``) and returns the stored values in the same
order together with the issues it found. Stored values are the workspace's formats.
Identifiers and text are trimmed ``str`` and money is ``int`` counts of 1/10,000.
Decimals are plain decimal text, dates ``YYYY-MM-DD`` and datetimes ``YYYY-MM-DD HH:MM:SS``.
A cell that cannot be read becomes ``None`` with an error issue, never 0 or a guess.

Decisions that one cell cannot make (day/month order, the decimal mark) are made from
all values of the column together, and a value that stays ambiguous is reported.
Parsing work is done once per distinct value. Float cells of money are scaled with
NumPy, and plain number texts with NumPy string operations and integer arithmetic.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import compress

import numpy as np

from spm_desktop.domain.money import RECORD_FACTOR
from spm_desktop.domain.records import FIRST_USABLE_YEAR, LAST_USABLE_YEAR, MAX_RECORD_UNITS

# Characters that exports put around values without meaning: no-break and thin spaces
# become plain spaces, zero-width characters and byte-order marks disappear.
_SPACE_LIKE = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u2009\u3000\t\r\n"), " ")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
_SPACE_RUN = re.compile(r" {2,}")

# Excel's largest serial (9999-12-31) and its two epochs.
MAX_SERIAL = 2958465
def _naive(*parts: int) -> dt.datetime:
    """Build a datetime without a time zone: spreadsheet dates and times carry none."""
    return dt.datetime(*parts)  # noqa: DTZ001


EPOCH_1900 = _naive(1899, 12, 30)
EPOCH_1904 = _naive(1904, 1, 1)
# Numbers this large lose the 1/10,000 digit in a binary double, so they take the exact path.
FLOAT_EXACT_LIMIT = 1e11


@dataclass(frozen=True)
class Issue:
    """A problem with one cell (``index`` into the column) or with the whole column (``index`` None)."""

    index: int | None
    code: str
    severity: str
    message: str
    value: str | None = None


@dataclass
class ColumnResult:
    values: list[object]
    issues: list[Issue] = field(default_factory=list)
    # Indexes whose text was changed by trimming or space normalisation.
    normalised: list[int] = field(default_factory=list)
    decision: str | None = None  # the per-column decision taken, for the preview (for example "dmy")


class DistinctCells(list):
    """Cells of which no two are equal values of the same type, such as a coded column's distinct cells.

    Parsers that work per distinct text skip their own search for repeats in such a list.
    """


def cell_text(value: object) -> str:
    """Show a raw cell as the text a user saw in the file."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".15g")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


# --- text and identifiers ----------------------------------------------------------

def clean_text(text: str) -> str:
    # Most cells need no change; isprintable() is False for no-break and zero-width characters.
    if text.isprintable() and text[:1] != " " and text[-1:] != " " and "  " not in text:
        return text
    cleaned = text.translate(_SPACE_LIKE).translate(_INVISIBLE).strip()
    if "  " in cleaned:
        cleaned = _SPACE_RUN.sub(" ", cleaned)
    return cleaned


def parse_text(cells: Sequence[object]) -> ColumnResult:
    """Read identifiers and text: numbers without their float tail (1234.0 is "1234"), spaces trimmed."""
    if all_clean_text(cells):
        return ColumnResult([cell or None for cell in cells])
    readings: dict[object, str | None] = {}
    changed: set[object] = set()
    unquoted: list[str] = []
    for cell in dict.fromkeys(cells):
        if cell is None or cell == "":
            readings[cell] = None
            continue
        text, was_changed = _text_of(cell)
        if text is not None and text[:1] == "'" and text[1:2] in _EXPORT_QUOTED:
            # Spreadsheet exports put a quote before text that would run as a formula; this
            # product's own exports do too. The quote is not part of the value.
            unquoted.append(text)
            text = text[1:]
        readings[cell] = text
        if was_changed:
            changed.add(cell)
    values: list[object] = [readings[cell] for cell in cells]
    normalised = [index for index, cell in enumerate(cells) if cell in changed] if changed else []
    issues = []
    if unquoted:
        issues.append(Issue(None, "formula_quote_removed", "info",
                            f"the leading ' of {len(unquoted):,} distinct "
                            f"{'value that starts' if len(unquoted) == 1 else 'values that start'} "
                            f"with =, +, - or @ was dropped, as a spreadsheet does (for example "
                            f"{unquoted[0]!r} reads as {unquoted[0][1:]!r})", unquoted[0]))
    return ColumnResult(values, issues, normalised=normalised)


# A quote before one of these marks text that an export kept from running as a formula.
_EXPORT_QUOTED = ("=", "+", "-", "@")


def all_clean_text(cells: Sequence[object]) -> bool:
    """Return whether every cell is None or text that ``clean_text`` leaves as it is, checked in bulk."""
    if not set(map(type, cells)) <= {str, type(None)}:
        return False
    texts = [cell for cell in cells if cell]
    if not "".join(texts).isprintable():  # type: ignore[arg-type]
        return False
    # A separator that no printable text contains finds leading, trailing and doubled spaces in one search.
    joined = "\n".join(texts)
    return not (joined[:1] in (" ", "'") or joined[-1:] == " " or " \n" in joined or "\n " in joined
                or "  " in joined or "\n'" in joined)


def _text_of(cell: object) -> tuple[str | None, bool]:
    if isinstance(cell, str):
        cleaned = clean_text(cell)
        return (cleaned or None), cleaned != cell
    if isinstance(cell, bool):
        return ("TRUE" if cell else "FALSE"), False
    if isinstance(cell, dt.datetime):
        if cell.time() == dt.time(0):
            return cell.date().isoformat(), False
        return cell.isoformat(sep=" ", timespec="seconds"), False
    if isinstance(cell, dt.date):
        return cell.isoformat(), False
    return cell_text(cell), False


# --- numbers: money, decimals, integers ---------------------------------------------

_CURRENCY_SYMBOLS = "€$£¥₹₩₽₺₪₫฿₱₦"
_CURRENCY_AFFIX = re.compile(r"^(?:[A-Z]{3}|[A-Z]{1,2}\$|kr|Fr\.?|CHF)\s*|\s*(?:[A-Z]{3}|kr|Fr\.?)$")
_NUMBER_CORE = re.compile(r"^(?:\d[\d.,' ]*|[.,]\d+)$")
_AMBIGUOUS_COMMA = re.compile(r"^\d{1,3},\d{3}$")
_AMBIGUOUS_DOT = re.compile(r"^\d{1,3}\.\d{3}$")
# A number as machines write it: digits, an optional minus and an optional point.
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


# Currency marks that name one currency. "$", "¥" and "kr" stand for several and are read as no mark.
_SYMBOL_CURRENCIES = {"€": "EUR", "£": "GBP", "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY", "₪": "ILS",
                      "₫": "VND", "฿": "THB", "₱": "PHP", "₦": "NGN"}
_DOLLAR_PREFIXES = {"US$": "USD", "C$": "CAD", "CA$": "CAD", "A$": "AUD", "AU$": "AUD", "NZ$": "NZD",
                    "HK$": "HKD", "S$": "SGD", "R$": "BRL", "MX$": "MXN"}
_CODE_MARK = re.compile(r"^\(?\s*-?\s*([A-Z]{3})\b|\b([A-Z]{3})\s*\)?$")
_DOLLAR_MARK = re.compile(r"^\(?\s*-?\s*([A-Z]{1,2}\$)")


# A character that can belong to a currency mark: anything but digits, spaces, separators, signs
# and the percent sign. An amount cell without one names no currency.
_MARK_CHARACTER = re.compile("[^\\d\\s.,'()+\\-%\u2212]")
# The ASCII characters that _MARK_CHARACTER passes over.
_NO_MARK_BYTES = b"0123456789 \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f.,'()+-%"


def currency_mark_candidates(cells: Sequence[object]) -> list[str]:
    """Return the text cells that may name a currency, the only ones ``amount_currency`` needs to see.

    The cells are searched joined in one text, which is much faster than one search per cell
    when, as in most files, no cell has a mark.
    """
    try:
        # Most columns of a text file are all text: joined as they are, without a test per cell.
        texts = cells if isinstance(cells, list) else list(cells)
        joined = "\n".join(texts)  # type: ignore[arg-type]
    except TypeError:
        texts = [cell for cell in cells if isinstance(cell, str) and cell]
        joined = "\n".join(texts)
    if joined.isascii() and not joined.encode("ascii").translate(None, _NO_MARK_BYTES):
        return []  # only digits, spaces and separators: a bytes scan settles it without the pattern
    hits = [match.start() for match in _MARK_CHARACTER.finditer(joined)]
    if not hits:
        return []
    # Cell i starts at starts[i] in the joined text: its length plus one newline per earlier cell.
    starts = np.cumsum([0, *map(len, texts)]) + np.arange(len(texts) + 1)
    return [texts[index] for index in np.unique(np.searchsorted(starts, hits, side="right") - 1).tolist()]


def amount_currency(text: object) -> str | None:
    """Return the currency an amount cell names ("1.234,56 EUR", "€500", "C$ 20"), or None.

    Only marks that name one currency count: an ISO code written before or after the
    number, a symbol such as € or £, or a dollar sign with a country prefix. A plain "$",
    "¥" or "kr" names no currency here.
    """
    if not isinstance(text, str) or not text:
        return None
    cleaned = clean_text(text)
    dollar = _DOLLAR_MARK.match(cleaned)
    if dollar and dollar.group(1) in _DOLLAR_PREFIXES:
        return _DOLLAR_PREFIXES[dollar.group(1)]
    code = _CODE_MARK.search(cleaned)
    if code:
        return code.group(1) or code.group(2)
    found = {_SYMBOL_CURRENCIES[mark] for mark in cleaned if mark in _SYMBOL_CURRENCIES}
    return found.pop() if len(found) == 1 else None


@dataclass(frozen=True)
class _NumberText:
    negative: bool
    core: str  # digits and separators only
    percent: bool


def _split_number_text(text: str) -> _NumberText | None:
    """Strip the sign, currency and percent marks; return None when the text is no number.

    One sign at most: parentheses, a leading minus or plus, or a trailing minus. A text with
    two ("(-5)", "--5", "-5-") is no number, so it is reported instead of read with a guessed sign.
    """
    cleaned = clean_text(text)
    signs = 0
    negative = False
    if cleaned.startswith("(") and cleaned.endswith(")"):
        negative, cleaned, signs = True, cleaned[1:-1].strip(), 1
    cleaned = cleaned.replace("\u2212", "-")
    percent = cleaned.endswith("%")
    if percent:
        cleaned = cleaned[:-1].strip()
    # Twice, for a sign on either side of a currency mark ("-$5", "$-5").
    for _ in range(2):
        cleaned = cleaned.strip(_CURRENCY_SYMBOLS).strip()
        cleaned = _CURRENCY_AFFIX.sub("", cleaned).strip()
        if cleaned.startswith(("-", "+")):
            negative = negative or cleaned.startswith("-")
            cleaned, signs = cleaned[1:].strip(), signs + 1
        if cleaned.endswith("-"):
            negative, cleaned, signs = True, cleaned[:-1].strip(), signs + 1
    if signs > 1 or not _NUMBER_CORE.match(cleaned):
        return None
    return _NumberText(negative, cleaned, percent)


def _well_grouped(core: str, mark: str) -> bool:
    """Return whether a number's digits are grouped as numbers are written with decimal mark ``mark``.

    Thousands separators are the other mark, a space or an apostrophe, one kind per number.
    They stand only before the decimal mark. After the first group, every group has three
    digits, or, in the Indian grouping, two digits with three at the end ("12,34,567"). A
    second decimal mark, or a group of another size ("1,2,3", "1 2"), is no number.
    """
    separators = ("," if mark == "." else ".") + " '"
    whole, _, fraction = core.partition(mark)
    if any(character in fraction for character in separators + mark):
        return False
    used = {character for character in whole if character in separators}
    if not used:
        return True
    if len(used) > 1:
        return False
    groups = whole.split(used.pop())
    if not all(group.isdigit() for group in groups) or len(groups[0]) > 3:
        return False
    western = all(len(group) == 3 for group in groups[1:])
    indian = len(groups[0]) <= 2 and len(groups[-1]) == 3 and all(len(group) == 2 for group in groups[1:-1])
    return western or indian


def _mark_vote(core: str) -> str | None:
    """Return the decimal mark a value proves ("." or ","), "?" when it could be either, None without marks."""
    has_dot, has_comma = "." in core, "," in core
    if has_dot and has_comma:
        return "." if core.rfind(".") > core.rfind(",") else ","
    if has_comma:
        if core.count(",") > 1:
            return "."
        return "?" if _AMBIGUOUS_COMMA.match(core) else ","
    if has_dot:
        if core.count(".") > 1:
            return ","
        return "?" if _AMBIGUOUS_DOT.match(core) else "."
    return None


def decide_decimal_mark(texts: Sequence[str], option: str = "auto",
                        extra_votes: dict[str, list[str]] | None = None) -> tuple[str, list[str], list[str]]:
    """Decide a column's decimal mark from all its text values.

    Returns the mark, the values that contradict it and the values that could be read
    either way (a lone "1,234"). With an explicit option only contradictions are listed.
    """
    votes: dict[str, list[str]] = {".": [], ",": [], "?": []}
    for mark, proven in (extra_votes or {}).items():
        votes[mark].extend(proven)
    for text in texts:
        if _PLAIN_NUMBER.fullmatch(text):
            if "." in text:
                votes["?" if _AMBIGUOUS_DOT.match(text.lstrip("-")) else "."].append(text)
            continue
        parts = _split_number_text(text)
        if parts is None:
            continue
        vote = _mark_vote(parts.core)
        # A text that is no number with the mark it points to ("1.2.3") proves nothing.
        if vote is not None and (vote == "?" or _well_grouped(parts.core, vote)):
            votes[vote].append(text)
    if option in (".", ","):
        other = "," if option == "." else "."
        return option, votes[other], []
    if votes["."] and votes[","]:
        mark = "." if len(votes["."]) >= len(votes[","]) else ","
        return mark, votes["," if mark == "." else "."], []
    if votes[","]:
        return ",", [], []
    if votes["."]:
        return ".", [], []
    # Without proof either way "1,234" reads as one thousand two hundred and thirty-four.
    return ".", [], votes["?"]


def _decimal_from_text(parts: _NumberText, mark: str) -> Decimal:
    """Return the number a text's parts give with decimal mark ``mark``.

    Raises InvalidOperation when the separators are not where numbers have them.
    """
    if not _well_grouped(parts.core, mark):
        raise InvalidOperation(parts.core)
    thousands = "," if mark == "." else "."
    core = parts.core.replace(thousands, "").replace(" ", "").replace("'", "").replace(mark, ".")
    value = Decimal(core)
    if parts.percent:
        value = value.scaleb(-2)
    return -value if parts.negative else value


def _decimal_from_float(value: float) -> Decimal:
    # Excel shows 15 significant digits; a stored 731.9399999999999 is the 731.94 typed.
    return Decimal(format(value, ".15g"))


def parse_money(cells: Sequence[object], decimal_mark: str = "auto") -> ColumnResult:
    """Read amounts into integer counts of 1/10,000: numbers, and text with symbols and separators."""
    values: list[object] = [None] * len(cells)
    issues: list[Issue] = []
    float_indexes: list[int] = []
    text_indexes: list[int] = []
    if set(map(type, cells)) <= {str, type(None)}:
        # Every filled cell is text, as in a text file, so no cell needs a look of its own.
        if isinstance(cells, list) and "" not in cells and None not in cells:
            text_indexes = list(range(len(cells)))
        else:
            text_indexes = [index for index, cell in enumerate(cells) if cell]
    else:
        _sort_money_cells(cells, values, issues, float_indexes, text_indexes)
    _scale_floats(cells, float_indexes, values, issues)
    decision = _parse_money_texts(cells, text_indexes, values, issues, decimal_mark)
    return ColumnResult(values, issues, decision=decision)


def _sort_money_cells(cells: Sequence[object], values: list[object], issues: list[Issue], float_indexes: list[int],
                      text_indexes: list[int]) -> None:
    """Store integer cells, list float and text cells for their parsers, and reject other kinds."""
    if set(map(type, cells)) <= {float, int, str, type(None)}:
        # Cells as workbooks hold them: sorted by type with one pass each instead of a test per cell.
        float_indexes += [index for index, cell in enumerate(cells) if cell.__class__ is float]
        text_indexes += [index for index, cell in enumerate(cells) if cell.__class__ is str and cell]
        for index in [index for index, cell in enumerate(cells) if cell.__class__ is int]:
            values[index] = cells[index] * RECORD_FACTOR  # type: ignore[operator]
        return
    for index, cell in enumerate(cells):
        if cell is None or cell == "":
            continue
        if isinstance(cell, bool):
            issues.append(Issue(index, "invalid_amount", "error", "a TRUE/FALSE cell is not an amount; enter a number",
                                cell_text(cell)))
        elif isinstance(cell, int):
            values[index] = cell * RECORD_FACTOR
        elif isinstance(cell, float):
            float_indexes.append(index)
        elif isinstance(cell, str):
            text_indexes.append(index)
        else:
            issues.append(Issue(index, "invalid_amount", "error",
                                f"a {type(cell).__name__} cell is not an amount; enter a number", cell_text(cell)))


def _scale_floats(cells: Sequence[object], indexes: list[int], values: list[object], issues: list[Issue]) -> None:
    if not indexes:
        return
    numbers = np.fromiter((cells[index] for index in indexes), dtype=np.float64, count=len(indexes))
    finite = np.isfinite(numbers)
    scaled = numbers * RECORD_FACTOR
    rounded = np.round(np.where(finite, scaled, 0.0))
    # A double that came from a value with at most four decimals lands within a few
    # units in the last place of an integer once scaled. Anything else takes the exact path.
    close = np.abs(scaled - rounded) <= np.maximum(np.abs(scaled) * 1e-14, 1e-7)
    fast = finite & close & (np.abs(numbers) < FLOAT_EXACT_LIMIT)
    as_int = np.where(fast, rounded, 0.0).astype(np.int64).tolist()
    for position, is_fast in enumerate(fast.tolist()):
        index = indexes[position]
        if is_fast:
            values[index] = as_int[position]
            continue
        number = cells[index]
        if not math.isfinite(number):  # type: ignore[arg-type]
            issues.append(Issue(index, "invalid_amount", "error", "the cell holds no finite number; enter an amount",
                                cell_text(number)))
            continue
        values[index] = _record_units(_decimal_from_float(number), index, issues, cell_text(number))  # type: ignore[arg-type]


def _record_units(value: Decimal, index: int, issues: list[Issue], raw: str) -> int | None:
    units, issue = _checked_units(value.scaleb(4), raw)
    if issue is not None:
        issues.append(Issue(index, issue.code, issue.severity, issue.message, issue.value))
    return units


def _checked_units(scaled: Decimal, raw: str) -> tuple[int | None, Issue | None]:
    """Return an amount scaled to 1/10,000 units as an integer, or the issue that prevents storing it."""
    if scaled != scaled.to_integral_value():
        return None, Issue(None, "too_many_decimals", "error",
                           "the amount has more than four decimals; round it in the file", raw)
    # Stored as 1/10,000 units in a signed 64-bit integer: 14 integer digits always fit.
    if abs(scaled) >= MAX_RECORD_UNITS:
        return None, Issue(None, "amount_too_large", "error",
                           "the amount has more than 14 integer digits and cannot be stored; correct the value", raw)
    return int(scaled), None


def _parse_money_texts(cells: Sequence[object], indexes: list[int], values: list[object], issues: list[Issue],
                       option: str) -> str | None:
    if not indexes:
        return None
    texts: list[str] = list(map(cells.__getitem__, indexes))  # type: ignore[arg-type]
    distinct = texts if isinstance(cells, DistinctCells) else list(dict.fromkeys(texts))
    plain = _plain_numbers(distinct)
    if plain.every and len(distinct) == len(indexes):
        # Every cell is a plain number and none repeats, as in the distinct cells of a
        # coded column: the units go to the cells in order, without a lookup per cell.
        mark, contradicting, ambiguous = decide_decimal_mark([], option, plain.votes)
        if mark == "." and not contradicting and not ambiguous:
            if len(indexes) == len(values):
                values[:] = plain.unit_list
            else:
                for index, unit in zip(indexes, plain.unit_list, strict=True):
                    values[index] = unit
            return mark
    others = [] if plain.every else [text for text in distinct if text not in plain.units]
    mark, contradicting, ambiguous = decide_decimal_mark(others, option, plain.votes)
    contradicting_set, ambiguous_set = set(contradicting), set(ambiguous)
    units: dict[str, int | None] = dict(plain.units) if mark == "." else {}
    failed: dict[str, Issue] = {}
    for text in [text for text in distinct if text not in units or text in contradicting_set]:
        if text in contradicting_set:
            failed[text] = Issue(None, "decimal_mark_conflict", "error",
                                 f"this value uses the other decimal mark than the column ({mark!r}); "
                                 "correct it or set options.decimal_mark", text)
            continue
        units[text], failed_issue = _units_of_text(text, mark)
        if failed_issue is not None:
            failed[text] = failed_issue
    if not failed and not ambiguous_set:
        # Every text was read: store them without looking at each cell again.
        for index, unit in zip(indexes, map(units.__getitem__, map(cells.__getitem__, indexes)), strict=True):
            values[index] = unit
        return mark
    for index in indexes:
        text = cells[index]
        if text in failed:
            issue = failed[text]  # type: ignore[index]
            issues.append(Issue(index, issue.code, issue.severity, issue.message, issue.value))
            continue
        values[index] = units[text]  # type: ignore[index]
        if text in ambiguous_set:
            shown = Decimal(units[text]).scaleb(-4).normalize()  # type: ignore[index,arg-type]
            issues.append(Issue(index, "ambiguous_decimal_mark", "warning",
                                f"read as {shown:f} because nothing in the column shows the decimal mark; "
                                "set options.decimal_mark to ',' if it means a decimal", text))  # type: ignore[arg-type]
    return mark


def _units_of_text(text: str, mark: str) -> tuple[int | None, Issue | None]:
    """Read one amount text with the column's decimal mark into 1/10,000 units."""
    parts = _split_number_text(text)
    if parts is None:
        if clean_text(text):
            return None, Issue(None, "invalid_amount", "error", "the text is not an amount; enter a number", text)
        return None, None
    if parts.percent:
        return None, Issue(None, "invalid_amount", "error", "a percentage is not an amount; enter the amount itself",
                           text)
    try:
        value = _decimal_from_text(parts, mark)
    except InvalidOperation:  # separators where no number has them, such as "1.2,3.4" or "1,2,3"
        return None, Issue(None, "invalid_amount", "error",
                           f"the text is not an amount with {mark!r} as the decimal mark: thousands separators "
                           "go between groups of three digits before it; correct the text", text)
    return _checked_units(value.scaleb(4), text)


@dataclass
class _PlainNumbers:
    """Texts written as machines write numbers ("-1234.5"), already scaled, and their decimal-mark votes."""

    texts: list[str]
    unit_list: list[int]  # the units of each of the texts
    votes: dict[str, list[str]]
    every: bool  # every text given was a plain number

    @functools.cached_property
    def units(self) -> dict[str, int]:
        return dict(zip(self.texts, self.unit_list, strict=True))


# Maximum length of a plain number: a minus, 14 digits, the point and 4 decimals.
_MAX_PLAIN_LENGTH = 20


# Maximum length of a text the float path reads: eleven digits scale to under 2**53 units, where a
# double represents every integer and rounding the scaled double cannot miss by a unit.
_MAX_FLOAT_PLAIN_LENGTH = 11


def _plain_numbers(texts: list[str]) -> _PlainNumbers:
    """Scale plain number texts to 1/10,000 units; see ``_digit_plain_numbers`` for which qualify."""
    return _short_plain_numbers(texts) or _digit_plain_numbers(texts)


def _short_plain_numbers(texts: list[str]) -> _PlainNumbers | None:
    """Read a column of short plain number texts through floats; None unless every text qualifies.

    The texts are checked together in one bytes object: only digits, points and leading
    minus signs, one point per text, at most four decimals. Every text then has at most
    eleven digits, so ``float`` and rounding after scaling give the exact units. About
    twice as fast as the digit-by-digit path, for the columns most files have.
    """
    if not texts or max(map(len, texts)) > _MAX_FLOAT_PLAIN_LENGTH:
        return None
    joined = "\n".join(texts)
    if not joined.isascii():
        return None
    raw = joined.encode("ascii")
    if raw.translate(None, b"0123456789.-\n") or raw.count(b"\n") != len(texts) - 1 \
            or raw.count(b"-") != (b"\n" + raw).count(b"\n-"):
        return None
    try:
        numbers = np.fromiter(map(float, texts), dtype=np.float64, count=len(texts))
    except ValueError:  # "", "-", "." or a second point
        return None
    cells = np.frombuffer(raw, dtype=np.uint8)
    ends = np.append(np.flatnonzero(cells == ord("\n")), len(raw))
    starts = np.concatenate(([0], ends[:-1] + 1))
    points = np.flatnonzero(cells == ord("."))
    pointed = np.searchsorted(ends, points)  # the text each point is in, ascending
    fraction_length = ends[pointed] - points - 1
    if len(points) and fraction_length.max() > 4:
        return None
    whole_length = points - starts[pointed] - (cells[starts[pointed]] == ord("-"))
    # A point followed by exactly three digits after one to three digits ("1.234") could be a thousands mark.
    ambiguous = (whole_length >= 1) & (whole_length <= 3) & (fraction_length == 3)
    units = np.rint(numbers * RECORD_FACTOR).astype(np.int64).tolist()
    votes = {".": _selected(texts, pointed[~ambiguous]), "?": _selected(texts, pointed[ambiguous])}
    return _PlainNumbers(texts, units, votes, True)


def _selected(texts: list[str], positions: np.ndarray) -> list[str]:
    """Return the texts at ascending ``positions``, chosen in C."""
    chosen = np.zeros(len(texts), dtype=bool)
    chosen[positions] = True
    return list(compress(texts, chosen.tolist()))


def _digit_plain_numbers(texts: list[str]) -> _PlainNumbers:
    """Scale plain number texts to 1/10,000 units with NumPy string operations and integer arithmetic.

    Only ASCII digits with an optional leading minus and at most one point qualify, with
    at most four decimals and fourteen digits before the point, so the units fit in int64.
    Everything else takes the Decimal path.
    """
    if not texts:
        return _PlainNumbers([], [], {".": [], "?": []}, True)
    if max(map(len, texts)) > _MAX_PLAIN_LENGTH:
        # One long cell would widen every text of the array to its length.
        short = [position for position, text in enumerate(texts) if len(text) <= _MAX_PLAIN_LENGTH]
        found = _digit_plain_numbers([texts[position] for position in short])
        return _PlainNumbers(found.texts, found.unit_list, found.votes, False)
    array = np.array(texts, dtype=str)
    negative = np.strings.startswith(array, "-")
    body = np.where(negative, np.strings.slice(array, 1, None), array)
    whole, point, fraction = np.strings.partition(body, ".")
    whole_length, fraction_length = np.strings.str_len(whole), np.strings.str_len(fraction)
    has_point = np.strings.str_len(point) > 0
    plain = np.fromiter(map(str.isascii, texts), dtype=bool, count=len(texts))
    plain &= (whole_length + fraction_length > 0) & (whole_length <= 14) & (fraction_length <= 4)
    plain &= np.strings.isdecimal(whole) | (whole_length == 0)
    plain &= np.strings.isdecimal(fraction) | (fraction_length == 0)
    chosen = np.flatnonzero(plain)
    if not len(chosen):
        return _PlainNumbers([], [], {".": [], "?": []}, False)
    whole_units = _digit_values(whole[chosen], whole_length[chosen], 14) * RECORD_FACTOR
    fraction_units = _digit_values(np.strings.ljust(fraction[chosen], 4, "0"), np.full(len(chosen), 4), 4)
    units = np.where(negative[chosen], -(whole_units + fraction_units), whole_units + fraction_units)
    chosen_texts = texts if len(chosen) == len(texts) else [texts[position] for position in chosen.tolist()]
    # A point followed by exactly three digits after one to three digits ("1.234") could be a thousands mark.
    ambiguous = (has_point & (whole_length >= 1) & (whole_length <= 3) & (fraction_length == 3))[chosen]
    pointed = has_point[chosen]
    votes = {".": list(compress(chosen_texts, (pointed & ~ambiguous).tolist())),
             "?": list(compress(chosen_texts, ambiguous.tolist()))}
    return _PlainNumbers(chosen_texts, units.tolist(), votes, len(chosen) == len(texts))


def _digit_values(texts: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
    """Return the int64 values of ASCII digit texts of at most ``width`` digits (an empty text is 0).

    The digits are read from the texts' code points, which is several times faster than
    NumPy's conversion of text to integers.
    """
    codes = np.ascontiguousarray(texts.astype(f"<U{width}")).view(np.uint32).reshape(len(texts), width)
    values = np.zeros(len(texts), dtype=np.int64)
    for position in range(min(width, int(lengths.max(initial=0)))):
        digit = codes[:, position].astype(np.int64) - ord("0")
        values = np.where(position < lengths, values * 10 + digit, values)
    return values


def parse_decimal(cells: Sequence[object], decimal_mark: str = "auto", *, percent_allowed: bool = True) -> ColumnResult:
    """Read exact decimals (shares, rates, quantities) as plain decimal text; "50%" reads as 0.5."""
    values: list[object] = [None] * len(cells)
    issues: list[Issue] = []
    texts = [cell for cell in cells if isinstance(cell, str)]
    mark, contradicting, _ambiguous = decide_decimal_mark(list(dict.fromkeys(texts)), decimal_mark)
    bad = set(contradicting)
    cache: dict[object, Decimal | None] = {}
    for index, cell in enumerate(cells):
        if cell is None or cell == "":
            continue
        if cell in cache:
            number = cache[cell]
        else:
            number = cache[cell] = _decimal_of(cell, mark, bad, percent_allowed)
        if number is None:
            issues.append(Issue(index, "invalid_number", "error", "the cell is not a number; enter a decimal such "
                                "as 0.5", cell_text(cell)))
            continue
        values[index] = format(number.normalize(), "f") if number != 0 else "0"
    return ColumnResult(values, issues, decision=mark if texts else None)


def _decimal_of(cell: object, mark: str, bad: set[str], percent_allowed: bool) -> Decimal | None:
    if isinstance(cell, bool):
        return None
    if isinstance(cell, int):
        return Decimal(cell)
    if isinstance(cell, float):
        return _decimal_from_float(cell) if math.isfinite(cell) else None
    if isinstance(cell, str) and cell not in bad:
        parts = _split_number_text(cell)
        if parts is None or (parts.percent and not percent_allowed):
            return None
        try:
            return _decimal_from_text(parts, mark)
        except InvalidOperation:
            return None
    return None


# Whole-number fields are stored in signed 64-bit integers: 18 digits always fit.
MAX_INTEGER = 10**18 - 1


def parse_integer(cells: Sequence[object]) -> ColumnResult:
    values: list[object] = [None] * len(cells)
    issues: list[Issue] = []
    for index, cell in enumerate(cells):
        if cell is None or cell == "":
            continue
        number = None
        if isinstance(cell, int) and not isinstance(cell, bool):
            number = cell
        elif isinstance(cell, float) and cell.is_integer():
            number = int(cell)
        elif isinstance(cell, str) and re.fullmatch(r"[+-]?\d+", clean_text(cell)):
            number = int(clean_text(cell))
        if number is None:
            issues.append(Issue(index, "invalid_integer", "error", "the cell is not a whole number; enter one such "
                                "as 3", cell_text(cell)))
        elif not -MAX_INTEGER <= number <= MAX_INTEGER:
            issues.append(Issue(index, "integer_too_large", "error", "the number has more than 18 digits and "
                                "cannot be stored; correct the value", cell_text(cell)))
            number = None
        values[index] = number
    return ColumnResult(values, issues)


# --- dates ------------------------------------------------------------------------

_TIME24 = r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(?:([AaPp])\.?[Mm]\.?)?)?(?:\s*(?:Z|[+-]\d{2}:?\d{2}))?"
_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})" + _TIME24 + "$")
_NUMERIC = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})" + _TIME24 + "$")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})$")
_SERIAL = re.compile(r"\d{1,7}(?:\.\d+)?$")
_MONTHS = {name: number for number, names in enumerate((
    ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
    ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
    ("dec", "december")), start=1) for name in names}
_DAY_MONTH_NAME = re.compile(r"(\d{1,2})[ \-.]+([A-Za-z]{3,9})\.?[ \-.,]+(\d{4}|\d{2})" + _TIME24 + "$")
_MONTH_NAME_DAY = re.compile(r"([A-Za-z]{3,9})\.?[ \-.]+(\d{1,2})(?:st|nd|rd|th)?,?[ \-.]+(\d{4}|\d{2})" + _TIME24 + "$")


@dataclass(frozen=True)
class _Ambiguous:
    """A numeric date whose first two parts could be day/month or month/day."""

    first: int
    second: int
    year: int
    clock: tuple[int, int, int]


def serial_to_datetime(serial: float, date1904: bool = False) -> dt.datetime:
    """Convert an Excel serial number to a datetime in the workbook's date system.

    In the 1900 system Excel counts a 29 February 1900 that never existed, so serials
    below 60 are one day later than the plain count and 60 itself is rejected.
    """
    if not 0 < serial <= MAX_SERIAL:
        raise ValueError(f"{serial} is outside Excel's date range")
    days = math.floor(serial)
    seconds = round((serial - days) * 86400)
    if date1904:
        base = EPOCH_1904
    elif days == 60:
        raise ValueError("serial 60 is 1900-02-29, a day that does not exist")
    else:
        base = EPOCH_1900 if days > 60 else EPOCH_1900 + dt.timedelta(days=1)
    return base + dt.timedelta(days=days, seconds=seconds)


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        # Excel's rule for two-digit years: 00-29 are 2000-2029, 30-99 are 1930-1999.
        year += 2000 if year < 30 else 1900
    return year


def _clock(match: re.Match, start: int) -> tuple[int, int, int]:
    hour_text, minute_text, second_text, meridiem = match.group(start, start + 1, start + 2, start + 3)
    if hour_text is None:
        return (0, 0, 0)
    hour, minute, second = int(hour_text), int(minute_text), int(second_text or 0)
    if meridiem:
        if not 1 <= hour <= 12:
            raise ValueError("an AM/PM hour must be 1 to 12")
        hour = hour % 12 + (12 if meridiem.lower() == "p" else 0)
    return (hour, minute, second)


def _classify_date_text(text: str, date1904: bool) -> dt.datetime | _Ambiguous | None:
    """Read a date text into a datetime, an ambiguous day/month pair, or None when it is no date."""
    cleaned = clean_text(text)
    try:
        match = _ISO.match(cleaned)
        if match:
            return _naive(int(match[1]), int(match[2]), int(match[3]), *_clock(match, 4))
        match = _NUMERIC.match(cleaned)
        if match:
            return _Ambiguous(int(match[1]), int(match[2]), _year(match[3]), _clock(match, 4))
        match = _DAY_MONTH_NAME.match(cleaned)
        if match and match[2].lower() in _MONTHS:
            return _naive(_year(match[3]), _MONTHS[match[2].lower()], int(match[1]), *_clock(match, 4))
        match = _MONTH_NAME_DAY.match(cleaned)
        if match and match[1].lower() in _MONTHS:
            return _naive(_year(match[3]), _MONTHS[match[1].lower()], int(match[2]), *_clock(match, 4))
        match = _COMPACT.match(cleaned)
        if match and 1900 <= int(match[1]) <= 2999:
            return _naive(int(match[1]), int(match[2]), int(match[3]))
        if _SERIAL.match(cleaned):
            return serial_to_datetime(float(cleaned), date1904)
    except ValueError:
        return None
    return None


def decide_date_order(items: Sequence[_Ambiguous], option: str) -> tuple[str | None, str | None]:
    """Decide day/month order for a column; return (order, conflict message or None)."""
    if option in ("dmy", "mdy"):
        return option, None
    day_first = any(item.first > 12 for item in items)
    month_first = any(item.second > 12 for item in items)
    if day_first and month_first:
        return None, "the column holds both day-first and month-first dates"
    if day_first:
        return "dmy", None
    if month_first:
        return "mdy", None
    return None, None


def parse_dates(cells: Sequence[object], *, with_time: bool, date_order: str = "auto",
                date1904: bool = False) -> ColumnResult:
    """Read dates from date cells, Excel serials and text, deciding day/month order per column."""
    readings = {cell: _read_date_cell(cell, date1904) for cell in dict.fromkeys(cells) if cell is not None and cell != ""}
    values: list[object] = [None if cell is None or cell == "" else readings[cell] for cell in cells]
    issues: list[Issue] = []
    pending: list[tuple[int, _Ambiguous, str]] = []
    unreadable = {cell for cell, reading in readings.items() if reading is None or isinstance(reading, _Ambiguous)}
    if unreadable:
        for index, cell in enumerate(cells):
            if cell not in unreadable:
                continue
            reading = readings[cell]
            values[index] = None
            if reading is None:
                issues.append(Issue(index, "invalid_date", "error",
                                    "the cell is not a date; enter it as YYYY-MM-DD or as a spreadsheet date",
                                    cell_text(cell)))
            else:
                pending.append((index, reading, cell_text(cell)))  # type: ignore[arg-type]
    decision = _resolve_ambiguous(pending, values, issues, date_order)
    _reject_unusable_years(cells, values, issues)
    _format_dates(values, with_time)
    return ColumnResult(values, issues, decision=decision)


def _reject_unusable_years(cells: Sequence[object], values: list[object], issues: list[Issue]) -> None:
    """Turn dates outside the years that calculations can hold into row errors."""
    for index, value in enumerate(values):
        if value is not None and not FIRST_USABLE_YEAR <= value.year <= LAST_USABLE_YEAR:  # type: ignore[attr-defined]
            values[index] = None
            issues.append(Issue(index, "date_out_of_range", "error",
                                f"the date is outside the years {FIRST_USABLE_YEAR} to {LAST_USABLE_YEAR} that "
                                "calculations can use; correct the year and import again", cell_text(cells[index])))


def _read_date_cell(cell: object, date1904: bool) -> dt.datetime | _Ambiguous | None:
    if isinstance(cell, dt.datetime):
        return cell.replace(tzinfo=None, microsecond=0)
    if isinstance(cell, dt.date):
        return _naive(cell.year, cell.month, cell.day)
    if isinstance(cell, bool):
        return None
    if isinstance(cell, (int, float)):
        try:
            return serial_to_datetime(float(cell), date1904)
        except ValueError:
            compact = _COMPACT.match(str(int(cell))) if float(cell).is_integer() else None
            if compact:
                return _classify_date_text(str(int(cell)), date1904)
            return None
    if isinstance(cell, dt.time):
        return None
    if isinstance(cell, str):
        return _classify_date_text(cell, date1904)
    return None


def _resolve_ambiguous(pending: list[tuple[int, _Ambiguous, str]], values: list[object], issues: list[Issue],
                       option: str) -> str | None:
    if not pending:
        return None
    order, conflict = decide_date_order([item for _index, item, _text in pending], option)
    if conflict:
        issues.append(Issue(None, "date_order_conflict", "error",
                            f"{conflict}; correct the file or set options.date_order to dmy or mdy"))
    elif order is None:
        issues.append(Issue(None, "date_order_ambiguous", "error",
                            "no date in the column shows whether the day or the month comes first; "
                            "set options.date_order to dmy or mdy"))
    for index, item, text in pending:
        if item.first == item.second:
            month, day = item.first, item.second
        elif order is None:
            issues.append(Issue(index, "ambiguous_date", "error",
                                "the day and month order of this date is unknown; set options.date_order", text))
            continue
        elif order == "dmy":
            day, month = item.first, item.second
        else:
            month, day = item.first, item.second
        try:
            values[index] = _naive(item.year, month, day, *item.clock)
        except ValueError:
            issues.append(Issue(index, "invalid_date", "error",
                                f"the date does not exist when read as {order or 'day/month'}; correct it", text))
    return order


def _format_dates(values: list[object], with_time: bool) -> None:
    texts: dict[object, str] = {}
    for value in dict.fromkeys(values):
        if value is not None:
            texts[value] = (value.isoformat(sep=" ", timespec="seconds") if with_time  # type: ignore[attr-defined]
                            else value.date().isoformat())  # type: ignore[attr-defined]
    values[:] = [None if value is None else texts[value] for value in values]


def parse_datetime_values(cells: Sequence[object], **options: object) -> list[dt.datetime | None]:
    """Return the datetimes of a column (for tests and previews), None where unreadable."""
    result = parse_dates(cells, with_time=True, **options)  # type: ignore[arg-type]
    return [None if value is None else dt.datetime.fromisoformat(value) for value in result.values]  # type: ignore[arg-type]
