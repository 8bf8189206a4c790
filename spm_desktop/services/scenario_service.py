"""What-if scenarios: a copy of a plan, changed and run on a past period beside the official results.

A scenario stores its own plan document and optional quota overrides. Running it hands
the calculation service the scenario plan in place of the plan it was copied from, as a
run of kind ``scenario``. Such runs are stored apart from official runs. They never
supersede an official run or change a period's state, and statements and payroll never
read them. Creating, changing, running and exporting a scenario is audited.

The comparison reads the latest scenario run and the current official run of the same
period, restricted to the participants of the base plan (actual side) and of the
scenario plan (scenario side).
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, delete, select
from sqlalchemy import update as sql_update

from spm_desktop.domain import plans as plan_domain
from spm_desktop.domain import review as review_domain
from spm_desktop.domain.canonical import sha256_hex
from spm_desktop.domain.money import MoneyError, from_minor, from_record_units, to_decimal, to_record_units
from spm_desktop.domain.periods import Period
from spm_desktop.domain.problems import Problem
from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.exporting import safe
from spm_desktop.services import calc_service, period_service, plan_service, record_service, review_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ConflictError, NotFoundError, SpmError, ValidationError
from spm_desktop.store.tables.scenarios import scenario_quotas, scenarios

log = logging.getLogger(__name__)

SCENARIO = "scenario"
MAX_NAME_CHARS = 200
# Attainments at which the comparison finds what the scenario needs to pay the same.
PARITY_LEVELS = tuple(Decimal(text) for text in ("0.5", "0.75", "1.0", "1.25", "1.5"))


@dataclass(frozen=True)
class QuotaOverride:
    """A quota that replaces the imported one for a participant, quota key and period in the scenario."""

    participant_id: str
    quota_key: str
    period: str
    amount: Decimal
    currency: str | None = None


@dataclass(frozen=True)
class ScenarioInfo:
    id: int
    name: str
    base_plan: str
    base_version: int
    description: str | None
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str
    document_hash: str
    quota_overrides: int = 0


@dataclass(frozen=True)
class ComponentChange:
    component: str
    actual: Decimal
    scenario: Decimal

    @property
    def difference(self) -> Decimal:
        return self.scenario - self.actual


@dataclass(frozen=True)
class ScenarioReport:
    """The side-by-side comparison of a scenario run with the official run of the same period."""

    scenario: ScenarioInfo
    period: str
    scenario_plan: str
    actual_run_ids: tuple[int, ...]
    scenario_run_ids: tuple[int, ...]
    comparison: review_domain.ScenarioComparison
    components: tuple[ComponentChange, ...]
    actual_review: review_domain.AlignmentReview | None = None
    scenario_review: review_domain.AlignmentReview | None = None
    notes: tuple[str, ...] = field(default=())


# --- reading ----------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _info(connection: Connection, row: object) -> ScenarioInfo:
    count = len(connection.execute(select(scenario_quotas.c.id).where(
        scenario_quotas.c.scenario_id == row.id)).all())  # type: ignore[attr-defined]
    r = row
    return ScenarioInfo(r.id, r.name, r.base_plan, r.base_version, r.description, r.created_by,  # type: ignore[attr-defined]
                        r.created_at, r.updated_by, r.updated_at, r.document_hash, count)  # type: ignore[attr-defined]


def find(connection: Connection, name: str) -> ScenarioInfo:
    """Return a scenario by name or raise NotFoundError listing the saved ones."""
    row = connection.execute(select(scenarios).where(scenarios.c.name == name)).first()
    if row is None:
        known = [saved for (saved,) in connection.execute(select(scenarios.c.name).order_by(scenarios.c.name))]
        listed = ", ".join(repr(saved) for saved in known[:20]) or "none"
        raise NotFoundError(f"scenario {name!r} not found; saved scenarios: {listed}. "
                            "Create one with 'spm scenario create'")
    return _info(connection, row)


def get(workspace: Workspace, name: str) -> ScenarioInfo:
    with workspace.read() as connection:
        return find(connection, name)


def list_scenarios(workspace: Workspace) -> list[ScenarioInfo]:
    with workspace.read() as connection:
        rows = connection.execute(select(scenarios).order_by(scenarios.c.name)).all()
        return [_info(connection, row) for row in rows]


def document(connection: Connection, name: str) -> str:
    """Return the scenario's plan YAML."""
    info = find(connection, name)
    return connection.execute(select(scenarios.c.document).where(scenarios.c.id == info.id)).scalar_one()


