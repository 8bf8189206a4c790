"""Verify and export the audit trail.

Verification walks the hash chain, checks that each entry's "before" matches the
previous "after" of the same entity, compares anchors kept outside the workspace, then
runs every registered content check. Areas that store rows register a check that
compares them (or their hashes) with what the chain recorded, so an edited payout,
statement, metric, setting or run user is reported by id.

NOTE: without an audit key (``audit.read_mac_key``) the chain has no secret. Someone who
edits a row and then recomputes every later hash and the stored head produces a trail
that verifies, unless an anchor (an entry id and hash written down outside the
workspace, see ``head``) is checked.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, and_, select

from spm_desktop.domain.canonical import canonical_json
from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.exporting import safe
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import SpmError
from spm_desktop.store import audit
from spm_desktop.store.tables.core import audit_log, settings

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
    continuity_break: audit.ContinuityBreak | None = None
    # Anchors and the keyed checkpoint that no longer match the trail.
    anchor_problems: list[str] = field(default_factory=list)
    anchors_checked: int = 0
    # The newest entry that the keyed checkpoint covers; None without an audit key.
    keyed_through: int | None = None

    @property
    def ok(self) -> bool:
        return (self.chain_break is None and self.continuity_break is None and not self.anchor_problems
                and not self.content_problems)

    @property
    def problems(self) -> list[str]:
        """Return every finding as one message each: chain, anchors, continuity, then content."""
        found = [] if self.chain_break is None else [str(self.chain_break)]
        found += self.anchor_problems
        if self.continuity_break is not None:
            found.append(str(self.continuity_break))
        return found + self.content_problems


def _load_content_checks() -> None:
    # Areas register their checks when their service module is imported.
    import importlib

    for module in ("spm_desktop.services.calc_service", "spm_desktop.services.statement_service",
                   "spm_desktop.services.close_service", "spm_desktop.services.plan_service",
                   "spm_desktop.services.metric_service"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise


def verify(workspace: Workspace, progress: ProgressCallback = no_progress,
           cancel: CancelToken | None = None, anchors: tuple[audit.Anchor, ...] = ()) -> VerifyReport:
    """Check the chain, its continuity, the given anchors and every registered content check."""
    _load_content_checks()

    def report(done: int, total: int) -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(done, total, "audit trail")

    with workspace.read() as connection:
        checked, chain_break = audit.verify_chain(connection, report)
        anchor_problems = audit.check_anchors(connection, list(anchors))
        keyed_through = None
        key = audit.read_mac_key()
        if key is not None:
            keyed_through, mac_problem = audit.check_mac(connection, key)
            anchor_problems += [mac_problem] if mac_problem else []
        progress(0, 0, "continuity of each entry")
        continuity_break = audit.verify_continuity(connection)
        problems: list[str] = []
        for name, check in sorted(_content_checks.items()):
            if cancel is not None:
                cancel.raise_if_cancelled()
            progress(0, 0, name)
            problems.extend(check(connection))
        head = workspace.info().get(audit.HEAD_KEY)
    verified = VerifyReport(checked, chain_break, problems, head, continuity_break, anchor_problems, len(anchors),
                            keyed_through)
    if not verified.ok:
        log.warning("audit verification of %s failed: %s; %s; %d anchor and %d content problems", workspace.path,
                    chain_break, continuity_break, len(anchor_problems), len(problems))
    return verified


def head(workspace: Workspace) -> audit.Anchor | None:
    """Return the newest entry's id and hash, to be written down outside the workspace as an anchor."""
    with workspace.read() as connection:
        newest = audit.read_head(connection)
    return None if newest is None else audit.Anchor(newest.seq, newest.hash)


def parse_anchors(text: str) -> tuple[audit.Anchor, ...]:
    """Parse anchors (``ENTRY:HASH``) separated by spaces or commas; raise ValueError naming the first invalid one."""
    return tuple(audit.parse_anchor(item) for item in text.replace(",", " ").split())


ANCHOR_ADVICE = ("keep this anchor outside the workspace (a ticket, an e-mail, the close checklist); "
                 "'spm audit verify WS --anchor ENTRY:HASH' then finds a rewritten trail")


def verify_settings(connection: Connection) -> list[str]:
    """Compare every stored setting with the value its newest audit entry wrote."""
    recorded: dict[str, object] = {}
    query = (select(audit_log.c.entity_id, audit_log.c.after).where(audit_log.c.entity_type == "setting")
             .order_by(audit_log.c.seq))
    for key, after in connection.execute(query):
        recorded[key] = None if after is None else json.loads(after)
    problems = []
    stored_keys = set()
    for key, value in connection.execute(select(settings.c.key, settings.c.value).order_by(settings.c.key)):
        stored_keys.add(key)
        expected = recorded.get(key)
        if expected is None:
            problems.append(f"setting {key} has no audit entry that wrote it; it was written outside SPM Desktop")
        elif canonical_json(_parse_setting(value)) != canonical_json(expected):
            problems.append(f"setting {key} differs from the value its audit entry wrote; it was edited outside "
                            "SPM Desktop")
    for key in sorted(key for key, value in recorded.items() if value is not None and key not in stored_keys):
        problems.append(f"setting {key} is in the audit trail but missing from the workspace; it was deleted "
                        "outside SPM Desktop")
    return problems


def _parse_setting(value: str) -> object:
    try:
        return json.loads(value)
    except ValueError:
        return value


register_content_check("workspace settings", verify_settings)


def verify_inquiries(connection: Connection) -> list[str]:
    """Compare every inquiry row with the state its newest audit entry recorded, column by column."""
    from spm_desktop.store.tables.close import inquiries

    recorded: dict[str, dict] = {}
    query = (select(audit_log.c.entity_id, audit_log.c.after).where(audit_log.c.entity_type == "inquiry")
             .order_by(audit_log.c.seq))
    for entity_id, after in connection.execute(query):
        state = json.loads(after) if after else None
        if isinstance(state, dict):
            recorded[entity_id] = state
    problems = []
    for row in connection.execute(select(inquiries).order_by(inquiries.c.id)).mappings():
        expected = recorded.pop(str(row["id"]), None)
        if expected is None:
            problems.append(f"inquiry {row['id']} has no audit entry; it was written outside SPM Desktop")
            continue
        changed = [column for column in row if column in expected and expected[column] != row[column]]
        if changed:
            problems.append(f"inquiry {row['id']} differs from its audit entry in {', '.join(changed)}; it was "
                            "edited outside SPM Desktop")
    for entity_id in sorted(recorded, key=lambda value: (len(value), value)):
        problems.append(f"inquiry {entity_id} is in the audit trail but missing from the workspace; it was deleted "
                        "outside SPM Desktop")
    return problems


register_content_check("inquiries", verify_inquiries)


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
