"""The governed metric catalog: versions, statuses, adoption, metrics.yaml, evaluation and comparison.

Every change to what a metric counts adds an immutable version with author, time and
reason. Status changes and adoptions are recorded as events. Each write commits
together with its audit entry.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import SQLAlchemyError

from spm_desktop.domain import plans as plan_domain
from spm_desktop.domain.canonical import canonical_json, fingerprint
from spm_desktop.domain.expressions import ExpressionError, compile_expression
from spm_desktop.domain.metrics import (
    STATUSES,
    CompiledMetric,
    MetricDefinition,
    compile_metric,
    dump_metrics_yaml,
    load_metrics_yaml,
    participant_field,
    source_field_kinds,
    validate,
)
from spm_desktop.domain.periods import Period, PeriodError, parse_period
from spm_desktop.domain.problems import Problem, has_errors
from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.domain.reconcile import Reconciliation, reconcile
from spm_desktop.services.context import UnitOfWork, Workspace
from spm_desktop.services.errors import ConflictError, NotFoundError, SpmError, ValidationError
from spm_desktop.store.tables.calc import plans
from spm_desktop.store.tables.metrics import metric_events, metric_versions, metrics

log = logging.getLogger(__name__)

# Record frames kept for repeated evaluation, keyed by database URL and record set.
FRAME_CACHE_SIZE = 2
_FRAME_CACHE: dict[tuple[str, str], tuple[tuple[object, ...], pd.DataFrame]] = {}
_FRAME_CACHE_LOCK = threading.Lock()

MAX_PRIMARY_SETTING = "metrics.max_primary"
DEFAULT_MAX_PRIMARY = 5


@dataclass(frozen=True)
class MetricSummary:
    """A metric's current version and status, as the catalog lists it."""

    definition: MetricDefinition
    author: str
    updated_at: str
    versions: int


@dataclass(frozen=True)
class VersionInfo:
    definition: MetricDefinition
    author: str
    created_at: str
    reason: str | None


@dataclass(frozen=True)
class MetricEvent:
    key: str
    action: str
    version: int
    from_status: str | None
    to_status: str | None
    other_key: str | None
    author: str
    created_at: str
    reason: str | None


@dataclass(frozen=True)
class LoadSummary:
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    status_changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Flag:
    """A sign of metric proliferation or of a plan that depends on ungoverned metrics."""

    code: str
    message: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class MetricValues:
    """A metric evaluated for one period: the total and the value per participant (record owner)."""

    definition: MetricDefinition
    period: Period
    total: Decimal
    per_participant: pd.DataFrame  # participant_id, value, records
    records: int


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


# Reading


def parse_ref(reference: str) -> tuple[str, int | None]:
    """Split ``key@version`` into the key and the version (None for the current one)."""
    key, separator, version = reference.strip().partition("@")
    if not separator:
        return key, None
    if not version.isdigit() or int(version) < 1:
        raise ValidationError(f"metric reference {reference!r} is invalid; write KEY or KEY@VERSION, such as bookings@2")
    return key, int(version)


def metric_keys(connection: Connection) -> list[str]:
    """Return every key in the catalog, whatever its status."""
    return list(connection.execute(select(metrics.c.key).order_by(metrics.c.key)).scalars())


def _definition(row: object, status: str) -> MetricDefinition:
    extra = json.loads(row.extra) if row.extra else {}  # type: ignore[attr-defined]
    return MetricDefinition(
        key=row.key, name=row.name, value=row.value, owner=row.owner, tier=row.tier,  # type: ignore[attr-defined]
        description=row.description, source=row.source, filter=row.filter,  # type: ignore[attr-defined]
        date=row.date_field, unit=row.unit, version=row.version, status=status, extra=extra,  # type: ignore[attr-defined]
    )


def _head(connection: Connection, key: str) -> object:
    head = connection.execute(select(metrics).where(metrics.c.key == key)).first()
    if head is None:
        known = metric_keys(connection)
        listed = ", ".join(known[:20]) or "none"
        raise NotFoundError(f"metric {key!r} not found; the catalog has: {listed}. Load it with 'spm metrics load'")
    return head