def scenario_plan(connection: Connection, name: str) -> plan_domain.Plan:
    """Return the scenario's plan as a calculation uses it, with the workspace's fiscal year applied."""
    text = document(connection, name)
    return plan_service.with_workspace_fiscal_year(
        plan_domain.load_plan(text), text, period_service.fiscal_start_month(connection))


def plan_changes(connection: Connection, name: str) -> list[str]:
    """Return what the scenario changes in the plan version it was copied from, one line per difference."""
    info = find(connection, name)
    base = plan_service.get_plan(connection, info.base_plan, info.base_version)
    return plan_domain.diff_plans(base, scenario_plan(connection, name))


def quota_overrides(connection: Connection, scenario_id: int) -> list[QuotaOverride]:
    query = select(scenario_quotas).where(scenario_quotas.c.scenario_id == scenario_id).order_by(
        scenario_quotas.c.participant_id, scenario_quotas.c.quota_key, scenario_quotas.c.period)
    return [QuotaOverride(row.participant_id, row.quota_key, row.period, from_record_units(row.amount_e4),
                          row.currency) for row in connection.execute(query)]


def get_quota_overrides(workspace: Workspace, name: str) -> list[QuotaOverride]:
    with workspace.read() as connection:
        return quota_overrides(connection, find(connection, name).id)


# --- writing ----------------------------------------------------------------------------


def _check_name(name: str) -> str:
    text = name.strip()
    if not text:
        raise ValidationError("a scenario needs a name; type one, for example 'AE 2017 higher accelerator'")
    if len(text) > MAX_NAME_CHARS:
        raise ValidationError(f"scenario name has {len(text)} characters; use at most {MAX_NAME_CHARS}")
    return text


def _checked_plan(connection: Connection, text: str, source: str) -> plan_domain.Plan:
    plan = plan_service.parse(text, source)
    problems = plan_service.validate(connection, plan)
    errors = [problem for problem in problems if problem.severity == "error"]
    if errors:
        raise ValidationError(f"{source}: the scenario plan is invalid; fix the listed components and bands",
                              errors)
    return plan


def _override_rows(connection: Connection, scenario_id: int,
                   overrides: Sequence[QuotaOverride]) -> list[dict[str, object]]:
    """Validate the overrides like an import of quotas would and return their table rows.

    Rejects, with one problem per override, a participant that is not imported and a
    negative amount. A duplicate or an unreadable amount rejects at once.
    """
    known = _participant_ids(connection)
    rows = []
    problems: list[Problem] = []
    seen: set[tuple[str, str, str]] = set()
    for position, override in enumerate(overrides, start=1):
        key = (override.participant_id, override.quota_key, override.period)
        if key in seen:
            raise ValidationError(f"quota override for participant {override.participant_id!r}, quota "
                                  f"{override.quota_key!r}, period {override.period!r} is given twice; keep one")
        seen.add(key)
        try:
            amount = to_record_units(to_decimal(override.amount))
        except MoneyError as error:
            raise ValidationError(f"quota override for participant {override.participant_id!r}: {error}") from error
        problems += _override_problems(position, override, amount, known)
        rows.append({"scenario_id": scenario_id, "participant_id": override.participant_id,
                     "quota_key": override.quota_key, "period": override.period, "amount_e4": amount,
                     "currency": override.currency})
    if problems:
        raise ValidationError(f"{len(problems)} quota overrides are invalid, so none was saved: "
                              f"{problems[0].message}", problems)
    return rows


def _participant_ids(connection: Connection) -> set[str]:
    return {participant.participant_id for participant in record_service.list_participants(connection)}


def _override_problems(position: int, override: QuotaOverride, amount_e4: int, known: set[str]) -> list[Problem]:
    where = (f"quota override {position} (participant {override.participant_id!r}, quota {override.quota_key!r}, "
             f"period {override.period!r})")
    problems = []
    if override.participant_id not in known:
        close = difflib.get_close_matches(override.participant_id, known, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]!r}?" if close else "; import the participant first or correct the id"
        problems.append(Problem("scenario.unknown_participant",
                                f"{where}: unknown participant {override.participant_id!r}{hint}",
                                column="participant_id", value=override.participant_id,
                                participant_id=override.participant_id))
    if amount_e4 < 0:
        problems.append(Problem("scenario.negative_quota",
                                f"{where}: a quota cannot be negative; correct the amount",
                                column="amount", value=str(override.amount),
                                participant_id=override.participant_id))
    return problems


