"""Import a spreadsheet into a record set: preview (read and check) and commit (all or nothing).

``preview`` reads the file with the engine and the workspace's participants, aliases,
plans and saved mappings, and returns every problem without writing. ``commit`` writes
the accepted records in one transaction with an ``import_batches`` row and an audit
entry: when it fails or is cancelled, nothing of the import remains. Re-imported
records are matched by natural key and counted as added, updated or unchanged.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from sqlalchemy import Connection, Table, func, inspect, select

from spm_desktop.domain.canonical import canonical_json
from spm_desktop.domain.problems import Problem
from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.domain.records import RECORD_SETS, record_set
from spm_desktop.importing import engine
from spm_desktop.importing.columns import same_throughout
from spm_desktop.importing.engine import ImportFacts, ParsedImport
from spm_desktop.importing.layout import detect_header_row
from spm_desktop.importing.mapping import (
    Mapping,
    MappingError,
    file_pattern,
    header_signature,
    header_similarity,
    mapping_from_document,
)
from spm_desktop.importing.records import RecordBlock
from spm_desktop.importing.sources import Source
from spm_desktop.importing.validate import KnownParticipant
from spm_desktop.services import record_service
from spm_desktop.services.collector import collector_paused
from spm_desktop.services.context import UnitOfWork, Workspace
from spm_desktop.services.errors import NotFoundError, SpmError, ValidationError
from spm_desktop.store.tables.records import RECORD_TABLES, aliases, column_name, import_batches, saved_mappings

log = logging.getLogger(__name__)

# Problems stored with an import batch; the full list is returned to the caller.
STORED_PROBLEMS = 1_000
WRITE_CHUNK = 50_000
# Bound parameters per INSERT statement: the limit of SQLite builds before 3.32.
MAX_PARAMETERS = 999
# Above this many new rows (and more than the table holds) the secondary indexes are
# dropped during the insert and rebuilt afterwards, inside the same transaction.
REBUILD_INDEXES_ABOVE = 100_000
# Saved mappings whose headers overlap at least this much are suggested for a new file.
SIMILAR_HEADERS = 0.6
FISCAL_START_SETTING = "fiscal_year.start_month"


@dataclass
class ImportRequest:
    """Import arguments for a commit without a preview made first."""

    record_set: str
    path: Path
    mapping: Mapping | None = None
    sheet: str | None = None


@dataclass
class ImportPreview:
    """A read and checked file, ready to show or commit."""

    parsed: ParsedImport
    mapping_source: str  # "given", "given, columns suggested", "saved: <name>" or "suggested"

    def mapping_text(self, given_name: str = "the mapping given") -> str:
        """Describe where the mapping came from; ``given_name`` names a mapping that the caller passed."""
        source = self.mapping_source
        if source.startswith("saved: "):
            return f"used the saved mapping {source.removeprefix('saved: ')!r}"
        if source == "suggested":
            return "columns matched from the headers"
        if source == "given, columns suggested":
            return f"{given_name}, with columns matched from the headers"
        return given_name
    previous_batches: list[int] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return self.parsed.problems

    @property
    def sheet_names(self) -> list[str]:
        return self.parsed.info.sheet_names

    @property
    def sheet(self) -> str | None:
        return self.parsed.sheet

    @property
    def header_row(self) -> int | None:
        return self.parsed.header_row

    @property
    def headers(self) -> list[str]:
        return self.parsed.headers

    @property
    def mapping(self) -> Mapping:
        return self.parsed.mapping

    @property
    def record_count(self) -> int:
        return self.parsed.record_count

    def rows(self, offset: int, limit: int) -> list[dict[str, object]]:
        end = min(self.parsed.record_count, offset + limit)
        return [self.parsed.record(index) for index in range(offset, end)]


@dataclass
class ImportCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    rejected: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass
class ImportResult:
    batch_id: int
    record_set: str
    file_name: str
    sha256: str
    counts: ImportCounts
    skipped_rows: int
    problems: list[Problem]
    related: dict[str, ImportCounts] = field(default_factory=dict)
    previous_batches: list[int] = field(default_factory=list)


# --- facts from the workspace ----------------------------------------------------------

def load_facts(connection: Connection, record_set_name: str) -> ImportFacts:
    """Read what the checks need: participants, recorded aliases, plan date ranges, fiscal year."""
    canonical = record_set(record_set_name).name
    table = RECORD_TABLES["participants"]
    participants = {
        row.participant_id: KnownParticipant(row.participant_id, row.hire_date, row.termination_date)
        for row in connection.execute(select(table.c.participant_id, table.c.hire_date, table.c.termination_date))
    }
    recorded: dict[str, dict[str, str]] = {}
    for row in connection.execute(select(aliases).where(aliases.c.record_set == canonical)):
        recorded.setdefault(row.field, {})[row.from_value] = row.to_value
    return ImportFacts(participants, recorded, _plan_ranges(connection), _fiscal_start(connection))


def _plan_ranges(connection: Connection) -> list[tuple[str, str | None]]:
    # Plans belong to the calculation area; before it exists there is nothing to check.
    from spm_desktop.store.tables import calc

    plans = getattr(calc, "plans", None)
    if plans is None or not inspect(connection).has_table(plans.name):
        return []
    ranges = []
    for start, end in connection.execute(select(plans.c.effective_from, plans.c.effective_to)):
        ranges.append((_iso(start), None if end is None else _iso(end)))
    return ranges


def _iso(value: object) -> str:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)[:10]


def _fiscal_start(connection: Connection) -> int:
    from spm_desktop.store.tables.core import settings

    value = connection.execute(select(settings.c.value).where(settings.c.key == FISCAL_START_SETTING)).scalar()
    try:
        month = int(json.loads(value)) if value else 1
    except (TypeError, ValueError):
        return 1
    return month if 1 <= month <= 12 else 1


# --- inspecting a file before mapping it ---------------------------------------------------------

@dataclass
class FileSample:
    """The first rows of a file's sheet, for choosing the sheet, header row and columns."""

    path: Path
    sheet_names: list[str]
    sheet: str | None
    rows: list[list[object]]
    header_row: int | None  # 1-based, as detected
    encoding: str | None
    delimiter: str | None
    mapping: Mapping | None = None  # a saved mapping for files like this one
    mapping_name: str | None = None