def get_definition(connection: Connection, key: str, version: int | None = None) -> MetricDefinition:
    """Return one version of a metric (the current one when ``version`` is None)."""
    head = _head(connection, key)
    number = head.current_version if version is None else version  # type: ignore[attr-defined]
    row = connection.execute(
        select(metric_versions).where(metric_versions.c.key == key, metric_versions.c.version == number)).first()
    if row is None:
        raise NotFoundError(f"metric {key!r} has no version {number}; the current version is "
                            f"{head.current_version}")  # type: ignore[attr-defined]
    return _definition(row, head.status)  # type: ignore[attr-defined]


def current_version(connection: Connection, key: str) -> tuple[int, MetricDefinition]:
    """Return the current version number and definition of a metric, for lineage of calculations."""
    definition = get_definition(connection, key)
    return definition.version, definition


def resolve(connection: Connection, reference: str) -> MetricDefinition:
    """Return the definition named by ``key`` or ``key@version``."""
    key, version = parse_ref(reference)
    return get_definition(connection, key, version)


def list_metrics(workspace: Workspace) -> list[MetricSummary]:
    """Return the current version of every metric, ordered by tier, owner and key."""
    with workspace.read() as connection:
        return _summaries(connection)


def _summaries(connection: Connection) -> list[MetricSummary]:
    query = (select(metric_versions, metrics.c.status, metrics.c.updated_at)
             .join(metrics, (metrics.c.key == metric_versions.c.key)
                   & (metrics.c.current_version == metric_versions.c.version)))
    summaries = [MetricSummary(_definition(row, row.status), row.author, row.updated_at, row.version)
                 for row in connection.execute(query)]
    return sorted(summaries, key=lambda item: (item.definition.tier != "primary", item.definition.owner.lower(),
                                               item.definition.key))


def history(workspace: Workspace, key: str) -> list[VersionInfo]:
    """Return all versions of a metric, newest first."""
    with workspace.read() as connection:
        head = _head(connection, key)
        rows = connection.execute(select(metric_versions).where(metric_versions.c.key == key)
                                  .order_by(metric_versions.c.version.desc()))
        return [VersionInfo(_definition(row, head.status), row.author, row.created_at, row.reason)  # type: ignore[attr-defined]
                for row in rows]


def events(workspace: Workspace, key: str | None = None) -> list[MetricEvent]:
    """Return catalog events (new versions, status changes, adoptions), newest first."""
    query = select(metric_events).order_by(metric_events.c.id.desc())
    if key is not None:
        query = query.where(metric_events.c.key == key)
    with workspace.read() as connection:
        return [MetricEvent(row.key, row.action, row.version, row.from_status, row.to_status, row.other_key,
                            row.author, row.created_at, row.reason) for row in connection.execute(query)]


def record_fields(workspace: Workspace, source: str, *, progress: ProgressCallback = no_progress,
                  cancel: CancelToken | None = None) -> dict[str, str | None] | None:
    """Return the fields of the imported records of a set, extra attributes included.

    Returns None while the set has no records, because the extra attributes are unknown
    until something is imported.
    """
    with workspace.read() as connection:
        frame = _load_records(connection, source)
    if frame.empty:
        return None
    return field_kinds(source, frame)


def field_kinds(source: str, frame: pd.DataFrame | None = None) -> dict[str, str | None]:
    """Return the field kinds a metric over ``source`` compiles against (extra columns of ``frame`` included)."""
    return source_field_kinds(source, frame)


# Writing


def _content_hash(definition: MetricDefinition) -> str:
    return fingerprint(definition.content())


def _insert_version(unit: UnitOfWork, definition: MetricDefinition, reason: str | None, now: str) -> None:
    unit.connection.execute(metric_versions.insert().values(
        key=definition.key, version=definition.version, name=definition.name, owner=definition.owner,
        tier=definition.tier, description=definition.description, source=definition.source,
        filter=definition.filter, value=definition.value, date_field=definition.date, unit=definition.unit,
        extra=canonical_json(dict(definition.extra)) if definition.extra else None,
        content_hash=_content_hash(definition), author=unit.user, created_at=now, reason=reason,
    ))