def create(workspace: Workspace, name: str, plan_name: str, *, version: int | None = None,
           document_text: str | None = None, description: str | None = None,
           overrides: Sequence[QuotaOverride] = ()) -> ScenarioInfo:
    """Save a new scenario as a copy of a stored plan version, or of a given plan document.

    ``document_text`` (for example read from a YAML file) replaces the copy; it is
    validated like a plan. The scenario later runs in place of ``plan_name``.
    """
    name = _check_name(name)
    with workspace.transaction() as unit:
        connection = unit.connection
        if connection.execute(select(scenarios.c.id).where(scenarios.c.name == name)).first() is not None:
            raise ConflictError(f"a scenario named {name!r} already exists; choose another name or update it")
        base = plan_service.get_version(connection, plan_name, version)
        text = document_text if document_text is not None else plan_service.document(connection, plan_name,
                                                                                      base.version)
        _checked_plan(connection, text, f"scenario {name!r}")
        now = _now()
        scenario_id = connection.execute(scenarios.insert().values(
            name=name, base_plan=base.name, base_version=base.version, document=text,
            document_hash=sha256_hex(text), description=description, created_by=unit.user, created_at=now,
            updated_by=unit.user, updated_at=now)).inserted_primary_key[0]
        rows = _override_rows(connection, scenario_id, overrides)
        if rows:
            connection.execute(scenario_quotas.insert(), rows)
        unit.audit("scenario.create", SCENARIO, name, after={
            "base_plan": base.name, "base_version": base.version, "document_hash": sha256_hex(text),
            "description": description, "quota_overrides": len(rows)})
        info = find(connection, name)
    log.info("scenario %s created from plan %s version %d", name, base.name, base.version)
    return info


def update(workspace: Workspace, name: str, *, document_text: str | None = None, description: str | None = None,
           overrides: Sequence[QuotaOverride] | None = None) -> ScenarioInfo:
    """Change a scenario's plan document, description or quota overrides (all of them at once)."""
    with workspace.transaction() as unit:
        connection = unit.connection
        before = find(connection, name)
        values: dict[str, object] = {"updated_by": unit.user, "updated_at": _now()}
        if document_text is not None:
            _checked_plan(connection, document_text, f"scenario {name!r}")
            values.update(document=document_text, document_hash=sha256_hex(document_text))
        if description is not None:
            values["description"] = description
        connection.execute(sql_update(scenarios).where(scenarios.c.id == before.id).values(**values))
        if overrides is not None:
            connection.execute(delete(scenario_quotas).where(scenario_quotas.c.scenario_id == before.id))
            rows = _override_rows(connection, before.id, overrides)
            if rows:
                connection.execute(scenario_quotas.insert(), rows)
        after = find(connection, name)
        unit.audit("scenario.update", SCENARIO, name,
                   before={"document_hash": before.document_hash, "description": before.description,
                           "quota_overrides": before.quota_overrides},
                   after={"document_hash": after.document_hash, "description": after.description,
                          "quota_overrides": after.quota_overrides})
    return after


def rename(workspace: Workspace, name: str, new_name: str) -> ScenarioInfo:
    new_name = _check_name(new_name)
    with workspace.transaction() as unit:
        info = find(unit.connection, name)
        if unit.connection.execute(select(scenarios.c.id).where(scenarios.c.name == new_name)).first() is not None:
            raise ConflictError(f"a scenario named {new_name!r} already exists; choose another name")
        unit.connection.execute(sql_update(scenarios).where(scenarios.c.id == info.id).values(
            name=new_name, updated_by=unit.user, updated_at=_now()))
        unit.audit("scenario.rename", SCENARIO, new_name, before={"name": name}, after={"name": new_name})
        return find(unit.connection, new_name)


