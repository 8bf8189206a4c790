"""Verify and export the audit trail.

Verification walks the hash chain, then runs every registered content check. Areas that
store hashed rows (calculation results, issued statements) register a check that
recomputes those hashes against what the chain recorded. An edited payout or statement
row is therefore reported by id.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, and_, select

from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.exporting import safe
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import SpmError
from spm_desktop.store import audit
from spm_desktop.store.tables.core import audit_log

log = logging.getLogger(__name__)

# A content check reads the workspace and returns one message per row whose stored hash
# does not match its content, naming the row's id.
ContentCheck = Callable[[Connection], list[str]]
_content_checks: dict[str, ContentCheck] = {}


def register_content_check(name: str, check: ContentCheck) -> None:
    _content_checks[name] = check


@dataclass
class VerifyReport:
    entries: int
    chain_break: audit.ChainBreak | None
    content_problems: list[str] = field(default_factory=list)
    head: str | None = None

    @property
    def ok(self) -> bool:
        return self.chain_break is None and not self.content_problems


def _load_content_checks() -> None:
    # Areas register their checks when their service module is imported.
    import importlib

    for module in ("spm_desktop.services.calc_service", "spm_desktop.services.statement_service",
                   "spm_desktop.services.close_service"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise


def verify(workspace: Workspace, progress: ProgressCallback = no_progress,
           cancel: CancelToken | None = None) -> VerifyReport:
    """Check the chain and the stored hashes of results and statements."""
    _load_content_checks()

    def report(done: int, total: int) -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(done, total, "audit trail")

    with workspace.read() as connection:
        checked, chain_break = audit.verify_chain(connection, report)
        problems: list[str] = []
        for name, check in sorted(_content_checks.items()):
            if cancel is not None:
                cancel.raise_if_cancelled()
            progress(0, 0, name)
            problems.extend(check(connection))
        head = workspace.info().get(audit.HEAD_KEY)
    if chain_break or problems:
        log.warning("audit verification of %s failed: %s; %d content problems", workspace.path, chain_break, len(problems))
    return VerifyReport(checked, chain_break, problems, head)


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    user: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None  # inclusive
    text: str | None = None  # substring of before/after JSON (participant id, period)


def filter_conditions(query_filter: AuditFilter) -> list:
    """Return the SQL conditions of an audit filter, for queries of other services too."""
    conditions = []
    if query_filter.action:
        conditions.append(audit_log.c.action.like(query_filter.action.replace("*", "%")))
    if query_filter.user:
        conditions.append(audit_log.c.user == query_filter.user)
    if query_filter.entity_type:
        conditions.append(audit_log.c.entity_type == query_filter.entity_type)
    if query_filter.entity_id:
        conditions.append(audit_log.c.entity_id == query_filter.entity_id)
    if query_filter.since:
        conditions.append(audit_log.c.ts >= query_filter.since.isoformat())
    if query_filter.until:
        conditions.append(audit_log.c.ts < (query_filter.until + dt.timedelta(days=1)).isoformat())
    if query_filter.text:
        pattern = f"%{query_filter.text}%"
        conditions.append(audit_log.c.after.like(pattern) | audit_log.c.before.like(pattern)
                          | audit_log.c.entity_id.like(pattern))
    return conditions


def count_entries(workspace: Workspace, query_filter: AuditFilter = AuditFilter()) -> int:
    from sqlalchemy import func

    with workspace.read() as connection:
        return connection.execute(
            select(func.count()).select_from(audit_log).where(and_(True, *filter_conditions(query_filter)))
        ).scalar_one()


def list_entries(workspace: Workspace, query_filter: AuditFilter = AuditFilter(), *,
                 offset: int = 0, limit: int | None = None, newest_first: bool = True) -> list[audit.AuditEntry]:
    order = audit_log.c.seq.desc() if newest_first else audit_log.c.seq
    query = select(audit_log).where(and_(True, *filter_conditions(query_filter))).order_by(order).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with workspace.read() as connection:
        return [audit.AuditEntry(**row._mapping) for row in connection.execute(query)]


def distinct_values(workspace: Workspace, column: str) -> list[str]:
    with workspace.read() as connection:
        return [value for (value,) in connection.execute(
            select(audit_log.c[column]).distinct().order_by(audit_log.c[column]))]


EXPORT_HEADER = ("seq", "time_utc", "user", "action", "entity_type", "entity_id", "before", "after", "prev_hash", "hash")


def export(workspace: Workspace, target: Path, query_filter: AuditFilter = AuditFilter()) -> int:
    """Write the (filtered) trail to .xlsx or .csv, oldest first; return the entry count."""
    suffix = target.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise SpmError(f"cannot export the audit trail to {target.name}: use a .xlsx or .csv file name")
    entries = list_entries(workspace, query_filter, newest_first=False)
    rows = [(e.seq, e.ts, e.user, e.action, e.entity_type, e.entity_id, e.before, e.after, e.prev_hash, e.hash)
            for e in entries]
    if suffix == ".csv":
        safe.write_csv(target, EXPORT_HEADER, rows)
    else:
        _export_xlsx(target, rows)
    with workspace.transaction() as unit:
        unit.audit("audit.export", "audit_trail", target.name, after={"entries": len(rows), "format": suffix[1:]})
    return len(rows)


def _export_xlsx(target: Path, rows: list[tuple]) -> None:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(target), {"constant_memory": False, "strings_to_formulas": False,
                                                 "strings_to_urls": False})
    # Fixed metadata so the same trail exports to the same bytes.
    workbook.set_properties({"created": dt.datetime(2000, 1, 1, tzinfo=dt.UTC), "author": "SPM Desktop"})
    formats = safe.standard_formats(workbook)
    sheet = workbook.add_worksheet("Audit trail")
    safe.write_xlsx_table(sheet, EXPORT_HEADER, rows, formats)
    sheet.set_column(1, 1, 28)
    sheet.set_column(6, 7, 60)
    workbook.close()