def _record_event(unit: UnitOfWork, key: str, action: str, version: int, now: str, reason: str | None, *,
                  from_status: str | None = None, to_status: str | None = None, other_key: str | None = None) -> None:
    unit.connection.execute(metric_events.insert().values(
        key=key, action=action, version=version, from_status=from_status, to_status=to_status,
        other_key=other_key, author=unit.user, created_at=now, reason=reason))


def _check_valid(definition: MetricDefinition) -> list[Problem]:
    problems = validate(definition)
    if has_errors(problems):
        first = next(problem for problem in problems if problem.severity == "error")
        raise ValidationError(f"metric {definition.key!r} is invalid: {first.message}", problems)
    return problems


def _require_reason(reason: str | None, what: str) -> str:
    if reason is None or not reason.strip():
        raise ValidationError(f"{what} needs a reason; say why in a few words")
    return reason.strip()


def save_definition(workspace: Workspace, definition: MetricDefinition, *, reason: str,
                    expected_version: int | None = None) -> MetricDefinition:
    """Create a metric or add a version when its content changed; return the stored definition.

    ``expected_version`` is the version the editor started from: a different current
    version means someone else saved in between, and the save is rejected. 0 means the
    metric must be new. The status of ``definition`` is applied too (recorded as its own
    event).
    """
    reason = _require_reason(reason, f"saving metric {definition.key!r}")
    _check_valid(definition)
    with workspace.transaction() as unit:
        stored = _save(unit, definition, reason, expected_version)
    log.info("metric %s saved at version %s by %s", stored.key, stored.version, workspace.user)
    return stored


def _save(unit: UnitOfWork, definition: MetricDefinition, reason: str | None,
          expected_version: int | None = None) -> MetricDefinition:
    connection = unit.connection
    now = _now()
    head = connection.execute(select(metrics).where(metrics.c.key == definition.key)).first()
    if head is not None and expected_version == 0:
        raise ConflictError(f"metric {definition.key!r} exists already; choose another key, or open "
                            f"{definition.key!r} in the catalog to change it")
    if head is None:
        stored = definition.with_changes(version=1)
        connection.execute(metrics.insert().values(key=stored.key, current_version=1, status=stored.status,
                                                   created_at=now, updated_at=now))
        _insert_version(unit, stored, reason, now)
        _record_event(unit, stored.key, "created", 1, now, reason, to_status=stored.status)
        unit.audit("metric.create", "metric", stored.key, after=stored.as_document())
        return stored
    if expected_version is not None and expected_version != head.current_version:
        raise ConflictError(f"metric {definition.key!r} is at version {head.current_version}, not "
                            f"{expected_version}: someone saved it meanwhile. Reopen it and apply your change again")
    current = get_definition(connection, definition.key)
    stored = current
    if _content_hash(definition) != _content_hash(current):
        stored = definition.with_changes(version=head.current_version + 1, status=head.status)
        _insert_version(unit, stored, reason, now)
        connection.execute(metrics.update().where(metrics.c.key == stored.key)
                           .values(current_version=stored.version, updated_at=now))
        _record_event(unit, stored.key, "changed", stored.version, now, reason)
        unit.audit("metric.version", "metric", stored.key, before=current.as_document(), after=stored.as_document())
    if definition.status != head.status:
        stored = _change_status(unit, stored, definition.status, reason, now)
    return stored


def _change_status(unit: UnitOfWork, definition: MetricDefinition, status: str, reason: str | None,
                   now: str, *, action: str = "status", other_key: str | None = None) -> MetricDefinition:
    if status not in STATUSES:
        raise ValidationError(f"status {status!r} is invalid; use one of {', '.join(STATUSES)}")
    before = definition.status
    unit.connection.execute(metrics.update().where(metrics.c.key == definition.key)
                            .values(status=status, updated_at=now))
    _record_event(unit, definition.key, action, definition.version, now, reason, from_status=before,
                  to_status=status, other_key=other_key)
    unit.audit(f"metric.{action}", "metric", definition.key,
               before={"status": before, "version": definition.version},
               after={"status": status, "version": definition.version, "reason": reason, "other": other_key})
    return definition.with_changes(status=status)


