"""Issue payout statements (PDF and XLSX) for a calculated period and prove them later.

``export_statements`` reads the period's current official calculation and builds one
``StatementData`` per participant and plan period. It renders the files, in a pool of
worker processes (each with its own offscreen Qt application) when there are many or
when this process cannot write the same PDF bytes as a fresh one. Then
it records every issued file in the ``statements`` table with its file and content
hashes, under one audit entry. Re-exporting an unchanged statement gives the same bytes: it is recorded as
a re-issue of the existing row instead of a new one.

Statements of a period that is not approved are drafts: every page carries DRAFT.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Connection, func, select

from spm_desktop.domain import statements as st
from spm_desktop.domain.canonical import canonical_json, sha256_hex
from spm_desktop.domain.money import from_minor
from spm_desktop.domain.periods import plan_year_of
from spm_desktop.domain.problems import Problem
from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.domain.statements import StatementData
from spm_desktop.services import audit_service, calc_service, period_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import NotFoundError, SpmError, ValidationError
from spm_desktop.services.payroll_service import export_payroll  # noqa: F401  (part of this service's API)
from spm_desktop.store.tables.calc import calc_balances, calc_runs, plans, result_lines, results
from spm_desktop.store.tables.close import adjustments
from spm_desktop.store.tables.core import audit_log
from spm_desktop.store.tables.records import deals, participants
from spm_desktop.store.tables.statements import statements

log = logging.getLogger(__name__)

FORMATS = ("pdf", "xlsx")
ISSUE_ACTION = "statements.issue"
ISSUE_ENTITY = "statement_export"
COMPANY_NAME_SETTING = "company.name"
COMPANY_LOGO_SETTING = "company.logo_path"
PAGE_SIZE_SETTING = "statements.page_size"
# Below this many statements the start-up of worker processes (about a second each)
# costs more than it saves, so they are rendered in the calling process.
POOL_THRESHOLD = 24
BATCH_SIZE = 20
# Batches queued per worker process before reading waits; enough that no worker runs dry.
IN_FLIGHT_PER_WORKER = 3
# Participants whose lines are read in one query while statements are built.
READ_CHUNK = 200
_HASH_COLUMNS = [column.name for column in statements.c if column.name != "row_hash"]


@dataclass(frozen=True)
class IssuedStatement:
    statement_id: int
    participant_id: str
    period: str
    format: str
    path: Path
    file_sha256: str
    content_sha256: str
    draft: bool
    # True when an identical file was issued before and this export re-issued it.
    reissued: bool = False


@dataclass
class ExportSummary:
    period: str
    out_dir: Path
    files: list[IssuedStatement] = field(default_factory=list)

    @property
    def statements(self) -> int:
        return len({(item.period, item.participant_id) for item in self.files})

    @property
    def drafts(self) -> int:
        return sum(1 for item in self.files if item.draft)


@dataclass(frozen=True)
class StatementChoice:
    """A statement that can be previewed or exported: a participant in a plan period."""

    period: str
    participant_id: str
    participant_name: str
    run_id: int
    draft: bool


# --- reading what a statement shows -------------------------------------------------------


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _band_text(bands: Sequence[str]) -> str:
    """Write band numbers as a range when they are consecutive (1-3), else as a list."""
    if not bands:
        return ""
    if len(bands) > 1 and all(band.isdigit() for band in bands):
        numbers = [int(band) for band in bands]
        if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
            return f"{numbers[0]}-{numbers[-1]}"
    return ", ".join(bands)


def _rate_text(rates: Sequence[str], currency: str) -> str:
    """Write rates as percentages; a value above 1 is an amount per unit (a SPIF)."""
    texts = []
    for rate in rates:
        try:
            value = Decimal(rate)
        except ArithmeticError:
            texts.append(rate)
            continue
        texts.append(f"{st.format_amount(value, currency)}/unit" if abs(value) > 1 else st.format_rate(value))
    return ", ".join(texts)


@dataclass
class _RunContext:
    """Everything read once per run and shared by its participants' statements."""

    run: object
    approval: st.Approval | None
    company_name: str
    logo: bytes | None
    people: dict[str, object]
    deal_info: dict[int, tuple[str | None, str | None, str | None]]
    draw_terms: dict[tuple[str, int | None], object]
    history: dict[str, list[st.DrawEntry]]
    balances: dict[str, list[object]]
    adjustments: dict[str, list[st.AdjustmentEntry]]
    notes: dict[str, list[str]]
    # Band and rate texts by the stored JSON list (and currency): lines repeat a few lists.
    band_texts: dict[str | None, str] = field(default_factory=dict)
    rate_texts: dict[tuple[str | None, str], str] = field(default_factory=dict)

    def band_text(self, stored: str | None) -> str:
        found = self.band_texts.get(stored)
        if found is None:
            found = self.band_texts[stored] = _band_text([str(item) for item in json.loads(stored)] if stored else [])
        return found

    def rate_text(self, stored: str | None, currency: str) -> str:
        key = (stored, currency)
        found = self.rate_texts.get(key)
        if found is None:
            rates = [str(item) for item in json.loads(stored)] if stored else []
            found = self.rate_texts[key] = _rate_text(rates, currency)
        return found


