"""Tie credits or payouts of a period out against finance's or payroll's own figures.

Steps: import their file through the import engine's readers, stored apart from the
record sets with its SHA-256. Read our side: the credits of the latest official runs
(else the deals passing the primary bookings metric), or the payouts of the approved
runs. Match with ``domain.tieout`` and store the tie-out with its figures. The admin
explains differences or turns them into adjustments, exports the report, and a second
user signs it off.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd
from ruamel.yaml.error import YAMLError
from sqlalchemy import Connection, and_, select

from spm_desktop.domain import money
from spm_desktop.domain import tieout as matching
from spm_desktop.domain.metrics import compile_metric
from spm_desktop.domain.problems import Problem, has_errors
from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.domain.records import FieldSpec, RecordSetSpec
from spm_desktop.importing import engine
from spm_desktop.importing.mapping import Mapping, normalise_header
from spm_desktop.importing.sources import Source
from spm_desktop.services import adjustment_service, metric_service, period_service, record_service
from spm_desktop.services.context import UnitOfWork, Workspace
from spm_desktop.services.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from spm_desktop.store.tables.calc import calc_runs, result_lines, results
from spm_desktop.store.tables.close import period_states
from spm_desktop.store.tables.metrics import metric_versions, metrics
from spm_desktop.store.tables.tieout import (
    TIEOUT_KINDS,
    tieout_explanations,
    tieout_id_map,
    tieout_rows,
    tieout_sources,
    tieouts,
)

log = logging.getLogger(__name__)

TOLERANCE_SETTING = "tieout.tolerance"  # {"absolute": "0.01", "relative": "0"} as text
# Result-line kinds that carry a deal's credit. Overlay and team credit repeat a deal's
# amount for a second person, so they are left out of the per-deal figure.
CREDIT_LINE_KINDS = ("sale", "reversal")
COUNTED_CREDIT_KINDS = (None, "owner", "split")
GRAINS = ("deal", "participant")

FIGURES_SPEC = RecordSetSpec(
    "tieout_figures",
    (
        FieldSpec("external_id", "id"), FieldSpec("our_id", "id"), FieldSpec("participant_id", "id"),
        FieldSpec("period", "text"), FieldSpec("customer", "text"), FieldSpec("date", "date"),
        FieldSpec("amount", "money", True), FieldSpec("currency", "text"), FieldSpec("note", "text"),
    ),
    (),
    "Figures from finance's or payroll's own system, kept apart from the record sets.",
)

# Header names (normalised) that suggest a field when no mapping is given.
SUGGESTED_HEADERS = {
    "external_id": ("external_id", "invoice", "invoice_number", "invoice_no", "invoice_id", "document_number",
                    "reference", "deal", "deal_id", "opportunity_id", "order_id", "id", "line_id"),
    "our_id": ("our_id", "crm_id", "crm_deal_id"),
    "participant_id": ("participant_id", "employee_id", "employee", "payroll_id", "sales_agent", "rep", "owner",
                       "participant"),
    "period": ("period",),
    "customer": ("customer", "account", "client", "customer_name"),
    "date": ("date", "close_date", "invoice_date", "pay_date", "posting_date", "booking_date"),
    "amount": ("amount", "close_value", "value", "revenue", "booking", "bookings", "net_amount", "paid",
               "gross_pay", "payout", "commission"),
    "currency": ("currency", "ccy", "currency_code"),
    "note": ("note", "description", "memo"),
}


# -- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedSource:
    id: int
    kind: str
    period: str
    file_name: str
    sha256: str
    row_count: int
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class OurSide:
    """Our figures of a period and where they came from."""

    figures: list[matching.Figure]
    currency: str
    basis: str
    run_ids: tuple[int, ...]
    calculated_by: str | None


@dataclass
class TieoutReport:
    """A stored tie-out: its findings, their explanations and its sign-off."""

    id: int
    period: str
    kind: str
    source: ImportedSource
    result: matching.TieoutResult
    basis: str
    options: matching.MatchOptions
    explanations: dict[str, dict[str, object]] = field(default_factory=dict)
    signed_off_by: str | None = None
    signed_off_at: str | None = None
    created_by: str = ""
    grain: str = "deal"
    metric: str | None = None

    @property
    def unexplained(self) -> list[matching.TieoutLine]:
        return [line for line in self.result.lines
                if line.status not in (matching.MATCHED, matching.WITHIN_TOLERANCE)
                and line.key not in self.explanations]


# -- options ----------------------------------------------------------------------------


def parse_tolerance(text: str) -> tuple[Decimal, Decimal]:
    """Read a tolerance: ``0.01`` is an absolute amount, ``1%`` a relative one, ``0.01,1%`` both."""
    absolute, relative = Decimal(0), Decimal(0)
    for part in (item.strip() for item in text.split(",") if item.strip()):
        try:
            if part.endswith("%"):
                relative = money.to_decimal(part[:-1]) / 100
            else:
                absolute = money.to_decimal(part)
        except money.MoneyError:
            raise ValidationError(f"tolerance {part!r} is invalid; give an amount such as 0.01, a percentage "
                                  "such as 0.5%, or both separated by a comma") from None
    return absolute, relative


def default_options(workspace: Workspace, key_fields: Sequence[str] = (), date_window_days: int = 0,
                    tolerance: str | None = None) -> matching.MatchOptions:
    """Build matching options; the tolerance falls back on the workspace setting ``tieout.tolerance``."""
    if tolerance is None:
        stored = workspace.get_setting(TOLERANCE_SETTING, {}) or {}
        absolute = money.to_decimal(str(stored.get("absolute", "0"))) if isinstance(stored, dict) else Decimal(0)
        relative = money.to_decimal(str(stored.get("relative", "0"))) if isinstance(stored, dict) else Decimal(0)
    else:
        absolute, relative = parse_tolerance(tolerance)
    options = matching.MatchOptions(tuple(key_fields), date_window_days, absolute, relative)
    try:
        options.check()
    except matching.TieoutError as error:
        raise ValidationError(str(error)) from None
    return options


def _check_kind(kind: str) -> None:
    if kind not in TIEOUT_KINDS:
        raise ValidationError(f"tie-out kind {kind!r} is invalid; use one of: {', '.join(TIEOUT_KINDS)}")


# -- their side: import ---------------------------------------------------------------------


def suggest_columns(headers: Sequence[str]) -> dict[str, str]:
    """Suggest the figure field of each header that has a familiar name."""
    suggested: dict[str, str] = {}
    used_headers: set[str] = set()
    for field_name, names in SUGGESTED_HEADERS.items():
        for name in names:
            for header in headers:
                if header and header not in used_headers and normalise_header(header) == name:
                    suggested[field_name] = header
                    used_headers.add(header)
                    break
            if field_name in suggested:
                break
    return suggested


def file_headers(path: Path | str, sheet: str | None = None) -> list[str]:
    """Return the header cells of a file, as the import engine finds the header row."""
    source = Source(Path(path), sheet)
    try:
        sample = source.sample(engine.SAMPLE_ROWS)
        index = engine._header_index(None, sample, FIGURES_SPEC.name)
        return engine._header_cells(sample, index, source.info)
    finally:
        source.close()


def load_mapping(path: Path | str) -> Mapping:
    """Read a mapping.yaml for figures (``record_set`` may be omitted); columns name the figure fields."""
    from spm_desktop.importing import mapping as mapping_module

    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ValidationError(f"cannot read the mapping {path} ({error.strerror}); check the path") from None
    try:
        data = mapping_module._plain(mapping_module._yaml().load(text))
    except YAMLError as error:
        raise ValidationError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ValidationError(f"{path} must be a YAML mapping with columns")
    source = str(path)
    unknown = sorted(set(data) - {"record_set", "sheet", "header_row", "columns", "options", "defaults"})
    if unknown:
        raise ValidationError(f"{source}: unknown key {unknown[0]!r}; expected sheet, header_row, columns, "
                              "options or defaults")
    result = Mapping(FIGURES_SPEC.name)
    result.sheet = None if data.get("sheet") in (None, "") else str(data["sheet"])
    result.header_row = mapping_module._header_row(data.get("header_row", "auto"), source)
    result.columns = mapping_module._columns(data.get("columns") or {}, FIGURES_SPEC.field_names,
                                             f"{source}: columns")
    result.options = mapping_module._options(data.get("options") or {}, source)
    result.defaults = {str(key): str(value) for key, value in (data.get("defaults") or {}).items()}
    mapping_module._check_fields(result.defaults, FIGURES_SPEC.field_names, f"{source}: defaults")
    return result


def read_figures(path: Path | str, mapping: Mapping | None = None, *, progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None) -> engine.ParsedImport:
    """Read a file of their figures with the import engine's readers, header detection and parsers.

    NOTE: the engine's ``read_import`` only accepts the workspace record sets, so this
    repeats its steps with the figures' own field list, calling the engine's helpers.
    """
    path = Path(path)
    if mapping is None:
        headers = file_headers(path)
        mapping = Mapping(FIGURES_SPEC.name, columns=dict(suggest_columns(headers)))
    source = Source(path, mapping.sheet, encoding=mapping.options.encoding, delimiter=mapping.options.delimiter)
    try:
        sample = source.sample(engine.SAMPLE_ROWS)
        header_index = engine._header_index(mapping, sample, FIGURES_SPEC.name)
        headers = engine._header_cells(sample, header_index, source.info)
        parsed = engine.ParsedImport(FIGURES_SPEC.name, FIGURES_SPEC.name, path, engine.file_sha256(path),
                                     source.info, mapping, None if header_index is None else header_index + 1,
                                     headers, sample)
        engine._report_source_facts(parsed)
        plan = engine._ColumnPlan.build(parsed, FIGURES_SPEC, header_index)
        if parsed.has_file_errors:
            return parsed
        columns, rows = engine._collect(source, parsed, plan, header_index, progress, cancel)
        if not rows:
            parsed.problems.append(Problem("no_records", "the file has no data rows below the header; check the "
                                           "sheet and the header row", "error", parsed.file_name, parsed.sheet))
            return parsed
        engine._build(parsed, FIGURES_SPEC, plan, columns, rows, engine.ImportFacts(), progress, cancel)
        return parsed
    finally:
        source.close()


def _figure_rows(parsed: engine.ParsedImport, by_participant: bool) -> list[dict[str, object]]:
    """Return the accepted figures as table rows; raises ValidationError for rows that name no id."""
    block = parsed.block
    assert block is not None
    values = block.values
    rows = []
    without_id = []
    for index in block.accepted_indexes:
        external_id = values["external_id"][index] or values["our_id"][index]
        if by_participant:
            external_id = external_id or values["participant_id"][index]
        if external_id is None:
            without_id.append(block.source_rows[index])
            continue
        day = values["date"][index]
        rows.append({
            "source_row": block.source_rows[index], "external_id": str(external_id),
            "our_id": values["our_id"][index], "participant_id": values["participant_id"][index],
            "period": values["period"][index], "customer": values["customer"][index],
            "date": None if day is None else str(day)[:10], "amount_e4": int(values["amount"][index]),
            "currency": (values["currency"][index] or None) and str(values["currency"][index]).upper(),
            "note": values["note"][index],
        })
    if without_id:
        row_list = ", ".join(str(row) for row in without_id[:10])
        raise ValidationError(f"{parsed.file_name}: rows {row_list} name no id or participant; fill the id column in "
                              "or remove the rows, because a figure without an id cannot be tied out")
    return rows


def _check_figure_columns(parsed: engine.ParsedImport, by_participant: bool) -> None:
    columns = parsed.mapping.columns
    needed = ("participant_id",) if by_participant else ("external_id", "our_id")
    if not any(name in columns for name in needed):
        header_list = ", ".join(header for header in parsed.headers if header) or "none"
        needed_column = "the participant (or payroll id)" if by_participant else "their id or our deal id"
        parsed.problems.append(Problem("field_not_mapped", f"no column gives {needed_column}; map "
                                       f"{' or '.join(needed)} to one of the headers: {header_list}", "error", parsed.file_name, parsed.sheet))


def import_figures(workspace: Workspace, kind: str, period: str, path: Path | str, mapping: Mapping | None = None,
                   *, grain: str = "deal", progress: ProgressCallback = no_progress,
                   cancel: CancelToken | None = None) -> ImportedSource:
    """Import finance's or payroll's figures for a period; all rows or none, with an audit entry.

    A file per participant (payouts, or credits with ``grain='participant'``) needs a
    participant column; a file per deal needs their id or our deal id.
    """
    _check_kind(kind)
    by_participant = _check_grain(kind, grain) == "participant"
    parsed = read_figures(path, mapping, progress=progress, cancel=cancel)
    if parsed.block is not None:
        _check_figure_columns(parsed, by_participant)
    if has_errors(parsed.problems) or parsed.block is None or parsed.rejected_count:
        errors = [problem for problem in parsed.problems if problem.severity == "error"]
        reason = str(errors[0]) if errors else "no figures found"
        raise ValidationError(f"{parsed.file_name} cannot be imported as {kind} figures: {reason}", parsed.problems)
    rows = _figure_rows(parsed, by_participant)
    with workspace.transaction() as unit:
        label = period_service.normalise_label(unit.connection, period)
        source_id = unit.connection.execute(tieout_sources.insert().values(
            kind=kind, period=label, file_name=parsed.file_name, sha256=parsed.sha256, sheet=parsed.sheet,
            mapping=json.dumps(parsed.mapping.columns, sort_keys=True), row_count=len(rows),
            imported_by=unit.user, imported_at=period_service.now_utc())).inserted_primary_key[0]
        unit.connection.execute(tieout_rows.insert(), [{**row, "source_id": source_id} for row in rows])
        unit.audit("tieout.import", "tieout_source", source_id, after={
            "kind": kind, "period": label, "file": parsed.file_name, "sha256": parsed.sha256, "rows": len(rows),
            "total": str(money.from_record_units(sum(int(row["amount_e4"]) for row in rows)))})  # type: ignore[arg-type]
    log.info("imported %d tie-out figures from %s as source %s", len(rows), parsed.file_name, source_id)
    return ImportedSource(source_id, kind, label, parsed.file_name, parsed.sha256, len(rows), parsed.problems)


def _source(connection: Connection, source_id: int) -> ImportedSource:
    row = connection.execute(select(tieout_sources).where(tieout_sources.c.id == source_id)).first()
    if row is None:
        raise NotFoundError(f"tie-out source {source_id} does not exist; import the file first")
    return ImportedSource(row.id, row.kind, row.period, row.file_name, row.sha256, row.row_count)


def _their_figures(connection: Connection, source: ImportedSource, grain: str,
                   currency: str) -> list[matching.Figure]:
    """Read their stored rows as figures; rows of another period than the tie-out's are left out."""
    rows = connection.execute(select(tieout_rows).where(tieout_rows.c.source_id == source.id)
                              .order_by(tieout_rows.c.id)).all()
    payroll_ids = _payroll_ids(connection) if grain == "participant" else {}
    figures = []
    for row in rows:
        if row.period and period_service.normalise_label(connection, row.period) != source.period:
            continue
        participant = row.participant_id
        participant = payroll_ids.get(participant, participant) if participant else participant
        figures.append(matching.Figure(
            row.external_id, money.from_record_units(row.amount_e4), row.currency or currency, participant,
            source.period, dt.date.fromisoformat(row.date) if row.date else None, row.customer, row.our_id,
            row.source_row, (row.external_id,)))
    return _by_grain(figures, grain)