def set_status(workspace: Workspace, key: str, status: str, *, reason: str) -> MetricDefinition:
    """Change a metric's status (draft, approved, retired) with a recorded reason."""
    reason = _require_reason(reason, f"changing the status of metric {key!r}")
    with workspace.transaction() as unit:
        current = get_definition(unit.connection, key)
        if current.status == status:
            return current
        if status == "approved":
            _check_valid(current)
        return _change_status(unit, current, status, reason, _now())


def adopt(workspace: Workspace, key: str, over: str, *, reason: str, rename_to: str | None = None) -> MetricDefinition:
    """Approve ``key`` as the governed definition and retire ``over``, or rename it.

    With ``rename_to`` the other metric gets a new version as a supporting metric under
    that name, so the two no longer compete for one name. Without it, the other metric is
    retired. Both outcomes are recorded as events that name the other metric and the reason.
    """
    reason = _require_reason(reason, f"adopting {key!r} over {over!r}")
    if key == over:
        raise ValidationError(f"cannot adopt {key!r} over itself; name two different metrics")
    with workspace.transaction() as unit:
        now = _now()
        winner = get_definition(unit.connection, key)
        loser = get_definition(unit.connection, over)
        _check_valid(winner)
        if rename_to is not None and rename_to.strip():
            renamed = loser.with_changes(name=rename_to.strip(), tier="supporting")
            stored = _save(unit, renamed, f"renamed because {key!r} was adopted: {reason}")
            _record_event(unit, over, "superseded", stored.version, now, reason, other_key=key)
            unit.audit("metric.superseded", "metric", over, before={"name": loser.name, "tier": loser.tier},
                       after={"name": stored.name, "tier": stored.tier, "adopted": key, "reason": reason})
        else:
            _change_status(unit, loser, "retired", reason, now, action="superseded", other_key=key)
        if winner.status != "approved":
            winner = _change_status(unit, winner, "approved", reason, now, action="adopted", other_key=over)
        else:
            _record_event(unit, key, "adopted", winner.version, now, reason, from_status=winner.status,
                          to_status=winner.status, other_key=over)
            unit.audit("metric.adopted", "metric", key, after={"over": over, "reason": reason})
    log.info("metric %s adopted over %s by %s", key, over, workspace.user)
    return winner


# metrics.yaml


def load_yaml(workspace: Workspace, text: str, *, source: str = "metrics.yaml",
              reason: str | None = None) -> LoadSummary:
    """Load a metrics.yaml document: all definitions or none.

    New keys are created, changed ones get a new version and a changed status is applied.
    The document's ``version`` is informative: the application numbers versions itself.
    """
    definitions, problems = load_metrics_yaml(text)
    errors = [problem for problem in problems if problem.severity == "error"]
    located = [_with_file(problem, source) for problem in problems]
    if errors:
        raise ValidationError(f"{source} was not loaded: {len(errors)} problem(s), the first: {errors[0].message}",
                              located)
    why = reason or f"loaded from {source}"
    summary = LoadSummary(warnings=[problem for problem in located if problem.severity != "error"])
    with workspace.transaction() as unit:
        for definition in definitions:
            _load_one(unit, definition, why, summary)
        unit.audit("metrics.load", "metrics_file", source, after={
            "created": summary.created, "changed": summary.changed, "status_changed": summary.status_changed,
            "unchanged": len(summary.unchanged), "sha256": fingerprint(text)})
    log.info("loaded %s: %d created, %d changed, %d unchanged", source, len(summary.created),
             len(summary.changed), len(summary.unchanged))
    return summary


def _with_file(problem: Problem, source: str) -> Problem:
    from dataclasses import replace

    return replace(problem, file=source)


def _load_one(unit: UnitOfWork, definition: MetricDefinition, reason: str, summary: LoadSummary) -> None:
    head = unit.connection.execute(select(metrics).where(metrics.c.key == definition.key)).first()
    if head is None:
        _save(unit, definition, reason)
        summary.created.append(definition.key)
        return
    current = get_definition(unit.connection, definition.key)
    stored = _save(unit, definition, reason)
    if stored.version != current.version:
        summary.changed.append(definition.key)
    elif stored.status != current.status:
        summary.status_changed.append(definition.key)
    else:
        summary.unchanged.append(definition.key)


