"""Comp plans in the workspace: load, validate, version, list, export and compare.

A plan is stored as the YAML document it was loaded or saved from, one row per
version. Versions are immutable: a change is saved as the next version, with its
author, time and reason, and an audit entry with the previous and the new document's
fingerprint. Only a version's status (draft, active, retired) changes in place. Closed
results never change, so an active version may not take effect inside a closed period:
its ``effective_from`` must come after the last closed period it would cover.

Which version is in force on a day: of the active versions of a plan whose effective
range contains the day, the one with the highest number. So version 2 effective from
July replaces version 1 from July on, and version 1 still governs the first half year.

Fiscal year: the workspace setting ``fiscal_year.start_month`` (1 when not set) is the
fiscal year of the close, the importer and period labels. A plan document without
``fiscal_start_month`` follows it when the plan is read for a calculation. A document
that states another month is stored with a warning naming both months, and a
calculation that would use it is rejected, because its periods would not match the
periods the workspace closes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, and_, func, or_, select

from spm_desktop.domain import plans as plan_domain
from spm_desktop.domain.canonical import sha256_hex
from spm_desktop.domain.problems import Problem, has_errors
from spm_desktop.services import audit_service, period_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ConflictError, NotFoundError, SpmError, ValidationError
from spm_desktop.store.tables.calc import PLAN_STATUSES, plans

log = logging.getLogger(__name__)

MAX_DOCUMENT_CHARS = 1_000_000


@dataclass(frozen=True)
class PlanVersion:
    """One stored version of a plan, without its document."""

    id: int
    name: str
    version: int
    effective_from: dt.date
    effective_to: dt.date | None
    period_kind: str
    period_start: dt.date | None
    currency: str
    status: str
    author: str
    created_at: str
    reason: str | None
    document_hash: str

    def overlaps(self, start: dt.date, end: dt.date) -> bool:
        return self.effective_from <= end and (self.effective_to is None or self.effective_to >= start)


@dataclass(frozen=True)
class LoadResult:
    """Outcome of ``load``: the version stored (or found unchanged) and the warnings."""

    plan: PlanVersion
    created: bool
    warnings: list[Problem]


def _version_from_row(row: object) -> PlanVersion:
    return PlanVersion(
        row.id, row.name, row.version, row.effective_from, row.effective_to, row.period_kind,  # type: ignore[attr-defined]
        row.period_start, row.currency, row.status, row.author, row.created_at, row.reason,  # type: ignore[attr-defined]
        row.document_hash,  # type: ignore[attr-defined]
    )


_VERSION_COLUMNS = [column for column in plans.c if column.name != "document"]


# -- parsing and validation -------------------------------------------------------------


def parse(text: str, source: str | None = None) -> plan_domain.Plan:
    """Read plan YAML text into the domain model; a syntax or shape error raises ValidationError."""
    if len(text) > MAX_DOCUMENT_CHARS:
        raise ValidationError(f"{source or 'the plan'} has {len(text):,} characters; a plan document may have at most "
                              f"{MAX_DOCUMENT_CHARS:,}")
    try:
        return plan_domain.load_plan(text)
    except plan_domain.PlanFormatError as error:
        problems = list(error.problems)
        where = f"{source}: " if source else ""
        raise ValidationError(f"{where}the plan is invalid: {error}", problems) from error


@dataclass(frozen=True)
class ValidationKeys:
    """Keys a plan may refer to: the metric catalog's keys (None without a catalog) and imported quota keys."""

    metrics: frozenset[str] | None
    quotas: frozenset[str]
    # the workspace's fiscal start month, which a plan without its own follows
    fiscal_start_month: int = 1


def validation_keys(connection: Connection) -> ValidationKeys:
    from spm_desktop.store.tables.records import quotas

    quota_keys = frozenset(key for (key,) in connection.execute(select(quotas.c.quota_key).distinct()))
    return ValidationKeys(_metric_keys(connection), quota_keys, period_service.fiscal_start_month(connection))


def read_validation_keys(workspace: Workspace) -> ValidationKeys:
    with workspace.read() as connection:
        return validation_keys(connection)


