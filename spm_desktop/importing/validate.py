"""Record-level checks of an import: everything that needs whole records or the workspace.

Cell-level problems (unreadable dates and amounts) come from ``parsing``. The checks
here see parsed records. They add problems for missing fields, invalid choices,
unknown participants and reference values, natural-key clashes inside the file, split
shares, negative quotas, reversals with positive amounts, dates outside every plan and
values that look like misspellings of others. Every check collects all its findings.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from spm_desktop.domain.records import REVERSAL_TYPES, RecordSetSpec
from spm_desktop.importing.columns import same_throughout


@dataclass
class Finding:
    """A problem found for one record (``record`` is its index) or for the whole file (None)."""

    record: int | None
    code: str
    severity: str
    message: str
    field: str | None = None
    value: str | None = None


@dataclass
class KnownParticipant:
    participant_id: str
    hire_date: str | None = None
    termination_date: str | None = None


@dataclass
class CheckContext:
    """Inputs of the checks besides the file: the workspace's participants, reference lists and plans."""

    participants: dict[str, KnownParticipant] = field(default_factory=dict)
    references: dict[str, set[str]] = field(default_factory=dict)
    reference_names: dict[str, str] = field(default_factory=dict)  # field -> file name, for messages
    plan_ranges: list[tuple[str, str | None]] = field(default_factory=list)


# Fields whose values must name a known participant, and how bad an unknown one is.
PARTICIPANT_FIELDS = {
    "deals": (("owner", "error"),),
    "credit_splits": (("participant_id", "error"),),
    "quotas": (("participant_id", "error"),),
    "activities": (("participant_id", "error"),),
    "adjustments": (("participant_id", "error"),),
    "hierarchy": (("participant_id", "error"), ("manager_id", "warning")),
    "participants": (("manager_id", "warning"),),
}

# Text fields worth checking for misspelled categories (a handful of distinct values).
CATEGORY_FIELDS = ("stage", "product", "region", "territory", "role", "forecast_category", "currency", "type")
MAX_CATEGORY_VALUES = 200


def normalise_choice(value: str) -> str:
    """Fold "Credit Note", "credit-note" and "CreditNote" into "creditnote" for comparing with choices."""
    return re.sub(r"[^0-9a-z]", "", value.casefold())


def check_choices(spec: RecordSetSpec, values: dict[str, list], findings: list[Finding]) -> None:
    """Replace spelled-out choices by their canonical form and report values outside the choices."""
    for field_spec in spec.fields:
        if not field_spec.choices or field_spec.name not in values:
            continue
        lookup = {normalise_choice(choice): choice for choice in field_spec.choices}
        lookup.update({"eod": "end_of_day", "endofday": "end_of_day", "avg": "average", "creditmemo": "credit_note",
                       "return": "refund", "cancelled": "cancellation"})
        column = values[field_spec.name]
        readings = {value: lookup.get(normalise_choice(value)) for value in dict.fromkeys(column) if value is not None}
        if all(reading == value for value, reading in readings.items()):
            continue
        for index, value in enumerate(column):
            if value is None:
                continue
            canonical = readings[value]
            if canonical is None or canonical not in field_spec.choices:
                findings.append(Finding(index, "invalid_choice", "error",
                                        f"{field_spec.name} must be one of: {', '.join(field_spec.choices)}",
                                        field_spec.name, value))
            else:
                column[index] = canonical


def check_required(spec: RecordSetSpec, values: dict[str, list], count: int, findings: list[Finding]) -> None:
    for name in spec.required:
        column = values.get(name)
        if column is None or None not in column:
            continue
        for index in range(count):
            if column[index] is None:
                findings.append(Finding(index, "missing_value", "error",
                                        f"{name} is required; fill it in or fix the cell", name))