def _by_grain(figures: list[matching.Figure], grain: str) -> list[matching.Figure]:
    if grain != "participant":
        return figures
    missing = [figure.record_id for figure in figures if not figure.participant_id]
    if missing:
        raise ValidationError(f"figures {', '.join(missing[:5])} name no participant; a tie-out per participant "
                              "needs the participant (or payroll id) on every row")
    try:
        return matching.combine(figures, "participant")
    except matching.TieoutError as error:
        raise ValidationError(str(error)) from None


def _payroll_ids(connection: Connection) -> dict[str, str]:
    frame = record_service.load_frame(connection, "participants")
    if frame.empty:
        return {}
    pairs = frame[["payroll_id", "participant_id"]].dropna()
    return {str(payroll): str(participant) for payroll, participant in pairs.itertuples(index=False)
            if payroll != participant}


# -- our side --------------------------------------------------------------------------


def _period_span(connection: Connection, label: str) -> tuple[dt.date, dt.date]:
    period = period_service.read_period(connection, label)
    if period is None:
        raise ValidationError(f"period {label!r} cannot be read; use a label such as 2017-Q3, 2017-07 or 2017")
    return period.start, period.end


def _official_runs(connection: Connection, label: str) -> list[object]:
    """Return the latest official, not superseded run of each plan period inside the period."""
    start, end = _period_span(connection, label)
    rows = connection.execute(select(calc_runs).where(
        calc_runs.c.kind == "official", calc_runs.c.superseded.is_(False),
        calc_runs.c.period_start >= start, calc_runs.c.period_end <= end).order_by(calc_runs.c.id)).all()
    latest: dict[str, object] = {}
    for row in rows:
        latest[row.period] = row
    return list(latest.values())