def inspect_file(workspace: Workspace, record_set_name: str, path: Path | str, sheet: str | None = None, *,
                 progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> FileSample:
    """Open a file and return its sheets, its first rows and the detected header row."""
    path = Path(path)
    spec_of(record_set_name)
    progress(0, 0, f"Opening {path.name}")
    source = Source(path, sheet)
    try:
        rows = source.sample(engine.SAMPLE_ROWS)
    finally:
        source.close()
    header_index = detect_header_row(rows, (), record_set_name)
    sample = FileSample(path, source.info.sheet_names, source.info.sheet, rows,
                        None if header_index is None else header_index + 1, source.info.encoding,
                        source.info.delimiter)
    if header_index is not None:
        headers = ["" if cell is None else str(cell) for cell in rows[header_index]]
        with workspace.read() as connection:
            found = find_saved_mapping(connection, record_set_name, headers, path.name)
        if found is not None:
            sample.mapping, sample.mapping_name = found
    return sample


# --- preview -------------------------------------------------------------------------------

def preview(workspace: Workspace, record_set_name: str, path: Path | str, mapping: Mapping | None = None,
            sheet: str | None = None, *, progress: ProgressCallback = no_progress,
            cancel: CancelToken | None = None) -> ImportPreview:
    """Read and check a file without writing; a saved mapping is used when none is given."""
    path = Path(path)
    _check_record_set(record_set_name)
    with workspace.read() as connection:
        facts = load_facts(connection, record_set_name)

    def find_mapping(headers: list[str]) -> tuple[Mapping, str] | None:
        with workspace.read() as connection:
            return find_saved_mapping(connection, record_set_name, headers, path.name)

    with collector_paused():
        parsed = engine.read_import(path, record_set_name, mapping, sheet=sheet, facts=facts, progress=progress,
                                    cancel=cancel, find_mapping=find_mapping)
    with workspace.read() as connection:
        previous = _previous_batches(connection, parsed)
    if previous:
        parsed.problems.insert(0, Problem(
            "already_imported", f"this file (SHA-256 {parsed.sha256[:12]}...) was imported before as batch "
            f"{', '.join(map(str, previous))}; records are matched by key, so unchanged ones stay as they are",
            "warning", parsed.file_name, parsed.sheet))
    return ImportPreview(parsed, parsed.mapping_source, previous)


def _check_record_set(name: str) -> None:
    spec_of(name)


def spec_of(name: str):
    """Return a record set's spec, raising SpmError naming the choices for an unknown name."""
    try:
        return record_service.spec_of(name)
    except ValueError as error:
        raise SpmError(str(error)) from None


def _previous_batches(connection: Connection, parsed: ParsedImport) -> list[int]:
    query = (select(import_batches.c.id).where(import_batches.c.file_sha256 == parsed.sha256)
             .where(import_batches.c.record_set == parsed.record_set).order_by(import_batches.c.id))
    return list(connection.execute(query).scalars())


# --- commit --------------------------------------------------------------------------------

def commit(workspace: Workspace, preview_or_request: ImportPreview | ImportRequest, accept_valid: bool = False, *,
           progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> ImportResult:
    """Write the accepted records of a preview (or of a file read now) in one transaction.

    Without ``accept_valid`` any error means nothing is written and ValidationError lists
    the problems; with it, the valid rows are written and the rejected ones reported.
    """
    if isinstance(preview_or_request, ImportRequest):
        request = preview_or_request
        preview_or_request = preview(workspace, request.record_set, request.path, request.mapping, request.sheet,
                                     progress=progress, cancel=cancel)
    parsed = preview_or_request.parsed
    _refuse_if_blocked(parsed, accept_valid)
    assert parsed.block is not None
    with collector_paused(), workspace.transaction() as unit:
        batch_id = _insert_batch(unit, parsed)
        counts = _write_block(unit.connection, parsed.block, batch_id, progress, cancel)
        related = {block.spec.name: _write_block(unit.connection, block, batch_id, progress, cancel)
                   for block in parsed.related}
        _record_mapping_aliases(unit, parsed)
        _save_mapping_in(unit, parsed.mapping, parsed.headers, parsed.file_name)
        _finish_batch(unit.connection, batch_id, parsed, counts)
        if cancel is not None:
            # The last chance to stop: after this the transaction commits.
            cancel.raise_if_cancelled()
        unit.audit("records.import", "import_batch", batch_id, after={
            "record_set": parsed.record_set, "file": parsed.file_name, "sha256": parsed.sha256,
            "sheet": parsed.sheet, "mapping": parsed.mapping.to_document(), "counts": counts.as_dict(),
            "related": {name: value.as_dict() for name, value in related.items()},
            "skipped_rows": parsed.skipped_rows, "problems": len(parsed.problems),
        })
    log.info("imported %s into %s as batch %d: %s", parsed.file_name, parsed.record_set, batch_id, counts.as_dict())
    return ImportResult(batch_id, parsed.record_set, parsed.file_name, parsed.sha256, counts, parsed.skipped_rows,
                        parsed.problems, related, preview_or_request.previous_batches)


def _refuse_if_blocked(parsed: ParsedImport, accept_valid: bool) -> None:
    if parsed.has_file_errors or parsed.block is None:
        raise ValidationError(f"{parsed.file_name} cannot be imported; nothing was written. Fix the problems listed "
                              "and try again", _errors_first(parsed.problems))
    rejected = parsed.rejected_count + sum(block.rejected_count for block in parsed.related)
    errors = any(problem.severity == "error" for problem in parsed.problems)
    if (rejected or errors) and not accept_valid:
        raise ValidationError(
            f"{parsed.file_name}: {rejected:,} of {parsed.record_count:,} records rejected; nothing was imported. "
            "Correct the rows listed, or import the valid rows only (--accept-valid)", _errors_first(parsed.problems))


def _errors_first(problems: Sequence[Problem]) -> list[Problem]:
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(problems, key=lambda problem: order.get(problem.severity, 3))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _insert_batch(unit: UnitOfWork, parsed: ParsedImport) -> int:
    stored = [problem.as_dict() for problem in _errors_first(parsed.problems)[:STORED_PROBLEMS]]
    result = unit.connection.execute(import_batches.insert().values(
        record_set=parsed.record_set, file_name=parsed.file_name, file_sha256=parsed.sha256, sheet=parsed.sheet,
        mapping=canonical_json(parsed.mapping.to_document()), imported_at=_now(),
        imported_by=unit.user, rows_read=parsed.rows_read, added=0, updated=0, unchanged=0,
        duplicates=0, rejected=0, skipped=parsed.skipped_rows, problem_count=len(parsed.problems),
        problems=canonical_json(stored),
    ))
    return int(result.inserted_primary_key[0])


def _finish_batch(connection: Connection, batch_id: int, parsed: ParsedImport, counts: ImportCounts) -> None:
    connection.execute(import_batches.update().where(import_batches.c.id == batch_id).values(**counts.as_dict()))


def _write_block(connection: Connection, block: RecordBlock, batch_id: int, progress: ProgressCallback,
                 cancel: CancelToken | None) -> ImportCounts:
    """Insert new records, update changed ones and count the rest; returns the counts."""
    spec = block.spec
    table = RECORD_TABLES[spec.name]
    counts = ImportCounts(duplicates=block.duplicate_count, rejected=block.rejected_count)
    accepted = block.accepted_indexes
    all_keys = block.keys()
    keys = all_keys if len(accepted) == len(block) else [all_keys[index] for index in accepted]
    existing = _existing_records(connection, table, spec, keys)
    columns = [block.values[name] for name in spec.field_names]
    names = [column_name(field_spec) for field_spec in spec.fields] + ["attributes", "batch_id", "source_row"]
    insert_names = names
    inserts: list[tuple] = []
    updates: list[tuple] = []
    if not existing and len(accepted) == len(block):
        # A first import of clean records: every row is new. The rows are written column
        # by column, without a Python loop per row, and columns that are empty in every
        # record are left to their NULL default.
        filled = [position for position, column in enumerate([*columns, block.attributes])
                  if _has_value(column)]
        insert_names = [names[position] for position in filled] + ["batch_id", "source_row"]
        chosen = [[*columns, block.attributes][position] for position in filled]
        insert_columns: list[Sequence[object]] = [*chosen, [batch_id] * len(block), block.source_rows, all_keys]
        insert_count = len(block)
    else:
        stored = list(zip(*columns, block.attributes, strict=True))
        for index in accepted:
            found = existing.get(all_keys[index])
            if found is None:
                inserts.append((*stored[index], batch_id, block.source_rows[index], all_keys[index]))
            elif found[1] == stored[index]:
                counts.unchanged += 1
            else:
                updates.append((*stored[index], batch_id, block.source_rows[index], found[0]))
        insert_count = len(inserts)
        insert_columns = [list(column) for column in zip(*inserts, strict=True)]
        del inserts
    counts.added, counts.updated = insert_count, len(updates)
    rebuild = insert_count > REBUILD_INDEXES_ABOVE and insert_count > len(existing)
    indexes = list(table.indexes) if rebuild else []
    for index in indexes:
        index.drop(connection)
    _insert_chunks(connection, table, insert_names, insert_columns, insert_count, f"Writing {spec.name}", progress,
                   cancel)
    _execute_chunks(connection, _update_sql(table, names), updates, len(updates), f"Updating {spec.name}",
                    progress, cancel)
    for position, index in enumerate(indexes, start=1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(position, len(indexes), f"Indexing {spec.name}")
        index.create(connection)
    return counts


def _has_value(column: Sequence[object]) -> bool:
    """Return whether any cell of a column is not None.

    Counting Nones compares by identity in C, so a column that is empty throughout is
    passed over several times faster than by testing each cell from Python.
    """
    return bool(column) and (column[0] is not None or column.count(None) < len(column))


def _existing_records(connection: Connection, table: Table, spec, keys: list[str]) -> dict[str, tuple]:
    """Return record_key -> (id, stored values and attributes) for the keys already stored."""
    stored_count = connection.execute(select(func.count()).select_from(table)).scalar_one()
    if not stored_count or not keys:
        return {}
    value_columns = [table.c[column_name(field_spec)] for field_spec in spec.fields] + [table.c.attributes]
    query = select(table.c.id, table.c.record_key, *value_columns)
    result: dict[str, tuple] = {}
    if stored_count <= 4 * len(keys):
        wanted = set(keys)
        for row in connection.execute(query):
            if row[1] in wanted:
                result[row[1]] = (row[0], tuple(row[2:]))
        return result
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        for row in connection.execute(query.where(table.c.record_key.in_(chunk))):
            result[row[1]] = (row[0], tuple(row[2:]))
    return result


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _insert_sql(table: Table, columns: list[str], rows: int = 1, literals: dict[int, str] | None = None) -> str:
    """Return an INSERT of ``rows`` records per statement, with the record_key last in each.

    ``literals`` gives SQL literals for the columns (by position) whose value every row shares.
    """
    literals = literals or {}
    names = ", ".join(_quoted(name) for name in [*columns, "record_key"])
    marks = "(" + ", ".join(literals.get(position, "?") for position in range(len(columns) + 1)) + ")"
    return f"INSERT INTO {_quoted(table.name)} ({names}) VALUES {', '.join([marks] * rows)}"


# Maximum length of a text written into an INSERT as a literal; a longer shared text is bound as usual.
_MAX_LITERAL_LENGTH = 200


def _sql_literal(value: object) -> str | None:
    """Return ``value`` as an SQL literal that stores what binding it stores, or None if it has none here.

    Only None, 64-bit integers and printable text up to _MAX_LITERAL_LENGTH characters
    qualify. Quotes in the text are doubled, so the literal cannot end early.
    """
    if value is None:
        return "NULL"
    if type(value) is int and -(2**63) <= value < 2**63:
        return str(value)
    if type(value) is str and len(value) <= _MAX_LITERAL_LENGTH and value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    return None


def _update_sql(table: Table, columns: list[str]) -> str:
    assignments = ", ".join(f"{_quoted(name)} = ?" for name in columns)
    return f"UPDATE {_quoted(table.name)} SET {assignments} WHERE id = ?"


def _insert_chunks(connection: Connection, table: Table, names: list[str], columns: list[Sequence[object]],
                   total: int, message: str, progress: ProgressCallback, cancel: CancelToken | None) -> None:
    """Insert ``total`` rows, given as one sequence per column, in the open transaction.

    ``columns`` contains the values of ``names`` and then the record keys. Each statement
    carries several rows, which costs SQLite a third less time per row than one statement
    per row, and stays within the 999 parameters that every SQLite build accepts. The rows
    of a chunk are laid out in one flat list by slice assignments, one per column, so
    that no Python loop runs per row.
    """
    if not total:
        return
    driver = _qmark_driver(connection)
    # A column with one value in every row (a single currency, the batch id) is written as
    # a literal in the statement instead of bound once per row: about 13% less insert time
    # for three such columns of fifteen. The record keys always differ.
    literals = {position: literal for position, column in enumerate(columns[:-1])
                if same_throughout(column) and (literal := _sql_literal(column[0])) is not None}
    bound = [column for position, column in enumerate(columns) if position not in literals]
    width = len(bound)
    per_statement = max(1, MAX_PARAMETERS // width)
    many = _insert_sql(table, names, per_statement, literals)
    for start in range(0, total, WRITE_CHUNK):
        if cancel is not None:
            cancel.raise_if_cancelled()
        stop = min(start + WRITE_CHUNK, total)
        flat: list[object] = [None] * ((stop - start) * width)
        for position, column in enumerate(bound):
            flat[position::width] = column[start:stop]
        size = per_statement * width
        whole = (stop - start) // per_statement * size
        driver.executemany(many, [flat[offset:offset + size] for offset in range(0, whole, size)])
        if whole < len(flat):
            driver.execute(_insert_sql(table, names, (len(flat) - whole) // width, literals), flat[whole:])
        progress(stop, total, message)


def _execute_chunks(connection: Connection, sql: str, rows: Iterable[tuple], total: int, message: str,
                    progress: ProgressCallback, cancel: CancelToken | None) -> None:
    """Run one statement for many rows through the driver's executemany, in the open transaction."""
    if not total:
        return
    driver = _qmark_driver(connection)
    iterator = iter(rows)
    done = 0
    while done < total:
        if cancel is not None:
            cancel.raise_if_cancelled()
        chunk = list(islice(iterator, WRITE_CHUNK))
        if not chunk:
            break
        driver.executemany(sql, chunk)
        done += len(chunk)
        progress(done, total, message)


def _qmark_driver(connection: Connection):
    """Return the DB-API connection under ``connection``, which the bulk writes use directly."""
    if connection.dialect.paramstyle != "qmark":
        raise SpmError(f"importing into a {connection.dialect.name} workspace is not supported yet")
    return connection.connection.driver_connection


# --- aliases ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Alias:
    record_set: str
    field: str
    from_value: str
    to_value: str
    created_at: str
    created_by: str


def add_alias(workspace: Workspace, record_set_name: str, field_name: str, from_value: str, to_value: str) -> Alias:
    """Record that ``from_value`` in a field means ``to_value``; later imports apply it before checks."""
    spec = spec_of(record_set_name)
    if field_name not in spec.field_names:
        raise SpmError(f"{field_name!r} is not a field of {spec.name}; fields: {', '.join(spec.field_names)}")
    if spec.field(field_name).kind not in ("id", "text"):
        raise SpmError(f"aliases apply to text and identifier fields, but {field_name} is a "
                       f"{spec.field(field_name).kind} field; correct the value in the file instead")
    if not from_value.strip() or not to_value.strip() or from_value == to_value:
        raise SpmError("an alias needs two different, non-empty values: the value as spelled in files and the "
                       "value it stands for")
    with workspace.transaction() as unit:
        return _store_alias(unit, spec.name, field_name, from_value, to_value)


def _store_alias(unit: UnitOfWork, record_set_name: str, field_name: str, from_value: str, to_value: str) -> Alias:
    condition = ((aliases.c.record_set == record_set_name) & (aliases.c.field == field_name)
                 & (aliases.c.from_value == from_value))
    current = unit.connection.execute(select(aliases.c.to_value).where(condition)).scalar_one_or_none()
    now = _now()
    alias = Alias(record_set_name, field_name, from_value, to_value, now, unit.user)
    if current == to_value:
        return alias
    if current is None:
        unit.connection.execute(aliases.insert().values(record_set=record_set_name, field=field_name,
                                                        from_value=from_value, to_value=to_value, created_at=now,
                                                        created_by=unit.user))
    else:
        unit.connection.execute(aliases.update().where(condition).values(to_value=to_value, created_at=now,
                                                                         created_by=unit.user))
    unit.audit("alias.set", "alias", f"{record_set_name}.{field_name}:{from_value}",
               before=None if current is None else {"to": current}, after={"to": to_value})
    return alias


def list_aliases(workspace: Workspace, record_set_name: str | None = None) -> list[Alias]:
    query = select(aliases).order_by(aliases.c.record_set, aliases.c.field, aliases.c.from_value)
    if record_set_name is not None:
        query = query.where(aliases.c.record_set == spec_of(record_set_name).name)
    with workspace.read() as connection:
        return [Alias(row.record_set, row.field, row.from_value, row.to_value, row.created_at, row.created_by)
                for row in connection.execute(query)]


def remove_alias(workspace: Workspace, record_set_name: str, field_name: str, from_value: str) -> None:
    name = spec_of(record_set_name).name
    condition = (aliases.c.record_set == name) & (aliases.c.field == field_name) & (aliases.c.from_value == from_value)
    with workspace.transaction() as unit:
        current = unit.connection.execute(select(aliases.c.to_value).where(condition)).scalar_one_or_none()
        if current is None:
            raise NotFoundError(f"no alias for {from_value!r} in {name}.{field_name}; list them with 'spm alias list'")
        unit.connection.execute(aliases.delete().where(condition))
        unit.audit("alias.remove", "alias", f"{name}.{field_name}:{from_value}", before={"to": current})


def _record_mapping_aliases(unit: UnitOfWork, parsed: ParsedImport) -> None:
    for field_name, pairs in parsed.mapping.aliases.items():
        for old, new in pairs.items():
            _store_alias(unit, parsed.record_set, field_name, old, new)


# --- saved mappings -----------------------------------------------------------------------

@dataclass(frozen=True)
class SavedMapping:
    mapping_id: int
    record_set: str
    name: str
    file_pattern: str | None
    headers: list[str]
    mapping: Mapping
    updated_at: str


def save_mapping(workspace: Workspace, mapping: Mapping, headers: list[str], file_name: str,
                 name: str | None = None) -> str:
    """Save a mapping for files like this one (same header signature); returns its name."""
    with workspace.transaction() as unit:
        return _save_mapping_in(unit, mapping, headers, file_name, name)


def _save_mapping_in(unit: UnitOfWork, mapping: Mapping, headers: list[str], file_name: str,
                     name: str | None = None) -> str:
    canonical = mapping.canonical_set
    signature = header_signature(headers)
    document = canonical_json(mapping.to_document())
    connection = unit.connection
    existing = connection.execute(select(saved_mappings).where(saved_mappings.c.record_set == canonical)
                                  .where(saved_mappings.c.header_signature == signature)).first()
    name = name or (existing.name if existing is not None else f"{canonical}: {file_pattern(file_name)}")
    now = _now()
    values = {"record_set": canonical, "name": name, "file_pattern": file_pattern(file_name),
              "header_signature": signature, "headers": canonical_json(headers), "mapping": document,
              "updated_at": now, "updated_by": unit.user}
    if existing is not None:
        if existing.mapping == document and existing.name == name:
            return name
        connection.execute(saved_mappings.update().where(saved_mappings.c.id == existing.id).values(**values))
        unit.audit("mapping.save", "saved_mapping", name, before=json.loads(existing.mapping),
                   after=mapping.to_document())
        return name
    clash = connection.execute(select(saved_mappings.c.id).where(saved_mappings.c.record_set == canonical)
                               .where(saved_mappings.c.name == name)).scalar_one_or_none()
    if clash is not None:
        name = f"{name} ({now})"
        values["name"] = name
    connection.execute(saved_mappings.insert().values(created_at=now, **values))
    unit.audit("mapping.save", "saved_mapping", name, after=mapping.to_document())
    return name


def list_saved_mappings(workspace: Workspace, record_set_name: str | None = None) -> list[SavedMapping]:
    query = select(saved_mappings).order_by(saved_mappings.c.record_set, saved_mappings.c.name)
    if record_set_name is not None:
        query = query.where(saved_mappings.c.record_set == spec_of(record_set_name).name)
    with workspace.read() as connection:
        return [_saved(row) for row in connection.execute(query)]


def _saved(row) -> SavedMapping:
    try:
        mapping = mapping_from_document(json.loads(row.mapping), source=f"saved mapping {row.name!r}")
    except MappingError as error:
        raise SpmError(f"saved mapping {row.name!r} can no longer be read ({error}); save it again") from None
    return SavedMapping(row.id, row.record_set, row.name, row.file_pattern, json.loads(row.headers), mapping,
                        row.updated_at)


def find_saved_mapping(connection: Connection, record_set_name: str, headers: list[str],
                       file_name: str) -> tuple[Mapping, str] | None:
    """Return the saved mapping for a file: same headers first, then its name pattern, then similar headers."""
    canonical = spec_of(record_set_name).name
    rows = list(connection.execute(select(saved_mappings).where(saved_mappings.c.record_set == canonical)
                                   .order_by(saved_mappings.c.updated_at.desc())))
    signature = header_signature(headers)
    ranked = sorted(rows, key=lambda row: (
        row.header_signature == signature,
        bool(row.file_pattern) and fnmatch.fnmatch(file_name, row.file_pattern),
        header_similarity(json.loads(row.headers), headers),
    ), reverse=True)
    for row in ranked:
        similar = header_similarity(json.loads(row.headers), headers) >= SIMILAR_HEADERS
        if row.header_signature == signature or similar or (
                row.file_pattern and fnmatch.fnmatch(file_name, row.file_pattern) and not headers):
            saved = _saved(row)
            return saved.mapping, saved.name
    return None


def record_set_names() -> list[str]:
    return list(RECORD_SETS)
