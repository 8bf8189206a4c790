"""Parsed records of one import: stored values per field, keys, and what happens to each row."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache

from spm_desktop.domain.problems import Problem
from spm_desktop.domain.records import RecordSetSpec


def record_key(spec: RecordSetSpec, values: tuple[object, ...]) -> str:
    """Return the stored key of a record from its stored field values (in spec order).

    Sets with a natural key store ``json.dumps`` of the key's values as a list
    (``["D-1", null, "sale"]``), which code that inserts rows itself can rebuild. Sets
    without one use a digest of every value, so only an identical record matches.
    """
    positions = key_positions(spec)
    if positions:
        return json.dumps([values[position] for position in positions])
    return "#" + hashlib.blake2b(repr(values).encode("utf-8"), digest_size=16).hexdigest()


def key_positions(spec: RecordSetSpec) -> tuple[int, ...]:
    """Return the positions of the natural key's fields among the spec's fields."""
    return _key_positions(spec.name, spec.field_names, spec.natural_key)


@cache
def _key_positions(name: str, field_names: tuple[str, ...], natural_key: tuple[str, ...]) -> tuple[int, ...]:
    # Keyed by plain tuples: hashing the frozen spec itself walks every field on each call.
    return tuple(field_names.index(key) for key in natural_key)


@dataclass
class RecordBlock:
    """Records of one record set in stored form, one list per field, plus lineage and outcome."""

    spec: RecordSetSpec
    values: dict[str, list[object]]
    source_rows: list[int]
    attributes: list[str | None]
    rejected: list[bool] = field(default_factory=list)
    # Index of the earlier record this one copies (or was added into); None for a record of its own.
    duplicate_of: list[int | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Key fields never change after parsing, so the keys are computed once.
        self._keys: list[str] | None = None
        count = len(self.source_rows)
        if not self.rejected:
            self.rejected = [False] * count
        if not self.duplicate_of:
            self.duplicate_of = [None] * count

    def __len__(self) -> int:
        return len(self.source_rows)

    def stored_tuple(self, index: int) -> tuple[object, ...]:
        return tuple(self.values[name][index] for name in self.spec.field_names)

    def stored_tuples(self) -> list[tuple[object, ...]]:
        columns = [self.values[name] for name in self.spec.field_names]
        return list(zip(*columns, strict=True))

    def keys(self) -> list[str]:
        """Return the stored key of every record (see ``record_key``), computed column-wise once."""
        if self._keys is None or len(self._keys) != len(self):
            self._keys = self._compute_keys()
        return self._keys

    def _compute_keys(self) -> list[str]:
        positions = key_positions(self.spec)
        if not positions:
            return [record_key(self.spec, values) for values in self.stored_tuples()]
        names = [self.spec.fields[position].name for position in positions]
        if all(_plain_texts(self.values[name]) for name in names):
            return _quoted_keys([self.values[name] for name in names])
        # The same text as record_key, built once per distinct value instead of once per record.
        columns = []
        for name in names:
            column = self.values[name]
            distinct = list(dict.fromkeys(column))
            texts = set(map(type, distinct)) <= {str}
            encoded = dict(zip(distinct, map(_encode_text if texts else _json_scalar, distinct), strict=True))
            columns.append(list(map(encoded.__getitem__, column)))
        return [f"[{joined}]" for joined in map(", ".join, zip(*columns, strict=True))]

    @property
    def accepted_indexes(self) -> list[int]:
        if not any(self.rejected) and self.duplicate_of.count(None) == len(self):
            return list(range(len(self)))
        return [index for index in range(len(self)) if not self.rejected[index] and self.duplicate_of[index] is None]

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected)

    @property
    def duplicate_count(self) -> int:
        if self.duplicate_of.count(None) == len(self):
            return 0
        return sum(1 for index, of in enumerate(self.duplicate_of) if of is not None and not self.rejected[index])


def attributes_json(names: list[str], rows: list[tuple[object, ...]]) -> list[str | None]:
    """Encode each row's non-empty attribute values as a JSON object (None when all are empty)."""
    cache: dict[tuple[object, ...], str | None] = {}
    result: list[str | None] = []
    for row in rows:
        encoded = cache.get(row, "")
        if encoded == "":
            present = {name: value for name, value in zip(names, row, strict=True) if value is not None}
            encoded = json.dumps(present, ensure_ascii=False, separators=(",", ":")) if present else None
            if len(cache) < 100_000:
                cache[row] = encoded
        result.append(encoded)
    return result