def delete_scenario(workspace: Workspace, name: str) -> None:
    """Delete a scenario and its quota overrides; its stored runs stay for the audit trail."""
    with workspace.transaction() as unit:
        info = find(unit.connection, name)
        unit.connection.execute(delete(scenario_quotas).where(scenario_quotas.c.scenario_id == info.id))
        unit.connection.execute(delete(scenarios).where(scenarios.c.id == info.id))
        unit.audit("scenario.delete", SCENARIO, name, before={"base_plan": info.base_plan,
                                                               "document_hash": info.document_hash})


# --- running ----------------------------------------------------------------------------


def _overrides_frame(overrides: Sequence[QuotaOverride]) -> pd.DataFrame:
    return pd.DataFrame({
        "participant_id": [o.participant_id for o in overrides],
        "quota_key": [o.quota_key for o in overrides],
        "period": [o.period for o in overrides],
        "amount": pd.array([to_record_units(o.amount) for o in overrides], dtype="Int64"),
        "currency": [o.currency for o in overrides],
    })


def run(workspace: Workspace, name: str, period: str, *, progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None) -> ScenarioReport:
    """Calculate the scenario on a period without touching official results, then compare it."""
    with workspace.read() as connection:
        info = find(connection, name)
        plan = scenario_plan(connection, name)
        overrides = quota_overrides(connection, info.id)
    calc_service.calculate(workspace, period, progress=progress, cancel=cancel,
                           plans_override={info.base_plan: plan}, kind=SCENARIO, scenario_id=info.id,
                           quota_overrides=_overrides_frame(overrides) if overrides else None)
    log.info("scenario %s calculated on %s", name, period)
    return compare(workspace, name, period, with_review=False)


