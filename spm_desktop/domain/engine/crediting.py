"""Crediting: who is credited with which deal rows, at what share, and reversals tied to their originals.

The result of ``prepare_deals`` is metric-independent: one row per (deal row, recipient)
with the credit kind (owner, split or overlay) and the merged share. Metric selection,
dates, FX and employment are applied per metric in ``measuring``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from spm_desktop.domain.engine.exact import stable_order
from spm_desktop.domain.money import CONTEXT
from spm_desktop.domain.problems import Problem
from spm_desktop.domain.records import REVERSAL_TYPES

ONE = Decimal(1)
ZERO = Decimal(0)
_MAX_LISTED = 10


def listed(values: list[str]) -> str:
    """Return up to ten values joined by commas, with how many more there are."""
    shown = ", ".join(values[:_MAX_LISTED])
    more = len(values) - _MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def text_or_none(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    text = str(value)
    return text if text != "" else None


@dataclass
class PreparedDeals:
    """Deals with positions, reversal links and the metric-independent credit recipients."""

    deals: pd.DataFrame
    recipients: Recipients
    # position of a reversal row -> positions of the sale rows it reverses
    originals: dict[int, tuple[int, ...]] = field(default_factory=dict)
    # positions of rows that are never credited (invalid reversals, unmergeable splits)
    excluded: frozenset[int] = frozenset()
    problems: list[Problem] = field(default_factory=list)
    deal_ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    # per position: the row whose deal id and fields a grain groups by (the original of a reversal)
    grain_source: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    # per position: whether the row is a reversal tied to its original
    is_reversal: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    # per position: rank in (deal id, line id, position) order, the tie-break after the credit date
    deal_rank: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    # per position: the record value an earlier metric made, so that later metrics can share the object
    record_values: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    record_seen: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    # per position: that value's integer parts, where ``record_known`` is True
    record_coefficients: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    record_exponents: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int16))
    record_known: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))


def _clean_deals(deals: pd.DataFrame) -> pd.DataFrame:
    # No copy: the columns below are replaced, never written in place, so the caller's frame stays as it was.
    frame = deals.reset_index(drop=True)
    frame["_pos"] = np.arange(len(frame), dtype=np.int64)
    kinds = frame["type"] if "type" in frame.columns else pd.Series([None] * len(frame), dtype=object)
    frame["_type"] = kinds.astype(object).where(kinds.notna(), "sale").astype(str)
    frame["_is_reversal"] = frame["_type"].isin(REVERSAL_TYPES)
    frame["deal_id"] = frame["deal_id"].astype(str)
    line_ids = frame["line_id"] if "line_id" in frame.columns else pd.Series([None] * len(frame), dtype=object)
    frame["_line_id"] = line_ids.astype(object).where(line_ids.notna(), None)
    references = frame["reference_deal_id"] if "reference_deal_id" in frame.columns else None
    if references is None:
        frame["_reference"] = frame["deal_id"]
    else:
        frame["_reference"] = references.astype(object).where(references.notna(), frame["deal_id"]).astype(str)
    return frame


def _link_reversals(frame: pd.DataFrame, problems: list[Problem]) -> tuple[dict[int, tuple[int, ...]], set[int]]:
    """Tie each reversal to the sale rows it reverses; reject positive reversals and unknown originals."""
    originals: dict[int, tuple[int, ...]] = {}
    excluded: set[int] = set()
    reversals = frame[frame["_is_reversal"]]
    if reversals.empty:
        return originals, excluded

    sales = frame[~frame["_is_reversal"]]
    by_deal: dict[str, list[tuple[int, str | None]]] = defaultdict(list)
    for position, deal_id, line_id in zip(sales["_pos"], sales["deal_id"], sales["_line_id"], strict=True):
        by_deal[deal_id].append((int(position), line_id))
    amounts = frame["amount"] if "amount" in frame.columns else pd.Series([pd.NA] * len(frame))

    columns = zip(reversals["_pos"], reversals["deal_id"], reversals["_type"], reversals["_reference"],
                  reversals["_line_id"], strict=True)
    for position, deal_id, kind, reference, line_id in columns:
        position = int(position)
        amount = amounts.iloc[position]
        if amount is not pd.NA and amount is not None and amount == amount and amount > 0:
            problems.append(Problem("calc.positive_reversal", f"deal {deal_id} is a {kind} with a positive "
                                    "amount; a reversal must carry a negative amount, so correct the row and import "
                                    "it again", value=str(deal_id)))
            excluded.add(position)
            continue
        candidates = by_deal.get(reference, [])
        same_line = [pos for pos, line in candidates if line_id is not None and line == line_id]
        matched = same_line or [pos for pos, _line in candidates]
        if not matched:
            problems.append(Problem("calc.unknown_original", f"{kind} {deal_id} reverses deal "
                                    f"{reference}, which is not in the deals; import the original deal",
                                    severity="warning", value=str(reference)))
            excluded.add(position)
            continue
        originals[position] = tuple(matched)
    return originals, excluded


def merge_splits(splits: pd.DataFrame | None, problems: list[Problem]) -> tuple[pd.DataFrame, set[str]]:
    """Merge copies and repeated rows of credit splits; return merged rows and deals rejected for their total.

    Rows identical in all four fields are copies, counted once and reported. Other rows
    for the same deal, person and kind are added. Split shares of a deal must then total
    exactly 1, otherwise the deal is rejected and named.
    """
    columns = ["deal_id", "participant_id", "kind", "share"]
    if splits is None or splits.empty:
        return pd.DataFrame(columns=columns), set()
    deal_ids = splits["deal_id"].astype(str).tolist()
    participant_ids = splits["participant_id"].astype(str).tolist()
    shares = [share if isinstance(share, Decimal) else Decimal(str(share)) for share in splits["share"].tolist()]
    kinds = splits["kind"].tolist()
    copy_rows = _copy_rows(deal_ids, participant_ids, shares, kinds)

    copies: dict[str, int] = {}
    for row in np.flatnonzero(copy_rows).tolist():
        copies[deal_ids[row]] = copies.get(deal_ids[row], 0) + 1
    distinct_rows = np.flatnonzero(~copy_rows).tolist()
    deal_ids = [deal_ids[row] for row in distinct_rows]
    participant_ids = [participant_ids[row] for row in distinct_rows]
    shares = [shares[row] for row in distinct_rows]
    kinds = [kinds[row] for row in distinct_rows]

    totals: dict[str, Decimal] = {}
    for deal_id, share, kind in zip(deal_ids, shares, kinds, strict=True):
        if kind == "split":
            totals[deal_id] = totals.get(deal_id, ZERO) + share
    for deal_id, count in sorted(copies.items()):
        problems.append(Problem("calc.split_copies", f"deal {deal_id} has {count} copied split row(s), counted once",
                                severity="info", value=deal_id))
    rejected = {deal_id for deal_id, total in totals.items() if total != ONE}
    for deal_id in sorted(rejected):
        problems.append(Problem("calc.split_total", f"split shares of deal {deal_id} total {totals[deal_id]}, not 1; "
                                "correct the credit splits so they add up to 100%", value=deal_id))
    merged = _added_shares(deal_ids, participant_ids, kinds, shares, rejected)
    return merged if len(merged) else pd.DataFrame(columns=columns), rejected


def _copy_rows(deal_ids: list[str], participant_ids: list[str], shares: list[Decimal], kinds: list[object]) -> np.ndarray:
    """Return a mask of split rows that repeat an earlier row in all four fields, the share compared as a number.

    pandas hashes and compares the Decimal objects themselves, so 0.5 and 0.50 are one value
    there as in a Python set. A NaN share or a kind that is not text takes the set instead,
    because pandas treats such values as missing and would count them as equal.
    """
    unusual = any(not share.is_finite() for share in shares) or any(not isinstance(kind, str) for kind in kinds)
    if unusual:
        seen: set[tuple[str, str, Decimal, object]] = set()
        repeated = np.zeros(len(shares), dtype=bool)
        for row, identity in enumerate(zip(deal_ids, participant_ids, shares, kinds, strict=True)):
            size = len(seen)
            seen.add(identity)
            repeated[row] = len(seen) == size
        return repeated
    codes = pd.DataFrame({
        "deal_id": pd.factorize(np.asarray(deal_ids, dtype=object))[0],
        "participant_id": pd.factorize(np.asarray(participant_ids, dtype=object))[0],
        "share": pd.factorize(_objects(shares))[0],
        "kind": pd.factorize(_objects(kinds))[0],
    })
    return codes.duplicated(keep="first").to_numpy()


def _added_shares(deal_ids: list[str], participant_ids: list[str], kinds: list[object], shares: list[Decimal],
                  rejected: set[str]) -> pd.DataFrame:
    """Add the shares of rows with the same deal, person and kind, in the order each key first appears."""
    groups = pd.DataFrame({
        "deal_id": pd.factorize(np.asarray(deal_ids, dtype=object))[0],
        "participant_id": pd.factorize(np.asarray(participant_ids, dtype=object))[0],
        "kind": pd.factorize(_objects(kinds))[0],
    }).groupby(["deal_id", "participant_id", "kind"], sort=False).ngroup().to_numpy()
    firsts = np.flatnonzero(~pd.Series(groups).duplicated().to_numpy())
    added = [ZERO + shares[row] for row in firsts.tolist()]
    if len(firsts) < len(groups):
        # Later rows of a key add to the sum that its first row started, in row order.
        for row in np.flatnonzero(pd.Series(groups).duplicated().to_numpy()).tolist():
            added[groups[row]] += shares[row]
    rows = [row for row in firsts.tolist() if deal_ids[row] not in rejected]
    kept_groups = [group for group, row in enumerate(firsts.tolist()) if deal_ids[row] not in rejected]
    return pd.DataFrame({"deal_id": [deal_ids[row] for row in rows],
                         "participant_id": [participant_ids[row] for row in rows],
                         "kind": [kinds[row] for row in rows],
                         "share": _objects([added[group] for group in kept_groups])})


def _objects(values: list[object]) -> np.ndarray:
    """Return a list as a one-dimensional object array, even when its items are tuples or sequences."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _credit_keys(frame: pd.DataFrame, originals: dict[int, tuple[int, ...]],
                 split_deals: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return, per deal row, the deal id whose splits apply and the owner credited without splits.

    A reversal takes its original's owner and splits unless split rows exist for its own deal id.
    """
    credit_deal = frame["deal_id"].to_numpy(dtype=object).copy()
    owners = frame["owner"].astype(str).to_numpy(dtype=object).copy()
    deal_ids = frame["deal_id"].to_numpy(dtype=object)
    for position, matched in originals.items():
        own_id = deal_ids[position]
        first = matched[0]
        if own_id in split_deals and own_id != deal_ids[first]:
            continue
        credit_deal[position] = deal_ids[first]
        owners[position] = owners[first]
    return credit_deal, owners


def _member_of(values: np.ndarray, members: set[str]) -> np.ndarray:
    """Return a mask of the values in ``members``, looked up in the set because each str caches its hash."""
    if not members:
        return np.zeros(len(values), dtype=bool)
    return np.fromiter((value in members for value in values.tolist()), dtype=bool, count=len(values))


def _shared_rows(positions: np.ndarray, credit_deal: np.ndarray, merged: pd.DataFrame,
                 kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join deal rows to the merged split or overlay rows of their credit deal: positions, people and shares."""
    rows = merged[merged["kind"] == kind]
    if rows.empty or len(positions) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=object), np.empty(0, dtype=object)
    keys = pd.DataFrame({"_pos": positions, "_credit_deal": pd.arrays.NumpyExtensionArray(credit_deal[positions])},
                        copy=False)
    joined = keys.merge(rows, left_on="_credit_deal", right_on="deal_id")
    return (joined["_pos"].to_numpy(dtype=np.int64), joined["participant_id"].astype(str).to_numpy(dtype=object),
            joined["share"].to_numpy(dtype=object))


