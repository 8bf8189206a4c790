"""Read a file into validated records of one record set, collecting every problem in one pass.

The engine opens the file, finds the header row and resolves the mapping's columns.
It reads the data rows in chunks (a text file column by column), skipping blank and
totals rows, and keeps each column as distinct cells plus a code per row. Each column's
distinct cells are parsed with per-column decisions. Then it applies aliases, defaults and combined participant
codes, runs the record checks and marks duplicates. Nothing here writes to the workspace: the import
service commits the result.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice, repeat
from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd

from spm_desktop.domain import periods
from spm_desktop.domain.problems import Problem
from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.domain.records import RECORD_SETS, FieldSpec, RecordSetSpec, record_set
from spm_desktop.importing import parsing, validate
from spm_desktop.importing.columns import CodedColumn, CodedColumnBuilder
from spm_desktop.importing.layout import detect_header_row, is_totals_word, totals_label
from spm_desktop.importing.mapping import Mapping, MappingOptions, normalise_header, suggest_columns
from spm_desktop.importing.records import RecordBlock, attributes_json, mark_key_clashes
from spm_desktop.importing.sources import ImportFileError, Source, SourceInfo, column_letter, file_sha256

log = logging.getLogger(__name__)

SAMPLE_ROWS = 200
PROGRESS_EVERY = 25_000
# Problems of one code in one column are listed up to this many; a summary counts the rest.
MAX_LISTED_PER_KIND = 5_000


@dataclass
class ImportFacts:
    """Workspace facts for the checks: participants, aliases, plan date ranges and the fiscal year start."""

    participants: dict[str, validate.KnownParticipant] = field(default_factory=dict)
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    plan_ranges: list[tuple[str, str | None]] = field(default_factory=list)
    fiscal_start_month: int = 1


@dataclass
class TotalsRow:
    row: int
    label: str
    cells: list[object]


@dataclass
class ParsedImport:
    """The result of reading a file: records, related records, problems and what was decided."""

    record_set: str  # canonical name
    requested_set: str  # as the user named it ("opportunities" stays visible)
    path: Path
    sha256: str
    info: SourceInfo
    mapping: Mapping
    header_row: int | None  # 1-based, None without a header
    headers: list[str]
    sample: list[list[object]]
    problems: list[Problem] = field(default_factory=list)
    block: RecordBlock | None = None
    related: list[RecordBlock] = field(default_factory=list)
    rows_read: int = 0
    skipped_rows: int = 0
    totals_rows: list[TotalsRow] = field(default_factory=list)
    decisions: dict[str, str] = field(default_factory=dict)
    column_names: dict[str, str] = field(default_factory=dict)  # field -> source column label
    attribute_names: list[str] = field(default_factory=list)
    suppressed: dict[tuple[str, str | None], int] = field(default_factory=dict)
    mapping_source: str = "given"  # "given", "given, columns suggested", "saved: <name>" or "suggested"

    @property
    def file_name(self) -> str:
        return self.path.name

    @property
    def sheet(self) -> str | None:
        return self.info.sheet

    @property
    def record_count(self) -> int:
        return 0 if self.block is None else len(self.block)

    @property
    def rejected_count(self) -> int:
        return 0 if self.block is None else self.block.rejected_count

    @property
    def duplicate_count(self) -> int:
        return 0 if self.block is None else self.block.duplicate_count

    @property
    def has_file_errors(self) -> bool:
        return any(problem.severity == "error" and problem.row is None for problem in self.problems)

    def record(self, index: int) -> dict[str, object]:
        """Return one record for display: its fields, source row and outcome."""
        assert self.block is not None
        block = self.block
        result: dict[str, object] = {"row": block.source_rows[index]}
        for field_spec in block.spec.fields:
            value = block.values[field_spec.name][index]
            if field_spec.kind == "money" and value is not None:
                value = Decimal(value).scaleb(-4)  # type: ignore[arg-type]
            result[field_spec.name] = value
        result["attributes"] = block.attributes[index]
        result["status"] = ("rejected" if block.rejected[index]
                            else "duplicate" if block.duplicate_of[index] is not None else "ok")
        return result


MappingFinder = Callable[[list[str]], tuple[Mapping, str] | None]


def read_import(path: Path, record_set_name: str, mapping: Mapping | None = None, *, sheet: str | None = None,
                facts: ImportFacts | None = None, progress: ProgressCallback = no_progress,
                cancel: CancelToken | None = None, find_mapping: MappingFinder | None = None) -> ParsedImport:
    """Read and check a file as records of a set; raises ImportFileError when it cannot be read.

    Without a mapping, ``find_mapping`` may return a saved one for the file's header
    cells; otherwise columns are suggested from the headers.
    """
    try:
        spec = record_set(record_set_name)
    except KeyError as error:
        raise ImportFileError(error.args[0]) from None
    facts = facts or ImportFacts()
    path = Path(path)
    options = mapping.options if mapping is not None else MappingOptions()
    chosen_sheet = sheet or (mapping.sheet if mapping is not None else None)
    progress(0, 0, f"Opening {path.name}")
    source = Source(path, chosen_sheet, encoding=options.encoding, delimiter=options.delimiter)
    try:
        sample = source.sample(SAMPLE_ROWS)
        header_index = _header_index(mapping, sample, spec.name)
        headers = _header_cells(sample, header_index, source.info)
        mapping_source = "given"
        if mapping is None and find_mapping is not None and header_index is not None:
            found = find_mapping(headers)
            if found is not None:
                mapping, name = found
                mapping_source = f"saved: {name}"
                header_index = _header_index(mapping, sample, spec.name)
                headers = _header_cells(sample, header_index, source.info)
        if mapping is None:
            mapping = Mapping(record_set_name, columns=suggest_columns(spec.name, headers), sheet=source.info.sheet)
            mapping_source = "suggested"
        elif not mapping.columns and mapping.melt is None:
            # A mapping that only sets options (such as the date order) keeps the suggested columns.
            mapping = dataclasses.replace(mapping, columns=suggest_columns(spec.name, headers))
            mapping_source = "given, columns suggested"
        parsed = ParsedImport(spec.name, record_set_name, path, file_sha256(path), source.info, mapping,
                              None if header_index is None else header_index + 1, headers, sample)
        parsed.mapping_source = mapping_source
        _report_source_facts(parsed)
        _report_duplicate_headers(parsed)
        reader = _ColumnPlan.build(parsed, spec, header_index)
        if parsed.has_file_errors:
            return parsed
        columns, rows = _collect(source, parsed, reader, header_index, progress, cancel)
        source.close()  # the reader's copy of the sheet is no longer needed
        if not rows:
            parsed.problems.append(Problem("no_records", "the file has no data rows below the header; check the "
                                           "sheet and the header row", "error", parsed.file_name, parsed.sheet))
            return parsed
        _build(parsed, spec, reader, columns, rows, facts, progress, cancel)
        return parsed
    finally:
        source.close()


def _header_index(mapping: Mapping | None, sample: list[list[object]], record_set_name: str) -> int | None:
    if mapping is not None and mapping.header_row == "none":
        return None
    if mapping is not None and isinstance(mapping.header_row, int):
        return mapping.header_row - 1
    expected = [value for value in (mapping.columns.values() if mapping else ()) if isinstance(value, str)]
    return detect_header_row(sample, expected, record_set_name)


def _header_cells(sample: list[list[object]], header_index: int | None, info: SourceInfo) -> list[str]:
    width = max((len(row) for row in sample), default=0)
    if header_index is None or header_index >= len(sample):
        return [_position_label(index, info) for index in range(width)]
    row = sample[header_index]
    headers = []
    for index in range(width):
        cell = row[index] if index < len(row) else None
        headers.append(parsing.clean_text(parsing.cell_text(cell)) if cell is not None else "")
    return headers


def _position_label(index: int, info: SourceInfo) -> str:
    return column_letter(index) if info.kind == "workbook" else str(index + 1)


def _report_source_facts(parsed: ParsedImport) -> None:
    info = parsed.info
    if info.formula_cells_total:
        shown = ", ".join(info.formula_cells_without_value[:20])
        more = info.formula_cells_total - min(20, info.formula_cells_total)
        parsed.problems.append(Problem(
            "formula_without_value", f"{info.formula_cells_total} formula cells have no stored result "
            f"({shown}{f' and {more} more' if more else ''}); they would read as empty. Open the file in a "
            "spreadsheet program, let it calculate, save it and import again", "error", parsed.file_name, info.sheet))
    mixed = info.mixed_encoding
    if mixed is not None:
        listed_lines = ", ".join(map(str, mixed.lines[:20]))
        if len(mixed.lines) > 20:
            listed_lines += f" and {len(mixed.lines) - 20:,} more"
        lines = "line" if len(mixed.lines) == 1 else "lines"
        parsed.problems.append(Problem(
            "mixed_encoding", f"the file is UTF-8 except {lines} {listed_lines}, read as {mixed.encoding}; check the "
            "accented letters there, and save the file as UTF-8 to avoid this", "warning",
            parsed.file_name, info.sheet, mixed.lines[0], value=mixed.encoding))
    if info.unclosed_quote is not None:
        parsed.problems.append(Problem(
            "unclosed_quote", f"line {info.unclosed_quote} opens a quoted cell that no quote closes, so the rest of "
            "the file would be read into that one cell and its rows lost; add the closing quote (\") or remove "
            "the opening one, then import again", "error", parsed.file_name, info.sheet))
    if parsed.header_row is None and parsed.mapping.header_row != "none":
        parsed.problems.append(Problem("header_not_found", "no header row found in the first rows; set header_row "
                                       "to its row number, or to none and map columns by position", "error",
                                       parsed.file_name, info.sheet))


@dataclass
class _ColumnPlan:
    """Source column positions of the mapped fields, the melt columns and the attribute columns."""

    fields: dict[str, int]
    melt: dict[str, int]
    attributes: dict[str, int]
    width: int

    @classmethod
    def build(cls, parsed: ParsedImport, spec: RecordSetSpec, header_index: int | None) -> _ColumnPlan:
        mapping = parsed.mapping
        lookup = _header_lookup(parsed.headers)
        fields: dict[str, int] = {}
        for name, source_column in mapping.columns.items():
            index = _resolve(source_column, lookup, parsed, name, header_index)
            if index is not None:
                fields[name] = index
                parsed.column_names[name] = _column_label(parsed, index)
        melt: dict[str, int] = {}
        if mapping.melt is not None:
            for label, source_column in mapping.melt.columns.items():
                index = _resolve(source_column, lookup, parsed, f"melt column {label}", header_index)
                if index is not None:
                    melt[label] = index
            parsed.column_names[mapping.melt.field] = ", ".join(_column_label(parsed, i) for i in melt.values())
        provided = set(fields) | set(mapping.defaults) | _implied_fields(spec, mapping)
        for name in spec.required:
            if name not in provided:
                parsed.problems.append(Problem(
                    "field_not_mapped", f"required field {name} is not mapped to a column; choose its column "
                    "in the mapping or give a default", "error", parsed.file_name, parsed.sheet, column=name))
        used = set(fields.values()) | set(melt.values())
        attributes = {}
        for index, header in enumerate(parsed.headers):
            if index in used or (header_index is not None and not header):
                continue
            name = header if header_index is not None else f"column_{index + 1}"
            if name in spec.field_names or name.startswith("_"):
                name = f"source_{name}"
            attributes.setdefault(name, index)
        parsed.attribute_names = list(attributes)
        width = max([*used, *attributes.values(), -1]) + 1
        return cls(fields, melt, attributes, width)


def _implied_fields(spec: RecordSetSpec, mapping: Mapping) -> set[str]:
    implied = set()
    if mapping.melt is not None:
        implied |= {mapping.melt.field, mapping.melt.type_field}
    return implied


def _report_duplicate_headers(parsed: ParsedImport) -> None:
    seen: dict[str, int] = {}
    for index, header in enumerate(parsed.headers):
        if not header:
            continue
        if header in seen:
            parsed.problems.append(Problem(
                "duplicate_header", f"columns {_position_label(seen[header], parsed.info)} and "
                f"{_position_label(index, parsed.info)} are both named {header!r}; a mapping by name uses the first",
                "warning", parsed.file_name, parsed.sheet, parsed.header_row, value=header))
        else:
            seen[header] = index


def _header_lookup(headers: list[str]) -> dict[str, int]:
    lookup: dict[str, int] = {}
    for index, header in enumerate(headers):
        if header:
            lookup.setdefault(header, index)
            lookup.setdefault(header.casefold(), index)
            lookup.setdefault(normalise_header(header), index)
    return lookup


def _resolve(source_column: str | int, lookup: dict[str, int], parsed: ParsedImport, what: str,
             header_index: int | None) -> int | None:
    if isinstance(source_column, int):
        return source_column - 1
    if header_index is None and source_column.strip().isdigit():
        return int(source_column) - 1
    text = parsing.clean_text(source_column)
    for candidate in (text, text.casefold(), normalise_header(text)):
        if candidate in lookup:
            return lookup[candidate]
    if parsed.header_row is not None:
        shown = ", ".join(header for header in parsed.headers if header) or "none"
        parsed.problems.append(Problem(
            "column_not_found", f"column {source_column!r} for {what} is not in the header row (row "
            f"{parsed.header_row}); the headers are: {shown}", "error", parsed.file_name, parsed.sheet,
            parsed.header_row, value=str(source_column)))
    return None


def _column_label(parsed: ParsedImport, index: int) -> str:
    if parsed.header_row is not None and index < len(parsed.headers) and parsed.headers[index]:
        return parsed.headers[index]
    return _position_label(index, parsed.info)


def _collect(source: Source, parsed: ParsedImport, plan: _ColumnPlan, header_index: int | None,
             progress: ProgressCallback, cancel: CancelToken | None) -> tuple[list, list[int]]:
    """Stream the data rows in chunks and return the used cells as coded columns, with their row numbers.

    Columns the plan does not use come back as empty tuples.
    """
    used = sorted(set(plan.fields.values()) | set(plan.melt.values()) | set(plan.attributes.values()))
    first_data = 0 if header_index is None else header_index + 1
    keeper = _RowKeeper(parsed, plan.width)
    if source.info.kind == "text":
        collected = _collect_text(source, parsed, keeper, used, first_data)
        if collected is not None:
            progress(len(collected[1]), 0, f"Reading {parsed.file_name}: {len(collected[1]):,} rows")
            return collected
        keeper = _RowKeeper(parsed, plan.width)
    builders = [CodedColumnBuilder() for _ in used]
    rows: list[int] = []
    iterator = source.rows()
    # Closed here, so that a reader's threads stop even when a cancel keeps this frame alive.
    with contextlib.closing(iterator):
        for _ in islice(iterator, first_data):
            pass
        number = first_data
        while chunk := list(islice(iterator, PROGRESS_EVERY)):
            data_rows, numbers = keeper.keep(chunk, number + 1)
            number += len(chunk)
            del chunk
            for builder, index in zip(builders, used, strict=True):
                builder.add(list(map(itemgetter(index), data_rows)))
            rows.extend(numbers)
            progress(len(rows), 0, f"Reading {parsed.file_name}: {len(rows):,} rows")
            if cancel is not None:
                cancel.raise_if_cancelled()
    parsed.rows_read = len(rows)
    by_index = dict(zip(used, (builder.finish() for builder in builders), strict=True))
    return [by_index.get(index, ()) for index in range(plan.width)], rows


def _collect_text(source: Source, parsed: ParsedImport, keeper: _RowKeeper, used: list[int],
                  first_data: int) -> tuple[list, list[int]] | None:
    """Read a text file column by column; None when the fast reader cannot split it.

    Blank rows are found column-wise. A row with an empty cell and a cell that reads like
    a totals label is rebuilt and judged by the keeper, as the row reader judges it.
    """
    width = max(keeper.width, max((len(row) for row in parsed.sample), default=0))
    arrays = source.text_columns(width)
    if arrays is None:
        return None
    count = len(arrays[0]) if arrays else 0
    coded = [_factorize_text(array) for array in arrays]
    del arrays
    keep = np.ones(count, dtype=bool)
    keep[:first_data] = False
    empty_cells = np.zeros(count, dtype=np.int64)
    for codes, uniques in coded:
        empty_cells += (uniques == "")[codes]
    blank = empty_cells == len(coded)
    # A row whose cells contain nothing but spaces is blank too.
    blank |= _rows_of_spaces(coded, keep & ~blank)
    parsed.skipped_rows += int(np.count_nonzero(blank & keep))
    keep &= ~blank
    # Only a row with an empty cell and a totals label can be a totals row, and the keeper
    # decides. Labels are looked for only when some kept row has an empty cell.
    candidates = keep & (empty_cells > 0)
    labelled = np.zeros(count, dtype=bool)
    if keeper.skip_totals and candidates.any():
        for codes, uniques in coded:
            labelled |= _totals_words(uniques)[codes]
    for position in np.flatnonzero(candidates & labelled).tolist():
        row = [uniques[codes[position]] for codes, uniques in coded]
        if keeper.data_row(row, position + 1) is None:
            keep[position] = False
    positions = np.flatnonzero(keep)
    parsed.rows_read = len(positions)
    columns: list = [()] * keeper.width
    for index in used:
        codes, uniques = coded[index]
        columns[index] = _compact(codes[positions], uniques)
    return columns, (positions + 1).tolist()


def _rows_of_spaces(coded: list[tuple[np.ndarray, np.ndarray]], candidates: np.ndarray) -> np.ndarray:
    """Return which candidate rows have only empty cells and cells of spaces.

    The rows are narrowed column by column, starting with the column of fewest distinct
    cells. Once few rows remain, a column tests only the distinct cells that they hold, so a
    file without such rows costs about one pass over that first column's distinct cells.
    """
    rows = np.flatnonzero(candidates)
    for codes, uniques in sorted(coded, key=lambda column: len(column[1])):
        if not len(rows):
            break
        row_codes = codes[rows]
        if len(rows) < len(uniques) // 8:
            present = np.unique(row_codes)
            empty = np.zeros(len(uniques), dtype=bool)
            empty[present[_empty_or_spaces(uniques[present])]] = True
        else:
            empty = _empty_or_spaces(uniques)
        rows = rows[empty[row_codes]]
    result = np.zeros(len(candidates), dtype=bool)
    result[rows] = True
    return result


def _empty_or_spaces(cells: np.ndarray) -> np.ndarray:
    """Return which text cells are empty once spaces are removed, testing each cell only when one can be."""
    texts = cells.tolist()
    # Clean text has no cell of spaces, and the test runs on all cells at once.
    if parsing.all_clean_text(texts):
        return cells == ""
    return np.fromiter((not parsing.clean_text(text) for text in texts), dtype=bool, count=len(texts))


def _totals_words(cells: np.ndarray) -> np.ndarray:
    """Return which cells read like a totals label, skipping the cell-by-cell test when none can."""
    texts = cells.tolist()
    result = np.zeros(len(texts), dtype=bool)
    joined = "\n".join(texts)
    lowered = joined.casefold()
    # Substring tests are several times faster than the case-blind pattern, which only runs on a hit.
    if not any(word in lowered for word in _TOTALS_HINT_WORDS):
        return result
    hits = [match.start() for match in _TOTALS_HINT.finditer(joined)]
    if not hits:
        return result
    # Only the cells that contain a hint are tested, found from where each hit falls in the joined text.
    starts = np.cumsum([0, *map(len, texts)]) + np.arange(len(texts) + 1)
    for index in np.unique(np.searchsorted(starts, hits, side="right") - 1).tolist():
        result[index] = is_totals_word(texts[index])
    return result


# Every totals label that layout.is_totals_word accepts contains one of these.
_TOTALS_HINT_WORDS = ("tot", "sum", "gesamt")
_TOTALS_HINT = re.compile("|".join(_TOTALS_HINT_WORDS), re.IGNORECASE)


def _factorize_text(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(array)
    if (codes < 0).any():  # the reader gives "" for empty cells, so a missing value is unexpected
        codes, uniques = pd.factorize(array, use_na_sentinel=False)
    return codes, uniques


def _compact(codes: np.ndarray, uniques: np.ndarray) -> CodedColumn:
    """Return a CodedColumn of the kept rows' codes, keeping only the cells those rows hold."""
    present = np.zeros(len(uniques), dtype=bool)
    present[codes] = True
    renumber = np.cumsum(present, dtype=np.int64) - 1
    return CodedColumn(renumber[codes].astype(np.int32), uniques[present].tolist())