def _approved_runs(connection: Connection, label: str) -> list[int]:
    start, end = _period_span(connection, label)
    rows = connection.execute(select(period_states.c.approved_run_id).where(
        period_states.c.approved_run_id.is_not(None), period_states.c.state.in_(("approved", "closed")),
        period_states.c.start_date >= start, period_states.c.end_date <= end)).all()
    return [row[0] for row in rows]


def our_side(workspace: Workspace, kind: str, period: str, *, metric: str | None = None) -> OurSide:
    """Read our figures: credits per deal, or approved payouts per participant."""
    _check_kind(kind)
    with workspace.read() as connection:
        label = period_service.normalise_label(connection, period)
        runs = _official_runs(connection, label)
        calculated_by = runs[-1].user if runs else None  # type: ignore[attr-defined]
        if kind == "payouts":
            return _payouts(connection, label, calculated_by)
        if runs:
            return _credits_from_runs(connection, label, runs, calculated_by)
    return _credits_from_metric(workspace, label, metric)


def _payouts(connection: Connection, label: str, calculated_by: str | None) -> OurSide:
    run_ids = _approved_runs(connection, label)
    if not run_ids:
        raise ConflictError(f"no calculation of {label} is approved; approve it before tying payouts out")
    rows = connection.execute(select(results).where(results.c.run_id.in_(run_ids), results.c.row_kind == "total")
                              .order_by(results.c.participant_id)).all()
    figures = [matching.Figure(row.participant_id, money.from_minor(row.earnings_minor, row.currency), row.currency,
                               row.participant_id, row.period, records=(f"run {row.run_id}",)) for row in rows]
    try:
        figures = matching.combine(figures, "participant")
    except matching.TieoutError as error:
        raise ValidationError(str(error)) from None
    return OurSide(figures, _one_currency(figures), f"approved payouts (TOTAL rows) of run(s) "
                   f"{', '.join(map(str, run_ids))}", tuple(run_ids), calculated_by)