def prepare_deals(deals: pd.DataFrame, splits: pd.DataFrame | None) -> PreparedDeals:
    """Link reversals, merge splits and list the credit recipients of every deal row."""
    problems: list[Problem] = []
    frame = _clean_deals(deals)
    originals, excluded = _link_reversals(frame, problems)
    merged, rejected = merge_splits(splits, problems)
    split_deals = set(merged.loc[merged["kind"] == "split", "deal_id"].tolist())
    credit_deal, owners = _credit_keys(frame, originals, split_deals | rejected)

    # Row positions equal the index of these arrays, because _clean_deals numbers rows from 0.
    creditable = np.ones(len(frame), dtype=bool)
    creditable[list(excluded)] = False
    if rejected:
        rejected_rows = creditable & _member_of(credit_deal, rejected)
        excluded |= set(np.flatnonzero(rejected_rows).tolist())
        creditable &= ~rejected_rows
    has_split = _member_of(credit_deal, split_deals)
    owner_positions = np.flatnonzero(creditable & ~has_split)
    split_positions, split_people, split_shares = _shared_rows(np.flatnonzero(creditable & has_split), credit_deal,
                                                               merged, "split")
    overlay_positions, overlay_people, overlay_shares = _shared_rows(np.flatnonzero(creditable), credit_deal, merged,
                                                                     "overlay")
    recipients = _sorted_recipients(
        np.concatenate([owner_positions, split_positions, overlay_positions]),
        np.concatenate([owners[owner_positions], split_people, overlay_people]),
        np.concatenate([np.full(len(owner_positions), _KIND_CODES["owner"]),
                        np.full(len(split_positions), _KIND_CODES["split"]),
                        np.full(len(overlay_positions), _KIND_CODES["overlay"])]).astype(np.int64),
        np.concatenate([filled(len(owner_positions), ONE), split_shares, overlay_shares]),
        len(owner_positions))

    deal_ids = frame["deal_id"].to_numpy(dtype=object)
    grain_source = np.arange(len(frame), dtype=np.int64)
    for position, matched in originals.items():
        grain_source[position] = matched[0]
    line_keys = frame["_line_id"].astype(object).where(frame["_line_id"].notna(), "").astype(str)
    deal_rank = np.empty(len(frame), dtype=np.int64)
    deal_rank[np.lexsort((frame["_pos"].to_numpy(), line_keys.to_numpy(), deal_ids))] = np.arange(len(frame))
    is_reversal = np.zeros(len(frame), dtype=bool)
    is_reversal[list(originals)] = True
    return PreparedDeals(frame, recipients, originals, frozenset(excluded), problems, deal_ids, grain_source,
                         is_reversal, deal_rank, filled(len(frame), None), np.zeros(len(frame), dtype=bool),
                         np.zeros(len(frame), dtype=np.int64), np.zeros(len(frame), dtype=np.int16),
                         np.zeros(len(frame), dtype=bool))