class _RowKeeper:
    """Drops blank and totals rows from a chunk and pads short rows to the plan's width."""

    def __init__(self, parsed: ParsedImport, width: int) -> None:
        self.parsed = parsed
        self.width = width
        self.header_width = sum(1 for header in parsed.headers if header) or width
        self.skip_totals = parsed.mapping.options.skip_totals

    def keep(self, chunk: list[list], first_number: int) -> tuple[list[list], Sequence[int]]:
        """Return the data rows of a chunk and their 1-based row numbers."""
        width = self.width
        # Most rows are full and have no empty cell, so only the others get a closer look.
        # NOTE: a row whose every cell contains spaces, none empty, is therefore read as data here,
        # while the column reader of text files skips it as blank.
        odd = [position for position, row in enumerate(chunk) if len(row) < width or None in row or "" in row]
        if not odd:
            return chunk, range(first_number, first_number + len(chunk))
        data_rows: list[list] = []
        numbers: list[int] = []
        odd_positions = set(odd)
        for position, row in enumerate(chunk):
            if position in odd_positions:
                row = self.data_row(row, first_number + position)
                if row is None:
                    continue
            data_rows.append(row)
            numbers.append(first_number + position)
        return data_rows, numbers

    def data_row(self, row: list, number: int) -> list | None:
        """Return the row padded to the plan's width, or None for a blank or totals row (counted as skipped)."""
        parsed = self.parsed
        if not row or None in row or "" in row:
            if all(cell is None or (type(cell) is str and not parsing.clean_text(cell)) for cell in row):
                parsed.skipped_rows += 1
                return None
            label = totals_label(row, self.header_width) if self.skip_totals else None
            if label is not None:
                parsed.totals_rows.append(TotalsRow(number, label, list(row)))
                parsed.skipped_rows += 1
                return None
        if len(row) < self.width:
            row = row + [None] * (self.width - len(row))
        return row