def check_participants(record_set: str, values: dict[str, list], context: CheckContext,
                       findings: list[Finding], file_ids: set[str] | None = None) -> None:
    """Report participant ids that the workspace (and, for participants files, the file) does not know."""
    known = set(context.participants)
    if record_set == "participants":
        known |= file_ids or set()
    elif not known:
        return
    for name, severity in PARTICIPANT_FIELDS.get(record_set, ()):
        column = values.get(name)
        if column is None:
            continue
        unknown: dict[str, list[int]] = {}
        for index, value in enumerate(column):
            if value is not None and value not in known:
                unknown.setdefault(value, []).append(index)
        for value, indexes in unknown.items():
            close = difflib.get_close_matches(value, known, n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]!r}? Record an alias" if close else \
                "; import the participant first or correct the id"
            message = f"unknown participant {value!r} in {name}{hint}"
            # An error rejects each row, so each is listed; a warning is listed once per value.
            listed = indexes if severity == "error" else indexes[:1]
            if severity != "error" and len(indexes) > 1:
                message += f" ({_rows(len(indexes))})"
            findings.extend(Finding(index, "unknown_participant", severity, message, name, value) for index in listed)


def check_employment(values: dict[str, list], context: CheckContext, findings: list[Finding]) -> None:
    """Warn when a deal closed while its owner was not employed (credit will be an exception)."""
    owners, dates = values.get("owner"), values.get("close_date")
    if owners is None or dates is None or not context.participants:
        return
    for index, (owner, closed) in enumerate(zip(owners, dates, strict=True)):
        person = context.participants.get(owner) if owner else None
        if person is None or closed is None:
            continue
        if person.termination_date and closed > person.termination_date:
            findings.append(Finding(index, "participant_left", "warning",
                                    f"participant {owner!r} left on {person.termination_date} but the deal closed "
                                    f"on {closed}; it will not be credited to them", "owner", owner))
        elif person.hire_date and closed < person.hire_date:
            findings.append(Finding(index, "participant_not_hired", "warning",
                                    f"participant {owner!r} was hired on {person.hire_date} but the deal closed "
                                    f"on {closed}; it will not be credited to them", "owner", owner))


def check_references(values: dict[str, list], context: CheckContext, findings: list[Finding]) -> None:
    """Warn about values missing from a reference list, naming a likely alias."""
    for name, allowed in context.references.items():
        column = values.get(name)
        if column is None:
            continue
        folded = {_fold(item): item for item in allowed}
        source = context.reference_names.get(name, "the reference list")
        hints: dict[str, str] = {}
        for index, value in enumerate(column):
            if value is None or value in allowed:
                continue
            if value not in hints:
                match = folded.get(_fold(value))
                if match is None:
                    close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.8)
                    match = close[0] if close else None
                hints[value] = (f"; record an alias {value} -> {match}" if match
                                else "; add it to the list or correct the value")
            findings.append(Finding(index, f"unknown_{name}", "warning",
                                    f"{name} {value!r} is not in {source}{hints[value]}", name, value))


def _fold(value: str) -> str:
    return re.sub(r"[\W_]+", "", value.casefold())


def check_amount_rules(record_set: str, values: dict[str, list], findings: list[Finding]) -> None:
    amounts = values.get("amount")
    if amounts is None:
        return
    if record_set == "quotas":
        for index, amount in enumerate(amounts):
            if amount is not None and amount < 0:
                findings.append(Finding(index, "negative_quota", "error",
                                        "a quota cannot be negative; correct the amount", "amount"))
    if record_set == "deals":
        types = values.get("type") or []
        if not set(REVERSAL_TYPES).intersection(types):
            return
        for index, (amount, kind) in enumerate(zip(amounts, types, strict=False)):
            if kind in REVERSAL_TYPES and amount is not None and amount > 0:
                findings.append(Finding(index, "reversal_positive", "error",
                                        f"a {kind} carries a negative amount; enter it with a minus sign", "amount"))


def check_plan_dates(values: dict[str, list], date_field: str, context: CheckContext, findings: list[Finding]) -> None:
    """Warn about dates that no plan covers; skipped while the workspace has no plans."""
    dates = values.get(date_field)
    if dates is None or not context.plan_ranges:
        return
    outside: dict[str, bool] = {}
    for index, value in enumerate(dates):
        if value is None:
            continue
        day = value[:10]
        if day not in outside:
            outside[day] = not any(start <= day and (end is None or day <= end) for start, end in context.plan_ranges)
        if outside[day]:
            findings.append(Finding(index, "outside_plans", "warning",
                                    f"{date_field} {day} is outside every plan; the record will not be paid "
                                    "unless a plan covering it is added", date_field, day))


