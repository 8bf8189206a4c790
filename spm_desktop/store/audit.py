"""The append-only audit trail and its SHA-256 hash chain.

Each entry's hash is SHA-256 over the previous entry's hash and the canonical JSON of
the entry's own fields, so editing, deleting or inserting a row outside the application
breaks the chain at that row. Entries are appended inside the caller's transaction,
which therefore commits the write and its audit entry together or not at all.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
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
    _store_info(connection, HEAD_KEY, f"{entry.seq}:{entry.hash}")
    key = read_mac_key()
    if key is not None:
        _store_info(connection, MAC_KEY, f"{entry.seq}:{entry_mac(key, entry.seq, entry.hash)}")
    return entry


def _store_info(connection: Connection, name: str, value: str) -> None:
    updated = connection.execute(
        workspace_info.update().where(workspace_info.c.key == name).values(value=value)
    ).rowcount
    if not updated:
        connection.execute(workspace_info.insert().values(key=name, value=value))


# -- optional keyed checkpoint -------------------------------------------------------------

# A key kept outside the workspace makes a rewritten chain detectable without anchors:
# every append stores HMAC-SHA256(key, "seq:hash") of the new entry under MAC_KEY, and
# recomputing it needs the key. SPM_AUDIT_KEY_FILE names a file whose bytes are the key;
# SPM_AUDIT_KEY gives the key itself.
KEY_FILE_VARIABLE = "SPM_AUDIT_KEY_FILE"
KEY_VARIABLE = "SPM_AUDIT_KEY"
MAC_KEY = "audit_mac"


def read_mac_key() -> bytes | None:
    """Return the audit key from the environment, or None when none is configured.

    Raises SpmError when SPM_AUDIT_KEY_FILE names a file that is missing, unreadable or
    empty, so a write does not silently go unkeyed.
    """
    from spm_desktop.services.errors import SpmError

    path = os.environ.get(KEY_FILE_VARIABLE, "").strip()
    if path:
        try:
            with open(path, "rb") as handle:
                key = handle.read().strip()
        except OSError as error:
            raise SpmError(f"cannot read the audit key file {path} named by {KEY_FILE_VARIABLE} ({error.strerror}); "
                           "fix the path or unset the variable") from error
        if key:
            return key
        raise SpmError(f"the audit key file {path} named by {KEY_FILE_VARIABLE} is empty; put a random secret in it")
    text_key = os.environ.get(KEY_VARIABLE, "")
    return text_key.encode("utf-8") if text_key else None


def entry_mac(key: bytes, seq: int, digest: str) -> str:
    return hmac.new(key, f"{seq}:{digest}".encode("ascii"), "sha256").hexdigest()


def check_mac(connection: Connection, key: bytes) -> tuple[int | None, str | None]:
    """Check the keyed checkpoint; return the entry it covers and a problem message or None.

    Entries after the checkpoint were written without the key, so the key protects them
    only once a keyed write follows.
    """
    stored = connection.execute(select(workspace_info.c.value).where(workspace_info.c.key == MAC_KEY)).scalar_one_or_none()
    if stored is None:
        return None, ("no keyed checkpoint is stored although an audit key is configured: the workspace was never "
                      "written with the key, or the checkpoint was deleted outside SPM Desktop")
    seq_text, _, mac = stored.partition(":")
    seq = int(seq_text) if seq_text.isdigit() else None
    digest = None if seq is None else connection.execute(
        select(audit_log.c.hash).where(audit_log.c.seq == seq)).scalar_one_or_none()
    if digest is None or not hmac.compare_digest(entry_mac(key, seq, digest), mac):  # type: ignore[arg-type]
        return seq, (f"the keyed checkpoint of audit entry {seq_text} does not match with the configured key: the "
                     "trail was rewritten outside SPM Desktop, or the key differs from the one that wrote it")
    return seq, None


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


def read_head(connection: Connection) -> AuditEntry | None:
    """Return the newest entry of the trail, or None for an empty trail."""
    row = connection.execute(select(audit_log).order_by(audit_log.c.seq.desc()).limit(1)).first()
    return None if row is None else AuditEntry(**row._mapping)


# -- continuity: each entry's "before" must match the previous entry's "after" -------------

# Entity types whose entries record the entity's stored state (or the fields a write
# changed) in "before" and "after". Other types record summaries (an import batch, an
# export) or renames, whose "before" is not the previous state of the same entity id.
STATE_ENTITY_TYPES = frozenset({"period", "adjustment", "setting", "metric", "plan", "inquiry"})
# Of those, the types whose "before" is always the stored row the write replaced. A
# "before" that no earlier entry wrote as "after" means the row was inserted by hand.
ROW_ENTITY_TYPES = frozenset({"period", "adjustment", "setting"})
# Entries whose "before" is the state before an earlier entry of the same transaction, because
# adopting a metric with a rename saves the renamed version first and records the
# superseded metric's old name and tier afterwards.
_BEFORE_NOT_LATEST = frozenset({"metric.superseded"})


@dataclass(frozen=True)
class ContinuityBreak:
    seq: int
    previous_seq: int | None
    action: str
    entity: str
    fields: tuple[str, ...]

    def __str__(self) -> str:
        if self.previous_seq is None:
            return (f"audit entry {self.seq} ({self.action}) changed {self.entity} from a state that no earlier "
                    "entry recorded: the row was inserted outside SPM Desktop before this change")
        return (f"audit entry {self.seq} ({self.action}) found {self.entity} different from what entry "
                f"{self.previous_seq} recorded, in {', '.join(self.fields)}: the row was changed outside "
                f"SPM Desktop between entries {self.previous_seq} and {self.seq}")


def _differing_fields(entity_type: str, previous: object, current: object) -> tuple[str, ...]:
    """Return the fields in which two recorded states of one entity differ.

    Dictionaries compare on the keys both carry, because some entries record only the
    fields a write changed. A setting's value compares whole.
    """
    if entity_type == "setting":
        return () if previous == current else ("value",)
    if not isinstance(previous, dict) or not isinstance(current, dict):
        return ()
    return tuple(sorted(key for key in previous.keys() & current.keys() if previous[key] != current[key]))


def verify_continuity(connection: Connection) -> ContinuityBreak | None:
    """Walk the trail in order and return the first entry whose "before" contradicts its entity's last "after".

    A row edited by hand and then changed by the application shows here even though the
    newest entry matches the row: the application recorded the edited value as "before".
    Only ``STATE_ENTITY_TYPES`` are compared.
    """
    import json

    latest: dict[tuple[str, str], tuple[int, object]] = {}
    for entry in iter_entries(connection):
        if entry.entity_type not in STATE_ENTITY_TYPES:
            continue
        key = (entry.entity_type, entry.entity_id)
        if entry.before is not None and entry.action not in _BEFORE_NOT_LATEST:
            found = _check_before(entry, latest.get(key), json.loads(entry.before))
            if found is not None:
                return found
        latest[key] = (entry.seq, None if entry.after is None else json.loads(entry.after))
    return None


def _check_before(entry: AuditEntry, previous: tuple[int, object] | None, before: object) -> ContinuityBreak | None:
    entity = f"{entry.entity_type} {entry.entity_id}"
    if previous is None or previous[1] is None:
        if entry.entity_type in ROW_ENTITY_TYPES:
            return ContinuityBreak(entry.seq, None, entry.action, entity, ())
        return None
    fields = _differing_fields(entry.entity_type, previous[1], before)
    if fields:
        return ContinuityBreak(entry.seq, previous[0], entry.action, entity, fields)
    return None


# -- anchors: entry hashes kept outside the workspace ----------------------------------------


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def parse_anchor(text: str) -> Anchor:
    """Parse ``ENTRY:HASH`` as ``spm audit head`` prints it; raise ValueError naming the expected form."""
    seq_text, separator, digest = text.strip().partition(":")
    digest = digest.strip().lower()
    if not separator or not seq_text.strip().isdigit() or len(digest) != 64 \
            or any(character not in "0123456789abcdef" for character in digest):
        raise ValueError(f"anchor {text!r} is invalid: expected ENTRY:HASH, an entry number and its "
                         "64-digit SHA-256 hash as 'spm audit head' prints them")
    return Anchor(int(seq_text), digest)


def check_anchors(connection: Connection, anchors: list[Anchor]) -> list[str]:
    """Return one message per anchor whose entry is missing or has another hash now."""
    problems = []
    for anchor in anchors:
        stored = connection.execute(select(audit_log.c.hash).where(audit_log.c.seq == anchor.seq)).scalar_one_or_none()
        if stored is None:
            problems.append(f"anchored audit entry {anchor.seq} is missing: the trail was cut back or rewritten "
                            "outside SPM Desktop")
        elif stored != anchor.hash:
            problems.append(f"audit entry {anchor.seq} no longer has the anchored hash {anchor.hash[:16]}... "
                            f"(it has {stored[:16]}...): the trail was rewritten outside SPM Desktop")
    return problems