def _credits_from_runs(connection: Connection, label: str, runs: list, calculated_by: str | None) -> OurSide:
    run_ids = [run.id for run in runs]
    lines = connection.execute(select(result_lines).where(
        result_lines.c.run_id.in_(run_ids), result_lines.c.line_kind.in_(CREDIT_LINE_KINDS),
        result_lines.c.deal_id.is_not(None)).order_by(result_lines.c.id)).all()
    customers = _deal_customers(connection, {line.deal_row_id for line in lines if line.deal_row_id is not None})
    seen: set[tuple] = set()
    per_deal: dict[str, list[matching.Figure]] = {}
    for line in lines:
        if line.credit_kind not in COUNTED_CREDIT_KINDS:
            continue
        # A deal credited to several components of a plan is counted once per participant.
        identity = (line.run_id, line.deal_row_id, line.deal_id, line.line_id, line.participant_id)
        if identity in seen:
            continue
        seen.add(identity)
        credited = money.to_decimal(line.credited or "0")
        per_deal.setdefault(line.deal_id, []).append(matching.Figure(
            line.deal_id, credited, line.currency, line.participant_id, label, line.credit_date,
            customers.get(line.deal_row_id), source_row=line.source_row))
    figures = []
    for deal_id, parts in per_deal.items():
        try:
            figure = matching.combine(parts, "record")[0]
        except matching.TieoutError as error:
            raise ValidationError(f"deal {deal_id!r} is credited in several currencies: {error}") from None
        figures.append(matching.Figure(deal_id, figure.amount, figure.currency, parts[0].participant_id, label,
                                       figure.date, parts[0].customer, source_row=parts[0].source_row,
                                       records=tuple(part.participant_id or "" for part in parts)))
    return OurSide(figures, _one_currency(figures), f"credited amounts of official run(s) "
                   f"{', '.join(map(str, run_ids))}", tuple(run_ids), calculated_by)


def _deal_customers(connection: Connection, row_ids: set[int]) -> dict[int, str | None]:
    if not row_ids:
        return {}
    table = record_service.table_of("deals")
    rows = connection.execute(select(table.c.id, table.c.customer).where(table.c.id.in_(row_ids))).all()
    return {row.id: row.customer for row in rows}