def load_yaml_file(workspace: Workspace, path: Path, *, reason: str | None = None) -> LoadSummary:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFoundError(f"{path} does not exist; check the file name") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpmError(f"{path} cannot be read ({error}); save it as UTF-8 text") from None
    return load_yaml(workspace, text, source=path.name, reason=reason)


def export_yaml(workspace: Workspace, path: Path | None = None, keys: Iterable[str] | None = None) -> str:
    """Write the current version of every metric (or of ``keys``) as metrics.yaml; return the text."""
    with workspace.read() as connection:
        wanted = set(keys) if keys is not None else None
        definitions = [summary.definition for summary in _summaries(connection)
                       if wanted is None or summary.definition.key in wanted]
    definitions.sort(key=lambda definition: definition.key)
    text = dump_metrics_yaml(definitions)
    if path is not None:
        path.write_text(text, encoding="utf-8")
        with workspace.transaction() as unit:
            unit.audit("metrics.export", "metrics_file", path.name, after={"metrics": len(definitions)})
    return text


# Proliferation


def max_primary(workspace: Workspace) -> int:
    value = workspace.get_setting(MAX_PRIMARY_SETTING, DEFAULT_MAX_PRIMARY)
    return value if isinstance(value, int) and value > 0 else DEFAULT_MAX_PRIMARY


def plan_metric_uses(connection: Connection) -> dict[str, set[str]]:
    """Return metric key -> names of the non-retired plans that use it (components, gates, formulas).

    Reads the plans table defensively: a workspace without plans, or a plan document that
    no longer parses, contributes nothing.
    """
    uses: dict[str, set[str]] = {}
    try:
        rows = list(connection.execute(select(plans.c.name, plans.c.document, plans.c.status)))
    except SQLAlchemyError:
        # A workspace whose plans table is missing or older has no plan uses to check.
        log.warning("the plans table could not be read; plan uses of metrics are not checked", exc_info=True)
        return {}
    for row in rows:
        if row.status == "retired":
            continue
        for key in _plan_keys(row.document):
            uses.setdefault(key, set()).add(row.name)
    return uses


def _plan_keys(document: str) -> set[str]:
    try:
        plan = plan_domain.load_plan(document)
    except (plan_domain.PlanFormatError, ValueError, KeyError, TypeError):
        # The plans area reports unreadable plans; here they simply use no metric.
        return set()
    keys: set[str] = set()
    for component in plan.components:
        keys.add(component.metric)
        for text in (getattr(component, "gate", None), getattr(component, "expression", None)):
            if text:
                try:
                    keys |= compile_expression(text).metric_keys
                except ExpressionError:
                    continue
    return keys


def proliferation_flags(workspace: Workspace) -> list[Flag]:
    """Return the catalog's governance flags: primary count, plan uses, unused primaries, shared names."""
    limit = max_primary(workspace)
    with workspace.read() as connection:
        summaries = _summaries(connection)
        uses = plan_metric_uses(connection)
    return flags_for([summary.definition for summary in summaries], uses, limit)