def _approval(connection: Connection, run: object) -> st.Approval | None:
    state = period_service.state(connection, run.period)  # type: ignore[attr-defined]
    if state.state not in ("approved", "closed") or state.approved_run_id != run.id:  # type: ignore[attr-defined]
        return None
    approved_at = _parse_time(state.approved_at)
    if approved_at is None or not state.approved_by:
        return None
    return st.Approval(state.approved_by, approved_at)


def _company(workspace: Workspace) -> tuple[str, bytes | None]:
    name = str(workspace.get_setting(COMPANY_NAME_SETTING, "") or "")
    logo_path = workspace.get_setting(COMPANY_LOGO_SETTING, None)
    if not logo_path:
        return name, None
    path = Path(str(logo_path)).expanduser()
    if not path.is_absolute():
        path = workspace.path.parent / path
    try:
        return name, path.read_bytes()
    except OSError as error:
        raise SpmError(f"the company logo {path} cannot be read ({error.strerror}); fix the setting "
                       f"{COMPANY_LOGO_SETTING} or clear it to issue statements without a logo") from error


def _people(connection: Connection) -> dict[str, object]:
    query = select(participants.c.participant_id, participants.c.name, participants.c.role,
                   participants.c.manager_id, participants.c.payroll_id)
    return {row.participant_id: row for row in connection.execute(query)}


def _deal_info(connection: Connection, row_ids: Iterable[int]) -> dict[int, tuple[str | None, str | None, str | None]]:
    """Return customer, product and reference deal per deals row id."""
    wanted = sorted(set(row_ids))
    found: dict[int, tuple[str | None, str | None, str | None]] = {}
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start:start + 5000]
        query = select(deals.c.id, deals.c.customer, deals.c.product, deals.c.reference_deal_id).where(
            deals.c.id.in_(chunk))
        for row_id, customer, product, reference in connection.execute(query).tuples().all():
            found[row_id] = (customer, product, reference)
    return found


def _draw_terms(connection: Connection, plan_keys: Iterable[tuple[str, int | None]]) -> dict[tuple[str, int | None], object]:
    from spm_desktop.domain.plans import load_plan

    terms: dict[tuple[str, int | None], object] = {}
    for name, version in set(plan_keys):
        query = select(plans.c.document).where(plans.c.name == name)
        if version is not None:
            query = query.where(plans.c.version == version)
        document = connection.execute(query.order_by(plans.c.version.desc()).limit(1)).scalar_one_or_none()
        terms[(name, version)] = None if document is None else load_plan(document).draw
    return terms


def _draw_balances(connection: Connection, run_id: int) -> dict[str, Decimal]:
    query = select(calc_balances.c.participant_id, calc_balances.c.amount).where(
        calc_balances.c.run_id == run_id, calc_balances.c.kind == "draw_balance")
    return {row.participant_id: Decimal(row.amount) for row in connection.execute(query)}


def _draw_history(connection: Connection, run: object) -> dict[str, list[st.DrawEntry]]:
    """Return per participant the earnings, draw row and balance of each period of the plan year so far."""
    period = period_service.read_period(connection, run.period)  # type: ignore[attr-defined]
    year_start = plan_year_of(period).start if period is not None else run.period_start  # type: ignore[attr-defined]
    query = (select(calc_runs).where(calc_runs.c.kind == calc_service.OFFICIAL, calc_runs.c.superseded.is_(False),
                                     calc_runs.c.period_start >= year_start,
                                     calc_runs.c.period_end <= run.period_end)  # type: ignore[attr-defined]
             .order_by(calc_runs.c.period_start, calc_runs.c.id))
    history: dict[str, list[st.DrawEntry]] = defaultdict(list)
    latest: dict[str, object] = {}
    for earlier in connection.execute(query):
        latest[earlier.period] = earlier  # rows come in id order within a period, so the newest wins
    for earlier in latest.values():
        balances = _draw_balances(connection, earlier.id)  # type: ignore[attr-defined]
        sums = select(results.c.participant_id, results.c.row_kind, results.c.currency,
                      func.sum(results.c.earnings_minor).label("minor")).where(
            results.c.run_id == earlier.id, results.c.row_kind.in_(("component", "draw"))  # type: ignore[attr-defined]
        ).group_by(results.c.participant_id, results.c.row_kind, results.c.currency)
        figures: dict[str, dict[str, Decimal]] = defaultdict(dict)
        for row in connection.execute(sums):
            figures[row.participant_id][row.row_kind] = from_minor(int(row.minor), row.currency)
        for participant_id, kinds in figures.items():
            if "draw" not in kinds:
                continue
            history[participant_id].append(st.DrawEntry(
                earlier.period, kinds.get("component", Decimal(0)), kinds["draw"],  # type: ignore[attr-defined]
                balances.get(participant_id, Decimal(0)),
            ))
    return history