# Credit kinds of recipients, numbered in their sorted order (the order of pd.factorize with sort=True).
CREDIT_KINDS = ("overlay", "owner", "split")
_KIND_CODES = {kind: code for code, kind in enumerate(CREDIT_KINDS)}


@dataclass
class Recipients:
    """Credit recipients of deal rows, one row per (deal row, recipient), sorted by position, credit kind and id.

    ``participant_codes`` index ``participant_names`` (sorted participant ids), so their order
    is the order of the ids. ``share_is_one`` marks shares equal to 1, which leave the credit as it is.
    """

    positions: np.ndarray
    participant_ids: np.ndarray
    participant_codes: np.ndarray
    participant_names: np.ndarray
    credit_kinds: np.ndarray
    # index of each row's credit kind in CREDIT_KINDS
    kind_codes: np.ndarray
    shares: np.ndarray
    share_is_one: np.ndarray


def _sorted_recipients(positions: np.ndarray, participant_ids: np.ndarray, kind_codes: np.ndarray,
                       shares: np.ndarray, owner_count: int) -> Recipients:
    """Sort recipients by position, credit kind and participant id, as object arrays and integer codes.

    The first ``owner_count`` rows are owner rows, whose share is the shared object ONE.
    Participant ids are sorted as integer codes of their sorted unique values. Each distinct
    text is then one shared str object, where taking a pandas str column as objects would
    make one new str per row.
    """
    participant_codes, participants = pd.factorize(participant_ids, sort=True)
    order = stable_order([positions, kind_codes, participant_codes])
    names = np.asarray(participants, dtype=object)
    kinds = np.asarray(CREDIT_KINDS, dtype=object)
    share_is_one = np.ones(len(shares), dtype=bool)
    share_is_one[owner_count:] = [share == ONE for share in shares[owner_count:].tolist()]
    sorted_codes = participant_codes[order]
    return Recipients(positions[order], names[sorted_codes], sorted_codes, names, kinds[kind_codes[order]],
                      kind_codes[order], shares[order], share_is_one[order])