def primary_bookings_metric(connection: Connection) -> str:
    """Return the key of the primary currency metric over deals; prefer one named for bookings."""
    rows = connection.execute(select(metric_versions.c.key, metric_versions.c.name).join(
        metrics, and_(metrics.c.key == metric_versions.c.key, metrics.c.current_version == metric_versions.c.version))
        .where(metric_versions.c.tier == "primary", metric_versions.c.unit == "currency",
               metric_versions.c.source.in_(("deals", "opportunities")), metrics.c.status != "retired")
        .order_by(metric_versions.c.key)).all()
    if len(rows) == 1:
        return rows[0].key
    named = [row.key for row in rows if "booking" in f"{row.key} {row.name}".casefold()]
    if len(named) == 1:
        return named[0]
    if not rows:
        raise NotFoundError("no primary currency metric over deals exists and no calculation ran; calculate the "
                            "period or name a metric")
    raise ConflictError(f"several primary metrics could be the bookings ({', '.join(row.key for row in rows)}); "
                        "name the one to use")


def _credits_from_metric(workspace: Workspace, label: str, metric: str | None) -> OurSide:
    with workspace.read() as connection:
        key = metric or primary_bookings_metric(connection)
        definition = metric_service.resolve(connection, key)
        start, end = _period_span(connection, label)
        frame = record_service.load_frame(connection, definition.source)
    compiled = compile_metric(definition, metric_service.field_kinds(definition.source, frame))
    selected = compiled.select(frame) & compiled.in_period(frame, start, end)
    chosen = frame.loc[selected.to_numpy()]
    currency = str(workspace.get_setting("currency", "USD") or "USD")
    figures = []
    for row in chosen.itertuples(index=False):
        amount = money.from_record_units(int(row.amount)) if not pd.isna(row.amount) else Decimal(0)
        day = None if pd.isna(row.close_date) else row.close_date.date()
        figures.append(matching.Figure(str(row.deal_id), amount, (row.currency or currency).upper(), row.owner, label,
                                       day, row.customer))
    # NOTE: the figure is the deal's amount; a metric whose value is another expression is not re-evaluated per deal.
    try:
        figures = matching.combine(figures, "record")
    except matching.TieoutError as error:
        raise ValidationError(str(error)) from None
    return OurSide(figures, _one_currency(figures, currency), f"deals passing metric {definition.key} "
                   f"(version {definition.version}); no official calculation of {label}", (), None)


def _one_currency(figures: Sequence[matching.Figure], default: str = "USD") -> str:
    currencies = sorted({figure.currency for figure in figures})
    if len(currencies) > 1:
        # NOTE: figures in several currencies keep their own; totals then add unlike units.
        log.warning("our tie-out figures are in several currencies: %s", ", ".join(currencies))
    return currencies[0] if currencies else default


# -- matching and storing ---------------------------------------------------------------


def id_map(connection: Connection, kind: str) -> dict[str, str]:
    rows = connection.execute(select(tieout_id_map.c.their_id, tieout_id_map.c.our_id)
                              .where(tieout_id_map.c.kind == kind)).all()
    return {row.their_id: row.our_id for row in rows}


def _fx_rates(connection: Connection) -> matching.FxRates:
    frame = record_service.load_frame(connection, "fx_rates")
    if frame.empty:
        return matching.FxRates()
    rows = [(day.date(), str(source), str(target), Decimal(rate))
            for day, source, target, rate in frame[["date", "from_currency", "to_currency", "rate"]]
            .itertuples(index=False)]
    return matching.FxRates(rows)


def _check_grain(kind: str, grain: str) -> str:
    if kind == "payouts":
        return "participant"
    if grain not in GRAINS:
        raise ValidationError(f"grain {grain!r} is invalid; use one of: {', '.join(GRAINS)}")
    return grain


def _match(workspace: Workspace, source: ImportedSource, options: matching.MatchOptions, grain: str,
           metric: str | None) -> tuple[matching.TieoutResult, OurSide]:
    ours = our_side(workspace, source.kind, source.period, metric=metric)
    figures = ours.figures if grain == "deal" or source.kind == "payouts" else _by_grain(ours.figures, grain)
    with workspace.read() as connection:
        theirs = _their_figures(connection, source, grain, ours.currency)
        saved = id_map(connection, source.kind)
        rates = _fx_rates(connection)
    try:
        result = matching.match(figures, theirs, options, currency=ours.currency, id_map=saved, rates=rates)
    except matching.TieoutError as error:
        raise ValidationError(str(error)) from None
    return result, ours


