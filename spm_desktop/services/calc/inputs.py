"""Read everything a calculation needs before the engine runs, with a fingerprint of each input.

``read_inputs`` selects the plans in force (or the plans given), the plan periods to
store, the record sets, compiled metric versions, approved adjustments and the recorded
results of earlier closed periods of the plan year. ``load_records`` reads the record
sets once, so callers that calculate several periods on the same records can share them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
from sqlalchemy import Connection, select

from spm_desktop import __version__
from spm_desktop.domain.canonical import canonical_json, fingerprint, sha256_hex
from spm_desktop.domain.money import from_minor
from spm_desktop.domain.problems import Problem
from spm_desktop.services import plan_service
from spm_desktop.services.calc.storing import OFFICIAL
from spm_desktop.services.errors import NotFoundError, ValidationError
from spm_desktop.store.tables.calc import calc_balances, result_lines, results

RECORD_SETS = ("participants", "hierarchy", "credit_splits", "quotas", "fx_rates", "deals")


@dataclass
class RecordFrames:
    """The record sets a calculation reads, loaded once and shared by every period calculated from them.

    The engine does not write into these frames (pandas copy-on-write keeps the caller's
    frame unchanged, and a test compares their fingerprints before and after), so one
    load can feed the open period and every closed period recomputed with it. Each
    frame's fingerprint is computed once, on first request.
    """

    frames: dict[str, pd.DataFrame]
    _fingerprints: dict[str, str] = field(default_factory=dict, repr=False)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.frames[name]

    def date_problems(self) -> list[Problem]:
        """Return an error problem for every record left out of these frames for an unusable date."""
        from spm_desktop.services import record_service

        return [problem for name in RECORD_SETS if name in self.frames
                for problem in record_service.unusable_date_problems(self.frames[name])]

    def fingerprint(self, name: str) -> str:
        """Return ``frame_fingerprint`` of one record set, computed on the first call."""
        if name not in self._fingerprints:
            self._fingerprints[name] = frame_fingerprint(self.frames[name])
        return self._fingerprints[name]


@dataclass
class RunInputs:
    """Everything one calculation read before the engine runs, with the fingerprints its runs record."""

    label: str
    engine_inputs: object  # domain.engine.model.CalculationInputs
    versions_by_name: dict[str, list[object]]  # plan name -> PlanVersions passed to the engine
    plan_currency: dict[str, str]
    periods: dict[str, object]  # label -> domain Period of every plan period to store
    skipped: list[Problem]
    fingerprints: dict[str, str]
    versions: dict[str, object]
    # The record sets as loaded, before quota overrides. Closed periods recomputed for
    # this calculation reuse them instead of reading every record again.
    records: RecordFrames | None = None


def _label_span(connection: Connection, label: str, plans: Sequence[object]) -> tuple[dt.date, dt.date]:
    """Return the first and last day a label covers (a day label covers the cycles of week plans)."""
    from spm_desktop.domain import periods as period_domain
    from spm_desktop.services import period_service

    period = period_service.read_period(connection, label)
    if period is not None and period.kind != "week":
        return period.start, period.end
    try:
        day = dt.date.fromisoformat(label.strip())
    except ValueError:
        # parse_period's error message lists the valid label forms.
        try:
            parsed = period_domain.parse_period(label, fiscal_start_month=period_service.fiscal_start_month(connection))
        except period_domain.PeriodError as error:
            raise ValidationError(str(error)) from None
        return parsed.start, parsed.end
    lengths = [14 if getattr(plan, "period", "") == "two_weeks" else 7 for plan in plans] or [7]
    return day, day + dt.timedelta(days=max(lengths) - 1)


def _plan_periods(label: str, plan: object) -> list[object]:
    """Return the plan's periods inside a label, as the engine reads them (with the plan's own fiscal start)."""
    from spm_desktop.domain import periods as period_domain

    found = period_domain.periods_in(label, plan.period, plan.fiscal_start_month,  # type: ignore[attr-defined]
                                     plan.period_start)  # type: ignore[attr-defined]
    first, last = plan.effective_from, plan.effective_to  # type: ignore[attr-defined]
    return [period for period in found if period.end >= first and (last is None or period.start <= last)]


def _select_plans(connection: Connection, label: str,
                  plans_override: dict[str, object] | None) -> tuple[list[object], dict[str, list[object]]]:
    if plans_override:
        return list(plans_override.values()), {}
    wide_start, wide_end = _label_span(connection, label, [])
    # A day label may start a two-week cycle, so look two weeks ahead for plans.
    in_force = plan_service.plans_in_force(connection, wide_start, wide_end + dt.timedelta(days=13))
    versions: dict[str, list[object]] = {}
    for version, _plan in in_force:
        versions.setdefault(version.name, []).append(version)
    return [plan for _version, plan in in_force], versions


def _check_fiscal_year(connection: Connection, label: str, selected: Sequence[object]) -> None:
    """Reject plans in force whose stated fiscal start month differs from the workspace's.

    Their periods would not be the periods the workspace closes. Plans given by the
    caller (scenarios, closed-period recomputation) are not checked here.
    """
    from spm_desktop.services import period_service

    problems = plan_service.fiscal_start_problems(list(selected), period_service.fiscal_start_month(connection))  # type: ignore[arg-type]
    if problems:
        raise ValidationError(f"{label} cannot be calculated: {problems[0].message}", problems)


def _periods_to_store(connection: Connection, label: str, plans: Sequence[object],
                      kind: str) -> tuple[dict[str, object], list[Problem]]:
    from spm_desktop.domain.periods import PeriodError
    from spm_desktop.services import period_service

    periods: dict[str, object] = {}
    skipped: list[Problem] = []
    errors: list[str] = []
    for plan in plans:
        try:
            found = _plan_periods(label, plan)
        except PeriodError as error:
            errors.append(f"plan {plan.name!r}: {error}")  # type: ignore[attr-defined]
            continue
        for period in found:
            periods.setdefault(period.label, period)
    if errors and not periods:
        raise ValidationError(f"{label} cannot be calculated: " + "; ".join(errors))
    skipped += [Problem("calc.period_skipped", message, severity="warning") for message in errors]
    if kind == OFFICIAL:
        closed = [name for name in periods if period_service.state(connection, name).is_closed]
        if closed and len(closed) == len(periods):
            period_service.assert_period_open(connection, closed[0])
        for name in closed:
            periods.pop(name)
            skipped.append(Problem("calc.period_closed", f"{name} is closed, so its recorded results stand and it "
                                   "was not recalculated", severity="info"))
    ordered = dict(sorted(periods.items(), key=lambda item: (item[1].start, item[1].end, item[0])))  # type: ignore[attr-defined]
    return ordered, skipped


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """Return SHA-256 over a frame's column names and pandas' 64-bit hash of each row, in row order.

    NOTE: the per-row hashes are 64-bit (``pandas.util.hash_pandas_object``). They tell
    changed inputs apart but do not resist a deliberate collision, so the audit trail,
    not this fingerprint, protects stored data.
    """
    digest = hashlib.sha256(canonical_json([str(column) for column in frame.columns]).encode())
    if len(frame):
        row_hashes = pd.util.hash_pandas_object(frame.astype(object).where(frame.notna(), None), index=False)
        digest.update(row_hashes.to_numpy().tobytes())
    return digest.hexdigest()


def load_records(connection: Connection) -> RecordFrames:
    """Read every record set a calculation needs from the workspace, once."""
    from spm_desktop.services import record_service

    return RecordFrames({name: record_service.load_frame(connection, name) for name in RECORD_SETS})


def _apply_quota_overrides(quotas: pd.DataFrame, overrides: object) -> pd.DataFrame:
    if overrides is None or len(overrides) == 0:  # type: ignore[arg-type]
        return quotas
    key = ["participant_id", "quota_key", "period"]
    replaced = quotas.merge(overrides[key], on=key, how="left", indicator=True)  # type: ignore[index]
    remaining = quotas[(replaced["_merge"] == "left_only").to_numpy()]
    return pd.concat([remaining, overrides], ignore_index=True)  # type: ignore[list-item]


def _compile_metrics(connection: Connection, keys: Iterable[str],
                     deals: pd.DataFrame) -> tuple[dict[str, object], dict[str, int], list[Problem]]:
    from spm_desktop.domain.metrics import compile_metric
    from spm_desktop.services import metric_service

    compiled: dict[str, object] = {}
    versions: dict[str, int] = {}
    problems: list[Problem] = []
    for key in sorted(keys):
        try:
            version, definition = metric_service.current_version(connection, key)
        except NotFoundError as error:
            problems.append(Problem("calc.unknown_metric", str(error)))
            continue
        if definition.status != "approved":
            problems.append(Problem("calc.metric_not_approved", f"metric {key!r} version {version} is "
                                    f"{definition.status}, not approved; plans should pay on approved definitions",
                                    severity="warning"))
        compiled[key] = compile_metric(definition, metric_service.field_kinds(definition.source, deals))
        versions[key] = version
    return compiled, versions, problems


def _adjustments_frame(connection: Connection, labels: Iterable[str]) -> pd.DataFrame:
    """Return the approved manual adjustments of the periods as the engine's adjustments frame."""
    from spm_desktop.services import adjustment_service

    frames = [adjustment_service.adjustments_frame(connection, label) for label in labels]
    if not frames:
        return adjustment_service.adjustments_frame(connection, "")
    combined = pd.concat(frames, ignore_index=True)
    for column in ("amount", "adjustment_id"):
        combined[column] = pd.array(combined[column].tolist(), dtype="Int64")
    return combined


