"""Plan assignment: the plan each participant is on, and the days they are on it.

A plan covers a participant by role or by id, only between hire_date and
termination_date and only while the plan is effective. A participant is on one plan per
date: two plans covering the same person on the same day is an error naming both, and
neither plan pays that person in the range asked until the plans are corrected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from spm_desktop.domain.problems import Problem

if TYPE_CHECKING:
    from spm_desktop.domain.plans import Plan


@dataclass(frozen=True)
class PlanAssignment:
    """A participant on a plan from ``start`` to ``end`` (inclusive) within the range asked."""

    participant_id: str
    plan: Plan
    start: dt.date
    end: dt.date


def to_date(value: Any) -> dt.date | None:
    """Turn a frame cell (Timestamp, datetime, date, ISO text or a missing value) into a date."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10]) if value.strip() else None
    if value != value:  # NaN and NaT are the only values not equal to themselves
        return None
    to_pydatetime = getattr(value, "to_pydatetime", None)
    if to_pydatetime is not None:
        return to_pydatetime().date()
    raise TypeError(f"{value!r} is not a date")


def covers(plan: Plan, participant: Mapping[str, Any]) -> bool:
    """Return whether a plan's participants rule selects this participant."""
    if plan.participants.ids is not None:
        return str(participant.get("participant_id")) in plan.participants.ids
    role = participant.get("role")
    return plan.participants.role is not None and role == plan.participants.role


def _rows(participants: pd.DataFrame | Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    to_dict = getattr(participants, "to_dict", None)
    if to_dict is not None:
        return to_dict("records")  # type: ignore[no-any-return]
    return list(participants)  # type: ignore[arg-type]


def _window(plan: Plan, participant: Mapping[str, Any], start: dt.date, end: dt.date) -> tuple[dt.date, dt.date] | None:
    first = max(start, plan.effective_from)
    last = min(end, plan.effective_to) if plan.effective_to is not None else end
    hire = to_date(participant.get("hire_date"))
    leave = to_date(participant.get("termination_date"))
    if hire is not None:
        first = max(first, hire)
    if leave is not None:
        last = min(last, leave)
    return (first, last) if first <= last else None


def assign_plans(
    plans: Sequence[Plan],
    participants: pd.DataFrame | Iterable[Mapping[str, Any]],
    start: dt.date,
    end: dt.date,
) -> tuple[list[PlanAssignment], list[Problem]]:
    """Return the plan assignments between ``start`` and ``end`` and a problem for each conflict.

    Assignments come sorted by participant id, then start date.
    """
    assignments: list[PlanAssignment] = []
    problems: list[Problem] = []
    for participant in _rows(participants):
        participant_id = str(participant["participant_id"])
        found = []
        for plan in plans:
            if not covers(plan, participant):
                continue
            window = _window(plan, participant, start, end)
            if window is not None:
                found.append(PlanAssignment(participant_id, plan, *window))
        conflicts = _conflicts(found)
        problems += conflicts
        if not conflicts:
            assignments += found
    assignments.sort(key=lambda item: (item.participant_id, item.start, item.plan.name))
    return assignments, problems


def _conflicts(found: list[PlanAssignment]) -> list[Problem]:
    problems = []
    for index, first in enumerate(found):
        for second in found[index + 1:]:
            if first.start <= second.end and second.start <= first.end:
                overlap = max(first.start, second.start)
                problems.append(Problem(
                    "plan.assignment_conflict",
                    f"participant {first.participant_id} is on plan {first.plan.name!r} version "
                    f"{first.plan.version} and plan {second.plan.name!r} version {second.plan.version} on "
                    f"{overlap}; a participant is on one plan per date, so narrow a plan's participants or dates",
                    participant_id=first.participant_id,
                ))
    return problems