def _build(parsed: ParsedImport, spec: RecordSetSpec, plan: _ColumnPlan, columns: list, rows: list[int],
           facts: ImportFacts, progress: ProgressCallback, cancel: CancelToken | None) -> None:
    progress(0, 0, f"Checking {len(rows):,} rows of {parsed.file_name}")
    builder = _Builder(parsed, spec, plan, columns, rows, facts)
    builder.parse_fields()
    if cancel is not None:
        cancel.raise_if_cancelled()
    builder.expand_melt()
    builder.finish_fields()
    builder.make_block()
    if cancel is not None:
        cancel.raise_if_cancelled()
    builder.check()
    builder.check_totals()
    builder.summarise_suppressed()


def _parse_distinct(cells: Sequence[object],
                    parse: Callable[[Sequence[object]], parsing.ColumnResult]) -> parsing.ColumnResult:
    """Parse a column; a coded column is parsed once per distinct cell and expanded to its rows."""
    if isinstance(cells, CodedColumn):
        return cells.expand_result(parse(parsing.DistinctCells(cells.uniques)))
    return parse(cells)


class _Builder:
    """Builder of a checked RecordBlock from raw columns, keeping the state of one import."""

    def __init__(self, parsed: ParsedImport, spec: RecordSetSpec, plan: _ColumnPlan, columns: list,
                 rows: list[int], facts: ImportFacts) -> None:
        self.parsed = parsed
        self.spec = spec
        self.plan = plan
        self.columns = columns
        self.rows = rows
        self.facts = facts
        self.options = parsed.mapping.options
        self.values: dict[str, list[object]] = {}
        self.record_rows: list[int] | None = None  # row positions of records when melt repeats rows
        self.attribute_rows: list[tuple] = []
        self.findings: list[validate.Finding] = []
        self.row_issues: list[tuple[int, str, parsing.Issue]] = []  # (row position, field, issue)
        # per money field with a currency mark in some cell: the currency each row's cell names
        self.amount_currencies: dict[str, list[str | None]] = {}

    # -- parsing ----------------------------------------------------------------------

    def parse_fields(self) -> None:
        aliases = self._aliases()
        for name, index in self.plan.fields.items():
            field_spec = self.spec.field(name)
            if name == "period" and self.options.period_from_date:
                result = self._period_from_dates(self.columns[index])
            else:
                result = self._parse(field_spec, self.columns[index])
            self._note(name, result)
            self.values[name] = result.values
            if field_spec.kind == "money":
                self._read_currency_marks(name, self.columns[index])
            if field_spec.kind in ("id", "text"):
                self._apply_aliases(name, result.values, aliases.get(name, {}))
        if self.plan.attributes:
            texts = [_parse_distinct(self.columns[index], parsing.parse_text).values
                     for index in self.plan.attributes.values()]
            self.attribute_rows = list(zip(*texts, strict=True))
        # Free the raw cells; melt columns are still needed.
        for index in set(self.plan.fields.values()) | set(self.plan.attributes.values()):
            if index not in self.plan.melt.values():
                self.columns[index] = ()

    def _read_currency_marks(self, name: str, cells: Sequence[object]) -> None:
        """Keep the currency that each amount cell names ("1.234,56 EUR", "€500"), when any cell names one."""
        distinct = cells.uniques if isinstance(cells, CodedColumn) else list(dict.fromkeys(cells))
        marks = {cell: mark for cell in parsing.currency_mark_candidates(distinct)
                 if (mark := parsing.amount_currency(cell)) is not None}
        if not marks:
            return
        if isinstance(cells, CodedColumn):
            self.amount_currencies[name] = cells.expand([marks.get(cell) for cell in cells.uniques])
        else:
            self.amount_currencies[name] = [marks.get(cell) for cell in cells]

    def _parse(self, field_spec: FieldSpec, cells: Sequence[object]) -> parsing.ColumnResult:
        return _parse_distinct(cells, lambda distinct: self._parse_cells(field_spec, distinct))

    def _parse_cells(self, field_spec: FieldSpec, cells: Sequence[object]) -> parsing.ColumnResult:
        option = {"money": "decimal_mark", "decimal": "decimal_mark", "date": "date_order",
                  "datetime": "date_order"}.get(field_spec.kind)
        if option is not None and self.parsed.mapping_source.startswith("saved:") \
                and getattr(self.options, option) != "auto":
            return self._parse_with_saved_option(field_spec, cells, option)
        return self._parse_with(field_spec, cells, self.options.date_order, self.options.decimal_mark)

    def _parse_with(self, field_spec: FieldSpec, cells: Sequence[object], date_order: str,
                    decimal_mark: str) -> parsing.ColumnResult:
        kind = field_spec.kind
        if kind == "money":
            return parsing.parse_money(cells, decimal_mark)
        if kind == "decimal":
            return parsing.parse_decimal(cells, decimal_mark, percent_allowed=field_spec.name == "share")
        if kind in ("date", "datetime"):
            return parsing.parse_dates(cells, with_time=kind == "datetime", date_order=date_order,
                                       date1904=self.parsed.info.date1904)
        if kind == "integer":
            return parsing.parse_integer(cells)
        return parsing.parse_text(cells)

    def _parse_with_saved_option(self, field_spec: FieldSpec, cells: Sequence[object],
                                 option: str) -> parsing.ColumnResult:
        """Read a column whose date order or decimal mark comes from a saved mapping, not from this file.

        The saved mapping may have been made for another file, so the column is read first as
        if nothing were set. When its own values decide, they win, with a warning if the saved
        mapping sets another value. When they fit either way, the saved setting is used with a
        warning, so that the user checks the dates or amounts.
        """
        saved = getattr(self.options, option)
        if option == "date_order":
            own = self._parse_with(field_spec, cells, "auto", self.options.decimal_mark)
        else:
            own = self._parse_with(field_spec, cells, self.options.date_order, "auto")
        undecided = {"date_order_ambiguous", "ambiguous_date", "ambiguous_decimal_mark"}
        name = self.parsed.mapping_source.removeprefix("saved: ")
        setting = "day and month order" if option == "date_order" else "decimal mark"
        if any(issue.code in undecided for issue in own.issues):
            if option == "date_order":
                result = self._parse_with(field_spec, cells, saved, self.options.decimal_mark)
            else:
                result = self._parse_with(field_spec, cells, self.options.date_order, saved)
            result.issues.append(parsing.Issue(
                None, "option_from_saved_mapping", "warning",
                f"{setting} {saved!r} taken from the saved mapping {name!r}: the values of this file fit either "
                f"way; check them, or import with a mapping that sets options.{option}", saved))
            return result
        if own.decision is not None and own.decision != saved:
            own.issues.append(parsing.Issue(
                None, "saved_option_overruled", "warning",
                f"the values of this file show the {setting} {own.decision!r}, so the saved mapping {name!r} "
                f"({option} {saved!r}) is not followed for this column", saved))
        return own

    def _note(self, name: str, result: parsing.ColumnResult) -> None:
        if result.decision:
            self.parsed.decisions[name] = result.decision
        for issue in result.issues:
            if issue.index is None:
                self.parsed.problems.append(Problem(issue.code, issue.message, issue.severity, self.parsed.file_name,  # type: ignore[arg-type]
                                                    self.parsed.sheet, column=self.parsed.column_names.get(name)))
            else:
                self.row_issues.append((issue.index, name, issue))
        for index in result.normalised:
            original = parsing.cell_text(self.columns[self.plan.fields[name]][index])
            value = result.values[index]
            message = f"spaces removed: read as {value!r}" if value is not None else "only spaces: read as empty"
            self.row_issues.append((index, name, parsing.Issue(index, "text_normalised", "info", message, original)))

    def _aliases(self) -> dict[str, dict[str, str]]:
        merged = {name: dict(pairs) for name, pairs in self.facts.aliases.items()}
        for name, pairs in self.parsed.mapping.aliases.items():
            merged.setdefault(name, {}).update(pairs)
        return merged

    def _apply_aliases(self, name: str, values: list[object], pairs: dict[str, str]) -> None:
        if not pairs:
            return
        applied: dict[str, int] = {}
        for index, value in enumerate(values):
            if value is not None and value in pairs:
                values[index] = pairs[value]  # type: ignore[index]
                applied[value] = applied.get(value, 0) + 1  # type: ignore[index,arg-type]
        for old, count in applied.items():
            self.parsed.problems.append(Problem(
                "alias_applied", f"{name} {old!r} read as {pairs[old]!r} on {count:,} rows (recorded alias)", "info",
                self.parsed.file_name, self.parsed.sheet, column=self.parsed.column_names.get(name), value=old))

    def _period_from_dates(self, cells: Sequence[object]) -> parsing.ColumnResult:
        result = _parse_distinct(cells, lambda distinct: parsing.parse_dates(
            distinct, with_time=False, date_order=self.options.date_order, date1904=self.parsed.info.date1904))
        kind = self.options.period_from_date or "quarter"
        labels: dict[str, str] = {}
        for index, value in enumerate(result.values):
            if value is not None:
                if value not in labels:
                    labels[value] = period_label(dt.date.fromisoformat(value), kind,  # type: ignore[arg-type]
                                                 self.facts.fiscal_start_month)
                result.values[index] = labels[value]  # type: ignore[index]
        result.decision = f"{kind} of the date"
        return result

    # -- records ----------------------------------------------------------------------

    def expand_melt(self) -> None:
        """Make one record per filled melt cell; cell issues follow the record they belong to."""
        melt = self.parsed.mapping.melt
        if melt is None or not self.plan.melt:
            return
        value_spec = self.spec.field(melt.field)
        positions: list[int] = []
        melted: list[object] = []
        labels: list[object] = []
        melt_issues: list[tuple[int, str, parsing.Issue]] = []
        for label, index in self.plan.melt.items():
            result = self._parse(value_spec, self.columns[index])
            record_of: dict[int, int] = {}
            for position, value in enumerate(result.values):
                if value is None and self.columns[index][position] in (None, ""):
                    continue
                record_of[position] = len(positions)
                positions.append(position)
                melted.append(value)
                labels.append(label)
            melt_issues += [(record_of[issue.index], melt.field, issue) for issue in result.issues
                            if issue.index is not None and issue.index in record_of]
            if result.decision:
                self.parsed.decisions[f"{melt.field} ({label})"] = result.decision
        self.record_rows = positions
        self.values = {name: [column[position] for position in positions] for name, column in self.values.items()}
        self.values[melt.field] = melted
        self.values[melt.type_field] = labels
        if self.attribute_rows:
            self.attribute_rows = [self.attribute_rows[position] for position in positions]
        self._remap_issues(positions)
        self.row_issues += melt_issues

    def _remap_issues(self, positions: list[int]) -> None:
        # Issues of the shared columns belong to every record made from their row.
        records_of: dict[int, list[int]] = {}
        for record, position in enumerate(positions):
            records_of.setdefault(position, []).append(record)
        self.row_issues = [(record, name, issue) for position, name, issue in self.row_issues
                           for record in records_of.get(position, ())]

    def finish_fields(self) -> None:
        count = len(self.record_rows) if self.record_rows is not None else len(self.rows)
        for field_spec in self.spec.fields:
            if field_spec.name not in self.values:
                default = self.parsed.mapping.defaults.get(field_spec.name)
                self.values[field_spec.name] = self._default_column(field_spec, default, count)
        self._fill_implied_defaults(count)
        self._apply_currency_marks(count)
        validate.check_choices(self.spec, self.values, self.findings)
        if self.spec.name in ("quotas", "adjustments") and not self.options.period_from_date:
            self._check_period_labels()

    def _apply_currency_marks(self, count: int) -> None:
        """Take the currency named in amount cells into the currency field, and reject rows where they differ.

        A row whose currency is empty gets the one its amount names. A row whose currency or
        other amount names another one is rejected, because either figure could be the wrong
        one. A record set without a currency field gets a warning, since the mark is dropped.
        """
        if not self.amount_currencies:
            return
        if self.record_rows is not None:
            # NOTE: melted columns (one record per month column) do not carry currency marks yet.
            self.amount_currencies = {name: [marks[position] for position in self.record_rows]
                                      for name, marks in self.amount_currencies.items()}
        named = sorted({mark for marks in self.amount_currencies.values() for mark in marks if mark})
        if "currency" not in self.spec.field_names:
            for name in self.amount_currencies:
                self.parsed.problems.append(Problem(
                    "currency_mark_ignored", f"{name} cells name a currency ({', '.join(named)}), but "
                    f"{self.spec.name} records have no currency field; the amounts are read as plain numbers",
                    "warning", self.parsed.file_name, self.parsed.sheet, column=self.parsed.column_names.get(name)))
            return
        currencies = self.values["currency"]
        filled: dict[str, int] = {}
        for index in range(count):
            marks = {name: marks[index] for name, marks in self.amount_currencies.items() if marks[index]}
            if not marks:
                continue
            current = currencies[index].upper() if isinstance(currencies[index], str) else None
            for name, mark in marks.items():
                if current is not None and mark != current:
                    self.row_issues.append((index, name, parsing.Issue(
                        index, "currency_conflict", "error",
                        f"the amount names {mark} but the row's currency is {current}; correct the amount or "
                        "the currency", mark)))
                    break
                if current is None:
                    currencies[index] = current = mark
                    filled[mark] = filled.get(mark, 0) + 1
        for mark, rows in filled.items():
            self.parsed.problems.append(Problem(
                "currency_from_amount", f"currency {mark} taken from the amount cells of {rows:,} "
                f"{'row' if rows == 1 else 'rows'} that had no currency", "info", self.parsed.file_name, self.parsed.sheet,
                column=self.parsed.column_names.get("currency"), value=mark))

    def _default_column(self, field_spec: FieldSpec, default: str | None, count: int) -> list[object]:
        if default is None:
            return [None] * count
        result = self._parse(field_spec, (default,))
        if result.issues:
            self.parsed.problems.append(Problem("invalid_default", f"default {default!r} for {field_spec.name} "
                                                f"cannot be read: {result.issues[0].message}", "error",
                                                self.parsed.file_name, self.parsed.sheet, column=field_spec.name))
        return [result.values[0]] * count

    def _fill_implied_defaults(self, count: int) -> None:
        implied = {"deals": ("type", "sale"), "fx_rates": ("rate_type", "average"),
                   "credit_splits": ("kind", "split")}.get(self.spec.name)
        if implied is None:
            return
        column, default = self.values[implied[0]], implied[1]
        # One scan by identity in C decides, because a file that has the column usually fills every cell.
        if not any(map(operator.is_, column, repeat(None))):
            return
        for index in range(count):
            if column[index] is None:
                column[index] = default

    def _check_period_labels(self) -> None:
        checked: dict[str, str | None] = {}
        for index, value in enumerate(self.values["period"]):
            if value is None:
                continue
            if value not in checked:
                checked[value] = self._period_error(str(value))  # type: ignore[index]
            if checked[value]:  # type: ignore[index]
                self.findings.append(validate.Finding(index, "invalid_period", "error", checked[value],  # type: ignore[arg-type,index]
                                                      "period", str(value)))

    def _period_error(self, label: str) -> str | None:
        try:
            periods.parse_period(label, fiscal_start_month=self.facts.fiscal_start_month)
        except periods.PeriodError as error:
            return (f"{error}; periods are labels such as 2017-Q3, 2017-07, 2017 or FY2018-Q1, and a column of dates "
                    "needs options.period_from_date set to quarter, month or year")
        return None

    def make_block(self) -> None:
        positions = self.record_rows
        source_rows = self.rows if positions is None else [self.rows[position] for position in positions]
        attributes = (attributes_json(self.parsed.attribute_names, self.attribute_rows) if self.attribute_rows
                      else [None] * len(source_rows))
        self.attribute_rows = []
        self.parsed.block = RecordBlock(self.spec, self.values, source_rows, attributes)

    # -- checks -----------------------------------------------------------------------

    def check(self) -> None:
        block = self.parsed.block
        assert block is not None
        context = self._context()
        name = self.spec.name
        if name == "deals":
            self._default_reference_ids()
            self._split_combined_owners(context)
        validate.check_required(self.spec, self.values, len(block), self.findings)
        file_ids = {value for value in self.values.get("participant_id", []) if value} if name == "participants" else None
        validate.check_participants(name, self.values, context, self.findings, file_ids)
        if name == "deals":
            validate.check_employment(self.values, context, self.findings)
            validate.check_plan_dates(self.values, "close_date", context, self.findings)
        validate.check_references(self.values, context, self.findings)
        validate.check_amount_rules(name, self.values, self.findings)
        for field_name in validate.CATEGORY_FIELDS:
            if field_name in self.plan.fields:
                self.findings.extend(validate.spelling_findings(self.values[field_name], field_name))  # type: ignore[arg-type]
        self._attach_findings(block)
        mark_key_clashes(block, self.parsed.problems, self._problem_for)
        if name == "credit_splits":
            active = [not block.rejected[i] and block.duplicate_of[i] is None for i in range(len(block))]
            findings = validate.split_share_findings(self.values["deal_id"], self.values["kind"],  # type: ignore[arg-type]
                                                     self.values["share"], block.source_rows, active)  # type: ignore[arg-type]
            self.findings = findings
            self._attach_findings(block)
        for related in self.parsed.related:
            mark_key_clashes(related, self.parsed.problems, self._problem_for)

    def _context(self) -> validate.CheckContext:
        context = validate.CheckContext(participants=self.facts.participants, plan_ranges=self.facts.plan_ranges)
        for name, reference in self.parsed.mapping.references.items():
            allowed, problems = read_reference(reference)
            context.references[name] = allowed
            context.reference_names[name] = reference.file.name
            self.parsed.problems.extend(problems)
        return context

    def _default_reference_ids(self) -> None:
        references, deal_ids, types = self.values["reference_deal_id"], self.values["deal_id"], self.values["type"]
        if set(types) <= {"sale"}:
            return
        for index, kind in enumerate(types):
            if kind != "sale" and references[index] is None:
                references[index] = deal_ids[index]

    def _split_combined_owners(self, context: validate.CheckContext) -> None:
        """Turn an owner cell such as "DOR/KLE" into the first code and equal credit split rows."""
        separator = self.options.combined_separator
        if not separator:
            return
        owners, deal_ids = self.values["owner"], self.values["deal_id"]
        if not any(separator in owner for owner in set(owners) if owner):  # type: ignore[operator]
            return
        block = self.parsed.block
        assert block is not None
        split_values: dict[str, list[object]] = {name: [] for name in RECORD_SETS["credit_splits"].field_names}
        split_rows: list[int] = []
        split_deals: list[int] = []  # the deal record each split row belongs to
        combined: dict[int, str] = {}  # deal record -> owner cell as read
        for index, owner in enumerate(owners):
            if owner is None or separator not in owner or owner in context.participants:  # type: ignore[operator]
                continue
            named = [parsing.clean_text(code) for code in owner.split(separator)]  # type: ignore[union-attr]
            if len(named) < 2 or not all(named):
                continue
            codes = list(dict.fromkeys(named))
            combined[index] = owner  # type: ignore[assignment]
            owners[index] = codes[0]
            if len(codes) == 1:
                self.findings.append(validate.Finding(
                    index, "combined_owner", "info", f"owner {owner!r} names {codes[0]!r} {len(named)} times; the "
                    f"deal goes to {codes[0]!r} alone", "owner", owner))  # type: ignore[arg-type]
                continue
            for code, share in zip(codes, equal_shares(len(codes)), strict=True):
                split_values["deal_id"].append(deal_ids[index])
                split_values["participant_id"].append(code)
                split_values["share"].append(share)
                split_values["kind"].append("split")
                split_rows.append(block.source_rows[index])
                split_deals.append(index)
            self.findings.append(validate.Finding(
                index, "combined_owner", "info", f"owner {owner!r} names {len(codes)} participants; the deal goes to "
                f"{codes[0]!r} with equal credit splits for {', '.join(codes)}", "owner", owner))  # type: ignore[arg-type]
        if split_rows:
            splits = RecordBlock(RECORD_SETS["credit_splits"], split_values, split_rows, [None] * len(split_rows))
            self.parsed.related.append(splits)
            if context.participants:
                self._reject_incomplete_splits(splits, split_deals, combined, context)

    def _reject_incomplete_splits(self, splits: RecordBlock, split_deals: list[int], combined: dict[int, str],
                                  context: validate.CheckContext) -> None:
        """Reject a deal with every split of its combined owner when one of the codes names no participant.

        Its other splits alone would not add up to the whole deal.
        """
        findings: list[validate.Finding] = []
        validate.check_participants("credit_splits", splits.values, context, findings)
        failed: dict[int, list[str]] = {}
        for finding in findings:
            self.parsed.problems.append(Problem(finding.code, finding.message, finding.severity,  # type: ignore[arg-type]
                                                self.parsed.file_name, self.parsed.sheet,
                                                splits.source_rows[finding.record], "owner", finding.value))  # type: ignore[index]
            if finding.severity == "error":
                failed.setdefault(split_deals[finding.record], []).append(str(finding.value))  # type: ignore[index]
        for position, deal in enumerate(split_deals):
            if deal in failed:
                splits.rejected[position] = True
        for deal, codes in failed.items():
            self.findings.append(validate.Finding(
                deal, "combined_owner_unknown", "error", f"no participant has the code {', '.join(map(repr, codes))} "
                f"of the combined owner {combined[deal]!r}, so the credit splits would not add up to the deal; correct "
                "the code or import the participant first", "owner", combined[deal]))

    def _attach_findings(self, block: RecordBlock) -> None:
        for position, name, issue in self.row_issues:
            self._add(block, position, issue.code, issue.severity, issue.message, name, issue.value)
        self.row_issues = []
        for finding in self.findings:
            if finding.record is None:
                self.parsed.problems.append(Problem(finding.code, finding.message, finding.severity,  # type: ignore[arg-type]
                                                    self.parsed.file_name, self.parsed.sheet, column=finding.field,
                                                    value=finding.value))
            else:
                self._add(block, finding.record, finding.code, finding.severity, finding.message, finding.field,
                          finding.value)
        self.findings = []

    def _add(self, block: RecordBlock, index: int, code: str, severity: str, message: str, name: str | None,
             value: str | None) -> None:
        if severity == "error":
            block.rejected[index] = True
        column = self.parsed.column_names.get(name, name) if name else None
        kind = (code, column)
        listed = self.parsed.suppressed.get(kind, 0)
        self.parsed.suppressed[kind] = listed + 1
        if listed >= MAX_LISTED_PER_KIND:
            return
        self.parsed.problems.append(Problem(code, message, severity, self.parsed.file_name, self.parsed.sheet,  # type: ignore[arg-type]
                                            block.source_rows[index], column, value))

    def _problem_for(self, block: RecordBlock, index: int, code: str, severity: str, message: str,
                     name: str | None, value: str | None) -> Problem:
        column = self.parsed.column_names.get(name, name) if name else None
        return Problem(code, message, severity, self.parsed.file_name, self.parsed.sheet,  # type: ignore[arg-type]
                       block.source_rows[index], column, value)

    def check_totals(self) -> None:
        """Compare each skipped totals row with the records it may sum, and report both."""
        block = self.parsed.block
        if not self.parsed.totals_rows or block is None:
            return
        money_fields = [name for name in self.plan.fields if self.spec.field(name).kind == "money"]
        for totals in self.parsed.totals_rows:
            stated = self._stated_totals(totals, money_fields)
            messages = [self._compare_total(totals, name, amount, block) for name, amount in stated.items()]
            detail = "; ".join(messages) if messages else "it holds no amount to check"
            severity = "warning" if any("does not match" in message for message in messages) else "info"
            self.parsed.problems.append(Problem("totals_row_skipped", f"totals row {totals.label!r} skipped; {detail}",
                                                severity, self.parsed.file_name, self.parsed.sheet, totals.row))  # type: ignore[arg-type]

    def _stated_totals(self, totals: TotalsRow, money_fields: list[str]) -> dict[str, int]:
        stated = {}
        for name in money_fields:
            index = self.plan.fields[name]
            cell = totals.cells[index] if index < len(totals.cells) else None
            if cell is None:
                continue
            result = parsing.parse_money((cell,), self.parsed.decisions.get(name, self.options.decimal_mark))
            if result.values[0] is not None:
                stated[name] = result.values[0]  # type: ignore[assignment]
        return stated

    def _compare_total(self, totals: TotalsRow, name: str, amount: int, block: RecordBlock) -> str:
        values = block.values[name]
        rows = block.source_rows
        candidates = {
            "all rows": range(len(block)),
            "the rows above it": [i for i in range(len(block)) if rows[i] < totals.row and self._after_previous(totals, rows[i])],
            "the rows below it": [i for i in range(len(block)) if rows[i] > totals.row and self._before_next(totals, rows[i])],
        }
        computed = {}
        for label, indexes in candidates.items():
            total = sum(values[i] for i in indexes if values[i] is not None and block.duplicate_of[i] is None)  # type: ignore[misc]
            computed[label] = total
            if indexes and total == amount:
                return f"{name} {_units(amount)} matches the sum of {label}"
        return f"{name} {_units(amount)} does not match the sum of all rows ({_units(computed['all rows'])}); check the file"

    def _after_previous(self, totals: TotalsRow, row: int) -> bool:
        earlier = [other.row for other in self.parsed.totals_rows if other.row < totals.row]
        return not earlier or row > max(earlier)

    def _before_next(self, totals: TotalsRow, row: int) -> bool:
        later = [other.row for other in self.parsed.totals_rows if other.row > totals.row]
        return not later or row < min(later)

    def summarise_suppressed(self) -> None:
        for (code, column), count in self.parsed.suppressed.items():
            if count > MAX_LISTED_PER_KIND:
                self.parsed.problems.append(Problem(
                    code, f"{count - MAX_LISTED_PER_KIND:,} more rows have this problem and are not listed "
                    f"({count:,} in all)", "info", self.parsed.file_name, self.parsed.sheet, column=column))