def _balances(connection: Connection, run_id: int) -> dict[str, list[object]]:
    found: dict[str, list[object]] = defaultdict(list)
    query = select(calc_balances).where(calc_balances.c.run_id == run_id).order_by(calc_balances.c.id)
    for row in connection.execute(query):
        found[row.participant_id].append(row)
    return found


def _adjustments(connection: Connection, run: object) -> dict[str, list[st.AdjustmentEntry]]:
    """Return the approved adjustments the run paid: manual ones of the period and its prior-period ones."""
    from spm_desktop.services.adjustment_service import MANUAL_SOURCES

    query = select(adjustments).where(adjustments.c.period == run.period,  # type: ignore[attr-defined]
                                      adjustments.c.status == "approved").order_by(adjustments.c.id)
    found: dict[str, list[st.AdjustmentEntry]] = defaultdict(list)
    for row in connection.execute(query):
        if row.source == "prior_period" and row.run_id != run.id:  # type: ignore[attr-defined]
            continue
        if row.source != "prior_period" and row.source not in MANUAL_SOURCES:
            continue
        kind = "prior_period" if row.source == "prior_period" else "manual"
        found[row.participant_id].append(st.AdjustmentEntry(
            kind, row.reason_code, from_minor(row.amount_minor, row.currency), row.note or "", row.source_period))
    return found


def _notes(run: object) -> dict[str, list[str]]:
    notes: dict[str, list[str]] = defaultdict(list)
    for item in json.loads(run.problems or "[]"):  # type: ignore[attr-defined]
        problem = Problem(**item)
        if problem.participant_id:
            where = f"{problem.component}: " if problem.component else ""
            notes[problem.participant_id].append(f"{where}{problem.message}")
    return notes


def _run_context(connection: Connection, run: object, company: tuple[str, bytes | None],
                 stored: Sequence[calc_service.StoredResult]) -> _RunContext:
    plan_keys = {(row.plan, row.plan_version) for row in stored}
    return _RunContext(
        run=run,
        approval=_approval(connection, run),
        company_name=company[0],
        logo=company[1],
        people=_people(connection),
        deal_info={},
        draw_terms=_draw_terms(connection, plan_keys),
        history=_draw_history(connection, run),
        balances=_balances(connection, run.id),  # type: ignore[attr-defined]
        adjustments=_adjustments(connection, run),
        notes=_notes(run),
    )


_LINE_COLUMNS = (
    result_lines.c.participant_id, result_lines.c.component, result_lines.c.line_kind, result_lines.c.deal_row_id,
    result_lines.c.deal_id, result_lines.c.line_id, result_lines.c.credit_date, result_lines.c.share,
    result_lines.c.credit_kind, result_lines.c.via_participant_id, result_lines.c.credited, result_lines.c.fx_rate,
    result_lines.c.bands, result_lines.c.rates, result_lines.c.exact_earnings, result_lines.c.paid_now_minor,
    result_lines.c.held_minor, result_lines.c.currency, result_lines.c.deal_currency, result_lines.c.id,
)


def _read_lines(connection: Connection, result_ids: Sequence[int]) -> list[tuple]:
    """Return the lines behind the given result rows as plain tuples, in stored order.

    Reads only the columns a statement shows, because converting every line to
    calc_service's StoredLine costs several times more on a run with 100,000 lines.
    NOTE: a line stored without a result id would be left out; calc_service links every
    line to its result row, so none is expected.
    """
    found: list[tuple] = []
    for start in range(0, len(result_ids), 5000):
        chunk = list(result_ids[start:start + 5000])
        query = select(*_LINE_COLUMNS).where(result_lines.c.result_id.in_(chunk)).order_by(result_lines.c.id)
        found.extend(connection.execute(query).tuples().all())
    found.sort(key=lambda line: line[-1])
    return found


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None or text == "" else Decimal(text)


def _statement_line(row: tuple, context: _RunContext) -> st.StatementLine:
    (_, component, kind, deal_row_id, deal_id, line_id, credit_date, share, credit_kind, via, credited, fx_rate,
     bands, rates, exact, paid_now_minor, held_minor, currency, deal_currency, _) = row
    customer = product = reference = None
    if deal_row_id is not None:
        customer, product, reference = context.deal_info.get(deal_row_id, (None, None, None))
    return st.StatementLine(
        component=component, kind=kind, earnings=from_minor(paid_now_minor, currency), credit_date=credit_date,
        deal_id=deal_id, line_id=line_id, customer=customer, product=product, share=_decimal(share),
        credit_kind=credit_kind, credited=_decimal(credited), bands=context.band_text(bands),
        rates=context.rate_text(rates, currency), exact_earnings=_decimal(exact),
        # A deal in the plan currency has the rate 1, which gives a reader no information.
        fx_rate=_decimal(fx_rate) if deal_currency and deal_currency != currency else None,
        reference_deal_id=reference if kind in ("reversal", "clawback") else None,
        held=from_minor(held_minor, currency) if held_minor else None, via_participant_id=via,
    )