def _metric_keys(connection: Connection) -> frozenset[str] | None:
    from spm_desktop.services import metric_service  # imported here: the metric service reads plans too

    return frozenset(metric_service.metric_keys(connection))


def validate_against(plan: plan_domain.Plan, keys: ValidationKeys) -> list[Problem]:
    """Check a plan against the domain rules and the given metric and quota keys.

    Plans may be loaded before any quota is imported: then unknown quota keys are
    warnings, and the calculation reports a missing quota per participant.
    """
    used_metrics = {component.metric for component in plan.components}
    used_quotas = {component.quota for component in plan.components if component.quota}
    metric_keys = used_metrics if keys.metrics is None else keys.metrics
    problems = plan_domain.validate_plan(plan, metric_keys, keys.quotas or used_quotas)
    if not keys.quotas and used_quotas:
        problems.append(Problem("plan.no_quotas", "no quotas are imported yet; quota keys "
                                f"{', '.join(sorted(used_quotas))} are checked when a period is calculated",
                                severity="warning"))
    return problems


def validate(connection: Connection, plan: plan_domain.Plan, text: str | None = None) -> list[Problem]:
    """Check a plan against the domain rules, the workspace's metrics and quota keys and its fiscal year.

    ``text`` is the plan's document; without it the plan tells whether it sets its fiscal start.
    """
    problems = validate_against(plan, validation_keys(connection))
    stated = states_fiscal_start(text) if text is not None else plan.fiscal_start_stated
    if stated:
        problems += fiscal_start_problems([plan], period_service.fiscal_start_month(connection), severity="warning")
    return problems


def check_text(workspace: Workspace, text: str) -> tuple[plan_domain.Plan | None, list[Problem]]:
    """Parse and validate plan text without saving; return the plan (None if unreadable) and problems."""
    try:
        plan = parse(text)
    except ValidationError as error:
        return None, error.problems or [Problem("plan.invalid", str(error))]
    with workspace.read() as connection:
        return plan, validate(connection, plan, text)


# -- fiscal year ----------------------------------------------------------------------


FISCAL_START_KEY = "fiscal_start_month"


def states_fiscal_start(text: str) -> bool:
    """Tell whether a plan document sets ``fiscal_start_month`` itself (a top-level key)."""
    if FISCAL_START_KEY not in text:
        return False
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError:
        return False
    return isinstance(data, dict) and FISCAL_START_KEY in data


def with_workspace_fiscal_year(plan: plan_domain.Plan, text: str, fiscal_start: int) -> plan_domain.Plan:
    """Return the plan as a calculation uses it: without a stated fiscal start it follows the workspace's."""
    if plan.fiscal_start_month == fiscal_start or states_fiscal_start(text):
        return plan
    return dataclasses.replace(plan, fiscal_start_month=fiscal_start)


def fiscal_start_problems(plans_to_check: list[plan_domain.Plan], fiscal_start: int, *,
                          severity: str = "error") -> list[Problem]:
    """Return a problem for each plan whose fiscal start month differs from the workspace's ``fiscal_start``."""
    problems = []
    for plan in plans_to_check:
        if plan.fiscal_start_month == fiscal_start:
            continue
        problems.append(Problem(
            "plan.fiscal_start_mismatch",
            f"plan {plan.name!r} sets {FISCAL_START_KEY} {plan.fiscal_start_month}, but the workspace's fiscal "
            f"year starts in month {fiscal_start} (setting {period_service.FISCAL_START_SETTING}); remove "
            f"{FISCAL_START_KEY} from the plan so it follows the workspace, or make the two months equal",
            severity=severity, value=str(plan.fiscal_start_month)))
    return problems


# -- saving ---------------------------------------------------------------------------


