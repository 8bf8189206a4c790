"""Export the imported records of a set as .csv or .xlsx.

Columns are the record set's fields in spec order, then the extra attributes in order
of first appearance. Dates are ISO ``YYYY-MM-DD`` (datetimes ``YYYY-MM-DD HH:MM:SS``),
identifiers stay text, and money is written with its currency's minor unit (two
decimals when a record has no currency), rounded half up. Every text cell goes through
``exporting.safe`` so no exported value can run as a spreadsheet formula.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from pathlib import Path

import pandas as pd

from spm_desktop.domain.money import from_record_units, round_money
from spm_desktop.domain.records import RecordSetSpec
from spm_desktop.exporting import safe
from spm_desktop.services import record_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import SpmError

log = logging.getLogger(__name__)

DEFAULT_CURRENCY = "USD"


def export_records(workspace: Workspace, record_set_name: str, target: Path | str) -> int:
    """Write a record set to .csv or .xlsx and return the number of records written."""
    target = Path(target)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise SpmError(f"cannot export records to {target.name}: use a .csv or .xlsx file name")
    try:
        spec = record_service.spec_of(record_set_name)
    except ValueError as error:
        raise SpmError(str(error)) from None
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, spec.name)
    header, rows = export_rows(spec, frame)
    if suffix == ".csv":
        safe.write_csv(target, header, rows)
    else:
        _write_xlsx(target, spec.name, header, rows)
    with workspace.transaction() as unit:
        unit.audit("records.export", "record_set", spec.name, after={"file": target.name, "records": len(rows)})
    log.info("exported %d %s records to %s", len(rows), spec.name, target)
    return len(rows)


def export_rows(spec: RecordSetSpec, frame: pd.DataFrame) -> tuple[list[str], list[tuple]]:
    """Return the header and the rows of an export: fields in spec order, then attributes."""
    attribute_columns = [name for name in frame.columns if name not in spec.field_names and not name.startswith("_")]
    header = [*spec.field_names, *attribute_columns]
    currencies = frame["currency"].tolist() if "currency" in frame.columns else [None] * len(frame)
    columns = []
    for field_spec in spec.fields:
        values = frame[field_spec.name].tolist()
        if field_spec.kind == "money":
            columns.append([_money(value, currency) for value, currency in zip(values, currencies, strict=True)])
        elif field_spec.kind == "date":
            columns.append([_day(value) for value in values])
        elif field_spec.kind == "datetime":
            columns.append([_moment(value) for value in values])
        elif field_spec.kind == "integer":
            columns.append([None if pd.isna(value) else int(value) for value in values])
        else:
            columns.append(values)
    columns += [frame[name].tolist() for name in attribute_columns]
    return header, list(zip(*columns, strict=True)) if columns and len(frame) else []


def _money(value: object, currency: object) -> Decimal | None:
    if value is None or pd.isna(value):
        return None
    return round_money(from_record_units(int(value)), str(currency) if currency else DEFAULT_CURRENCY)


def _day(value: object) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date().isoformat()


def _moment(value: object) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime().isoformat(sep=" ", timespec="seconds")


def _write_xlsx(target: Path, sheet_name: str, header: list[str], rows: list[tuple]) -> None:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(target), {"constant_memory": True, "strings_to_formulas": False,
                                                 "strings_to_urls": False, "strings_to_numbers": False})
    workbook.set_properties({"created": dt.datetime(2000, 1, 1, tzinfo=dt.UTC).replace(tzinfo=None),
                             "author": "SPM Desktop"})
    formats = safe.standard_formats(workbook)
    sheet = workbook.add_worksheet(sheet_name[:31])
    # Dates stay ISO text, as in the CSV export, so no spreadsheet locale reinterprets them.
    safe.write_xlsx_table(sheet, header, rows, formats)
    workbook.close()