def _component_summary(row: calc_service.StoredResult, lines: Sequence[st.StatementLine]) -> st.ComponentSummary:
    # NOTE: results store no band or rate per component. The summary shows those of the
    # last deal line in credit order, which is the band the period's credit ended in.
    priced = [line for line in lines if line.kind == "sale" and line.bands]
    band = rate = ""
    if priced:
        band = priced[-1].bands.replace(",", "-").split("-")[-1].strip()
        rate = priced[-1].rates.split(",")[-1].strip()
    return st.ComponentSummary(
        name=row.component, earnings=row.earnings, metric_key=row.metric_key, metric_version=row.metric_version,
        metric_value=row.metric_value, metric_unit=row.metric_unit or "currency", quota=row.quota,
        attainment=row.attainment, bands=band, rates=rate,
    )


def _draw_summary(context: _RunContext, participant_id: str, plan_key: tuple[str, int | None]) -> st.DrawSummary | None:
    """Return the draw terms and balances of a participant on a plan with a draw, else None.

    NOTE: the balance owed before the first period of a plan year reads as 0 here, also
    when the plan carries a balance forward from the previous year.
    """
    terms = context.draw_terms.get(plan_key)
    if terms is None:
        return None
    history = tuple(context.history.get(participant_id, ()))
    current = next((entry for entry in history if entry.period == context.run.period), None)  # type: ignore[attr-defined]
    earlier = [entry for entry in history if entry.period != context.run.period]  # type: ignore[attr-defined]
    opening = earlier[-1].balance if earlier else Decimal(0)
    closing = current.balance if current is not None else opening
    return st.DrawSummary(Decimal(terms.amount), bool(terms.recoverable), opening, closing, history)  # type: ignore[attr-defined]


def _holds(context: _RunContext, participant_id: str) -> tuple[st.HoldEntry, ...]:
    held = []
    for row in context.balances.get(participant_id, ()):
        if row.kind != "held":  # type: ignore[attr-defined]
            continue
        detail = json.loads(row.detail) if row.detail else {}  # type: ignore[attr-defined]
        # A release date once the deal's date field is known, else the name of that field.
        until = detail.get("release_date") or detail.get("until_field") or ""
        held.append(st.HoldEntry(row.component or "", str(detail.get("deal_id", "")),  # type: ignore[attr-defined]
                                 Decimal(row.amount), str(until)))  # type: ignore[attr-defined]
    return tuple(held)


def _statement(context: _RunContext, participant_id: str, rows: Sequence[calc_service.StoredResult],
               lines: Sequence[tuple]) -> StatementData:
    run = context.run
    components_rows = [row for row in rows if row.row_kind == "component"]
    draw_payment = sum((row.earnings for row in rows if row.row_kind == "draw"), Decimal(0))
    adjustment_row = sum((row.earnings for row in rows if row.row_kind == "adjustments"), Decimal(0))
    total = next((row.earnings for row in rows if row.row_kind == "total"), None)
    first = rows[0]
    component_names = {row.component for row in components_rows}
    statement_lines = [_statement_line(line, context) for line in lines if line[1] in component_names]
    summaries = tuple(_component_summary(row, [line for line in statement_lines if line.component == row.component])
                      for row in components_rows)
    entries = tuple(context.adjustments.get(participant_id, ()))
    notes = list(context.notes.get(participant_id, ()))
    if sum((entry.amount for entry in entries), Decimal(0)) != adjustment_row:
        notes.append("the adjustments listed differ from those the calculation paid; recalculate the period")
        entries = (st.AdjustmentEntry("manual", "AS-CALCULATED", adjustment_row,
                                      "adjustments as the calculation paid them"),) if adjustment_row else ()
    person = context.people.get(participant_id)
    manager_id = (person.manager_id or "") if person is not None else ""  # type: ignore[attr-defined]
    manager = context.people.get(manager_id)
    plan_key = (first.plan, first.plan_version)
    payout = total if total is not None else sum((row.earnings for row in components_rows), Decimal(0)) + draw_payment
    return StatementData(
        company_name=context.company_name,
        participant_id=participant_id,
        participant_name=first.participant_name or (person.name if person is not None else participant_id),  # type: ignore[attr-defined]
        plan=first.plan,
        plan_version=first.plan_version or 0,
        period=run.period,  # type: ignore[attr-defined]
        period_start=run.period_start,  # type: ignore[attr-defined]
        period_end=run.period_end,  # type: ignore[attr-defined]
        currency=first.currency,
        components=summaries,
        lines=st.order_lines(statement_lines, summaries),
        payout=payout,
        run_id=str(run.id),  # type: ignore[attr-defined]
        input_fingerprint=run.input_fingerprint,  # type: ignore[attr-defined]
        calculated_at=_parse_time(run.finished_at),  # type: ignore[attr-defined]
        role=(person.role or "") if person is not None else "",  # type: ignore[attr-defined]
        manager_id=manager_id,
        manager_name=(manager.name or "") if manager is not None else "",  # type: ignore[attr-defined]
        payroll_id=(person.payroll_id or "") if person is not None else "",  # type: ignore[attr-defined]
        draw=_draw_summary(context, participant_id, plan_key),
        draw_payment=draw_payment,
        adjustments=entries,
        holds=_holds(context, participant_id),
        approval=context.approval,
        notes=tuple(notes),
        logo=context.logo,
    )