def load(workspace: Workspace, text: str, *, source: str | None = None, reason: str | None = None,
         status: str = "active") -> LoadResult:
    """Store plan YAML as a new version after validating it.

    The document's ``version`` (1 when missing) decides the number. A document already
    stored under its name returns that version unchanged. Stored versions are immutable,
    so a version number that is stored, or lower than the latest, is rejected.
    """
    plan = parse(text, source)
    with workspace.transaction() as unit:
        connection = unit.connection
        problems = validate(connection, plan, text)
        if status == "active":
            problems += assignment_conflicts(connection, plan)
        if has_errors(problems):
            raise ValidationError(_rejection(plan.name, problems, source), problems)
        existing = _find_same_document(connection, plan.name, text)
        if existing is not None:
            return LoadResult(existing, False, problems)
        number = _version_number(connection, plan)
        stored = _insert_version(unit, plan, text, number, status, reason, action="plan.load")
    log.info("plan %r version %d stored from %s", stored.name, stored.version, source or "text")
    return LoadResult(stored, True, [problem for problem in problems if problem.severity != "error"])


def save_new_version(workspace: Workspace, plan: plan_domain.Plan, *, reason: str,
                     status: str = "active") -> PlanVersion:
    """Store an edited plan as the next version of its name (the GUI's "save as new version")."""
    if not reason or not reason.strip():
        raise ValidationError(f"saving a new version of {plan.name!r} needs a reason; say what changed and why")
    with workspace.transaction() as unit:
        connection = unit.connection
        number = _next_version(connection, plan.name)
        plan = dataclasses.replace(plan, version=number)
        problems = validate(connection, plan)
        if status == "active":
            problems += assignment_conflicts(connection, plan)
        if has_errors(problems):
            raise ValidationError(_rejection(plan.name, problems, None), problems)
        text = plan_domain.dump_plan(plan)
        stored = _insert_version(unit, plan, text, number, status, reason.strip(), action="plan.save")
    log.info("plan %r version %d saved", stored.name, stored.version)
    return stored


def assignment_conflicts(connection: Connection, plan: plan_domain.Plan) -> list[Problem]:
    """Return a problem for each imported participant whom ``plan`` would put on a second plan.

    Versions of the plan's own name are left out: a new version takes over from its
    effective date. Participants imported later are checked again by every calculation.
    """
    from spm_desktop.services import record_service

    end = plan.effective_to or dt.date.max
    others = [other for _version, other in plans_in_force(connection, plan.effective_from, end)
              if other.name != plan.name]
    if not others:
        return []
    participants = record_service.load_frame(connection, "participants")
    if participants.empty:
        return []
    _assignments, problems = plan_domain.assign_plans([*others, plan], participants, plan.effective_from, end)
    return problems


def _rejection(name: str, problems: list[Problem], source: str | None) -> str:
    errors = [problem for problem in problems if problem.severity == "error"]
    where = f"{source}: " if source else ""
    first = errors[0]
    detail = f"{first.location()}: {first.message}" if first.location() else first.message
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where}plan {name!r} was rejected: {detail}{more}"


def _find_same_document(connection: Connection, name: str, text: str) -> PlanVersion | None:
    row = connection.execute(
        select(*_VERSION_COLUMNS).where(plans.c.name == name, plans.c.document_hash == sha256_hex(text))
        .order_by(plans.c.version.desc()).limit(1)
    ).first()
    return None if row is None else _version_from_row(row)


def _next_version(connection: Connection, name: str) -> int:
    highest = connection.execute(select(func.max(plans.c.version)).where(plans.c.name == name)).scalar_one()
    return 1 if highest is None else highest + 1


def _version_number(connection: Connection, plan: plan_domain.Plan) -> int:
    following = _next_version(connection, plan.name)
    stated = plan.version
    existing = connection.execute(
        select(plans.c.id).where(plans.c.name == plan.name, plans.c.version == stated)
    ).first()
    if existing is not None:
        raise ConflictError(
            f"plan {plan.name!r} version {stated} already exists with different content, and stored versions "
            f"cannot change; set 'version: {following}' in the document to save it as a new version"
        )
    if stated < following:
        raise ConflictError(
            f"plan {plan.name!r} already has versions up to {following - 1}; version {stated} would rewrite "
            f"history, so set 'version: {following}' in the document"
        )
    return stated