def _recorded_periods(connection: Connection, periods: dict[str, object]) -> tuple[list[object], list[dict]]:
    """Read the recorded results of closed periods of the plan years being calculated."""
    from spm_desktop.domain.engine.model import HeldAmount, RecordedPeriod
    from spm_desktop.domain.periods import plan_year_of
    from spm_desktop.services import period_service

    if not periods:
        return [], []
    years = [plan_year_of(period) for period in periods.values()]  # type: ignore[arg-type]
    first = min(year.start for year in years)
    last = max(period.end for period in periods.values())  # type: ignore[attr-defined]
    recorded: list[object] = []
    listed: list[dict] = []
    for state in period_service.list_periods(connection):
        if not state.is_closed or state.latest_run_id is None or state.start_date is None:
            continue
        if state.start_date < first or state.start_date > last:
            continue
        run_id = state.latest_run_id
        listed.append({"period": state.label, "run_id": run_id})
        earnings: dict[str, dict[tuple[str, str], Decimal]] = {}
        for row in connection.execute(select(results).where(results.c.run_id == run_id,
                                                            results.c.row_kind == "component")):
            earnings.setdefault(row.plan, {})[(row.participant_id, row.component)] = from_minor(
                row.earnings_minor, row.currency)
        balances: dict[str, dict[str, Decimal]] = {}
        held: dict[str, list[HeldAmount]] = {}
        for row in connection.execute(select(calc_balances).where(calc_balances.c.run_id == run_id)):
            if row.kind == "draw_balance":
                balances.setdefault(row.plan, {})[row.participant_id] = Decimal(row.amount)
            elif row.kind == "held":
                detail = json.loads(row.detail or "{}")
                release = detail.get("release_date")
                held.setdefault(row.plan, []).append(HeldAmount(
                    row.participant_id, row.plan, row.component or "", str(detail.get("deal_id", "")),
                    detail.get("line_id"), str(detail.get("held_in_period", state.label)), Decimal(row.amount),
                    str(detail.get("until_field", "")), None if release is None else dt.date.fromisoformat(release)))
        lines: dict[str, dict[tuple, Decimal]] = {}
        query = select(result_lines).where(result_lines.c.run_id == run_id, result_lines.c.line_kind == "sale")
        for row in connection.execute(query):
            if row.exact_earnings is not None:
                key = (row.participant_id, row.component, row.deal_id, row.line_id, row.credit_kind)
                lines.setdefault(row.plan, {})[key] = Decimal(row.exact_earnings)
        for plan in sorted(set(earnings) | set(balances) | set(held)):
            recorded.append(RecordedPeriod(plan, state.label, earnings.get(plan, {}), balances.get(plan, {}),
                                           tuple(held.get(plan, ())), lines.get(plan, {})))
    return recorded, listed