def _current_runs(connection: Connection, period: str) -> list[object]:
    runs = calc_service.current_runs(connection, period)
    if not runs:
        raise NotFoundError(f"no calculation of {period} is stored; calculate it first with "
                            f"'spm calc WORKSPACE --period {period}' or in the Calculation area")
    return runs


def iter_statements(workspace: Workspace, period: str, participant: str | None = None,
                    progress: ProgressCallback = no_progress,
                    cancel: CancelToken | None = None) -> Iterator[StatementData]:
    """Yield one statement per participant and plan period of the period's current official calculation.

    Raises NotFoundError when the period was never calculated.
    """
    company = _company(workspace)
    with workspace.read() as connection:
        for run in _current_runs(connection, period):
            progress(0, 0, f"{run.period}: reading results")  # type: ignore[attr-defined]
            stored = calc_service.results_of_runs(connection, [run.id])  # type: ignore[attr-defined]
            if participant is not None:
                stored = [row for row in stored if row.participant_id == participant]
            if not stored:
                continue
            context = _run_context(connection, run, company, stored)
            rows_by_person: dict[str, list[calc_service.StoredResult]] = defaultdict(list)
            for row in stored:
                rows_by_person[row.participant_id].append(row)
            # Lines are read a chunk of participants at a time, so the first statements
            # reach the renderer before the whole run is read.
            people = sorted(rows_by_person)
            for start in range(0, len(people), READ_CHUNK):
                chunk = people[start:start + READ_CHUNK]
                lines = _read_lines(connection, [row.id for person in chunk for row in rows_by_person[person]])
                context.deal_info = _deal_info(connection, (line[3] for line in lines if line[3] is not None))
                lines_by_person: dict[str, list[tuple]] = defaultdict(list)
                for line in lines:
                    lines_by_person[line[0]].append(line)
                for participant_id in chunk:
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    yield _statement(context, participant_id, rows_by_person[participant_id],
                                     lines_by_person[participant_id])


def build_statements(workspace: Workspace, period: str, participant: str | None = None,
                     progress: ProgressCallback = no_progress,
                     cancel: CancelToken | None = None) -> list[StatementData]:
    """Return every statement of a period (see ``iter_statements``).

    Raises NotFoundError when the period was never calculated or the participant has no
    result in it.
    """
    built = list(iter_statements(workspace, period, participant, progress, cancel))
    if participant is not None and not built:
        raise _no_result(period, participant)
    return built


def _no_result(period: str, participant: str) -> NotFoundError:
    return NotFoundError(f"participant {participant!r} has no result in {period}; "
                         "check the participant id or calculate the period")


def count_statements(workspace: Workspace, period: str, participant: str | None = None) -> int:
    """Return how many statements (participants per plan period) the period's current calculation has."""
    with workspace.read() as connection:
        total = 0
        for run in _current_runs(connection, period):
            query = select(func.count()).select_from(results).where(
                results.c.run_id == run.id, results.c.row_kind == "total")  # type: ignore[attr-defined]
            if participant is not None:
                query = query.where(results.c.participant_id == participant)
            total += connection.execute(query).scalar_one()
    return total


def list_statement_choices(workspace: Workspace, period: str) -> list[StatementChoice]:
    """Return the participants that have a statement in a period, by plan period and participant id."""
    choices = []
    with workspace.read() as connection:
        for run in _current_runs(connection, period):
            draft = _approval(connection, run) is None
            query = (select(results.c.participant_id, results.c.participant_name)
                     .where(results.c.run_id == run.id, results.c.row_kind == "total")  # type: ignore[attr-defined]
                     .order_by(results.c.participant_id))
            for row in connection.execute(query):
                choices.append(StatementChoice(run.period, row.participant_id, row.participant_name or "",  # type: ignore[attr-defined]
                                               run.id, draft))  # type: ignore[attr-defined]
    return choices


def statement_for(workspace: Workspace, period: str, participant_id: str) -> StatementData:
    """Return the statement of one participant in a plan period (for the preview)."""
    found = build_statements(workspace, period, participant_id)
    return found[0]


def page_size(workspace: Workspace) -> str:
    from spm_desktop.exporting.statement_pdf import page_size_key

    value = workspace.get_setting(PAGE_SIZE_SETTING, "A4")
    try:
        return page_size_key(value)
    except ValueError as error:
        raise SpmError(f"{error}; change the setting {PAGE_SIZE_SETTING}") from error


# --- rendering -------------------------------------------------------------------------------


class _Issue(NamedTuple):
    """The facts of a rendered statement that recording needs, kept in place of the whole StatementData."""

    run_id: int
    participant_id: str
    period: str
    draft: bool