def _insert_version(unit: object, plan: plan_domain.Plan, text: str, number: int, status: str,
                    reason: str | None, *, action: str) -> PlanVersion:
    if status not in PLAN_STATUSES:
        raise ValidationError(f"plan status {status!r} is invalid; expected one of: {', '.join(PLAN_STATUSES)}")
    connection = unit.connection  # type: ignore[attr-defined]
    if status == "active":
        assert_no_closed_period(connection, plan.name, plan.effective_from, plan.effective_to)
    previous = latest_version(connection, plan.name)
    values = {
        "name": plan.name,
        "version": number,
        "effective_from": plan.effective_from,
        "effective_to": plan.effective_to,
        "period_kind": plan.period,
        "period_start": plan.period_start,
        "currency": plan.currency,
        "document": text,
        "document_hash": sha256_hex(text),
        "status": status,
        "author": unit.user,  # type: ignore[attr-defined]
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        "reason": reason,
    }
    plan_id = connection.execute(plans.insert().values(**values)).inserted_primary_key[0]
    before = None if previous is None else {"version": previous.version, "document_hash": previous.document_hash,
                                             "status": previous.status}
    after = {"version": number, "document_hash": values["document_hash"], "status": status, "reason": reason,
             "effective_from": plan.effective_from, "effective_to": plan.effective_to}
    unit.audit(action, "plan", f"{plan.name}@{number}", before=before, after=after)  # type: ignore[attr-defined]
    row = connection.execute(select(*_VERSION_COLUMNS).where(plans.c.id == plan_id)).one()
    return _version_from_row(row)


def assert_no_closed_period(connection: Connection, name: str, effective_from: dt.date,
                            effective_to: dt.date | None) -> None:
    """Raise PeriodLockedError when a closed period lies inside a plan version's effective range."""
    period_service.assert_dates_open(connection, effective_from, effective_to, change=f"plan {name!r}")


# -- status ---------------------------------------------------------------------------


def set_status(workspace: Workspace, name: str, version: int, status: str, *, reason: str) -> PlanVersion:
    """Change the status of one version (the only field of a version that may change)."""
    if status not in PLAN_STATUSES:
        raise ValidationError(f"plan status {status!r} is invalid; expected one of: {', '.join(PLAN_STATUSES)}")
    with workspace.transaction() as unit:
        current = get_version(unit.connection, name, version)
        if current.status == status:
            return current
        if status == "active":
            assert_no_closed_period(unit.connection, name, current.effective_from, current.effective_to)
        unit.connection.execute(plans.update().where(plans.c.id == current.id).values(status=status))
        unit.audit("plan.status", "plan", f"{name}@{version}", before={"status": current.status},
                   after={"status": status, "reason": reason})
        return get_version(unit.connection, name, version)


# -- reading --------------------------------------------------------------------------


def list_versions(connection: Connection, name: str | None = None) -> list[PlanVersion]:
    """Return stored plan versions ordered by name (code-point order) and version."""
    query = select(*_VERSION_COLUMNS).order_by(plans.c.name, plans.c.version)
    if name is not None:
        query = query.where(plans.c.name == name)
    return [_version_from_row(row) for row in connection.execute(query)]


def list_plans(workspace: Workspace) -> list[PlanVersion]:
    with workspace.read() as connection:
        return list_versions(connection)


def latest_version(connection: Connection, name: str) -> PlanVersion | None:
    row = connection.execute(
        select(*_VERSION_COLUMNS).where(plans.c.name == name).order_by(plans.c.version.desc()).limit(1)
    ).first()
    return None if row is None else _version_from_row(row)


def get_version(connection: Connection, name: str, version: int | None = None) -> PlanVersion:
    """Return one version (the latest when ``version`` is None) or raise NotFoundError."""
    if version is None:
        found = latest_version(connection, name)
    else:
        row = connection.execute(
            select(*_VERSION_COLUMNS).where(plans.c.name == name, plans.c.version == version)
        ).first()
        found = None if row is None else _version_from_row(row)
    if found is None:
        raise NotFoundError(_not_found_message(connection, name, version))
    return found


def _not_found_message(connection: Connection, name: str, version: int | None) -> str:
    versions = [row.version for row in list_versions(connection, name)]
    if versions:
        listed = ", ".join(str(number) for number in versions)
        return f"plan {name!r} has no version {version}; stored versions: {listed}"
    names = sorted({row.name for row in list_versions(connection)})
    known = ", ".join(repr(known) for known in names[:20]) or "none"
    return f"plan {name!r} not found; stored plans: {known}. Load it with 'spm plan load'"