def run_tieout(workspace: Workspace, source_id: int, options: matching.MatchOptions, *, grain: str = "deal",
               metric: str | None = None, carry_from: int | None = None, progress: ProgressCallback = no_progress,
               cancel: CancelToken | None = None) -> TieoutReport:
    """Match an imported source against our side of its period and store the tie-out with its figures.

    ``grain`` is ``deal`` (their rows are deals or invoices) or ``participant`` (their
    rows and ours are summed per participant). Payouts are always per participant.
    ``metric`` picks the metric that selects credited deals when the
    period has no official calculation. ``carry_from`` names an earlier tie-out whose
    explanations are copied to the findings that still exist (after a pair is confirmed).
    """
    progress(0, 3, "reading our figures")
    with workspace.read() as connection:
        source = _source(connection, source_id)
    grain = _check_grain(source.kind, grain)
    result, ours = _match(workspace, source, options, grain, metric)
    if cancel is not None:
        cancel.raise_if_cancelled()
    progress(2, 3, "storing the tie-out")
    figures = figures_of(result)
    document = _options_document(options, grain, metric)
    with workspace.transaction() as unit:
        tieout_id = unit.connection.execute(tieouts.insert().values(
            period=source.period, kind=source.kind, source_id=source_id,
            run_id=ours.run_ids[-1] if ours.run_ids else None, basis=ours.basis,
            options=json.dumps(document, sort_keys=True), figures=json.dumps(figures, sort_keys=True),
            created_by=unit.user, created_at=period_service.now_utc())).inserted_primary_key[0]
        unit.audit("tieout.run", "tieout", tieout_id, after={
            "period": source.period, "kind": source.kind, "source": source_id, "file_sha256": source.sha256,
            "basis": ours.basis, "options": document, "figures": figures})
        if carry_from is not None:
            _carry_explanations(unit, carry_from, tieout_id, {line.key for line in result.lines})
        explanations = _explanations(unit.connection, tieout_id)
    progress(3, 3, "done")
    log.info("tie-out %s of %s %s stored", tieout_id, source.kind, source.period)
    return TieoutReport(tieout_id, source.period, source.kind, source, result, ours.basis, options, explanations,
                        created_by=workspace.user, grain=grain, metric=metric)


def _carry_explanations(unit: UnitOfWork, old_id: int, new_id: int, keys: set[str]) -> None:
    rows = unit.connection.execute(select(tieout_explanations).where(tieout_explanations.c.tieout_id == old_id)
                                   .order_by(tieout_explanations.c.id)).all()
    copied = [{**row._mapping, "tieout_id": new_id} for row in rows if row.line_key in keys]
    for values in copied:
        values.pop("id")
    if not copied:
        return
    unit.connection.execute(tieout_explanations.insert(), copied)
    unit.audit("tieout.explanations_carried", "tieout", new_id, after={
        "from": old_id, "lines": [values["line_key"] for values in copied]})


