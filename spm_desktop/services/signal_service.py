"""Early performance signals of a workspace, and the generated history the demo needs for them.

``compute`` reads participants, deals (open ones included), stage history, activities,
quotas and the earnings of official calculation runs, and returns a ``SignalReport``
(``domain.signals``). ``generate_history`` adds made-up stage history and activities
(``domain.generate``) to deals and participants that have none, in one transaction
with an audit entry, and marks every row as generated. Thresholds come from the
``signals.*`` workspace settings; ``settings_help`` lists them with their defaults.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, delete, func, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from spm_desktop.domain.canonical import canonical_json
from spm_desktop.domain.generate import GeneratedHistory, default_as_of
from spm_desktop.domain.generate import generate_history as generate_frames
from spm_desktop.domain.money import from_minor
from spm_desktop.domain.periods import Period, PeriodError, next_period, parse_period, period_containing
from spm_desktop.domain.problems import Problem
from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.domain.records import RECORD_SETS
from spm_desktop.domain.signals import SignalError, SignalInputs, SignalReport, SignalSettings, compute_signals
from spm_desktop.exporting.safe import write_csv as write_safe_csv
from spm_desktop.importing.records import record_key
from spm_desktop.services import record_service
from spm_desktop.services.context import UnitOfWork, Workspace
from spm_desktop.services.errors import NotFoundError, ValidationError
from spm_desktop.store.tables import core as core_tables
from spm_desktop.store.tables.records import RECORD_TABLES

log = logging.getLogger(__name__)

SETTING_PREFIX = "signals."
FISCAL_START_SETTING = "fiscal_year.start_month"
CATALOG_FILE = Path(__file__).resolve().parents[2] / "resources" / "metrics" / "signals.yaml"
INSERT_CHUNK = 20_000


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------

def load_settings(workspace: Workspace) -> SignalSettings:
    """Read the ``signals.*`` settings over the defaults; an invalid value raises ValidationError naming it."""
    values = {}
    for item in fields(SignalSettings):
        value = workspace.get_setting(SETTING_PREFIX + item.name)
        if value is not None:
            values[item.name] = value
    try:
        return SignalSettings.from_mapping(values)
    except SignalError as error:
        raise ValidationError(f"workspace setting {error}; change it under Settings or with the default restored",
                              [Problem("signals.setting", str(error))]) from error


def current_settings(workspace: Workspace) -> dict[str, object]:
    """Return every signal setting's current value by its short name (defaults where none is stored)."""
    settings = load_settings(workspace)
    return {item.name: _plain_setting(getattr(settings, item.name)) for item in fields(SignalSettings)}


