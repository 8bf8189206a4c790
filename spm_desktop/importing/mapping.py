"""Column mappings: which source column feeds which field, and how cells are read.

A mapping is read from a ``mapping.yaml`` document (YAML 1.2, keys as plain strings, a
bare integer under ``columns`` is a 1-based column position and every other scalar is
text) or built by the wizard. Besides the documented keys it accepts:

* ``defaults``: a constant value for a field the file lacks (``quota_key: sales``);
* ``melt``: one record per listed column, for files that hold several values of one
  field side by side (average and end-of-day rates on one line);
* ``references``: lists of valid values for a field, read from another file
  (``product: {file: products.csv, column: product}``), relative to the mapping file;
* ``options.combined_separator`` (default ``/``): a participant cell such as
  ``DOR/KLE`` names several people who share the row equally;
* ``options.period_from_date``: ``quarter``, ``month`` or ``year`` turns a date in the
  ``period`` column into the label of the period that contains it;
* ``options.skip_totals`` (default true) and ``options.delimiter`` (default auto).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from spm_desktop.domain.records import RECORD_SET_ALIASES, RECORD_SETS, record_set
from spm_desktop.services.errors import SpmError

DATE_ORDERS = ("auto", "dmy", "mdy", "ymd")
DECIMAL_MARKS = ("auto", ".", ",")
PERIOD_KINDS = ("quarter", "month", "year")


class MappingError(SpmError):
    """A mapping document is invalid; the message names the key and the allowed values."""


@dataclass
class MappingOptions:
    date_order: str = "auto"
    decimal_mark: str = "auto"
    encoding: str = "auto"
    delimiter: str = "auto"
    combined_separator: str = "/"
    period_from_date: str | None = None
    skip_totals: bool = True


@dataclass
class Melt:
    """Turn several value columns of one row into one record each.

    ``field`` receives each column's value and ``type_field`` the column's label, so
    ``{field: rate, type_field: rate_type, columns: {average: 5, end_of_day: 6}}`` makes
    two fx_rates records of every source row.
    """

    field: str
    type_field: str
    columns: dict[str, str | int]


@dataclass
class Reference:
    """A list of valid values for one field, read from a file."""

    file: Path
    column: str | int
    sheet: str | None = None


@dataclass
class Mapping:
    record_set: str
    columns: dict[str, str | int] = field(default_factory=dict)
    sheet: str | None = None
    header_row: int | str = "auto"  # "auto", "none" or a 1-based row number
    options: MappingOptions = field(default_factory=MappingOptions)
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    melt: Melt | None = None
    references: dict[str, Reference] = field(default_factory=dict)

    @property
    def canonical_set(self) -> str:
        return RECORD_SET_ALIASES.get(self.record_set, self.record_set)

    def to_document(self) -> dict[str, Any]:
        """Return the mapping as plain data in the order of the YAML document."""
        document: dict[str, Any] = {"record_set": self.record_set}
        if self.sheet:
            document["sheet"] = self.sheet
        document["header_row"] = self.header_row
        document["columns"] = dict(self.columns)
        defaults = MappingOptions()
        options = {name: value for name, value in vars(self.options).items() if value != getattr(defaults, name)}
        document["options"] = {"date_order": self.options.date_order, "decimal_mark": self.options.decimal_mark,
                               "encoding": self.options.encoding, **options}
        if self.aliases:
            document["aliases"] = {name: dict(values) for name, values in self.aliases.items()}
        if self.defaults:
            document["defaults"] = dict(self.defaults)
        if self.melt is not None:
            document["melt"] = {"field": self.melt.field, "type_field": self.melt.type_field,
                                "columns": dict(self.melt.columns)}
        if self.references:
            document["references"] = {
                name: {"file": str(reference.file), "column": reference.column,
                       **({"sheet": reference.sheet} if reference.sheet else {})}
                for name, reference in self.references.items()
            }
        return document


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.version = (1, 2)
    return yaml


def load_mapping_file(path: Path) -> Mapping:
    """Read a mapping.yaml file; reference files are resolved relative to it."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise MappingError(f"cannot read the mapping {path} ({error.strerror}); check the path") from None
    return parse_mapping(text, source=str(path), base=Path(path).parent)