def tie_out_file(workspace: Workspace, kind: str, period: str, path: Path | str, options: matching.MatchOptions,
                 mapping: Mapping | None = None, *, grain: str = "deal", metric: str | None = None,
                 progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> TieoutReport:
    """Import their file and tie it out in one step (the command line's ``spm tieout``)."""
    source = import_figures(workspace, kind, period, path, mapping, grain=grain, progress=progress, cancel=cancel)
    return run_tieout(workspace, source.id, options, grain=grain, metric=metric, progress=progress, cancel=cancel)


def figures_of(result: matching.TieoutResult) -> dict[str, object]:
    """Return the totals and the count and amounts per status, as text for JSON and the audit trail."""
    theirs_total = result.theirs_total
    return {
        "currency": result.currency,
        "ours_total": str(result.ours_total),
        "theirs_total": None if theirs_total is None else str(theirs_total),
        "statuses": {status: {"count": summary.count, "ours": str(summary.ours), "theirs": str(summary.theirs)}
                     for status, summary in result.summary().items()},
    }


def _options_document(options: matching.MatchOptions, grain: str, metric: str | None) -> dict[str, object]:
    return {"key_fields": list(options.key_fields), "date_window_days": options.date_window_days,
            "absolute_tolerance": str(options.absolute_tolerance),
            "relative_tolerance": str(options.relative_tolerance), "grain": grain, "metric": metric}


def _options_from(document: dict) -> matching.MatchOptions:
    return matching.MatchOptions(tuple(document.get("key_fields", ())), int(document.get("date_window_days", 0)),
                                 Decimal(document.get("absolute_tolerance", "0")),
                                 Decimal(document.get("relative_tolerance", "0")))


def load_report(workspace: Workspace, tieout_id: int) -> TieoutReport:
    """Rebuild a stored tie-out's findings from its source and today's figures of our side.

    NOTE: our side is read again, so a recalculation after the tie-out changes the
    findings shown. The figures stored with the tie-out and its audit entry stay as they were.
    """
    with workspace.read() as connection:
        row = connection.execute(select(tieouts).where(tieouts.c.id == tieout_id)).first()
        if row is None:
            raise NotFoundError(f"tie-out {tieout_id} does not exist; run a tie-out first")
        source = _source(connection, row.source_id)
        explanations = _explanations(connection, tieout_id)
    document = json.loads(row.options)
    options = _options_from(document)
    grain, metric = document.get("grain", "deal"), document.get("metric")
    result, _ours = _match(workspace, source, options, grain, metric)
    return TieoutReport(row.id, row.period, row.kind, source, result, row.basis, options, explanations,
                        row.signed_off_by, row.signed_off_at, row.created_by, grain, metric)


def latest_tieout_id(workspace: Workspace, period: str, kind: str | None = None) -> int | None:
    with workspace.read() as connection:
        label = period_service.normalise_label(connection, period)
        query = select(tieouts.c.id).where(tieouts.c.period == label)
        if kind is not None:
            query = query.where(tieouts.c.kind == kind)
        return connection.execute(query.order_by(tieouts.c.id.desc()).limit(1)).scalar_one_or_none()


# -- id map, explanations and adjustments ---------------------------------------------


def confirm_pairs(workspace: Workspace, kind: str, pairs: Sequence[tuple[str, str]]) -> int:
    """Save confirmed (our id, their id) pairs so later tie-outs match them on id; returns pairs saved."""
    _check_kind(kind)
    saved = 0
    with workspace.transaction() as unit:
        current = id_map(unit.connection, kind)
        for our_id, their_id in pairs:
            if current.get(their_id) == our_id:
                continue
            before = current.get(their_id)
            values = {"our_id": our_id, "confirmed_by": unit.user, "confirmed_at": period_service.now_utc()}
            if before is None:
                unit.connection.execute(tieout_id_map.insert().values(kind=kind, their_id=their_id, **values))
            else:
                unit.connection.execute(tieout_id_map.update().where(
                    tieout_id_map.c.kind == kind, tieout_id_map.c.their_id == their_id).values(**values))
            unit.audit("tieout.map", "tieout_id_map", f"{kind}:{their_id}",
                       before=None if before is None else {"our_id": before}, after={"our_id": our_id})
            current[their_id] = our_id
            saved += 1
    return saved


def list_id_map(workspace: Workspace, kind: str) -> dict[str, str]:
    with workspace.read() as connection:
        return id_map(connection, kind)


def _explanations(connection: Connection, tieout_id: int) -> dict[str, dict[str, object]]:
    rows = connection.execute(select(tieout_explanations).where(tieout_explanations.c.tieout_id == tieout_id)
                              .order_by(tieout_explanations.c.id)).all()
    return {row.line_key: {"reason_code": row.reason_code, "note": row.note, "adjustment_id": row.adjustment_id,
                           "by": row.explained_by} for row in rows}


def _open_tieout(connection: Connection, tieout_id: int) -> object:
    row = connection.execute(select(tieouts).where(tieouts.c.id == tieout_id)).first()
    if row is None:
        raise NotFoundError(f"tie-out {tieout_id} does not exist; run a tie-out first")
    if row.signed_off_by:
        raise ConflictError(f"tie-out {tieout_id} was signed off by {row.signed_off_by}; run a new tie-out to "
                            "change it")
    return row


def explain(workspace: Workspace, tieout_id: int, line_key: str, reason_code: str, note: str | None = None) -> None:
    """Record why a finding is not a mistake (timing, FX, manual credit) under a reason code."""
    reason_code = reason_code.strip()
    if not reason_code:
        raise ValidationError("a reason code is required to explain a difference; give one such as timing")
    _check_line(workspace, tieout_id, line_key)
    with workspace.transaction() as unit:
        _open_tieout(unit.connection, tieout_id)
        _store_explanation(unit, tieout_id, line_key, reason_code, note, None)


def _check_line(workspace: Workspace, tieout_id: int, line_key: str) -> None:
    report = load_report(workspace, tieout_id)
    if all(line.key != line_key for line in report.result.lines):
        raise NotFoundError(f"tie-out {tieout_id} has no finding {line_key!r}; use a key of the form "
                            "'our id|their id' as spm tieout prints it in its first column")


def _store_explanation(unit: UnitOfWork, tieout_id: int, line_key: str, reason_code: str, note: str | None,
                       adjustment_id: int | None) -> None:
    unit.connection.execute(tieout_explanations.insert().values(
        tieout_id=tieout_id, line_key=line_key, reason_code=reason_code, note=note, adjustment_id=adjustment_id,
        explained_by=unit.user, explained_at=period_service.now_utc()))
    unit.audit("tieout.explain", "tieout", tieout_id, after={
        "line": line_key, "reason_code": reason_code, "note": note, "adjustment_id": adjustment_id})


def adjust(workspace: Workspace, tieout_id: int, line_key: str, participant_id: str, amount: Decimal,
           reason_code: str, note: str | None = None) -> int:
    """Turn a difference into a pending payout adjustment of the open period and mark it explained.

    Returns the adjustment id; another user approves it in the close area.
    """
    _check_line(workspace, tieout_id, line_key)
    with workspace.transaction() as unit:
        row = _open_tieout(unit.connection, tieout_id)
        first_open = period_service.first_open_period(unit.connection)
        if first_open is None:
            raise ConflictError("no period is open for the adjustment; open the next period first")
        adjustment = adjustment_service.create_in(
            unit, participant_id, first_open.label, amount, reason_code,
            note=note or f"tie-out {tieout_id} of {row.period}: {line_key}",  # type: ignore[attr-defined]
            detail={"tieout_id": tieout_id, "line": line_key})
        _store_explanation(unit, tieout_id, line_key, reason_code, note, adjustment.id)
    return adjustment.id


# -- sign-off ---------------------------------------------------------------------------


def sign_off(workspace: Workspace, period: str, kind: str | None = None, *, accept_unexplained: bool = False) -> list[int]:
    """Sign off the latest tie-out of the period (of each kind, or of one) as a second user.

    The user may be neither the one who ran the period's latest official calculation nor
    the one who ran the tie-out.
    Raises ConflictError while a finding outside tolerance, on one side only, ambiguous or
    in another currency is unexplained, unless ``accept_unexplained``.
    """
    kinds = [kind] if kind else list(TIEOUT_KINDS)
    ids = [tieout_id for name in kinds if (tieout_id := latest_tieout_id(workspace, period, name)) is not None]
    if not ids:
        raise NotFoundError(f"no tie-out of {period} exists; run spm tieout first")
    with workspace.read() as connection:
        label = period_service.normalise_label(connection, period)
        runs = _official_runs(connection, label)
    calculated_by = {run.user for run in runs}  # type: ignore[attr-defined]
    if workspace.user in calculated_by:
        raise PermissionDeniedError(f"{workspace.user} ran the calculation of {label}; another user must sign the "
                                    "tie-out off")
    reports = [load_report(workspace, tieout_id) for tieout_id in ids]
    for report in reports:
        if report.created_by == workspace.user:
            raise PermissionDeniedError(f"{workspace.user} ran the {report.kind} tie-out of {label}; another user "
                                        "must sign it off")
        if report.signed_off_by:
            raise ConflictError(f"the {report.kind} tie-out {report.id} of {label} was already signed off by "
                                f"{report.signed_off_by}")
        if report.unexplained and not accept_unexplained:
            raise ConflictError(f"{len(report.unexplained)} findings of the {report.kind} tie-out of {label} are not "
                                "explained; explain them or turn them into adjustments before signing off")
    now = period_service.now_utc()
    with workspace.transaction() as unit:
        for report in reports:
            unit.connection.execute(tieouts.update().where(tieouts.c.id == report.id).values(
                signed_off_by=unit.user, signed_off_at=now))
            unit.audit("tieout.signoff", "tieout", report.id, after={
                "period": label, "kind": report.kind, "figures": figures_of(report.result),
                "unexplained": len(report.unexplained), "explained": len(report.explanations)})
    log.info("tie-outs %s of %s signed off", ids, label)
    return ids


def sign_off_state(workspace: Workspace, period: str) -> dict[str, tuple[str | None, str | None]]:
    """Return (signed_off_by, signed_off_at) of the latest tie-out of each kind of the period."""
    state = {}
    with workspace.read() as connection:
        label = period_service.normalise_label(connection, period)
        for kind in TIEOUT_KINDS:
            row = connection.execute(select(tieouts.c.signed_off_by, tieouts.c.signed_off_at).where(
                tieouts.c.period == label, tieouts.c.kind == kind).order_by(tieouts.c.id.desc()).limit(1)).first()
            if row is not None:
                state[kind] = (row.signed_off_by, row.signed_off_at)
    return state


# -- report rows and export -------------------------------------------------------------

REPORT_HEADER = ("status", "method", "participant_id", "period", "our_id", "our_amount", "our_currency",
                 "their_id", "their_row", "their_amount", "their_currency", "their_amount_converted", "fx_rate",
                 "difference", "candidates", "reason_code", "note")


def report_rows(report: TieoutReport) -> list[tuple[object, ...]]:
    """Return one row per finding in REPORT_HEADER order; amounts stay Decimal."""
    rows = []
    for line in report.result.lines:
        ours, theirs, comparison = line.ours, line.theirs, line.comparison
        explanation = report.explanations.get(line.key, {})
        candidates = "; ".join(f"{candidate.ours.record_id} (rank {candidate.rank})" for candidate in line.candidates)
        rows.append((
            line.status, line.method, line.participant_id, line.period,
            ours.record_id if ours else None, ours.amount if ours else None, ours.currency if ours else None,
            ", ".join(theirs.records or (theirs.record_id,)) if theirs else None,
            theirs.source_row if theirs else None, theirs.amount if theirs else None,
            theirs.currency if theirs else None,
            comparison.converted if comparison else None, comparison.rate if comparison else None,
            line.difference, candidates or None, explanation.get("reason_code"), explanation.get("note")))
    return rows


def export_xlsx(report: TieoutReport, path: Path | str) -> int:
    """Write the tie-out for finance: summary, statuses, findings, per participant and per period.

    Returns the number of findings written. Every text cell is neutralised. Amounts are
    numbers, which xlsx stores as doubles, so the exact figures are those of the audit trail.
    """
    import xlsxwriter

    from spm_desktop.exporting.safe import standard_formats, write_xlsx_table

    workbook = xlsxwriter.Workbook(str(Path(path)))
    try:
        formats = standard_formats(workbook)
        theirs_total = report.result.theirs_total
        facts = [("Period", report.period), ("Kind", report.kind), ("Their file", report.source.file_name),
                 ("Their file SHA-256", report.source.sha256), ("Our figures", report.basis),
                 ("Currency", report.result.currency), ("Our total", report.result.ours_total),
                 ("Their total", "not converted: a currency has no rate" if theirs_total is None else theirs_total),
                 ("Signed off by", report.signed_off_by or "not signed off"),
                 ("Signed off at", report.signed_off_at)]
        write_xlsx_table(workbook.add_worksheet("Summary"), ("item", "value"), facts, formats)
        statuses = [(status, item.count, item.ours, item.theirs) for status, item in report.result.summary().items()]
        write_xlsx_table(workbook.add_worksheet("Statuses"), ("status", "count", "ours", "theirs"), statuses, formats)
        written = write_xlsx_table(workbook.add_worksheet("Findings"), REPORT_HEADER, report_rows(report), formats)
        for sheet_name, by in (("Per participant", "participant"), ("Per period", "period")):
            rows = [(name or f"(no {by})", group.ours, group.theirs, *group.counts.values())
                    for name, group in report.result.grouped(by).items()]
            header = (by, "ours", "theirs", *matching.STATUSES)
            write_xlsx_table(workbook.add_worksheet(sheet_name), header, rows, formats)
    finally:
        workbook.close()
    return written