def read_inputs(connection: Connection, label: str, *, plans: dict[str, object] | None = None,
                quota_overrides: object = None, kind: str = OFFICIAL,
                records: RecordFrames | None = None) -> RunInputs:
    """Read what a calculation of ``label`` needs: plans in force, record sets, metrics, adjustments.

    ``plans`` (plan name -> Plan) replaces the plans in force, and ``quota_overrides``
    (a quotas frame) replaces quota rows with the same participant, key and period.
    ``records`` reuses record sets already loaded on this connection instead of reading
    them again. Official reads drop closed periods inside the label and reject a label
    that names a closed period with PeriodLockedError.
    """
    from spm_desktop.domain.engine.model import CalculationInputs

    label = label.strip()
    selected, versions_by_name = _select_plans(connection, label, plans)
    if not selected:
        raise NotFoundError(f"no active plan is in force in {label}; load a plan whose effective dates cover it "
                            "with 'spm plan load' or in the Plans area")
    if plans is None:
        _check_fiscal_year(connection, label, selected)
    periods, skipped = _periods_to_store(connection, label, selected, kind)

    if records is None:
        records = load_records(connection)
    # Records with a date pandas cannot hold are left out, and the run reports each as an error.
    skipped += records.date_problems()
    quotas = _apply_quota_overrides(records["quotas"], quota_overrides)
    metric_keys = {component.metric for plan in selected for component in plan.components}  # type: ignore[attr-defined]
    metrics, metric_versions, metric_problems = _compile_metrics(connection, metric_keys, records["deals"])
    missing = [problem for problem in metric_problems if problem.severity == "error"]
    if missing:
        raise ValidationError(f"{label} cannot be calculated: {missing[0].message}", metric_problems)
    skipped += metric_problems
    adjustments = _adjustments_frame(connection, periods)
    recorded, recorded_list = _recorded_periods(connection, periods)

    engine_inputs = CalculationInputs(
        period=label, plans=tuple(selected), participants=records["participants"], deals=records["deals"],
        metrics=metrics, credit_splits=records["credit_splits"], hierarchy=records["hierarchy"], quotas=quotas,
        fx_rates=records["fx_rates"], adjustments=adjustments, recorded=tuple(recorded),
    )
    fingerprints = {f"records.{name}": records.fingerprint(name) for name in RECORD_SETS}
    if quotas is not records["quotas"]:
        fingerprints["records.quotas"] = frame_fingerprint(quotas)
    plan_versions = {plan.name: plan.version for plan in selected}  # type: ignore[attr-defined]
    fingerprints["plans"] = fingerprint(sorted(
        (plan.name, plan.version, sha256_hex(_plan_text(plan))) for plan in selected))  # type: ignore[attr-defined]
    fingerprints["metrics"] = fingerprint(metric_versions)
    fingerprints["adjustments"] = frame_fingerprint(adjustments)
    fingerprints["recorded_periods"] = fingerprint(recorded_list)
    if quota_overrides is not None:
        fingerprints["quota_overrides"] = sha256_hex(quota_overrides.to_csv(index=False))  # type: ignore[attr-defined]
    versions = {"plans": plan_versions, "metrics": metric_versions, "recorded_periods": recorded_list,
                "application": __version__}
    currencies = {plan.name: plan.currency for plan in selected}  # type: ignore[attr-defined]
    return RunInputs(label, engine_inputs, versions_by_name, currencies, periods, skipped, fingerprints, versions,
                     records)


def _plan_text(plan: object) -> str:
    from spm_desktop.domain.plans import dump_plan

    return dump_plan(plan)  # type: ignore[arg-type]