def flags_for(definitions: list[MetricDefinition], uses: dict[str, set[str]], limit: int) -> list[Flag]:
    flags: list[Flag] = []
    by_key = {definition.key: definition for definition in definitions}
    approved_primary = sorted(d.key for d in definitions if d.status == "approved" and d.tier == "primary")
    if len(approved_primary) > limit:
        flags.append(Flag("too_many_primary", f"{len(approved_primary)} approved primary metrics, more than the "
                          f"limit of {limit}: people cannot focus on that many; make some supporting",
                          tuple(approved_primary)))
    for key in sorted(uses):
        definition = by_key.get(key)
        plans = ", ".join(sorted(uses[key]))
        if definition is None:
            flags.append(Flag("plan_uses_unknown", f"plan(s) {plans} use metric {key!r}, which is not in the "
                              "catalog", (key,)))
        elif definition.status != "approved":
            flags.append(Flag("plan_uses_unapproved", f"plan(s) {plans} use metric {key!r}, which is "
                              f"{definition.status}, not approved", (key,)))
    # Unused primaries are flagged only once some plan exists, so a new catalog is not all flags.
    if uses:
        unused = sorted(key for key in approved_primary if key not in uses)
        for key in unused:
            flags.append(Flag("primary_unused", f"primary metric {key!r} is used by no plan", (key,)))
    names: dict[str, list[str]] = {}
    for definition in definitions:
        if definition.status == "approved":
            names.setdefault(definition.name.strip().lower(), []).append(definition.key)
    for keys in names.values():
        if len(keys) > 1:
            shown = by_key[keys[0]].name
            flags.append(Flag("same_name", f"approved metrics {', '.join(sorted(keys))} share the name {shown!r}: "
                              "compare them and adopt one", tuple(sorted(keys))))
    return flags


# Evaluation and comparison


def read_period(connection: Connection, label: str) -> Period:
    from spm_desktop.services import period_service

    try:
        return parse_period(label, fiscal_start_month=period_service.fiscal_start_month(connection))
    except PeriodError as error:
        raise ValidationError(str(error)) from None


def _data_version(connection: Connection, source: str) -> tuple[object, ...]:
    """Return what changes whenever the records of a set change: the audit head, row count and last id."""
    from spm_desktop.services import record_service
    from spm_desktop.store.audit import HEAD_KEY
    from spm_desktop.store.tables.core import workspace_info

    table = record_service.table_of(source)
    head = connection.execute(select(workspace_info.c.value).where(workspace_info.c.key == HEAD_KEY)).scalar()
    count, last_id = connection.execute(select(func.count(), func.max(table.c.id))).one()
    return head, count, last_id


def _load_records(connection: Connection, source: str) -> pd.DataFrame:
    """Load a record set, reusing the last frame read while its records are unchanged.

    The editor's live preview evaluates after every pause in typing, and reading a large
    record set takes far longer than evaluating a metric on it. Callers must not change
    the returned frame, because it is shared.
    """
    from spm_desktop.services import record_service

    key = (str(connection.engine.url), record_service.spec_of(source).name)
    version = _data_version(connection, source)
    with _FRAME_CACHE_LOCK:
        cached = _FRAME_CACHE.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    frame = record_service.load_frame(connection, source)
    with _FRAME_CACHE_LOCK:
        if len(_FRAME_CACHE) >= FRAME_CACHE_SIZE:
            _FRAME_CACHE.clear()
        _FRAME_CACHE[key] = (version, frame)
    return frame


def date_problems(workspace: Workspace, sources: Iterable[str]) -> list[Problem]:
    """Return an error problem per record of ``sources`` that metrics leave out for an unusable date.

    ``evaluate`` and ``compare`` read the same cached frames, so calling this after them
    reads nothing again while the records are unchanged.
    """
    from spm_desktop.services import record_service

    problems: list[Problem] = []
    with workspace.read() as connection:
        for source in sorted(set(sources)):
            problems += record_service.unusable_date_problems(_load_records(connection, source))
    return problems


def _compiled(definition: MetricDefinition, frame: pd.DataFrame) -> CompiledMetric:
    try:
        return compile_metric(definition, field_kinds(definition.source, frame))
    except ExpressionError as error:
        raise ValidationError(f"metric {definition.key!r} cannot be evaluated: {error}") from None