def _units(amount: int) -> str:
    return f"{Decimal(amount).scaleb(-4).normalize():,f}"


def equal_shares(count: int) -> list[str]:
    """Split 1 into ``count`` decimal shares that total exactly 1 (the last takes the remainder)."""
    if count == 2:
        return ["0.5", "0.5"]
    part = (Decimal(1) / Decimal(count)).quantize(Decimal("1e-10"))
    shares = [part] * (count - 1)
    shares.append(Decimal(1) - sum(shares))
    return [format(share.normalize(), "f") for share in shares]


def period_label(day: dt.date, kind: str, fiscal_start_month: int = 1) -> str:
    """Return the label of the period of a kind containing a day: 2017-Q3, 2017-07, 2017 or FY2018-Q1."""
    return periods.period_containing(day, kind, fiscal_start_month).label  # type: ignore[arg-type]


def read_reference(reference) -> tuple[set[str], list[Problem]]:
    """Read the allowed values of a reference file and check its other columns for misspellings."""
    source = Source(reference.file, reference.sheet)
    try:
        sample = source.sample(SAMPLE_ROWS)
        header_index = detect_header_row(sample, [reference.column] if isinstance(reference.column, str) else [])
        headers = _header_cells(sample, header_index, source.info)
        lookup = _header_lookup(headers)
        if isinstance(reference.column, int):
            key_index = reference.column - 1
        else:
            key_index = lookup.get(reference.column, lookup.get(normalise_header(reference.column), -1))
        if key_index < 0:
            raise ImportFileError(f"{reference.file.name} has no column {reference.column!r}; its headers are: "
                                  f"{', '.join(header for header in headers if header)}")
        first = 0 if header_index is None else header_index + 1
        rows = [(number, row) for number, row in enumerate(source.rows(), start=1)
                if number > first and any(cell not in (None, "") for cell in row)]
    finally:
        source.close()
    allowed = set()
    problems: list[Problem] = []
    columns: dict[int, list[str | None]] = {}
    for _number, row in rows:
        for index in range(len(headers)):
            cell = row[index] if index < len(row) else None
            columns.setdefault(index, []).append(parsing.parse_text((cell,)).values[0] if cell is not None else None)  # type: ignore[arg-type]
    allowed = {value for value in columns.get(key_index, []) if value}
    for index, values in columns.items():
        if index == key_index:
            continue
        name = headers[index] or _position_label(index, source.info)
        for finding in validate.spelling_findings(values, name):
            problems.append(Problem(finding.code, finding.message, "warning", reference.file.name, source.info.sheet,
                                    rows[finding.record][0], name, finding.value))  # type: ignore[index]
    return allowed, problems


ProblemFactory = Callable[..., Problem]
