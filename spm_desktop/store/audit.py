"""The append-only audit trail and its SHA-256 hash chain.

Each entry's hash is SHA-256 over the previous entry's hash and the canonical JSON of
the entry's own fields, so editing, deleting or inserting a row outside the application
breaks the chain at that row. Entries are appended inside the caller's transaction,
which therefore commits the write and its audit entry together or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, text

from spm_desktop.domain.canonical import canonical_json, sha256_hex
from spm_desktop.store.tables.core import audit_log, workspace_info

GENESIS_HASH = "0" * 64
# workspace_info key holding "seq:hash" of the newest entry, so deleting the newest
# entries (which leaves an intact but shorter chain) is detected too.
HEAD_KEY = "audit_head"


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts: str
    user: str
    action: str
    entity_type: str
    entity_id: str
    before: str | None
    after: str | None
    prev_hash: str
    hash: str


def entry_hash(prev_hash: str, seq: int, ts: str, user: str, action: str, entity_type: str,
               entity_id: str, before: str | None, after: str | None) -> str:
    body = canonical_json([seq, ts, user, action, entity_type, entity_id, before, after])
    return sha256_hex(prev_hash + body)


def _lock_for_append(connection: Connection) -> None:
    # SQLite already holds the write lock (BEGIN IMMEDIATE); PostgreSQL needs a table lock
    # so two writers cannot both read the same last hash.
    if connection.dialect.name == "postgresql":
        connection.execute(text("LOCK TABLE audit_log IN EXCLUSIVE MODE"))


def append(connection: Connection, *, user: str, action: str, entity_type: str, entity_id: str,
           before: object = None, after: object = None) -> AuditEntry:
    """Append one entry to the chain inside the caller's open transaction."""
    _lock_for_append(connection)
    last = connection.execute(
        select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    ).first()
    seq = 1 if last is None else last.seq + 1
    prev_hash = GENESIS_HASH if last is None else last.hash
    ts = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    before_json = None if before is None else canonical_json(before)
    after_json = None if after is None else canonical_json(after)
    digest = entry_hash(prev_hash, seq, ts, user, action, entity_type, str(entity_id), before_json, after_json)
    entry = AuditEntry(seq, ts, user, action, entity_type, str(entity_id), before_json, after_json, prev_hash, digest)
    connection.execute(audit_log.insert().values(**entry.__dict__))
    _store_head(connection, entry)
    return entry


def _store_head(connection: Connection, entry: AuditEntry) -> None:
    head = f"{entry.seq}:{entry.hash}"
    updated = connection.execute(
        workspace_info.update().where(workspace_info.c.key == HEAD_KEY).values(value=head)
    ).rowcount
    if not updated:
        connection.execute(workspace_info.insert().values(key=HEAD_KEY, value=head))


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"audit entry {self.seq}: {self.reason}"


def iter_entries(connection: Connection, batch: int = 5000) -> Iterator[AuditEntry]:
    last_seq = 0
    while True:
        rows = connection.execute(
            select(audit_log).where(audit_log.c.seq > last_seq).order_by(audit_log.c.seq).limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield AuditEntry(**row._mapping)
        last_seq = rows[-1].seq


def verify_chain(connection: Connection, progress: Callable[[int, int], None] | None = None) -> tuple[int, ChainBreak | None]:
    """Walk the chain in order; return the number of entries checked and the first break."""
    total = connection.execute(select(func.count()).select_from(audit_log)).scalar_one()
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    for entry in iter_entries(connection):
        if entry.seq != expected_seq:
            missing = f"entries {expected_seq}-{entry.seq - 1}" if entry.seq > expected_seq + 1 else f"entry {expected_seq}"
            return checked, ChainBreak(entry.seq, f"{missing} missing before it (deleted outside SPM Desktop)")
        if entry.prev_hash != prev_hash:
            return checked, ChainBreak(entry.seq, "its link to the previous entry does not match (a row was inserted or replaced)")
        digest = entry_hash(prev_hash, entry.seq, entry.ts, entry.user, entry.action, entry.entity_type,
                            entry.entity_id, entry.before, entry.after)
        if digest != entry.hash:
            return checked, ChainBreak(entry.seq, "its content does not match its hash (the row was edited)")
        prev_hash = entry.hash
        expected_seq += 1
        checked += 1
        if progress is not None and checked % 5000 == 0:
            progress(checked, total)
    stored_head = connection.execute(
        select(workspace_info.c.value).where(workspace_info.c.key == HEAD_KEY)
    ).scalar_one_or_none()
    actual_head = None if checked == 0 else f"{expected_seq - 1}:{prev_hash}"
    if stored_head != actual_head:
        recorded_seq = stored_head.split(":", 1)[0] if stored_head else "none"
        return checked, ChainBreak(
            int(recorded_seq) if recorded_seq.isdigit() else expected_seq,
            f"the workspace records entry {recorded_seq} as the newest but the trail ends at "
            f"{expected_seq - 1} (entries were deleted or the head record was changed)",
        )
    return checked, None