def evaluate(workspace: Workspace, reference: str | MetricDefinition, period_label: str, *,
             progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> MetricValues:
    """Evaluate a metric (a stored ``key[@version]`` or an unsaved definition) for one period."""
    cancel = cancel or CancelToken()
    progress(0, 3, "reading records")
    with workspace.read() as connection:
        definition = resolve(connection, reference) if isinstance(reference, str) else reference
        period = read_period(connection, period_label)
        frame = _load_records(connection, definition.source)
    cancel.raise_if_cancelled()
    progress(1, 3, f"evaluating {definition.key}")
    compiled = _compiled(definition, frame)
    try:
        selected = compiled.select(frame) & compiled.in_period(frame, period.start, period.end)
        owner = participant_field(frame)
        per_owner = compiled.aggregate(frame, by=owner, selected=selected) if owner is not None else None
        total = compiled.total(frame, selected=selected)
    except ExpressionError as error:
        raise ValidationError(f"metric {definition.key!r} cannot be evaluated: {error}") from None
    cancel.raise_if_cancelled()
    progress(2, 3, "summarising")
    counts = frame.loc[selected.to_numpy(), owner].value_counts() if owner is not None else pd.Series()
    rows = []
    if per_owner is not None:
        rows = [(owner, value, int(counts.get(owner, 0))) for owner, value in per_owner.items()]
    table = pd.DataFrame(rows, columns=["participant_id", "value", "records"])
    progress(3, 3, "done")
    return MetricValues(definition, period, total, table, int(selected.sum()))


def compare(workspace: Workspace, reference_a: str, reference_b: str, period_label: str, *,
            progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> Reconciliation:
    """Compare two definitions (``key`` or ``key@version``) on the same records for one period."""
    cancel = cancel or CancelToken()
    progress(0, 3, "reading records")
    with workspace.read() as connection:
        definition_a = resolve(connection, reference_a)
        definition_b = resolve(connection, reference_b)
        period = read_period(connection, period_label)
        frames = {source: _load_records(connection, source)
                  for source in {definition_a.source, definition_b.source}}
    cancel.raise_if_cancelled()
    progress(1, 3, "comparing")
    try:
        result = reconcile(definition_a, definition_b, frames, period.label, period.start, period.end)
    except ExpressionError as error:
        raise ValidationError(f"the comparison failed: {error}") from None
    cancel.raise_if_cancelled()
    progress(3, 3, "done")
    return result


def export_comparison(workspace: Workspace, result: Reconciliation, path: Path) -> int:
    """Write a comparison to .xlsx (summary, participants, differing records); return the differing records."""
    if path.suffix.lower() != ".xlsx":
        raise SpmError(f"cannot export the comparison to {path.name}: use a .xlsx file name")
    count = write_comparison_xlsx(result, path)
    with workspace.transaction() as unit:
        unit.audit("metrics.compare_export", "metric_comparison", path.name, after={
            "a": result.label_a, "b": result.label_b, "period": result.period_label,
            "total_a": result.total_a, "total_b": result.total_b, "differing_records": count})
    return count


SUMMARY_HEADER = ("item", "A", "B")


def write_comparison_xlsx(result: Reconciliation, path: Path) -> int:
    """Write the comparison workbook with neutralised text; return the number of differing records."""
    import xlsxwriter

    from spm_desktop.exporting import safe

    workbook = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                               "strings_to_numbers": False})
    # Fixed metadata so the same comparison exports to the same bytes.
    workbook.set_properties({"created": dt.datetime(2000, 1, 1), "author": "SPM Desktop"})  # noqa: DTZ001
    formats = safe.standard_formats(workbook)
    safe.write_xlsx_table(workbook.add_worksheet("Summary"), SUMMARY_HEADER, _summary_rows(result), formats)
    participants = workbook.add_worksheet("Participants")
    safe.write_xlsx_table(participants, tuple(result.participants.columns),
                          _frame_rows(result.participants), formats)
    differing = 0
    for title, frame in ((f"Only in {result.label_a}", result.only_a), (f"Only in {result.label_b}", result.only_b),
                         ("Different values", result.changed)):
        sheet = workbook.add_worksheet(_sheet_name(title))
        differing += safe.write_xlsx_table(sheet, tuple(frame.columns), _frame_rows(frame), formats)
    workbook.close()
    return differing


def _sheet_name(title: str) -> str:
    # Excel sheet names have at most 31 characters and none of []:*?/\
    cleaned = "".join("_" if char in "[]:*?/\\" else char for char in title)
    return cleaned[:31]