def file_stems(keys: Sequence[tuple[str, str]]) -> list[str]:
    """Return a file stem per (period, participant id); ids that clean up to the same name get a hash suffix."""
    stems = [st.statement_file_stem(period, participant_id) for period, participant_id in keys]
    counts: dict[str, int] = defaultdict(int)
    for stem in stems:
        counts[stem] += 1
    return [f"{stem}_{sha256_hex(participant_id)[:8]}" if counts[stem] > 1 else stem
            for stem, (_, participant_id) in zip(stems, keys, strict=True)]


# Result of rendering one statement: its content hash and (format, temporary path, file sha256) per file.
Rendered = tuple[str, list[tuple[str, str, str]]]
RenderJob = tuple[StatementData, tuple[str, ...], str, str]


def default_processes() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def worker_processes(processes: int, expected: int, formats: Sequence[str]) -> int:
    """Return how many worker processes should render ``expected`` statements; 0 renders them in this process.

    A process whose statement fonts do not hold the first application-font slots writes
    PDFs whose bytes differ from those of `spm statements` (see
    statement_pdf.fonts_in_first_slots), so it renders even one statement in a worker.
    """
    if processes > 1 and expected >= POOL_THRESHOLD:
        return processes
    if "pdf" in formats:
        from spm_desktop.exporting import statement_pdf

        if not statement_pdf.fonts_in_first_slots():
            log.info("this process registered other fonts first; rendering statement PDFs in a worker process")
            return 1
    return 0


class _Renderer:
    """Renders jobs as they are added: in worker processes when there are many, else in this process.

    Worker processes start (and load Qt and the fonts) as soon as the renderer is created,
    so they warm up while the caller is still reading the workspace. ``add`` waits while
    IN_FLIGHT_PER_WORKER batches per worker are queued, so the caller holds only those
    statements in memory. ``finish`` returns the results in the order the jobs were added.
    """

    def __init__(self, workers: int, expected: int, progress: ProgressCallback,
                 cancel: CancelToken | None) -> None:
        self.expected = expected
        self.progress = progress
        self.cancel = cancel
        self.done = 0
        self.batch: list[RenderJob] = []
        self.results: dict[int, list[Rendered]] = {}
        self.pending: dict[Future, int] = {}
        # Batches handed to the workers and not yet returned, kept to render them here if a worker dies.
        self.submitted: dict[int, list[RenderJob]] = {}
        self.batches = 0
        self.in_flight = IN_FLIGHT_PER_WORKER * workers
        self.pool: ProcessPoolExecutor | None = None
        from spm_desktop.exporting import statement_pdf

        self.render_batch = statement_pdf.render_batch
        if workers > 0:
            # spawn, not fork: a forked child would inherit the parent's Qt and database state.
            context = multiprocessing.get_context("spawn")
            self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                            initializer=statement_pdf.start_worker)
            # One no-op task per worker starts every process now, so Qt loads while the caller reads.
            for _ in range(workers):
                self.pool.submit(os.getpid)

    def add(self, job: RenderJob) -> None:
        self.batch.append(job)
        if len(self.batch) >= BATCH_SIZE:
            self._submit()

    def _submit(self) -> None:
        batch, self.batch = self.batch, []
        if not batch:
            return
        index = self.batches
        self.batches += 1
        if self.pool is None:
            self._check_cancel()
            self.results[index] = self.render_batch(batch)
            self._advance(len(batch))
            return
        self.submitted[index] = batch
        self.pending[self.pool.submit(self.render_batch, batch)] = index
        self._collect(keep=self.in_flight)

    def _check_cancel(self) -> None:
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()

    def _advance(self, count: int) -> None:
        self.done += count
        self.progress(self.done, max(self.expected, self.done), "rendering statements")

    def _collect(self, keep: int) -> None:
        """Take the finished batches, waiting while more than ``keep`` are in flight."""
        while self.pending:
            timeout = 0.2 if len(self.pending) > keep else 0
            finished, _ = wait(self.pending, timeout=timeout, return_when=FIRST_COMPLETED)
            self._check_cancel()
            for future in finished:
                index = self.pending.pop(future)
                try:
                    self.results[index] = future.result()
                except BrokenProcessPool:
                    self._fall_back(index)
                    return
                del self.submitted[index]
                self._advance(len(self.results[index]))
            if len(self.pending) <= keep:
                return

    def _fall_back(self, broken: int) -> None:
        """Render the unfinished batches in this process after a worker process died.

        NOTE: in a process whose statement fonts are not in the first slots (see
        worker_processes), the PDFs rendered here differ in bytes from those of the CLI.
        """
        log.warning("a statement worker process stopped unexpectedly; rendering the rest in this process")
        assert self.pool is not None
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = None
        unfinished = {broken}
        for future, index in self.pending.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                self.results[index] = future.result()
                self._advance(len(self.results[index]))
            else:
                unfinished.add(index)
        self.pending.clear()
        for index in sorted(unfinished):
            self._check_cancel()
            self.results[index] = self.render_batch(self.submitted.pop(index))
            self._advance(len(self.results[index]))
        self.submitted.clear()

    def finish(self) -> list[Rendered]:
        self._submit()
        self._collect(keep=0)
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        return [item for index in range(self.batches) for item in self.results[index]]

    def abort(self) -> None:
        """Stop the workers and delete every temporary file written so far."""
        if self.pool is not None:
            for future in self.pending:
                future.cancel()
            self.pool.shutdown(wait=True, cancel_futures=True)
            for future, index in self.pending.items():
                if future.done() and not future.cancelled() and future.exception() is None:
                    self.results[index] = future.result()
        _remove_parts(self.results.values())