def parse_mapping(text: str, *, source: str = "mapping", base: Path | None = None) -> Mapping:
    """Parse a mapping document, raising MappingError naming the key at fault."""
    try:
        data = _plain(_yaml().load(text))
    except YAMLError as error:
        raise MappingError(f"{source} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise MappingError(f"{source} must be a YAML mapping with record_set and columns")
    return mapping_from_document(data, source=source, base=base)


def mapping_from_document(data: dict[str, Any], *, source: str = "mapping", base: Path | None = None) -> Mapping:
    known = {"record_set", "sheet", "header_row", "columns", "options", "aliases", "defaults", "melt", "references"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise MappingError(f"{source}: unknown key {unknown[0]!r}; expected one of: {', '.join(sorted(known))}")
    name = _text(data.get("record_set"), f"{source}: record_set")
    try:
        spec = record_set(name)
    except KeyError as error:
        raise MappingError(f"{source}: {error.args[0]}") from None
    mapping = Mapping(record_set=name)
    mapping.sheet = None if data.get("sheet") in (None, "") else str(data["sheet"])
    mapping.header_row = _header_row(data.get("header_row", "auto"), source)
    mapping.columns = _columns(data.get("columns") or {}, spec.field_names, f"{source}: columns")
    mapping.options = _options(data.get("options") or {}, source)
    mapping.aliases = _aliases(data.get("aliases") or {}, spec.field_names, source)
    mapping.defaults = {
        key: str(value) for key, value in _dict(data.get("defaults") or {}, f"{source}: defaults").items()
    }
    _check_fields(mapping.defaults, spec.field_names, f"{source}: defaults")
    if data.get("melt") is not None:
        mapping.melt = _melt(data["melt"], spec.field_names, source)
    mapping.references = _references(data.get("references") or {}, spec.field_names, source, base)
    return mapping


def _plain(value: Any) -> Any:
    """Turn ruamel's nodes into dicts, lists, int and str; floats and the like stay as their text."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{what} is missing; give it as text")
    return value.strip()


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MappingError(f"{what} must be a mapping of names to values")
    return value


def _header_row(value: Any, source: str) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, str) and value.strip().lower() in ("auto", "none"):
        return value.strip().lower()
    if isinstance(value, str) and value.strip().isdigit() and int(value) >= 1:
        return int(value)
    raise MappingError(f"{source}: header_row {value!r} is invalid; use auto, none or a row number from 1")


def _columns(value: Any, fields: tuple[str, ...], what: str) -> dict[str, str | int]:
    columns: dict[str, str | int] = {}
    for key, source_column in _dict(value, what).items():
        if isinstance(source_column, int) and not isinstance(source_column, bool):
            if source_column < 1:
                raise MappingError(f"{what}: position {source_column} of {key!r} must be 1 or more")
            columns[key] = source_column
        elif isinstance(source_column, str) and source_column.strip():
            columns[key] = source_column
        else:
            raise MappingError(f"{what}: {key!r} needs a column header or a 1-based position")
    _check_fields(columns, fields, what)
    return columns


def _check_fields(names: dict[str, Any], fields: tuple[str, ...], what: str) -> None:
    for name in names:
        if name not in fields:
            raise MappingError(f"{what}: {name!r} is not a field of this record set; fields: {', '.join(fields)}")


def _options(value: Any, source: str) -> MappingOptions:
    options = MappingOptions()
    for key, item in _dict(value, f"{source}: options").items():
        if key not in vars(options):
            raise MappingError(f"{source}: unknown option {key!r}; options: {', '.join(vars(options))}")
        text = str(item).strip() if item is not None else None
        if key == "skip_totals":
            options.skip_totals = item is True or (isinstance(item, str) and item.lower() in ("true", "yes"))
        elif key == "date_order":
            options.date_order = _choice(text, DATE_ORDERS, f"{source}: options.date_order")
        elif key == "decimal_mark":
            options.decimal_mark = _choice(text, DECIMAL_MARKS, f"{source}: options.decimal_mark")
        elif key == "period_from_date":
            options.period_from_date = None if text in (None, "", "none") else _choice(
                text, PERIOD_KINDS, f"{source}: options.period_from_date")
        elif key == "delimiter":
            options.delimiter = {"tab": "\t", "\\t": "\t"}.get(str(item), str(item)) if item else "auto"
        else:
            setattr(options, key, "" if item is None else str(item))
    return options


def _choice(value: str | None, choices: tuple[str, ...], what: str) -> str:
    if value not in choices:
        raise MappingError(f"{what} {value!r} is invalid; use one of: {', '.join(choices)}")
    return value


def _aliases(value: Any, fields: tuple[str, ...], source: str) -> dict[str, dict[str, str]]:
    result = {}
    for name, pairs in _dict(value, f"{source}: aliases").items():
        result[name] = {str(old): str(new) for old, new in _dict(pairs, f"{source}: aliases.{name}").items()}
    _check_fields(result, fields, f"{source}: aliases")
    return result


def _melt(value: Any, fields: tuple[str, ...], source: str) -> Melt:
    data = _dict(value, f"{source}: melt")
    melt = Melt(
        field=_text(data.get("field"), f"{source}: melt.field"),
        type_field=_text(data.get("type_field"), f"{source}: melt.type_field"),
        columns=_columns(data.get("columns") or {}, tuple(str(key) for key in (data.get("columns") or {})),
                         f"{source}: melt.columns"),
    )
    _check_fields({melt.field: 1, melt.type_field: 1}, fields, f"{source}: melt")
    if not melt.columns:
        raise MappingError(f"{source}: melt.columns must list at least one column")
    return melt


def _references(value: Any, fields: tuple[str, ...], source: str, base: Path | None) -> dict[str, Reference]:
    result = {}
    for name, item in _dict(value, f"{source}: references").items():
        data = _dict(item, f"{source}: references.{name}")
        file = Path(_text(data.get("file"), f"{source}: references.{name}.file"))
        if not file.is_absolute() and base is not None:
            file = base / file
        column = data.get("column", 1)
        result[name] = Reference(file, column if isinstance(column, int) else str(column), data.get("sheet"))
    _check_fields(result, fields, f"{source}: references")
    return result


def dump_mapping(mapping: Mapping) -> str:
    """Write a mapping as a YAML document that parse_mapping reads back unchanged."""
    import io

    stream = io.StringIO()
    yaml = _yaml()
    yaml.default_flow_style = False
    yaml.dump(mapping.to_document(), stream)
    text = stream.getvalue()
    return text.removeprefix("%YAML 1.2\n---\n")


# Header names that usual CRM, HR and ERP exports use for each field, normalised.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "deal_id": ("deal_id", "opportunity_id", "opportunity", "deal", "order_id", "invoice_id", "invoice_no",
                "invoice_number", "transaction_id", "order_no", "order_number", "id"),
    "line_id": ("line_id", "line", "line_no", "line_number", "item", "row_id"),
    "owner": ("owner", "sales_agent", "rep", "sales_rep", "salesperson", "seller", "agent", "account_owner",
              "opportunity_owner", "employee"),
    "amount": ("amount", "close_value", "value", "sales", "revenue", "deal_value", "net_amount", "total"),
    "currency": ("currency", "currency_code", "ccy"),
    "close_date": ("close_date", "closed_date", "order_date", "invoice_date", "booking_date", "date"),
    "created_date": ("created_date", "engage_date", "create_date", "created", "created_on"),
    "stage": ("stage", "deal_stage", "status", "opportunity_stage"),
    "product": ("product", "product_name", "item_name", "sku"),
    "customer": ("customer", "account", "client", "customer_name", "account_name"),
    "type": ("type", "transaction_type", "deal_type", "document_type"),
    "reference_deal_id": ("reference_deal_id", "original_deal_id", "original_order", "reference"),
    "quantity": ("quantity", "qty", "units"),
    "cost": ("cost", "cogs"),
    "participant_id": ("participant_id", "sales_agent", "employee_id", "rep_id", "rep", "person_id",
                       "businessentityid", "id"),
    "name": ("name", "full_name", "employee_name", "sales_agent"),
    "role": ("role", "title", "job_title", "position"),
    "manager_id": ("manager_id", "manager", "reports_to", "supervisor"),
    "region": ("region", "regional_office", "office"),
    "territory": ("territory", "territory_id", "territoryid"),
    "hire_date": ("hire_date", "start_date", "hired"),
    "termination_date": ("termination_date", "end_date", "left", "leave_date"),
    "ote": ("ote", "on_target_earnings"),
    "target_incentive": ("target_incentive", "target_bonus", "variable_target"),
    "payroll_id": ("payroll_id", "employee_number"),
    "email": ("email", "e_mail", "mail"),
    "start_date": ("start_date", "startdate", "valid_from", "effective_from"),
    "end_date": ("end_date", "enddate", "valid_to", "effective_to"),
    "share": ("share", "split", "percent", "percentage", "split_share"),
    "kind": ("kind", "split_kind", "split_type"),
    "quota_key": ("quota_key", "quota_type", "metric"),
    "period": ("period", "quarter", "month", "quota_period"),
    "changed_at": ("changed_at", "change_date", "modified", "timestamp"),
    "forecast_category": ("forecast_category", "forecast"),
    "date": ("date", "activity_date", "rate_date", "currencyratedate"),
    "count": ("count", "number", "activities"),
    "from_currency": ("from_currency", "fromcurrencycode", "source_currency", "from"),
    "to_currency": ("to_currency", "tocurrencycode", "target_currency", "to"),
    "rate": ("rate", "fx_rate", "exchange_rate", "averagerate"),
    "rate_type": ("rate_type",),
    "reason_code": ("reason_code", "reason"),
    "note": ("note", "notes", "comment", "description"),
}


def normalise_header(text: object) -> str:
    """Fold a header cell for comparison: lower case, runs of other characters as one "_"."""
    folded = re.sub(r"[^0-9a-z]+", "_", str(text or "").replace("\u00a0", " ").casefold())
    return folded.strip("_")


def header_signature(headers: list[str]) -> str:
    return "|".join(normalise_header(header) for header in headers if normalise_header(header))


def suggest_columns(record_set_name: str, headers: list[str]) -> dict[str, str]:
    """Suggest a header for each field: exact names and synonyms first, then close spellings."""
    spec = record_set(record_set_name)
    normalised = {normalise_header(header): header for header in reversed(headers) if normalise_header(header)}
    taken: set[str] = set()
    result: dict[str, str] = {}
    # Exact names and synonyms in order of preference, then close matches.
    for field_spec in spec.fields:
        for synonym in SYNONYMS.get(field_spec.name, (field_spec.name,)):
            if synonym in normalised and synonym not in taken:
                result[field_spec.name] = normalised[synonym]
                taken.add(synonym)
                break
    for field_spec in spec.fields:
        if field_spec.name in result:
            continue
        candidates = [name for name in normalised if name not in taken]
        close = difflib.get_close_matches(field_spec.name, candidates, n=1, cutoff=0.8)
        if close:
            result[field_spec.name] = normalised[close[0]]
            taken.add(close[0])
    # A required field may share a column with another field (a rep's name as their id).
    for field_spec in spec.fields:
        if field_spec.required and field_spec.name not in result:
            for synonym in SYNONYMS.get(field_spec.name, (field_spec.name,)):
                if synonym in normalised:
                    result[field_spec.name] = normalised[synonym]
                    break
    return result


def header_similarity(first: list[str], second: list[str]) -> float:
    """Return the Jaccard similarity of two header rows after normalisation (0 to 1)."""
    left = {normalise_header(item) for item in first if normalise_header(item)}
    right = {normalise_header(item) for item in second if normalise_header(item)}
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def file_pattern(file_name: str) -> str:
    """Generalise a file name to a glob, digits replaced: "sales_2017_q3.csv" -> "sales_*_q*.csv"."""
    return re.sub(r"\d+", "*", file_name)


def known_record_sets() -> list[str]:
    return [*RECORD_SETS, *RECORD_SET_ALIASES]