def _summary_rows(result: Reconciliation) -> list[tuple[object, ...]]:
    a = result.a
    b = result.b
    rows: list[tuple[object, ...]] = [
        ("metric", result.label_a, result.label_b),
        ("period", result.period_label, result.period_label),
        ("total", result.total_a, result.total_b),
        ("total (exact text)", str(result.total_a), str(result.total_b)),
        ("difference B - A", None, result.difference),
    ]
    for name in ("name", "owner", "tier", "status", "source", "filter", "value", "date", "unit"):
        rows.append((name, str(getattr(a, name)), str(getattr(b, name))))
    rows.append(("records only in this one", len(result.only_a), len(result.only_b)))
    rows.append(("records in both with different values", len(result.changed), len(result.changed)))
    return rows


def _frame_rows(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    rows = []
    for values in frame.itertuples(index=False, name=None):
        rows.append(tuple(None if _is_missing(value) else value for value in values))
    return rows


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# -- audit content check ---------------------------------------------------------------


def verify_metric_versions(connection: Connection) -> list[str]:
    """Compare every stored metric version and each metric's current version and status with the audit trail.

    Returns one message per metric version or catalog row edited, inserted or deleted
    outside the application, naming the fields that differ.
    """
    recorded_versions, recorded_heads = _recorded_metric_documents(connection)
    problems = []
    for row in connection.execute(select(metric_versions).order_by(metric_versions.c.key, metric_versions.c.version)):
        problems += _compare_version(row, recorded_versions.pop((row.key, row.version), None))
    for key, version in sorted(recorded_versions):
        problems.append(f"metric {key!r} version {version} is in the audit trail but missing from the workspace; "
                        "it was deleted outside SPM Desktop")
    for row in connection.execute(select(metrics).order_by(metrics.c.key)):
        problems += _compare_head(row, recorded_heads.get(row.key))
    return problems


def _recorded_metric_documents(connection: Connection) -> tuple[dict[tuple[str, int], dict], dict[str, dict]]:
    """Return the documents that audit entries wrote per (key, version), and each key's newest version and status."""
    from spm_desktop.store.tables.core import audit_log

    versions: dict[tuple[str, int], dict] = {}
    heads: dict[str, dict] = {}
    query = (select(audit_log.c.action, audit_log.c.entity_id, audit_log.c.after)
             .where(audit_log.c.entity_type == "metric").order_by(audit_log.c.seq))
    for action, key, after in connection.execute(query):
        document = json.loads(after) if after else None
        if not isinstance(document, dict):
            continue
        if action in ("metric.create", "metric.version") and isinstance(document.get("version"), int):
            versions[(key, document["version"])] = document
        if "status" in document and "version" in document:
            heads[key] = document
    return versions, heads


def _compare_version(row: object, document: dict | None) -> list[str]:
    name = f"metric {row.key!r} version {row.version}"  # type: ignore[attr-defined]
    if document is None:
        return [f"{name} has no audit entry; it was written outside SPM Desktop"]
    stored = _definition(row, "")
    recorded = dict(document)
    recorded.pop("version", None)
    recorded.pop("status", None)
    content = stored.content()
    changed = sorted(field_name for field_name in content.keys() | recorded.keys()
                     if content.get(field_name) != recorded.get(field_name))
    if row.content_hash != _content_hash(stored) and not changed:  # type: ignore[attr-defined]
        changed = ["content_hash"]
    if changed:
        return [f"{name} differs from its audit entry in {', '.join(changed)}; it was edited outside SPM Desktop"]
    return []


def _compare_head(row: object, document: dict | None) -> list[str]:
    name = f"metric {row.key!r}"  # type: ignore[attr-defined]
    if document is None:
        return [f"{name} has no audit entry; it was written outside SPM Desktop"]
    changed = []
    if row.current_version != document.get("version"):  # type: ignore[attr-defined]
        changed.append("current version")
    if row.status != document.get("status"):  # type: ignore[attr-defined]
        changed.append("status")
    if changed:
        return [f"{name} differs from its audit entry in {' and '.join(changed)}; it was edited outside SPM Desktop"]
    return []


from spm_desktop.services import audit_service  # noqa: E402  (audit_service does not import this module)

audit_service.register_content_check("metric definitions", verify_metric_versions)