def document(connection: Connection, name: str, version: int | None = None) -> str:
    """Return the stored YAML of one version (the latest when ``version`` is None)."""
    found = get_version(connection, name, version)
    return connection.execute(select(plans.c.document).where(plans.c.id == found.id)).scalar_one()


def get_plan(connection: Connection, name: str, version: int | None = None) -> plan_domain.Plan:
    """Return the domain model of one stored version."""
    return plan_domain.load_plan(document(connection, name, version))


def plan_for_calculation(connection: Connection, name: str, version: int | None = None) -> plan_domain.Plan:
    """Return one stored version as a calculation uses it, with the workspace's fiscal year applied."""
    text = document(connection, name, version)
    return with_workspace_fiscal_year(plan_domain.load_plan(text), text, period_service.fiscal_start_month(connection))


def plan_by_id(connection: Connection, plan_id: int) -> tuple[PlanVersion, plan_domain.Plan]:
    row = connection.execute(select(plans).where(plans.c.id == plan_id)).first()
    if row is None:
        raise NotFoundError(f"plan version with id {plan_id} not found")
    return _version_from_row(row), plan_domain.load_plan(row.document)


def plans_in_force(connection: Connection, start: dt.date, end: dt.date) -> list[tuple[PlanVersion, plan_domain.Plan]]:
    """Return the active plan versions that govern some day between start and end.

    A higher version takes over from its effective_from, so a lower version's effective
    range ends the day before. The returned Plan carries the shortened range, and the
    PlanVersion keeps the stored one. A lower version that a higher one covers from
    its first day is left out. Versions come sorted by name, then version, so the last
    one of a name is the newest. A Plan whose document has no ``fiscal_start_month``
    carries the workspace's fiscal start month.
    """
    fiscal_start = period_service.fiscal_start_month(connection)
    query = (
        select(plans)
        .where(plans.c.status == "active", plans.c.effective_from <= end,
               or_(plans.c.effective_to.is_(None), plans.c.effective_to >= start))
        .order_by(plans.c.name, plans.c.version)
    )
    by_name: dict[str, list[object]] = {}
    for row in connection.execute(query):
        by_name.setdefault(row.name, []).append(row)
    chosen: list[tuple[PlanVersion, plan_domain.Plan]] = []
    for rows in by_name.values():
        for index, row in enumerate(rows):
            window = _governing_window(row, rows[index + 1:])
            if window is None or window[0] > end or (window[1] is not None and window[1] < start):
                continue
            plan = plan_domain.load_plan(row.document)  # type: ignore[attr-defined]
            plan = with_workspace_fiscal_year(plan, row.document, fiscal_start)  # type: ignore[attr-defined]
            plan = dataclasses.replace(plan, effective_from=window[0], effective_to=window[1])
            chosen.append((_version_from_row(row), plan))
    return chosen


def _governing_window(row: object, higher: list[object]) -> tuple[dt.date, dt.date | None] | None:
    first: dt.date = row.effective_from  # type: ignore[attr-defined]
    last: dt.date | None = row.effective_to  # type: ignore[attr-defined]
    for later in higher:
        later_from: dt.date = later.effective_from  # type: ignore[attr-defined]
        if later_from <= first:
            return None
        cut = later_from - dt.timedelta(days=1)
        last = cut if last is None else min(last, cut)
    return first, last


def active_plan_kinds(connection: Connection) -> list[tuple[str, dt.date | None]]:
    """Return the distinct (period kind, period start) pairs of active plans."""
    query = select(plans.c.period_kind, plans.c.period_start).where(plans.c.status == "active").distinct()
    return [(row.period_kind, row.period_start) for row in connection.execute(query)]