def render_files(jobs: list[RenderJob], processes: int, progress: ProgressCallback,
                 cancel: CancelToken | None) -> list[Rendered]:
    """Render every job, in worker processes when there are enough of them; keeps the job order."""
    formats = sorted({file_format for _, job_formats, _, _ in jobs for file_format in job_formats})
    renderer = _Renderer(worker_processes(processes, len(jobs), formats), len(jobs), progress, cancel)
    try:
        for job in jobs:
            renderer.add(job)
        return renderer.finish()
    except BaseException:
        renderer.abort()
        raise


def _remove_parts(batches: Iterable[list[Rendered]]) -> None:
    for batch in batches:
        for _, written in batch:
            for _, temporary, _ in written:
                Path(temporary).unlink(missing_ok=True)


# --- recording ------------------------------------------------------------------------------------


def statement_row_hash(values: dict[str, object] | object) -> str:
    """Return the SHA-256 of a statements row's content (every column but row_hash, id included)."""
    mapping = values if isinstance(values, dict) else values._mapping  # type: ignore[attr-defined]
    return sha256_hex(canonical_json([mapping.get(name) for name in _HASH_COLUMNS]))


def _existing(connection: Connection, run_ids: Sequence[int]) -> dict[tuple, int]:
    query = select(statements.c.id, statements.c.run_id, statements.c.participant_id, statements.c.format,
                   statements.c.file_sha256).where(statements.c.run_id.in_(list(run_ids)))
    return {(row.run_id, row.participant_id, row.format, row.file_sha256): row.id for row in connection.execute(query)}


def _record(workspace: Workspace, period: str, out_dir: Path, issues: list[_Issue], stems: list[str],
            rendered: list[Rendered], size: str) -> list[IssuedStatement]:
    """Record the files in the statements table under one audit entry, then move them into place."""
    issued: list[IssuedStatement] = []
    moves: list[tuple[Path, Path]] = []
    with workspace.transaction() as unit:
        connection = unit.connection
        run_ids = sorted({issue.run_id for issue in issues})
        existing = _existing(connection, run_ids)
        next_id = (connection.execute(select(func.max(statements.c.id))).scalar_one() or 0) + 1
        issued_at = period_service.now_utc()
        new_rows, recorded, reissued = [], [], []
        for issue, stem, (content_hash, written) in zip(issues, stems, rendered, strict=True):
            for file_format, temporary, file_hash in written:
                target = out_dir / f"{stem}.{file_format}"
                moves.append((Path(temporary), target))
                key = (issue.run_id, issue.participant_id, file_format, file_hash)
                if key in existing:
                    reissued.append([existing[key], file_hash])
                    issued.append(IssuedStatement(existing[key], issue.participant_id, issue.period, file_format,
                                                  target, file_hash, content_hash, issue.draft, reissued=True))
                    continue
                values = {
                    "id": next_id, "run_id": issue.run_id, "participant_id": issue.participant_id,
                    "period": issue.period, "format": file_format, "file_name": target.name, "file_sha256": file_hash,
                    "content_sha256": content_hash, "draft": issue.draft,
                    "page_size": size if file_format == "pdf" else None, "issued_by": unit.user,
                    "issued_at": issued_at,
                }
                values["row_hash"] = statement_row_hash(values)
                new_rows.append(values)
                recorded.append([next_id, values["row_hash"]])
                existing[key] = next_id
                issued.append(IssuedStatement(next_id, issue.participant_id, issue.period, file_format, target,
                                              file_hash, content_hash, issue.draft))
                next_id += 1
        for start in range(0, len(new_rows), 5000):
            connection.execute(statements.insert(), new_rows[start:start + 5000])
        unit.audit(ISSUE_ACTION, ISSUE_ENTITY, period, after={
            "period": period, "runs": run_ids, "folder": str(out_dir), "statements": recorded,
            "reissued": reissued, "drafts": sum(1 for issue in issues if issue.draft),
        })
        for temporary, target in moves:
            os.replace(temporary, target)
    return issued


