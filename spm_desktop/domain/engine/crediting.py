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
    recipients: pd.DataFrame
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
    seen: set[tuple[str, str, Decimal, str]] = set()
    copies: dict[str, int] = {}
    shares: dict[tuple[str, str, str], Decimal] = {}
    totals: dict[str, Decimal] = {}
    rows = zip(splits["deal_id"].astype(str).tolist(), splits["participant_id"].astype(str).tolist(),
               splits["share"].tolist(), splits["kind"].tolist(), strict=True)
    for deal_id, participant_id, raw_share, kind in rows:
        share = raw_share if isinstance(raw_share, Decimal) else Decimal(str(raw_share))
        # Decimal hashes equal for 0.5 and 0.50, so the set finds copies whatever the digits.
        # Adding and comparing the size hashes the identity (and its Decimal) once, not twice.
        identity = (deal_id, participant_id, share, kind)
        size = len(seen)
        seen.add(identity)
        if len(seen) == size:
            copies[deal_id] = copies.get(deal_id, 0) + 1
            continue
        key = (deal_id, participant_id, kind)
        shares[key] = shares.get(key, ZERO) + share
        if kind == "split":
            totals[deal_id] = totals.get(deal_id, ZERO) + share
    for deal_id, count in sorted(copies.items()):
        problems.append(Problem("calc.split_copies", f"deal {deal_id} has {count} copied split row(s), counted once",
                                severity="info", value=deal_id))
    rejected = {deal_id for deal_id, total in totals.items() if total != ONE}
    for deal_id in sorted(rejected):
        problems.append(Problem("calc.split_total", f"split shares of deal {deal_id} total {totals[deal_id]}, not 1; "
                                "correct the credit splits so they add up to 100%", value=deal_id))
    merged = pd.DataFrame([(*key, share) for key, share in shares.items() if key[0] not in rejected],
                          columns=columns)
    return merged, rejected


def _credit_keys(frame: pd.DataFrame, originals: dict[int, tuple[int, ...]], split_deals: set[str]) -> pd.DataFrame:
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
    return pd.DataFrame({"_pos": frame["_pos"].to_numpy(), "_credit_deal": credit_deal, "_owner": owners})


def prepare_deals(deals: pd.DataFrame, splits: pd.DataFrame | None) -> PreparedDeals:
    """Link reversals, merge splits and list the credit recipients of every deal row."""
    problems: list[Problem] = []
    frame = _clean_deals(deals)
    originals, excluded = _link_reversals(frame, problems)
    merged, rejected = merge_splits(splits, problems)
    split_deals = set(merged.loc[merged["kind"] == "split", "deal_id"].tolist())
    keys = _credit_keys(frame, originals, split_deals | rejected)
    if excluded:
        keys = keys[~keys["_pos"].isin(excluded)]
    if rejected:
        rejected_rows = keys["_credit_deal"].isin(rejected)
        excluded |= set(keys.loc[rejected_rows, "_pos"].tolist())
        keys = keys[~rejected_rows]

    has_split = keys["_credit_deal"].isin(split_deals)
    owner_rows = pd.DataFrame({
        "_pos": keys.loc[~has_split, "_pos"].to_numpy(),
        "participant_id": keys.loc[~has_split, "_owner"].to_numpy(),
        "credit_kind": "owner",
        "share": ONE,
    })
    split_rows = keys[has_split].merge(merged[merged["kind"] == "split"], left_on="_credit_deal",
                                       right_on="deal_id")[["_pos", "participant_id", "share"]]
    split_rows["credit_kind"] = "split"
    overlay_rows = keys.merge(merged[merged["kind"] == "overlay"], left_on="_credit_deal",
                              right_on="deal_id")[["_pos", "participant_id", "share"]]
    overlay_rows["credit_kind"] = "overlay"
    recipients = _sorted_recipients(pd.concat([owner_rows, split_rows, overlay_rows], ignore_index=True))
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
                         is_reversal, deal_rank)


def _sorted_recipients(recipients: pd.DataFrame) -> pd.DataFrame:
    """Sort recipients by position, credit kind and participant id (stable), as object columns.

    Participant ids and credit kinds are sorted as integer codes of their sorted unique
    values. Each distinct text is then one shared str object, where taking a pandas str
    column as objects would make one new str per row.
    """
    participant_codes, participants = pd.factorize(recipients["participant_id"].astype(str), sort=True)
    kind_codes, kinds = pd.factorize(recipients["credit_kind"], sort=True)
    positions = recipients["_pos"].to_numpy(dtype=np.int64)
    order = np.lexsort((participant_codes, kind_codes, positions))
    columns = {
        "_pos": positions[order],
        "participant_id": np.asarray(participants, dtype=object)[participant_codes[order]],
        "credit_kind": np.asarray(kinds, dtype=object)[kind_codes[order]],
        "share": recipients["share"].to_numpy(dtype=object)[order],
    }
    # pandas 3.1 turns the text columns into str columns that keep these shared objects.
    return pd.DataFrame({name: pd.arrays.NumpyExtensionArray(values) if values.dtype == object else values
                         for name, values in columns.items()}, copy=False)


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