def export(workspace: Workspace, name: str, target: Path, version: int | None = None) -> PlanVersion:
    """Write the stored YAML of a version to a file, byte for byte as it was loaded or saved."""
    with workspace.read() as connection:
        found = get_version(connection, name, version)
        text = document(connection, name, found.version)
    try:
        target.write_text(text, encoding="utf-8", newline="")
    except OSError as error:
        raise SpmError(f"cannot write plan {name!r} to {target}: {error.strerror}; choose a writable file") from error
    with workspace.transaction() as unit:
        unit.audit("plan.export", "plan", f"{name}@{found.version}", after={"file": target.name})
    return found


def describe(workspace: Workspace, name: str, version: int | None = None) -> str:
    """Return the plain-language summary of a stored version."""
    with workspace.read() as connection:
        return plan_domain.describe_plan(get_plan(connection, name, version))


def summary_of(plan: plan_domain.Plan) -> str:
    """Return the plain-language summary of a plan that is being edited."""
    return plan_domain.describe_plan(plan)


def changes_between(before: plan_domain.Plan, after: plan_domain.Plan) -> list[str]:
    return plan_domain.diff_plans(before, after)


def curve_of(component: plan_domain.Component, quota: Decimal, points: int = 61) -> list[tuple[Decimal, Decimal]]:
    """Return (attainment, earnings) points of a commission or bonus; ValueError for other components."""
    return plan_domain.payout_curve(component, quota, points)


def diff(workspace: Workspace, name: str, old: int, new: int) -> list[str]:
    """Return the differences between two stored versions of a plan, one line each."""
    with workspace.read() as connection:
        before = get_plan(connection, name, old)
        after = get_plan(connection, name, new)
    return plan_domain.diff_plans(before, after)


def assignment_problems(workspace: Workspace, start: dt.date, end: dt.date) -> list[Problem]:
    """Return a problem for every participant on two active plans on the same date between start and end."""
    from spm_desktop.services import record_service

    with workspace.read() as connection:
        in_force = [plan for _version, plan in plans_in_force(connection, start, end)]
        participants = record_service.load_frame(connection, "participants")
    _assignments, problems = plan_domain.assign_plans(in_force, participants, start, end)
    return problems


def period_assignment_problems(workspace: Workspace, period_label: str) -> list[Problem]:
    """Return the plan assignment conflicts of the days a period label covers."""
    from spm_desktop.domain.periods import PeriodError, parse_period

    with workspace.read() as connection:
        fiscal_start = period_service.fiscal_start_month(connection)
    try:
        period = parse_period(period_label, fiscal_start_month=fiscal_start)
    except PeriodError as error:
        raise ValidationError(str(error)) from None
    return assignment_problems(workspace, period.start, period.end)


def plan_names(connection: Connection) -> list[str]:
    return [name for (name,) in connection.execute(select(plans.c.name).distinct().order_by(plans.c.name))]


def referenced_metric_keys(connection: Connection) -> set[str]:
    """Return the metric keys that active plan versions use (for the metric catalog's checks)."""
    keys: set[str] = set()
    for row in connection.execute(select(plans.c.document).where(and_(plans.c.status == "active"))):
        plan = plan_domain.load_plan(row.document)
        keys.update(component.metric for component in plan.components if component.metric)
    return keys


# -- audit content check ---------------------------------------------------------------


def verify_plan_documents(connection: Connection) -> list[str]:
    """Compare every stored plan document with its hash and with the hash its audit entry recorded."""
    import json

    from spm_desktop.store.tables.core import audit_log

    recorded: dict[str, str] = {}
    query = select(audit_log.c.entity_id, audit_log.c.after).where(
        audit_log.c.entity_type == "plan", audit_log.c.action.in_(("plan.load", "plan.save")))
    for entity_id, after in connection.execute(query):
        recorded[entity_id] = json.loads(after).get("document_hash") if after else None
    problems = []
    for row in connection.execute(select(plans.c.name, plans.c.version, plans.c.document, plans.c.document_hash)):
        digest = sha256_hex(row.document)
        expected = recorded.get(f"{row.name}@{row.version}")
        if digest != row.document_hash or digest != expected:
            problems.append(f"plan {row.name!r} version {row.version} was changed outside SPM Desktop "
                            "(its document does not match the hash in the audit trail)")
    return problems


audit_service.register_content_check("plan versions", verify_plan_documents)