def export_statements(workspace: Workspace, period: str, out_dir: Path | str, formats: Sequence[str] = FORMATS,
                      participant: str | None = None, progress: ProgressCallback = no_progress,
                      cancel: CancelToken | None = None, *, processes: int | None = None) -> ExportSummary:
    """Write one statement file per participant, plan period and format into ``out_dir`` and record them.

    Statements are rendered while the rest are still being read. Raises ValidationError
    when a statement's lines do not add up to its components or its rows to the payout;
    nothing is written or recorded then.
    """
    chosen = tuple(dict.fromkeys(format_name.strip().lower() for format_name in formats))
    unknown = [name for name in chosen if name not in FORMATS]
    if unknown or not chosen:
        raise SpmError(f"unknown statement format {', '.join(unknown) or '(none)'}; use pdf, xlsx or both")
    size = page_size(workspace) if "pdf" in chosen else "A4"
    expected = count_statements(workspace, period, participant)
    if participant is not None and expected == 0:
        raise _no_result(period, participant)
    target = Path(out_dir)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SpmError(f"cannot create the output folder {target} ({error.strerror}); choose another folder") from error

    log.info("exporting %d statements of %s as %s into %s", expected, period, "+".join(chosen), target)
    workers = worker_processes(processes or default_processes(), expected, chosen)
    renderer = _Renderer(workers, expected, progress, cancel)
    issues: list[_Issue] = []
    problems: list[Problem] = []
    try:
        for item in iter_statements(workspace, period, participant, cancel=cancel):
            issues.append(_Issue(int(item.run_id), item.participant_id, item.period, item.is_draft))
            problems.extend(st.check_statement(item))
            if problems:
                continue  # keep checking the rest so every problem is listed, but render nothing more
            # The temporary files get the statement's position too, so stems that clean up alike cannot clash.
            stem = st.statement_file_stem(item.period, item.participant_id)
            renderer.add((item, chosen, size, str(target / f"{stem}.{len(issues)}")))
        if problems:
            raise ValidationError(f"{len(problems)} statements of {period} do not add up; nothing was written",
                                  problems)
        rendered = renderer.finish()
        progress(len(issues), len(issues), "recording statements")
        stems = file_stems([(issue.period, issue.participant_id) for issue in issues])
        issued = _record(workspace, period, target, issues, stems, rendered, size)
    except BaseException as error:
        renderer.abort()
        if isinstance(error, OSError):
            raise SpmError(f"writing statements into {target} failed ({error.strerror or error}), so nothing was "
                           "issued; check the free space and the folder's permissions, or choose another folder"
                           ) from error
        raise
    summary = ExportSummary(period, target, issued)
    log.info("issued %d statement files of %s (%d drafts)", len(issued), period, summary.drafts)
    return summary


# --- proving statements later ------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedRecord:
    statement_id: int
    run_id: int
    participant_id: str
    period: str
    format: str
    file_name: str
    file_sha256: str
    content_sha256: str
    draft: bool
    issued_by: str
    issued_at: str


def issued_statements(workspace: Workspace, period: str | None = None,
                      participant_id: str | None = None) -> list[IssuedRecord]:
    query = select(statements).order_by(statements.c.id)
    if period is not None:
        query = query.where(statements.c.period == period)
    if participant_id is not None:
        query = query.where(statements.c.participant_id == participant_id)
    with workspace.read() as connection:
        return [IssuedRecord(row.id, row.run_id, row.participant_id, row.period, row.format, row.file_name,
                             row.file_sha256, row.content_sha256, bool(row.draft), row.issued_by, row.issued_at)
                for row in connection.execute(query)]


def find_issued_file(workspace: Workspace, path: Path) -> IssuedRecord | None:
    """Return the issued statement whose recorded file hash equals this file's, or None."""
    file_hash = sha256_hex(Path(path).read_bytes())
    with workspace.read() as connection:
        row = connection.execute(select(statements).where(statements.c.file_sha256 == file_hash)
                                 .order_by(statements.c.id).limit(1)).first()
    if row is None:
        return None
    return IssuedRecord(row.id, row.run_id, row.participant_id, row.period, row.format, row.file_name,
                        row.file_sha256, row.content_sha256, bool(row.draft), row.issued_by, row.issued_at)


def _recorded_hashes(connection: Connection) -> dict[int, str]:
    recorded: dict[int, str] = {}
    query = select(audit_log.c.after).where(audit_log.c.action == ISSUE_ACTION).order_by(audit_log.c.seq)
    for (after,) in connection.execute(query):
        for statement_id, row_hash in json.loads(after or "{}").get("statements", []):
            recorded[int(statement_id)] = str(row_hash)
    return recorded


def verify_issued_statements(connection: Connection) -> list[str]:
    """Compare every statements row with the hash its issue recorded in the audit trail."""
    recorded = _recorded_hashes(connection)
    problems = []
    seen = set()
    for row in connection.execute(select(statements).order_by(statements.c.id)):
        seen.add(row.id)
        label = f"statement {row.id} ({row.participant_id}, {row.period}, {row.format})"
        expected = recorded.get(row.id)
        if expected is None:
            problems.append(f"{label} has no audit entry (it was inserted outside SPM Desktop)")
        elif statement_row_hash(row) != expected or row.row_hash != expected:
            problems.append(f"{label} was changed outside SPM Desktop (its hash differs from the audit trail)")
    for statement_id in sorted(set(recorded) - seen):
        problems.append(f"statement {statement_id} is recorded in the audit trail but missing from the workspace")
    return problems


audit_service.register_content_check("issued statements", verify_issued_statements)