def compare(workspace: Workspace, name: str, period: str, *, with_review: bool = True,
            progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> ScenarioReport:
    """Compare the latest stored run of a scenario with the official results of the same period."""
    with workspace.read() as connection:
        info = find(connection, name)
        plan = scenario_plan(connection, name)
        span = review_service.review_span(connection, period)
        actual_runs = [run.id for run in calc_service.current_runs(connection, span.label)]  # type: ignore[attr-defined]
        scenario_runs = [run.id for run in calc_service.current_runs(  # type: ignore[attr-defined]
            connection, span.label, kind=SCENARIO, scenario_id=info.id)]
        _require_runs(info, span, actual_runs, scenario_runs)
        actual_rows = _plan_rows(review_service.load_results(connection, actual_runs), info.base_plan)
        scenario_rows = _plan_rows(review_service.load_results(connection, scenario_runs), plan.name)
        progress(1, 3, "comparing payouts")
        base_plan = plan_service.get_plan(connection, info.base_plan, info.base_version)
        comparison = _compare_totals(actual_rows, scenario_rows, base_plan, plan)
        components = _component_changes(actual_rows, scenario_rows)
        actual_review = scenario_review = None
        if with_review:
            progress(2, 3, "computing alignment figures")
            actual_review = _side_review(connection, span, actual_rows, {base_plan.name: base_plan}, 0)
            scenario_review = _side_review(connection, span, scenario_rows, {plan.name: plan}, info.quota_overrides)
        if cancel is not None:
            cancel.raise_if_cancelled()
    return ScenarioReport(info, span.label, plan.name, tuple(actual_runs), tuple(scenario_runs), comparison,
                          components, actual_review, scenario_review)


def _require_runs(info: ScenarioInfo, span: Period, actual_runs: list[int], scenario_runs: list[int]) -> None:
    if not actual_runs:
        raise NotFoundError(f"no official calculation of {span.label} is stored to compare scenario "
                            f"{info.name!r} with; calculate the period first (spm calc WS --period {span.label})")
    if not scenario_runs:
        raise NotFoundError(f"scenario {info.name!r} has not been run on {span.label}; run it first "
                            f"(spm scenario run WS {info.name!r} --period {span.label})")


def _plan_rows(rows: pd.DataFrame, plan_name: str) -> pd.DataFrame:
    if rows.empty:
        return rows
    return rows[rows["plan"] == plan_name]


def _payouts(rows: pd.DataFrame) -> dict[str, Decimal]:
    payouts: dict[str, Decimal] = {}
    totals = rows[rows["row_kind"] == "total"] if not rows.empty else rows
    for participant_id, minor, currency in zip(totals["participant_id"], totals["earnings_minor"],
                                               totals["currency"], strict=True):
        payouts[participant_id] = payouts.get(participant_id, Decimal(0)) + from_minor(int(minor), currency)
    return payouts


def _names(*frames: pd.DataFrame) -> dict[str, str]:
    names: dict[str, str] = {}
    for frame in frames:
        if frame.empty:
            continue
        for participant_id, name in zip(frame["participant_id"], frame["participant_name"], strict=True):
            if name:
                names[participant_id] = name
    return names


def _compare_totals(actual_rows: pd.DataFrame, scenario_rows: pd.DataFrame, base_plan: plan_domain.Plan,
                    plan: plan_domain.Plan) -> review_domain.ScenarioComparison:
    parity = _parity(actual_rows, base_plan, plan)
    return review_domain.compare_payouts(_payouts(actual_rows), _payouts(scenario_rows),
                                         _names(actual_rows, scenario_rows), plan.currency, parity)


def _parity(actual_rows: pd.DataFrame, base_plan: plan_domain.Plan,
            plan: plan_domain.Plan) -> tuple[review_domain.SameParity, ...]:
    """Compare payout curves of the first quota component at the median actual quota."""
    component = next((c for c in base_plan.components if c.quota and c.type in ("commission", "bonus")), None)
    if component is None or actual_rows.empty:
        return ()
    changed = next((c for c in plan.components if c.name == component.name), None)
    quotas = [Decimal(q) for q in actual_rows.loc[actual_rows["component"] == component.name, "quota"].dropna()]
    quotas = [q for q in quotas if q > 0]
    if changed is None or changed.type not in ("commission", "bonus") or not quotas:
        return ()
    quota = statistics.median_low(quotas)
    points = _curve_points(component, changed)
    actual_curve = plan_domain.payout_curve(component, quota, points)
    scenario_curve = plan_domain.payout_curve(changed, quota, points)
    return review_domain.payout_parity(actual_curve, scenario_curve, PARITY_LEVELS)


def _curve_points(*components: plan_domain.Component) -> list[Decimal]:
    """Return attainments from 0 to 3 in steps of 0.05 plus every band edge and curve point, sorted."""
    points = {Decimal(step) / 20 for step in range(61)}
    for component in components:
        if component.tiers and component.tiers.by == "attainment":
            points.update(band.start for band in component.tiers.bands)
        points.update(point.attainment for point in component.curve)
    return sorted(points)


def _component_changes(actual_rows: pd.DataFrame, scenario_rows: pd.DataFrame) -> tuple[ComponentChange, ...]:
    def sums(rows: pd.DataFrame) -> dict[str, Decimal]:
        found: dict[str, Decimal] = {}
        if rows.empty:
            return found
        parts = rows[rows["row_kind"] != "total"]
        for component, minor, currency in zip(parts["component"], parts["earnings_minor"], parts["currency"],
                                              strict=True):
            found[component] = found.get(component, Decimal(0)) + from_minor(int(minor), currency)
        return found

    actual, scenario = sums(actual_rows), sums(scenario_rows)
    names = list(dict.fromkeys([*actual, *scenario]))
    return tuple(ComponentChange(name, actual.get(name, Decimal(0)), scenario.get(name, Decimal(0)))
                 for name in names)


def _side_review(connection: Connection, span: Period, rows: pd.DataFrame, plans: dict[str, plan_domain.Plan],
                 overrides: int) -> review_domain.AlignmentReview:
    """Compute the figures that depend on pay for one side; late closing and margin are the same on both."""
    participants = record_service.load_frame(connection, "participants")
    outcomes, _mains = review_service.outcomes_from_results(rows, plans, participants, span)
    metrics, notes = review_service.metric_outlines(connection)
    members = sorted({o.participant_id for o in outcomes})
    outlines = [review_service.outline_plan(plan, members, 0, overrides) for plan in plans.values()]
    currency = next(iter(plans.values())).currency
    return review_domain.build_review(span.label, currency, outcomes, metrics, outlines, notes=notes)


# --- export -----------------------------------------------------------------------------


def export(workspace: Workspace, name: str, period: str, target: Path) -> Path:
    """Write the comparison to an .xlsx workbook with every text cell neutralised."""
    if target.suffix.lower() != ".xlsx":
        raise SpmError(f"cannot export scenario {name!r} to {target.name}: use a .xlsx file name")
    report = compare(workspace, name, period)
    with workspace.read() as connection:
        text = document(connection, name)
        overrides = quota_overrides(connection, report.scenario.id)
        changes = plan_changes(connection, name)
    try:
        _write_workbook(target, report, text, overrides, changes)
    except OSError as error:
        raise SpmError(f"cannot write {target}: {error.strerror}; choose a writable file") from error
    with workspace.transaction() as unit:
        unit.audit("scenario.export", SCENARIO, name, after={"period": report.period, "file": target.name,
                                                              "scenario_runs": list(report.scenario_run_ids)})
    return target


def summary_rows(report: ScenarioReport) -> list[tuple[str, object]]:
    """Return the comparison's headline numbers as (label, value) pairs, for the export and the GUI."""
    c = report.comparison
    return [
        ("Scenario", report.scenario.name),
        ("Copied from plan", f"{report.scenario.base_plan} version {report.scenario.base_version}"),
        ("Period", report.period),
        ("Currency", c.currency),
        ("Participants", c.participants),
        ("Actual cost", c.actual_cost),
        ("Scenario cost", c.scenario_cost),
        ("Difference", c.cost_difference),
        ("Actual cost per participant", _two(c.actual_cost_per_participant)),
        ("Scenario cost per participant", _two(c.scenario_cost_per_participant)),
        ("Participants earning more", len(c.winners)),
        ("Participants earning less", len(c.losers)),
        ("Participants unchanged", c.unchanged),
        ("Explanation", c.explanation),
    ]


def _two(value: Decimal | None) -> Decimal | None:
    return None if value is None else review_domain.round_half_up(value, 2)


def _write_workbook(target: Path, report: ScenarioReport, text: str, overrides: list[QuotaOverride],
                    changes: list[str]) -> None:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(target), {"strings_to_formulas": False, "strings_to_urls": False,
                                                 "strings_to_numbers": False})
    # Fixed metadata, so the same comparison exports to the same bytes.
    workbook.set_properties({"created": dt.datetime(2000, 1, 1), "author": "SPM Desktop"})  # noqa: DTZ001
    formats = safe.standard_formats(workbook)
    sheet = workbook.add_worksheet("Summary")
    safe.write_xlsx_table(sheet, ("Figure", "Value"), summary_rows(report) + _alignment_rows(report), formats)
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 1, 90)
    safe.write_xlsx_table(workbook.add_worksheet("Participants"),
                          ("participant_id", "name", "actual", "scenario", "difference"),
                          [(c.participant_id, c.name, c.actual, c.scenario, c.difference)
                           for c in report.comparison.changes], formats)
    safe.write_xlsx_table(workbook.add_worksheet("Components"), ("component", "actual", "scenario", "difference"),
                          [(c.component, c.actual, c.scenario, c.difference) for c in report.components], formats)
    safe.write_xlsx_table(workbook.add_worksheet("Same payout"),
                          ("attainment", "actual payout", "scenario attainment for the same payout"),
                          [(p.attainment, p.actual_payout, p.scenario_attainment) for p in report.comparison.parity],
                          formats)
    changes_sheet = workbook.add_worksheet("Plan changes")
    safe.write_xlsx_table(changes_sheet, ("change from the copied plan version",), [(line,) for line in changes],
                          formats)
    changes_sheet.set_column(0, 0, 100)
    safe.write_xlsx_table(workbook.add_worksheet("Quota overrides"),
                          ("participant_id", "quota_key", "period", "amount", "currency"),
                          [(o.participant_id, o.quota_key, o.period, o.amount, o.currency) for o in overrides],
                          formats)
    plan_sheet = workbook.add_worksheet("Scenario plan")
    safe.write_xlsx_table(plan_sheet, ("plan YAML",), [(line,) for line in text.splitlines()], formats)
    plan_sheet.set_column(0, 0, 100)
    workbook.close()


def _alignment_rows(report: ScenarioReport) -> list[tuple[str, object]]:
    if report.actual_review is None or report.scenario_review is None:
        return []
    rows: list[tuple[str, object]] = []
    scenario = {h.key: h for h in report.scenario_review.headlines()}
    for headline in report.actual_review.headlines():
        other = scenario.get(headline.key)
        rows.append((f"{headline.title} (actual)", headline.explanation))
        if other is not None:
            rows.append((f"{headline.title} (scenario)", other.explanation))
    return rows