# ---------------------------------------------------------------- hierarchy


def _dates(series: pd.Series) -> list[dt.date | None]:
    values = pd.to_datetime(series, errors="coerce")
    return [None if pd.isna(value) else value.date() for value in values]


class Hierarchy:
    """Manager chains by date, from an effective-dated hierarchy or from participants.manager_id."""

    def __init__(self, participants: pd.DataFrame, hierarchy: pd.DataFrame | None) -> None:
        self._static: dict[str, str] | None = None
        self._rows: list[tuple[str, str | None, dt.date, dt.date | None]] = []
        if hierarchy is None or hierarchy.empty:
            managers = participants["manager_id"] if "manager_id" in participants.columns else None
            self._static = {}
            if managers is not None:
                for participant_id, manager_id in zip(participants["participant_id"], managers, strict=True):
                    manager = text_or_none(manager_id)
                    if manager is not None:
                        self._static[str(participant_id)] = manager
            self.breakpoints: list[dt.date] = []
            return
        ends = hierarchy["end_date"] if "end_date" in hierarchy.columns else pd.Series([None] * len(hierarchy))
        for participant_id, manager_id, start, end in zip(hierarchy["participant_id"], hierarchy["manager_id"],
                                                          _dates(hierarchy["start_date"]), _dates(ends), strict=True):
            self._rows.append((str(participant_id), text_or_none(manager_id), start or dt.date.min, end))
        points = {start for _pid, _mid, start, _end in self._rows}
        points |= {end + dt.timedelta(days=1) for _pid, _mid, _start, end in self._rows if end is not None}
        self.breakpoints = sorted(points)
        self._cache: dict[int, dict[str, tuple[str, ...]]] = {}

    def version_of(self, dates: np.ndarray) -> np.ndarray:
        """Return the index of the hierarchy version in force on each date (datetime64 array)."""
        if self._static is not None:
            return np.zeros(len(dates), dtype=np.int64)
        points = np.array(self.breakpoints, dtype="datetime64[D]")
        return np.searchsorted(points, dates.astype("datetime64[D]"), side="right")

    def ancestors(self, version: int) -> dict[str, tuple[str, ...]]:
        """Return each participant's managers, nearest first, in one hierarchy version."""
        if self._static is not None:
            return _chains(self._static)
        if version not in self._cache:
            day = self.breakpoints[version - 1] if version > 0 else dt.date.min
            managers = {}
            for participant_id, manager_id, start, end in self._rows:
                if start <= day and (end is None or day <= end) and manager_id is not None:
                    managers[participant_id] = manager_id
            self._cache[version] = _chains(managers)
        return self._cache[version]


