"""Drill-down from a stored result to its lines, and from a line to its deal and import row.

A result row links to its lines through ``result_lines.result_id``, and a TOTAL row to
every line of its participant in the run. A line links to the deal record
(``deal_row_id``) and to the import batch and spreadsheet row it came from.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, select

from spm_desktop.domain.money import from_minor
from spm_desktop.services.calc.results import decimal_or_none
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import NotFoundError
from spm_desktop.store.tables.calc import result_lines, results


@dataclass(frozen=True)
class StoredLine:
    """One stored result line: how a deal, reversal, clawback, draw, hold or adjustment reached a result."""

    id: int
    run_id: int
    result_id: int | None
    participant_id: str
    plan: str
    component: str
    line_kind: str
    deal_row_id: int | None
    deal_id: str | None
    line_id: str | None
    credit_date: dt.date | None
    share: Decimal | None
    credit_kind: str | None
    via_participant_id: str | None
    amount: Decimal | None
    deal_currency: str | None
    credited: Decimal | None
    fx_rate: Decimal | None
    bands: list[str]
    rates: list[str]
    exact_earnings: Decimal | None
    earnings: Decimal
    paid_now: Decimal
    held: Decimal
    currency: str
    source_batch: int | None
    source_row: int | None
    note: str | None


def _json_list(text: str | None) -> list[str]:
    return [] if not text else [str(item) for item in json.loads(text)]


def stored_line(row: object) -> StoredLine:
    """Convert one stored ``result_lines`` row into a ``StoredLine`` (money as Decimal)."""
    r = row  # type: ignore[assignment]
    return StoredLine(
        r.id, r.run_id, r.result_id, r.participant_id, r.plan, r.component, r.line_kind,  # type: ignore[attr-defined]
        r.deal_row_id, r.deal_id, r.line_id, r.credit_date, decimal_or_none(r.share),  # type: ignore[attr-defined]
        r.credit_kind, r.via_participant_id, decimal_or_none(r.amount), r.deal_currency,  # type: ignore[attr-defined]
        decimal_or_none(r.credited), decimal_or_none(r.fx_rate),  # type: ignore[attr-defined]
        _json_list(r.bands), _json_list(r.rates), decimal_or_none(r.exact_earnings),  # type: ignore[attr-defined]
        from_minor(r.earnings_minor, r.currency), from_minor(r.paid_now_minor, r.currency),  # type: ignore[attr-defined]
        from_minor(r.held_minor, r.currency), r.currency,  # type: ignore[attr-defined]
        r.source_batch, r.source_row, r.note,  # type: ignore[attr-defined]
    )


def lines_of_result(workspace: Workspace, result_id: int) -> list[StoredLine]:
    """Return the lines behind one result row, in (credit date, deal id) order as the engine made them."""
    return [stored_line(line) for line in line_rows_of_result(workspace, result_id)]


def line_rows_of_result(workspace: Workspace, result_id: int) -> list[object]:
    """Return the ``result_lines`` rows behind one result row as stored, in ``lines_of_result`` order.

    Reading 100,000 rows this way is several times faster than building ``StoredLine``
    objects for all of them, so a view can convert only the rows it shows with ``stored_line``.
    """
    with workspace.read() as connection:
        row = connection.execute(select(results).where(results.c.id == result_id)).first()
        if row is None:
            raise NotFoundError(f"result row {result_id} not found")
        query = select(result_lines).where(result_lines.c.run_id == row.run_id,
                                           result_lines.c.participant_id == row.participant_id)
        if row.row_kind != "total":
            query = query.where(result_lines.c.result_id == result_id)
        return list(connection.execute(query.order_by(result_lines.c.id)).all())


@dataclass(frozen=True)
class LineSource:
    """Origin of a line's deal: the import batch, file and row, and the record as stored."""

    line_id: int
    deal_row_id: int | None
    batch_id: int | None
    file_name: str | None
    sheet: str | None
    source_row: int | None
    imported_at: str | None
    imported_by: str | None
    record: dict[str, object]


def line_source(workspace: Workspace, line_id: int) -> LineSource:
    """Follow a result line to the deal record and the spreadsheet row it was imported from.

    ``record`` contains the deal's fields by their canonical names (money as Decimal), then
    its extra attributes, as ``spm data export`` shows them.
    """
    from spm_desktop.store.tables.records import deals, import_batches

    with workspace.read() as connection:
        line = connection.execute(select(result_lines).where(result_lines.c.id == line_id)).first()
        if line is None:
            raise NotFoundError(f"result line {line_id} not found")
        record: dict[str, object] = {}
        if line.deal_row_id is not None:
            deal = connection.execute(select(deals).where(deals.c.id == line.deal_row_id)).first()
            if deal is not None:
                record = _deal_fields(deal)
        batch = None
        if line.source_batch is not None:
            batch = connection.execute(select(import_batches).where(import_batches.c.id == line.source_batch)).first()
    return LineSource(
        line_id, line.deal_row_id, line.source_batch,
        None if batch is None else batch.file_name, None if batch is None else batch.sheet,
        line.source_row, None if batch is None else batch.imported_at, None if batch is None else batch.imported_by,
        record,
    )


def _deal_fields(deal: object) -> dict[str, object]:
    from spm_desktop.domain.money import from_record_units
    from spm_desktop.domain.records import record_set
    from spm_desktop.store.tables.records import column_name

    values = deal._mapping  # type: ignore[attr-defined]
    fields: dict[str, object] = {}
    for spec in record_set("deals").fields:
        value = values[column_name(spec)]
        fields[spec.name] = from_record_units(value) if spec.kind == "money" and value is not None else value
    if values["attributes"]:
        fields.update(json.loads(values["attributes"]))
    return fields


def iter_lines(connection: Connection, run_id: int) -> Iterator[StoredLine]:
    query = select(result_lines).where(result_lines.c.run_id == run_id).order_by(result_lines.c.id)
    for row in connection.execute(query.execution_options(yield_per=10_000)):
        yield stored_line(row)