def mark_key_clashes(block: RecordBlock, problems: list[Problem], problem_for) -> None:
    """Mark exact copies as duplicates and reject records that share a key but differ.

    Credit split rows that share deal, participant and kind but not the share are added
    into the first one, following the workspace format's rule for splits. Identical ones are copies.
    Identical activity rows are separate events, so their counts (1 when empty) are added.
    """
    spec = block.spec
    first_by_key: dict[str, int] = {}
    clashes: dict[int, list[int]] = {}
    keys = block.keys()
    repeated = _repeated_keys(keys)
    if not repeated:
        return
    tuples = block.stored_tuples()
    attributes = block.attributes
    additive = spec.name == "credit_splits"
    for index, key in enumerate(keys):
        if block.rejected[index] or key not in repeated:
            continue
        values = tuples[index]
        first = first_by_key.setdefault(key, index)
        if first == index:
            continue
        if spec.name == "activities" and values == tuples[first] and attributes[index] == attributes[first]:
            _add_count(block, first, index)
            problems.append(problem_for(block, index, "activity_added", "info",
                                        f"same participant, date, type and deal as row {block.source_rows[first]}; "
                                        "its count is added there", "count", None))
        elif values == tuples[first] and attributes[index] == attributes[first]:
            block.duplicate_of[index] = first
            problems.append(problem_for(block, index, "duplicate_row", "warning",
                                        f"exact copy of row {block.source_rows[first]}; counted once", None, None))
        elif additive:
            _add_share(block, first, index, tuples)
            problems.append(problem_for(block, index, "split_added", "info",
                                        f"share added to row {block.source_rows[first]} (same deal, participant "
                                        "and kind)", "share", str(values[spec.field_names.index("share")])))
        else:
            clashes.setdefault(first, [first]).append(index)
    for members in clashes.values():
        rows = ", ".join(str(block.source_rows[index]) for index in members)
        key_names = ", ".join(spec.natural_key)
        for index in members:
            block.rejected[index] = True
            problems.append(problem_for(block, index, "duplicate_key", "error",
                                        f"rows {rows} have the same {key_names} but different values; "
                                        "keep one of them or give each its own key", None, None))


def _json_scalar(value: object) -> str:
    """Return json.dumps(value), calling the encoder's C string function directly for text."""
    if type(value) is str:
        return _encode_text(value)
    return json.dumps(value)


# The function json.dumps uses for a str with ensure_ascii, without the encoder set-up per call.
_encode_text = json.encoder.encode_basestring_ascii


def _plain_texts(column: list[object]) -> bool:
    """Return whether every value is a str that json.dumps writes unchanged between quotes.

    That is printable ASCII without quotes and backslashes. Each test scans the joined text in C.
    """
    if not column:
        return False
    try:
        joined = "".join(column)  # type: ignore[arg-type]
    except TypeError:  # a value that is not a str
        return False
    return joined.isascii() and joined.isprintable() and '"' not in joined and "\\" not in joined


def _quoted_keys(columns: list[list[str]]) -> list[str]:
    """Return ``json.dumps`` of each record's key texts, for texts that ``_plain_texts`` accepts.

    json.dumps writes such texts as they are, in quotes. All records are written into one
    text, separated by a NUL (which no printable text contains), and split once: two C calls
    instead of a format call per record.
    """
    count = len(columns[0])
    step = 2 * len(columns) + 1  # pieces per record: an opening, then each text and what follows it
    pieces: list[str] = [""] * (step * count)
    pieces[0::step] = ['["'] * count
    for position, column in enumerate(columns):
        pieces[2 * position + 1::step] = column
        pieces[2 * position + 2::step] = ['", "' if position < len(columns) - 1 else '"]\x00'] * count
    return "".join(pieces).split("\x00")[:count]


def _repeated_keys(keys: list[str]) -> set[str]:
    if len(set(keys)) == len(keys):
        return set()
    seen: set[str] = set()
    repeated: set[str] = set()
    for key in keys:
        if key in seen:
            repeated.add(key)
        seen.add(key)
    return repeated


def _add_count(block: RecordBlock, first: int, index: int) -> None:
    # NOTE: the stored key of an activity is a digest of the row as read, so a later file
    # that repeats an identical activity row reads as unchanged, not as another event.
    counts = block.values["count"]
    counts[first] = int(counts[first] or 1) + int(counts[index] or 1)  # type: ignore[call-overload]
    block.duplicate_of[index] = first


def _add_share(block: RecordBlock, first: int, index: int, tuples: list[tuple[object, ...]]) -> None:
    shares = block.values["share"]
    total = Decimal(str(shares[first])) + Decimal(str(shares[index]))
    shares[first] = format(total.normalize(), "f")
    block.duplicate_of[index] = first
    tuples[first] = block.stored_tuple(first)
