"""Canonical JSON and SHA-256 fingerprints, shared by the audit chain and exports."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot write {type(value).__name__} to canonical JSON")


def canonical_json(value: object) -> str:
    """Serialise with sorted keys, no spaces and ASCII only, so equal data hashes equal."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_default)


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def fingerprint(value: object) -> str:
    """Return the SHA-256 of a value's canonical JSON."""
    return sha256_hex(canonical_json(value))
