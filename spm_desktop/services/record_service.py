"""Read imported records back as frames, counts and pages for the rest of the application.

``load_frame`` is how metrics, calculation, signals and tie-out read records. Its frame
follows the contract in ``domain.records``: one column per field in spec order, then
the extra attributes of the rows in order of first appearance. The lineage columns
come last. ``_row_id`` is the table row id, ``_batch_id`` the import batch that last
wrote the row (``<NA>`` for rows that no import wrote) and ``_source_row`` the 1-based
row in that batch's file. Tables with the demo flag add ``_generated`` (bool).

A record whose date lies outside the years ``FIRST_USABLE_YEAR`` to ``LAST_USABLE_YEAR``
is left out of the frame, because pandas' nanosecond timestamps cannot hold it.
``unusable_date_problems(frame)`` turns the records left out into error problems.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Select, Table, func, select

from spm_desktop.domain.problems import Problem
from spm_desktop.domain.records import (
    FIRST_USABLE_YEAR,
    LAST_USABLE_YEAR,
    RECORD_SETS,
    FieldSpec,
    RecordSetSpec,
    record_set,
)
from spm_desktop.store.tables.records import GENERATED_FLAG_SETS, RECORD_TABLES, column_name, import_batches

log = logging.getLogger(__name__)

# The field that places a record on the calendar when load_frame gets a date range
# without naming a field. Record sets missing here have no date of their own.
DEFAULT_DATE_FIELDS = {
    "deals": "close_date",
    "hierarchy": "start_date",
    "stage_history": "changed_at",
    "activities": "date",
    "fx_rates": "date",
}

LINEAGE_COLUMNS = ("_row_id", "_batch_id", "_source_row")

# datetime64[ns] represents 1677-09-21 00:12:44 to 2262-04-11 23:47:16. Whole years keep the
# rule easy to state: dates from 1678-01-01 to 2261-12-31 are usable.
_FIRST_USABLE_DAY = f"{FIRST_USABLE_YEAR:04d}-01-01"
_AFTER_LAST_USABLE_DAY = f"{LAST_USABLE_YEAR + 1:04d}-01-01"
UNUSABLE_DATES_ATTR = "unusable_dates"


@dataclass(frozen=True)
class UnusableDate:
    """A stored record left out of a frame because one of its dates is outside the usable years."""

    record_set: str
    key: str  # the filled natural key fields as 'name value, name value'
    field: str
    value: str
    row_id: int
    file_name: str | None
    source_row: int | None


def spec_of(name: str) -> RecordSetSpec:
    """Return the spec of a record set by name or alias, raising ValueError for an unknown name."""
    try:
        return record_set(name)
    except KeyError as error:
        raise ValueError(error.args[0]) from None


def table_of(name: str) -> Table:
    """Return the table of a record set by name or alias."""
    return RECORD_TABLES[spec_of(name).name]


def load_frame(connection: Connection, record_set: str, *, date_from: dt.date | str | None = None,
               date_to: dt.date | str | None = None, date_field: str | None = None,
               share_values: bool = False) -> pd.DataFrame:
    """Load the records of a set as a frame, optionally limited to a date range.

    ``date_from`` and ``date_to`` are inclusive and accept dates, datetimes or ISO text.
    They filter on ``date_field`` (default: close_date for deals, changed_at for
    stage_history, date for activities and fx_rates, start_date for hierarchy). Rows
    with no value in that field are left out when a range is given. Rows come in table order
    (import order). Raises ValueError for an unknown record set or date field.

    ``share_values`` makes equal text values of a column one object. That saves memory on
    large frames (1,000,000 deals of 12 filled fields: peak RSS about 0.9 GB instead of
    1.2 GB) but makes the load about 1.5 times slower (measured on a loaded 2-core machine).
    """
    spec = spec_of(record_set)
    table = RECORD_TABLES[spec.name]
    query = select(*_selected_columns(spec, table)).order_by(table.c.id)
    if date_from is not None or date_to is not None:
        query = query.where(*_date_conditions(spec, table, date_from, date_to, date_field))
    width = len(spec.fields) + 4 + (1 if spec.name in GENERATED_FLAG_SETS else 0)
    shared = [index for index, field in enumerate(spec.fields)
              if share_values and field.kind in ("id", "text", "date", "datetime", "decimal")]
    columns = _fetch_columns(connection, query, width, shared)
    columns, unusable = _without_unusable_dates(connection, spec, columns)
    frame = _frame_from_columns(spec, columns)
    frame.attrs[UNUSABLE_DATES_ATTR] = unusable
    return frame


def unusable_dates(frame: pd.DataFrame) -> list[UnusableDate]:
    """Return the records that ``load_frame`` left out of ``frame`` for a date outside the usable years."""
    return list(frame.attrs.get(UNUSABLE_DATES_ATTR, ()))


def unusable_date_problems(frame: pd.DataFrame) -> list[Problem]:
    """Return one error problem per record left out of ``frame`` for an unusable date."""
    problems = []
    for item in unusable_dates(frame):
        problems.append(Problem(
            "records.date_out_of_range",
            f"{item.record_set} record ({item.key}) has {item.field} {item.value}, outside the usable years "
            f"{FIRST_USABLE_YEAR} to {LAST_USABLE_YEAR}, so it is left out; correct the date and re-import "
            f"the {item.record_set}",
            "error", file=item.file_name, row=item.source_row, column=item.field, value=item.value))
    return problems


def _without_unusable_dates(connection: Connection, spec: RecordSetSpec,
                            columns: list[np.ndarray]) -> tuple[list[np.ndarray], list[UnusableDate]]:
    """Remove the rows with a date outside the usable years from the fetched columns and describe them."""
    outside: np.ndarray | None = None
    for index, field in enumerate(spec.fields):
        if field.kind not in ("date", "datetime"):
            continue
        mask = _outside_usable_years(columns[index])
        if mask is not None:
            outside = mask if outside is None else outside | mask
    if outside is None or not outside.any():
        return columns, []
    unusable = _describe_unusable(connection, spec, [column[outside] for column in columns])
    log.warning("left %d %s record(s) with a date outside %d-%d out of a frame", len(unusable), spec.name,
                FIRST_USABLE_YEAR, LAST_USABLE_YEAR)
    return [column[~outside] for column in columns], unusable


def _outside_usable_years(values: np.ndarray) -> np.ndarray | None:
    """Return a mask of the ISO date texts outside the usable years, or None when every date is usable."""
    present = values[values != None]  # noqa: E711 - an element-wise comparison with None
    if len(present) == 0:
        return None
    if str(present.min())[:10] >= _FIRST_USABLE_DAY and str(present.max())[:10] < _AFTER_LAST_USABLE_DAY:
        return None
    return np.fromiter((value is not None and not _FIRST_USABLE_DAY <= str(value)[:10] < _AFTER_LAST_USABLE_DAY
                        for value in values), dtype=bool, count=len(values))


def _describe_unusable(connection: Connection, spec: RecordSetSpec, columns: list[np.ndarray]) -> list[UnusableDate]:
    position = len(spec.fields)
    key_positions = [spec.field_names.index(name) for name in spec.natural_key]
    batch_ids = {int(batch) for batch in columns[position + 2] if batch is not None}
    file_names: dict[int, str] = {}
    if batch_ids:
        query = select(import_batches.c.id, import_batches.c.file_name).where(import_batches.c.id.in_(batch_ids))
        file_names = {row.id: row.file_name for row in connection.execute(query)}
    found = []
    for row in range(len(columns[0])):
        key = ", ".join(f"{spec.fields[index].name} {columns[index][row]}" for index in key_positions
                        if columns[index][row] not in (None, ""))
        batch = columns[position + 2][row]
        for index, field in enumerate(spec.fields):
            value = columns[index][row]
            if field.kind not in ("date", "datetime") or value is None:
                continue
            if _FIRST_USABLE_DAY <= str(value)[:10] < _AFTER_LAST_USABLE_DAY:
                continue
            found.append(UnusableDate(spec.name, key, field.name, str(value), int(columns[position + 1][row]),
                                      file_names.get(batch), columns[position + 3][row]))
    return found


FETCH_CHUNK = 100_000


def _fetch_columns(connection: Connection, query: Select, width: int, shared: list[int]) -> list[np.ndarray]:
    """Run a query and return one object array per selected column.

    On SQLite the rows come through the driver's cursor in chunks, because building
    SQLAlchemy Row objects takes several times longer than the fetch itself for a
    million rows. Each chunk becomes a 2-D array at once, and the text columns listed in
    ``shared`` keep one object per distinct value (the driver makes one per cell).
    """
    if connection.dialect.name != "sqlite" or connection.dialect.paramstyle != "qmark":
        rows = [tuple(row) for row in connection.execute(query)]
        return _split_columns([np.array(rows, dtype=object).reshape(len(rows), width)], width)
    compiled = query.compile(dialect=connection.dialect)
    parameters = [compiled.params[name] for name in compiled.positiontup or ()]
    cursor = connection.connection.cursor()
    chunks: list[np.ndarray] = []
    caches: dict[int, dict | None] = {}
    try:
        cursor.execute(str(compiled), parameters)
        while True:
            rows = cursor.fetchmany(FETCH_CHUNK)
            if not rows:
                break
            chunk = np.array(rows, dtype=object).reshape(len(rows), width)
            del rows
            for index in shared:
                cache = caches.setdefault(index, {})
                if cache is not None:
                    column = chunk[:, index]
                    chunk[:, index] = list(map(cache.setdefault, column, column))
                    # A mostly distinct column (ids) is not worth a cache entry per value.
                    if len(cache) > len(column) // 2:
                        caches[index] = None
            chunks.append(chunk)
    finally:
        cursor.close()
    return _split_columns(chunks, width)


def _split_columns(chunks: list[np.ndarray], width: int) -> list[np.ndarray]:
    if not chunks:
        return [np.empty(0, dtype=object) for _ in range(width)]
    return [np.concatenate([chunk[:, index] for chunk in chunks]) for index in range(width)]


def _selected_columns(spec: RecordSetSpec, table: Table) -> list:
    columns = [table.c[column_name(field)] for field in spec.fields]
    columns += [table.c.attributes, table.c.id, table.c.batch_id, table.c.source_row]
    if spec.name in GENERATED_FLAG_SETS:
        columns.append(table.c.generated)
    return columns


def _date_conditions(spec: RecordSetSpec, table: Table, date_from: object, date_to: object,
                     date_field: str | None) -> list:
    field_name = date_field or DEFAULT_DATE_FIELDS.get(spec.name)
    if field_name is None:
        raise ValueError(f"record set {spec.name!r} has no date of its own; name the date_field to filter on")
    if field_name not in spec.field_names or spec.field(field_name).kind not in ("date", "datetime"):
        dates = [field.name for field in spec.fields if field.kind in ("date", "datetime")]
        raise ValueError(f"{field_name!r} is not a date field of {spec.name}; expected one of: {', '.join(dates)}")
    column = table.c[field_name]
    conditions = [column.is_not(None)]
    if date_from is not None:
        conditions.append(column >= _iso_day(date_from))
    if date_to is not None:
        # A datetime column contains 'YYYY-MM-DD HH:MM:SS', which sorts after the bare day.
        conditions.append(column < _iso_day(_next_day(date_to)))
    return conditions


def _iso_day(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip()[:10]).isoformat()
    raise ValueError(f"{value!r} is not a date; pass a date or 'YYYY-MM-DD'")


def _next_day(value: object) -> dt.date:
    return dt.date.fromisoformat(_iso_day(value)) + dt.timedelta(days=1)


def _frame_from_columns(spec: RecordSetSpec, columns: list[np.ndarray]) -> pd.DataFrame:
    data: dict[str, object] = {}
    for index, field in enumerate(spec.fields):
        data[field.name] = _field_series(field, columns[index])
    position = len(spec.fields)
    attributes = _attribute_columns(columns[position], data.keys())
    data.update(attributes)
    data["_row_id"] = pd.Series(np.asarray(columns[position + 1], dtype=np.int64), dtype="int64")
    data["_batch_id"] = pd.array(columns[position + 2], dtype="Int64")
    data["_source_row"] = pd.array(columns[position + 3], dtype="Int64")
    if spec.name in GENERATED_FLAG_SETS:
        data["_generated"] = pd.Series(np.asarray(columns[position + 4], dtype=bool), dtype=bool)
    return pd.DataFrame(data)


def _field_series(field: FieldSpec, values: Sequence[object]) -> object:
    if field.kind in ("money", "integer"):
        return pd.array(values, dtype="Int64")
    if field.kind == "decimal":
        return pd.Series(_decimals(values), dtype=object)
    if field.kind == "date":
        return pd.Series(pd.to_datetime(pd.Series(values, dtype=object), format="%Y-%m-%d")).astype("datetime64[ns]")
    if field.kind == "datetime":
        parsed = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601")
        return pd.Series(parsed).astype("datetime64[ns]")
    return pd.Series(values, dtype=object)


def _decimals(values: Sequence[object]) -> list[Decimal | None]:
    cache: dict[str, Decimal] = {}
    result: list[Decimal | None] = []
    for value in values:
        if value is None:
            result.append(None)
            continue
        number = cache.get(value)  # type: ignore[arg-type]
        if number is None:
            number = cache[value] = Decimal(value)  # type: ignore[index,arg-type]
        result.append(number)
    return result


def _attribute_columns(texts: Sequence[str | None], taken: object) -> dict[str, pd.Series]:
    """Expand the JSON attribute objects into one object column per attribute name."""
    parsed_by_text: dict[str, dict[str, object]] = {}
    parsed: list[dict[str, object] | None] = []
    names: dict[str, None] = {}
    for text in texts:
        if not text:
            parsed.append(None)
            continue
        values = parsed_by_text.get(text)
        if values is None:
            values = parsed_by_text[text] = json.loads(text)
            names.update(dict.fromkeys(values))
        parsed.append(values)
    taken_names = set(taken)  # type: ignore[arg-type]
    columns: dict[str, pd.Series] = {}
    for name in names:
        label = name if name not in taken_names and not name.startswith("_") else f"attr:{name}"
        columns[label] = pd.Series([None if row is None else row.get(name) for row in parsed], dtype=object)
    return columns


@dataclass(frozen=True)
class ParticipantSummary:
    """The fields of a participant that pickers, joins and reports need."""

    participant_id: str
    name: str
    role: str | None
    manager_id: str | None
    region: str | None
    territory: str | None
    hire_date: dt.date | None
    termination_date: dt.date | None
    currency: str | None
    email: str | None


def list_participants(connection: Connection) -> list[ParticipantSummary]:
    """Return every imported participant, ordered by participant_id (code-point order)."""
    table = RECORD_TABLES["participants"]
    query = select(table.c.participant_id, table.c.name, table.c.role, table.c.manager_id, table.c.region,
                   table.c.territory, table.c.hire_date, table.c.termination_date, table.c.currency,
                   table.c.email).order_by(table.c.participant_id)
    result = []
    for row in connection.execute(query):
        result.append(ParticipantSummary(
            row.participant_id, row.name, row.role, row.manager_id, row.region, row.territory,
            _date_or_none(row.hire_date), _date_or_none(row.termination_date), row.currency, row.email,
        ))
    return result


def participant_ids(connection: Connection) -> set[str]:
    table = RECORD_TABLES["participants"]
    return {value for (value,) in connection.execute(select(table.c.participant_id))}


def _date_or_none(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


def record_counts(connection: Connection) -> dict[str, int]:
    """Return the number of stored records of every record set, in spec order."""
    return {
        name: connection.execute(select(func.count()).select_from(RECORD_TABLES[name])).scalar_one()
        for name in RECORD_SETS
    }


def count_records(connection: Connection, record_set: str) -> int:
    table = table_of(record_set)
    return connection.execute(select(func.count()).select_from(table)).scalar_one()


def browse_header(record_set: str) -> list[str]:
    """Return the column titles of ``fetch_page`` rows: the fields, then attributes, batch and row."""
    spec = spec_of(record_set)
    return [*spec.field_names, "attributes", "batch", "source row"]


def fetch_page(connection: Connection, record_set: str, offset: int, limit: int) -> list[tuple]:
    """Return rows of a record set for display, in import order, with money as Decimal and attributes as JSON."""
    spec = spec_of(record_set)
    table = RECORD_TABLES[spec.name]
    columns = [table.c[column_name(field)] for field in spec.fields]
    query = (select(*columns, table.c.attributes, table.c.batch_id, table.c.source_row)
             .order_by(table.c.id).offset(offset).limit(limit))
    money_positions = [index for index, field in enumerate(spec.fields) if field.kind == "money"]
    rows = []
    for row in connection.execute(query):
        values = list(row)
        for index in money_positions:
            if values[index] is not None:
                values[index] = Decimal(values[index]).scaleb(-4)
        rows.append(tuple(values))
    return rows


@dataclass(frozen=True)
class BatchSummary:
    """One import batch as the data area and the command line list it."""

    batch_id: int
    record_set: str
    file_name: str
    file_sha256: str
    sheet: str | None
    imported_at: str
    imported_by: str
    rows_read: int
    added: int
    updated: int
    unchanged: int
    duplicates: int
    rejected: int
    skipped: int
    problem_count: int


def list_batches(connection: Connection, record_set: str | None = None) -> list[BatchSummary]:
    """Return import batches, newest first, optionally of one record set."""
    query = select(import_batches).order_by(import_batches.c.id.desc())
    if record_set is not None:
        query = query.where(import_batches.c.record_set == spec_of(record_set).name)
    return [
        BatchSummary(row.id, row.record_set, row.file_name, row.file_sha256, row.sheet, row.imported_at,
                     row.imported_by, row.rows_read, row.added, row.updated, row.unchanged, row.duplicates,
                     row.rejected, row.skipped, row.problem_count)
        for row in connection.execute(query)
    ]