# Category words that exports misspell. A value within two edits of one of them but not
# equal to it is reported, and so is a rare value close to a frequent one in the same column.
VOCABULARY = (
    "technology", "medical", "retail", "finance", "financial", "software", "services", "marketing", "entertainment",
    "employment", "telecommunications", "healthcare", "manufacturing", "education", "government", "energy",
    "insurance", "transportation", "hospitality", "construction", "consulting", "automotive", "pharmaceutical",
    "banking", "media", "utilities", "agriculture", "logistics", "won", "lost", "open", "closed", "prospecting",
    "engaging", "qualified", "negotiation", "proposal", "pipeline", "commit", "upside", "omitted", "best case",
)


def _value_counts(column: Sequence[str | None]) -> Counter:
    """Count each value; a column with one value throughout (a single currency) is counted without hashing."""
    if column and same_throughout(column):
        return Counter({column[0]: len(column)})
    return Counter(column)


def spelling_findings(column: Sequence[str | None], name: str) -> list[Finding]:
    """Report values that look like misspellings of a frequent value or of a common category word."""
    counts = _value_counts(column)
    counts.pop(None, None)
    counts.pop("", None)
    if not counts or len(counts) > MAX_CATEGORY_VALUES:
        return []
    suspicious: dict[str, str] = {}
    frequent = [value for value, _count in counts.most_common()]
    for value, count in counts.items():
        lower = value.casefold()
        same_word = [other for other in frequent if other != value and other.casefold() == lower and counts[other] > count]
        if same_word:
            suspicious[value] = same_word[0]
            continue
        if lower in VOCABULARY or len(value) < 5:
            continue
        peers = [other for other in frequent if other != value and counts[other] > count]
        close = difflib.get_close_matches(value, peers, n=1, cutoff=0.88)
        if close:
            suspicious[value] = close[0]
            continue
        word = difflib.get_close_matches(lower, VOCABULARY, n=1, cutoff=0.88)
        if word and _edit_distance(lower, word[0]) <= 2:
            suspicious[value] = word[0]
    findings: list[Finding] = []
    if not suspicious:
        return findings
    for index, value in enumerate(column):
        if value in suspicious:
            findings.append(Finding(index, "possible_misspelling", "warning",
                                    f"{name} {value!r} looks like a misspelling of {suspicious[value]!r} "
                                    f"({_rows(counts[value])}); correct it or record an alias", name, value))
    return findings


def _rows(count: int) -> str:
    return "1 row" if count == 1 else f"{count:,} rows"


def _edit_distance(first: str, second: str) -> int:
    previous = list(range(len(second) + 1))
    for i, left in enumerate(first, start=1):
        current = [i]
        for j, right in enumerate(second, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (left != right)))
        previous = current
    return previous[-1]


def split_share_findings(deal_ids: Sequence[str | None], kinds: Sequence[str | None],
                         shares: Sequence[str | None], rows: Sequence[int], active: Sequence[bool]) -> list[Finding]:
    """Reject every split row of a deal whose split shares do not total exactly 1 (overlays excluded)."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    members: dict[str, list[int]] = defaultdict(list)
    for index, (deal, kind, share) in enumerate(zip(deal_ids, kinds, shares, strict=True)):
        if not active[index] or deal is None or kind != "split" or share is None:
            continue
        totals[deal] += Decimal(share)
        members[deal].append(index)
    findings = []
    for deal, total in totals.items():
        if total == 1:
            continue
        listed = ", ".join(str(rows[index]) for index in members[deal][:20])
        for index in members[deal]:
            findings.append(Finding(index, "split_total", "error",
                                    f"split shares of deal {deal!r} total {total}, not 1 (rows {listed}); "
                                    "correct the shares so they add up to exactly 1", "share", str(total)))
    return findings