def _plain_setting(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def update_settings(workspace: Workspace, values: dict[str, object], *, reset: tuple[str, ...] = ()) -> SignalSettings:
    """Store new signal settings (short names, without ``signals.``) and remove the ``reset`` ones.

    Every value is checked against the others before anything is written, and all changes
    are written in one transaction with one audit entry per key. Raises ValidationError
    naming the first invalid setting.
    """
    known = {item.name for item in fields(SignalSettings)}
    for name in reset:
        if name not in known:
            raise ValidationError(f"unknown signal setting {name!r}; expected one of: {', '.join(sorted(known))}")
    merged = {name: value for name, value in current_stored(workspace).items() if name not in reset}
    merged.update(values)
    try:
        result = SignalSettings.from_mapping(merged)
    except SignalError as error:
        raise ValidationError(f"signal settings were not saved: {error}",
                              [Problem("signals.setting", str(error))]) from error
    with workspace.transaction() as unit:
        for name in reset:
            _write_setting(unit, SETTING_PREFIX + name, None)
        for name in values:
            _write_setting(unit, SETTING_PREFIX + name, _plain_setting(getattr(result, name)))
    return result


def current_stored(workspace: Workspace) -> dict[str, object]:
    """Return the signal settings stored in the workspace (short names), leaving defaults out."""
    table = core_tables.settings
    with workspace.read() as connection:
        query = select(table.c.key, table.c.value).where(table.c.key.startswith(SETTING_PREFIX, autoescape=True))
        rows = connection.execute(query).all()
        return {key.removeprefix(SETTING_PREFIX): json.loads(value) for key, value in rows}


def _write_setting(unit: UnitOfWork, key: str, value: object) -> None:
    table = core_tables.settings
    current = unit.connection.execute(select(table.c.value).where(table.c.key == key)).scalar_one_or_none()
    before = None if current is None else json.loads(current)
    if value is None:
        if current is not None:
            unit.connection.execute(delete(table).where(table.c.key == key))
            unit.audit("settings.set", "setting", key, before=before, after=None)
        return
    encoded = canonical_json(value)
    if current == encoded:
        return
    if current is None:
        unit.connection.execute(table.insert().values(key=key, value=encoded))
    else:
        unit.connection.execute(table.update().where(table.c.key == key).values(value=encoded))
    unit.audit("settings.set", "setting", key, before=before, after=value)


def settings_help() -> list[tuple[str, object]]:
    """Return every signal setting key with its default value, in declaration order."""
    defaults = SignalSettings()
    return [(SETTING_PREFIX + item.name, getattr(defaults, item.name)) for item in fields(SignalSettings)]


# ---------------------------------------------------------------------------------------------
# Computing signals
# ---------------------------------------------------------------------------------------------

def resolve_period(workspace: Workspace, label: str) -> Period:
    """Read a period label with the workspace's fiscal year start, raising ValidationError when it is invalid."""
    fiscal = workspace.get_setting(FISCAL_START_SETTING, 1)
    fiscal = fiscal if isinstance(fiscal, int) and 1 <= fiscal <= 12 else 1
    try:
        return parse_period(label, fiscal_start_month=fiscal)
    except PeriodError as error:
        raise ValidationError(str(error)) from error


def compute(workspace: Workspace, period: str, *, as_of: dt.date | None = None,
            progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> SignalReport:
    """Compute every participant's signals for ``period`` up to ``as_of`` (default: today or the period's end).

    Raises NotFoundError when the workspace has no participants or deals, and
    ValidationError for an invalid period, as-of day or setting.
    """
    cancel = cancel or CancelToken()
    target = resolve_period(workspace, period)
    settings = load_settings(workspace)
    if as_of is None:
        as_of = min(target.end, dt.datetime.now(dt.UTC).date())
    if as_of < target.start:
        raise ValidationError(f"as-of day {as_of} is before period {target.label} starts on {target.start}; "
                              "choose a day inside the period or a period that has started")
    progress(0, 0, "Reading records")
    with workspace.read() as connection:
        inputs, problems = _read_inputs(connection, target, settings, as_of)
    if inputs.participants.empty:
        raise NotFoundError("the workspace has no participants; import participants before computing signals")
    if inputs.deals.empty:
        raise NotFoundError("the workspace has no deals or opportunities; import them before computing signals")
    cancel.raise_if_cancelled()
    try:
        report = compute_signals(inputs, target, as_of=as_of, settings=settings, progress=progress, cancel=cancel)
    except SignalError as error:
        raise ValidationError(str(error)) from error
    report.problems[:0] = problems
    return report


def _read_inputs(connection: Connection, period: Period, settings: SignalSettings,
                 as_of: dt.date) -> tuple[SignalInputs, list]:
    """Read the record frames; changes and activities after the as-of day are never used, so they stay unread."""
    problems: list[Problem] = []
    earliest = _history_start(period, settings.history_periods)
    participants = record_service.load_frame(connection, "participants")
    all_deals = record_service.load_frame(connection, "deals")
    deals = all_deals[all_deals["type"].isna() | (all_deals["type"] == "sale")] if "type" in all_deals else all_deals
    history = record_service.load_frame(connection, "stage_history", date_to=as_of)
    activities = record_service.load_frame(connection, "activities", date_from=earliest, date_to=as_of)
    quotas = record_service.load_frame(connection, "quotas")
    earnings = read_earnings(connection, problems)
    # Records with a date pandas cannot hold are left out of the signals, and each is reported.
    for frame in (participants, all_deals, history, activities, quotas):
        problems += record_service.unusable_date_problems(frame)
    inputs = SignalInputs(participants, deals.reset_index(drop=True), history, activities, quotas, earnings)
    return inputs, problems


def _history_start(period: Period, history_periods: int) -> dt.date:
    # A generous lower bound: the earliest window starts at most this many periods of a year back.
    return period.start - dt.timedelta(days=366 * (history_periods + 1))


def read_earnings(connection: Connection, problems: list[Problem]) -> pd.DataFrame | None:
    """Return component earnings per participant and period from the current official runs (None: no results).

    The calculation tables may be missing in an old workspace or not filled yet. A
    database error while reading them is logged and reported as a warning, not raised.
    NOTE: a run contains whatever data it read, so with an as-of day before the end of
    historical data (the demo) the earnings include deals after that day and the pace
    is overstated.
    """
    try:
        from spm_desktop.store.tables.calc import calc_runs, results
    except ImportError:
        return None
    query = (
        select(results.c.participant_id, results.c.period, results.c.earnings_minor, results.c.currency)
        .join(calc_runs, calc_runs.c.id == results.c.run_id)
        .where(calc_runs.c.kind == "official", calc_runs.c.superseded.is_(False), results.c.row_kind == "component")
    )
    try:
        rows = connection.execute(query).fetchall()
    except (OperationalError, ProgrammingError) as error:
        log.warning("calculation results could not be read for signals: %s", error)
        problems.append(Problem("signals.no_results", "calculation results could not be read, so earnings pace "
                                "is empty; calculate the period to fill it", "warning"))
        return None
    if not rows:
        return None
    frame = pd.DataFrame(rows, columns=["participant_id", "period", "earnings_minor", "currency"])
    frame["earnings"] = [from_minor(int(units), currency) for units, currency in
                         zip(frame["earnings_minor"], frame["currency"], strict=True)]
    return frame.groupby(["participant_id", "period"], as_index=False)["earnings"].sum()


# ---------------------------------------------------------------------------------------------
# Output rows for files and the command line
# ---------------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "participant_id", "name", "manager_id", "segment", "period", "as_of",
    "attainment_pace", "pipeline_pace", "created_count", "created_value", "coverage_needed", "coverage_built",
    "activities_per_day", "activity_index", "conversion_rate", "conversion_rate_peers", "conversion_index",
    "days_to_close", "days_to_close_peers", "velocity_index", "days_in_stage", "days_in_stage_peers",
    "stalled_count", "open_count",
    "earnings", "expected_earnings", "earnings_pace", "commit_drops", "slips", "repeat_slippers", "forecast_risk",
    "diagnosis", "confidence", "generated_data", "evidence",
)
MONEY_COLUMNS = ("created_value",)
RATIO_COLUMNS = ("attainment_pace", "pipeline_pace", "coverage_needed", "coverage_built", "activities_per_day", "activity_index",
                 "conversion_rate", "conversion_rate_peers", "conversion_index", "velocity_index", "earnings_pace",
                 "forecast_risk", "confidence")
DAY_COLUMNS = ("days_to_close", "days_to_close_peers", "days_in_stage", "days_in_stage_peers")


def export_rows(report: SignalReport, manager_id: str | None = None) -> tuple[list[str], list[list[object]]]:
    """Return the header and one row per participant, as plain text values for CSV and tables.

    Ratios have four decimals, days one, money two (from 1/10,000 units, rounded half up),
    and an empty cell means the value cannot be computed.
    """
    table = report.table
    if manager_id is not None:
        table = table[table["manager_id"] == manager_id]
    generated = "yes" if report.generated_rows else "no"
    rows = []
    for record in table.to_dict("records"):
        record.update(period=report.period.label, as_of=report.as_of.isoformat(), generated_data=generated)
        rows.append([_plain(name, record[name]) for name in EXPORT_COLUMNS])
    return list(EXPORT_COLUMNS), rows


def export_csv(report: SignalReport, path: Path, manager_id: str | None = None) -> int:
    """Write ``export_rows`` to a CSV file with text cells safe from formula injection; return the rows written."""
    header, rows = export_rows(report, manager_id)
    write_safe_csv(path, header, rows)
    log.info("wrote signals of %s for %d participants to %s", report.period.label, len(rows), path)
    return len(rows)


def _plain(name: str, value: object) -> object:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return ""
    if name in MONEY_COLUMNS:
        return f"{(Decimal(int(value)) / 10_000).quantize(Decimal('0.01')):f}"
    if name in RATIO_COLUMNS:
        return f"{Decimal(repr(float(value))).quantize(Decimal('0.0001')):f}"
    if name in DAY_COLUMNS:
        return f"{Decimal(repr(float(value))).quantize(Decimal('0.1')):f}"
    if isinstance(value, Decimal):
        return f"{value:f}"
    return value


# ---------------------------------------------------------------------------------------------
# Generated history for the demo
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GenerateSummary:
    """Counts of the rows that ``generate_history`` wrote and replaced."""

    seed: int
    as_of: dt.date
    deals: int  # deals that received generated stage history
    stage_rows: int
    activity_rows: int
    replaced_rows: int  # generated rows of an earlier run that were removed first
    skipped_deals: int  # deals left alone because they have imported stage history


def generate_history(workspace: Workspace, seed: int = 0, *, as_of: dt.date | None = None,
                     progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> GenerateSummary:
    """Replace the generated stage history and activities with new ones made from ``seed``.

    Deals with imported (not generated) stage history, and participants with imported
    activities, are left alone. Everything is written in one transaction with one audit
    entry; a cancel rolls it all back. Raises NotFoundError when there are no deals.
    """
    cancel = cancel or CancelToken()
    progress(0, 4, "Reading deals")
    with workspace.read() as connection:
        deals = record_service.load_frame(connection, "deals")
        history = record_service.load_frame(connection, "stage_history")
        activities = record_service.load_frame(connection, "activities")
    if deals.empty:
        raise NotFoundError("the workspace has no deals or opportunities; import the CRM pipeline first")
    deals = deals[deals["type"].isna() | (deals["type"] == "sale")]
    real_history = set(history.loc[~history["_generated"], "deal_id"]) if len(history) else set()
    real_activity = set(activities.loc[~activities["_generated"], "participant_id"]) if len(activities) else set()
    targets = deals[~deals["deal_id"].isin(real_history)]
    try:
        as_of = as_of or default_as_of(deals)
    except ValueError as error:
        raise ValidationError(f"{error}; the deals need created or close dates") from error
    cancel.raise_if_cancelled()

    progress(1, 4, "Generating stage history and activities")
    generated = generate_frames(targets, seed=seed, as_of=as_of)
    new_activities = generated.activities[~generated.activities["participant_id"].isin(real_activity)]
    generated = GeneratedHistory(generated.stage_history, new_activities, seed, as_of)
    cancel.raise_if_cancelled()

    progress(2, 4, "Writing generated rows")
    with workspace.transaction() as unit:
        replaced = _delete_generated(unit.connection)
        stage_rows = _insert_generated(unit.connection, "stage_history", generated.stage_history, cancel)
        activity_rows = _insert_generated(unit.connection, "activities", generated.activities, cancel)
        summary = GenerateSummary(seed, as_of, int(generated.stage_history["deal_id"].nunique()), stage_rows,
                                  activity_rows, replaced, len(deals) - len(targets))
        unit.audit("signals.generate_history", "generated_history", f"seed {seed}",
                   after={"seed": seed, "as_of": as_of.isoformat(), "deals": summary.deals,
                          "stage_rows": stage_rows, "activity_rows": activity_rows, "replaced_rows": replaced,
                          "skipped_deals": summary.skipped_deals})
    progress(4, 4, "Generated history written")
    log.info("generated %d stage rows and %d activity rows with seed %d", stage_rows, activity_rows, seed)
    return summary


def generated_row_counts(workspace: Workspace) -> dict[str, int]:
    """Return how many generated rows the stage history and activity tables hold."""
    counts = {}
    with workspace.read() as connection:
        for name in ("stage_history", "activities"):
            table = RECORD_TABLES[name]
            counts[name] = connection.execute(
                select(func.count()).select_from(table).where(table.c.generated.is_(True))).scalar_one()
    return counts


def _delete_generated(connection: Connection) -> int:
    removed = 0
    for name in ("stage_history", "activities"):
        table = RECORD_TABLES[name]
        removed += connection.execute(delete(table).where(table.c.generated.is_(True))).rowcount or 0
    return removed


def _insert_generated(connection: Connection, record_set: str, frame: pd.DataFrame, cancel: CancelToken) -> int:
    """Insert generated rows with the importer's record keys.

    The keys cannot clash with imported rows: deals with imported stage history and
    participants with imported activities get no generated rows.
    """
    spec = RECORD_SETS[record_set]
    table = RECORD_TABLES[record_set]
    columns = {}
    for field in spec.fields:
        name = f"{field.name}_e4" if field.kind == "money" else field.name
        columns[name] = _stored_column(field.kind, frame[field.name])
    stored = pd.DataFrame(columns)
    stored = stored.astype(object).where(stored.notna(), None)
    names = list(stored.columns)
    attributes = canonical_json({"generated": "true"})
    rows = []
    for values in stored.itertuples(index=False, name=None):
        row = dict(zip(names, values, strict=True))
        row["record_key"] = record_key(spec, values)
        row["attributes"] = attributes
        row["generated"] = True
        rows.append(row)
    for start in range(0, len(rows), INSERT_CHUNK):
        cancel.raise_if_cancelled()
        connection.execute(table.insert(), rows[start:start + INSERT_CHUNK])
    return len(rows)


def _stored_column(kind: str, values: pd.Series) -> pd.Series:
    """Convert a frame column to the stored form: integers, ISO text dates, or text."""
    if kind in ("money", "integer"):
        return pd.array(values, dtype="Int64")
    if kind == "date":
        return pd.to_datetime(values).dt.strftime("%Y-%m-%d")
    if kind == "datetime":
        return pd.to_datetime(values).dt.strftime("%Y-%m-%d %H:%M:%S")
    return values.astype(object).where(values.notna(), None).map(lambda value: None if value is None else str(value))


# ---------------------------------------------------------------------------------------------
# Signal definitions in the metric catalog
# ---------------------------------------------------------------------------------------------

def catalog_document() -> str:
    """Return the bundled YAML of the signal definitions (supporting metrics)."""
    return CATALOG_FILE.read_text(encoding="utf-8")


def ensure_catalog(workspace: Workspace) -> list[str]:
    """Register the signal definitions as supporting metrics in the metric catalog; return the new keys.

    Definitions that the catalog already contains under the same key are left as they are,
    so an owner's later edits survive. Raises ValidationError when the catalog rejects
    the bundled document.
    """
    from io import StringIO

    from ruamel.yaml import YAML

    from spm_desktop.services import metric_service

    yaml = YAML()
    document = yaml.load(catalog_document())
    with workspace.read() as connection:
        existing = set(metric_service.metric_keys(connection))
    missing = [item for item in document["metrics"] if str(item["key"]) not in existing]
    if not missing:
        return []
    document["metrics"] = missing
    buffer = StringIO()
    yaml.dump(document, buffer)
    summary = metric_service.load_yaml(workspace, buffer.getvalue(), source=CATALOG_FILE.name,
                                       reason="signal definitions registered by the signals area")
    return list(summary.created)


def catalog_keys() -> list[str]:
    """Return the metric keys the bundled signal definitions declare, in file order."""
    from ruamel.yaml import YAML

    document = YAML(typ="safe").load(catalog_document())
    return [str(item["key"]) for item in document.get("metrics", [])]


def describe_generated(report: SignalReport) -> str:
    """Return the banner text for views fed by generated rows, or an empty text when none are."""
    if not report.generated_rows:
        return ""
    return (f"Generated data: {report.generated_rows:,} stage changes and activity rows were made up for the demo "
            "(marked generated in the workspace); signals that read them are illustrations, not real behaviour.")


def report_summary(report: SignalReport) -> dict[str, object]:
    """Return counts per diagnosis and the period, for logs and the audit trail."""
    counts = report.table["diagnosis"].value_counts().to_dict()
    return {"period": report.period.label, "as_of": report.as_of.isoformat(), "participants": len(report.table),
            "diagnoses": {str(key): int(value) for key, value in counts.items()}}



def period_choices(workspace: Workspace) -> list[str]:
    """Return the quarter labels from the first to the last created or close date of the deals, newest first.

    Quarters follow the workspace's fiscal year start, so the labels are ones ``compute`` accepts.
    """
    table = RECORD_TABLES["deals"]
    created = func.coalesce(table.c.created_date, table.c.close_date)
    closed = func.coalesce(table.c.close_date, table.c.created_date)
    with workspace.read() as connection:
        first, last = connection.execute(select(func.min(created), func.max(func.max(created, closed)))).one()
    if first is None:
        return []
    fiscal = workspace.get_setting(FISCAL_START_SETTING, 1)
    fiscal = fiscal if isinstance(fiscal, int) and 1 <= fiscal <= 12 else 1
    current = period_containing(dt.date.fromisoformat(str(first)[:10]), "quarter", fiscal)
    final = dt.date.fromisoformat(str(last)[:10])
    labels = []
    while current.start <= final:
        labels.append(current.label)
        current = next_period(current)
    return labels[::-1]


def manager_choices(report: SignalReport) -> list[str]:
    """Return the managers of the participants in a report, in code-point order."""
    return sorted({str(value) for value in report.table["manager_id"].dropna()})