def _chains(managers: dict[str, str]) -> dict[str, tuple[str, ...]]:
    chains = {}
    for participant_id in managers:
        chain: list[str] = []
        current = managers.get(participant_id)
        while current is not None and current != participant_id and current not in chain:
            chain.append(current)
            current = managers.get(current)
        chains[participant_id] = tuple(chain)
    return chains


def team_credits(credits: pd.DataFrame, hierarchy: Hierarchy, managers: set[str]) -> pd.DataFrame:
    """Return team credit rows for ``managers``: owner and split credit of everyone below them on the credit date.

    Overlay credit never rolls up. ``via_participant_id`` names the report whose credit it is.
    """
    own = credits[credits["credit_kind"].isin(["owner", "split"])]
    if own.empty or not managers:
        return credits.iloc[0:0].assign(via_participant_id=pd.Series(dtype=object))
    versions = hierarchy.version_of(own["credit_date"].to_numpy())
    parts = []
    for version in np.unique(versions):
        chains = hierarchy.ancestors(int(version))
        rows = own[versions == version]
        above = rows["participant_id"].map(lambda pid, chains=chains: [m for m in chains.get(pid, ()) if m in managers])
        rows = rows.assign(_managers=above.to_numpy())
        rows = rows[rows["_managers"].map(len) > 0]
        if rows.empty:
            continue
        exploded = rows.explode("_managers")
        exploded = exploded.assign(via_participant_id=exploded["participant_id"],
                                   participant_id=exploded["_managers"].astype(str), credit_kind="team")
        parts.append(exploded.drop(columns=["_managers"]))
    if not parts:
        return credits.iloc[0:0].assign(via_participant_id=pd.Series(dtype=object))
    return pd.concat(parts, ignore_index=True)


def filled(count: int, value: object) -> np.ndarray:
    """Return an object array holding the same ``value`` object ``count`` times.

    ``np.full`` turns a str into a numpy string first and so makes one new str per element.
    """
    result = np.empty(count, dtype=object)
    result[:] = [value] if count else []
    return result


def scale(values: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Multiply two object arrays of Decimal element by element in the 34-digit context."""
    return np.frompyfunc(CONTEXT.multiply, 2, 1)(values, factors)
