"""Early performance signals per participant and period, and a diagnosis of who is behind and why.

Five signals are measured for every participant in the current period (up to an as-of
day) and in a number of earlier periods of the same kind:

1. pipeline creation: value and count of opportunities created, against the pipeline
   the quota needs (quota times the coverage that historically turned into bookings);
2. stage-to-stage conversion: of the opportunities that left a stage, the share that
   moved forward rather than to a lost stage;
3. velocity: days from creation to a won close, and open opportunities that sit in
   their stage longer than is normal for that stage (stalled);
4. earnings pace: earnings against the target incentive expected by the as-of day;
5. forecast movement: opportunities that drop out of commit or best case while still
   open, and opportunities whose expected close date keeps slipping.

Each value is compared with the participant's own earlier periods and with peers:
participants of the same role with the same value of the segment attribute (region by
default), the participant excluded. The diagnosis then names one primary reason for a
participant behind pace (see ``diagnose``), the evidence and a confidence.

Money stays in integer 1/10,000 units (the record frames' ``Int64`` columns) and
earnings in Decimal. Ratios, rates and day counts are float64: they are indicators for
a conversation, never paid out. Everything here is vectorised over numpy arrays, because
the same code runs on a million opportunities with five million stage changes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal

import numpy as np
import pandas as pd

from spm_desktop.domain.periods import Period, parse_period, period_containing
from spm_desktop.domain.problems import Problem
from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400
NAT = np.iinfo(np.int64).min
LOST = -2  # stage code of a lost stage
UNKNOWN = -1  # stage code of a stage that the settings do not list
MISSING = -3  # stage code of a row without a stage (a forecast or close-date change only)

SIGNAL_NAMES = ("pipeline", "conversion", "velocity", "earnings", "forecast")
DIAGNOSES = ("on_track", "low_activity", "weak_conversion", "slow_velocity", "territory_capacity", "not_assessed")
DIAGNOSIS_TITLES = {
    "on_track": "On track",
    "low_activity": "Low activity",
    "weak_conversion": "Weak conversion",
    "slow_velocity": "Slow velocity",
    "territory_capacity": "Territory capacity",
    "not_assessed": "Not assessed",
}

# Forecast categories from lowest to highest confidence; a drop is a move to a lower rank.
FORECAST_RANKS = {"omitted": 0, "pipeline": 1, "best_case": 2, "commit": 3, "closed": 4}


class SignalError(ValueError):
    """Inputs that signals cannot be computed from, with the value and what to do."""


@dataclass(frozen=True)
class SignalSettings:
    """Thresholds and choices of the signals, stored as ``signals.<name>`` workspace settings."""

    segment: str = "region"  # participant field that forms peer groups together with role
    history_periods: int = 4  # earlier periods of the same kind compared with the current one
    quota_key: str | None = None  # None: the only quota key, else "bookings", else the first
    open_stages: tuple[str, ...] = ("Prospecting", "Engaging")  # in pipeline order
    won_stages: tuple[str, ...] = ("Won",)
    lost_stages: tuple[str, ...] = ("Lost",)
    watched_categories: tuple[str, ...] = ("commit", "best_case")
    behind_pace: float = 0.9  # attainment or pipeline pace below this is behind
    low_activity: float = 0.7  # activity index below this is low activity
    weak_conversion: float = 0.75  # conversion index below this is weak conversion
    slow_velocity: float = 1.3  # velocity index (days to close against peers) above this is slow
    stalled_share: float = 0.4  # stalled share above this, and above peers' times slow_velocity, is slow
    low_capacity: float = 0.8  # pipeline pace below this, with normal activity, is territory capacity
    stall_quantile: float = 0.8  # days in a stage beyond this quantile of completed stays is stalled
    min_sample: int = 5  # fewer exits or won deals than this lowers confidence
    repeat_slips: int = 2  # a deal whose close date slipped this often keeps slipping
    default_coverage: float = 3.0  # pipeline per unit of quota when no history converts
    variable_share: float = 0.5  # share of OTE that is incentive, when target_incentive is missing

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> SignalSettings:
        """Build settings from ``{name: value}`` (the part after ``signals.``), rejecting unknown names."""
        known = {item.name: item for item in fields(cls)}
        changes: dict[str, object] = {}
        for name, value in values.items():
            if name not in known:
                raise SignalError(f"unknown signal setting {name!r}; expected one of: {', '.join(known)}")
            default = getattr(cls(), name)
            changes[name] = _coerce_setting(name, value, default)
        return replace(cls(), **changes)

    def stage_codes(self) -> dict[str, int]:
        """Return each stage name's code: its position in the open stages, won after them, lost -2."""
        codes = {name: index for index, name in enumerate(self.open_stages)}
        codes.update(dict.fromkeys(self.won_stages, self.won_code))
        codes.update(dict.fromkeys(self.lost_stages, LOST))
        return codes

    @property
    def won_code(self) -> int:
        return len(self.open_stages)


def _coerce_setting(name: str, value: object, default: object) -> object:
    if isinstance(default, tuple):
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise SignalError(f"signal setting {name!r} must be a list of names, not {value!r}")
        return tuple(str(item) for item in value)
    if isinstance(default, bool) or value is None:
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SignalError(f"signal setting {name!r} must be a whole number of 0 or more, not {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise SignalError(f"signal setting {name!r} must be a number, not {value!r}")
        try:
            number = float(value)
        except ValueError:
            raise SignalError(f"signal setting {name!r} must be a number, not {value!r}") from None
        if not np.isfinite(number) or number < 0:
            raise SignalError(f"signal setting {name!r} must be a finite number of 0 or more, not {value!r}")
        return number
    return str(value)


@dataclass(frozen=True)
class Window:
    """One period as signals see it: whole for earlier periods, cut at the as-of day for the current one."""

    period: Period
    as_of: dt.date

    @property
    def label(self) -> str:
        return self.period.label

    @property
    def start(self) -> dt.date:
        return self.period.start

    @property
    def last_day(self) -> dt.date:
        """Return the last day whose data counts: the as-of day or the period's end."""
        return min(self.period.end, self.as_of)


def signal_windows(period: Period, as_of: dt.date | None, history_periods: int) -> list[Window]:
    """Return the earlier periods (oldest first) and then the current one, cut at ``as_of``.

    Without ``as_of`` the current period is taken whole. An as-of day before the period
    starts is rejected, and one after it ends is treated as the period's end.
    """
    if as_of is None or as_of > period.end:
        as_of = period.end
    if as_of < period.start:
        raise SignalError(f"as-of day {as_of} is before period {period.label} starts on {period.start}")
    windows = [Window(period, as_of)]
    current = period
    for _ in range(history_periods):
        current = period_containing(current.start - dt.timedelta(days=1), current.kind,
                                    current.fiscal_start_month, current.start)
        windows.insert(0, Window(current, current.end))
    return windows


@dataclass
class SignalInputs:
    """Record frames as ``domain.records`` describes them; only participants and deals are required.

    ``earnings`` has columns participant_id, period (a period label) and earnings (Decimal,
    in the participant's currency). ``credits``, when given, replaces won deal amounts as
    the credit behind attainment: participant_id, credit_date and amount (1/10,000 units).
    Any frame may carry a boolean ``_generated`` column; generated rows are reported.
    """

    participants: pd.DataFrame
    deals: pd.DataFrame
    stage_history: pd.DataFrame | None = None
    activities: pd.DataFrame | None = None
    quotas: pd.DataFrame | None = None
    earnings: pd.DataFrame | None = None
    credits: pd.DataFrame | None = None


@dataclass
class SignalReport:
    """Signals of one period: a row per participant, a history per signal, and chart details.

    ``table``: one row per participant (see ``TABLE_COLUMNS``).
    ``series``: participant_id, window (0 = oldest), period, signal, value: the sparkline data.
    ``funnel``: participant_id, stage, exits, advanced, rate, peer_rate, segment_rate for the current period.
    ``won_days``: participant_id, deal_id, days_to_close of deals won in the current period.
    ``forecast_moves``: participant_id, from_category, to_category, count, amount in the current period.
    ``pipeline``: participant_id, window, period, created_value, needed_value (1/10,000 units, floats for charts).
    """

    windows: list[Window]
    settings: SignalSettings
    table: pd.DataFrame
    series: pd.DataFrame
    funnel: pd.DataFrame
    won_days: pd.DataFrame
    forecast_moves: pd.DataFrame
    pipeline: pd.DataFrame
    generated_rows: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def period(self) -> Period:
        return self.windows[-1].period

    @property
    def as_of(self) -> dt.date:
        return self.windows[-1].as_of

    def participant(self, participant_id: str) -> pd.Series:
        """Return the table row of one participant, raising KeyError naming the id."""
        rows = self.table[self.table["participant_id"] == participant_id]
        if rows.empty:
            raise KeyError(f"participant {participant_id!r} has no signals in {self.period.label}")
        return rows.iloc[0]


TABLE_COLUMNS = (
    "participant_id", "name", "role", "manager_id", "segment", "peer_count", "history_periods_with_data",
    "active_share", "elapsed_share", "quota", "credit", "attainment_pace",
    "created_count", "created_value", "coverage_needed", "coverage_built", "pipeline_pace", "created_per_day",
    "created_per_day_peers",
    "activities", "activities_per_day", "activities_per_day_peers", "activities_per_day_history", "activity_index",
    "exits", "conversion_rate", "conversion_rate_peers", "conversion_rate_history", "conversion_index",
    "won_count", "days_to_close", "days_to_close_peers", "days_to_close_history", "velocity_index",
    "open_count", "days_in_stage", "days_in_stage_peers", "stalled_count", "stalled_share", "stalled_share_peers",
    "earnings", "expected_earnings", "earnings_pace", "earnings_pace_peers",
    "commit_drops", "commit_drop_value", "slips", "repeat_slippers", "forecast_risk", "forecast_risk_peers",
    "behind", "diagnosis", "confidence", "evidence",
)


# ---------------------------------------------------------------------------------------------
# Array helpers
# ---------------------------------------------------------------------------------------------

def _seconds(values: pd.Series) -> np.ndarray:
    """Return datetimes as int64 seconds since 1970, NaT as ``NAT``."""
    series = pd.to_datetime(pd.Series(values), errors="coerce")
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_localize(None)
    return series.astype("datetime64[s]").to_numpy().astype(np.int64)


def _day_seconds(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * SECONDS_PER_DAY


def _int_amounts(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return (amounts as int64 with missing as 0, mask of present amounts)."""
    series = pd.Series(values)
    present = series.notna().to_numpy()
    amounts = pd.to_numeric(series, errors="coerce").fillna(0).to_numpy().astype(np.int64)
    return amounts, present


def _window_index(seconds: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Return the window of each instant (-1 outside every window); stops are exclusive."""
    index = np.searchsorted(starts, seconds, side="right") - 1
    clipped = np.clip(index, 0, None)
    inside = (index >= 0) & (seconds < stops[clipped]) & (seconds != NAT)
    return np.where(inside, index, -1)


def _count(codes: np.ndarray, size: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Sum weights (or count rows) per code in 0..size-1; negative codes are skipped."""
    keep = codes >= 0
    if weights is None:
        return np.bincount(codes[keep], minlength=size).astype(np.float64)
    return np.bincount(codes[keep], weights=weights[keep].astype(np.float64), minlength=size)


def _forward_fill(values_present: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """Return, per row, the index of the latest row at or before it in the same group with a value (-1: none).

    Rows must be sorted by group; ``group_start`` is the index of the first row of each row's group.
    """
    positions = np.where(values_present, np.arange(len(values_present)), -1)
    latest = np.maximum.accumulate(positions) if len(positions) else positions
    return np.where(latest >= group_start, latest, -1)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = numerator / denominator
    return np.where((denominator > 0) & np.isfinite(result), result, np.nan)


def peer_median(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Return, per member, the median of the other members' values in its group (NaN values are skipped).

    A member without a value gets the median of all values of its group; a group with no
    other value gives NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    result = np.full(len(values), np.nan)
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    bounds = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1], True])
    for begin, end in itertools.pairwise(bounds):
        members = order[begin:end]
        member_values = values[members]
        valid = ~np.isnan(member_values)
        ordered = np.sort(member_values[valid])
        size = len(ordered)
        if size:
            result[members[~valid]] = np.median(ordered)
        if size < 2:
            continue
        valid_members = members[valid]
        rank = np.empty(size, dtype=np.int64)
        rank[np.argsort(member_values[valid], kind="stable")] = np.arange(size)
        remaining = size - 1
        low = _value_without(ordered, rank, (remaining - 1) // 2)
        high = _value_without(ordered, rank, remaining // 2)
        result[valid_members] = (low + high) / 2
    return result


def _value_without(ordered: np.ndarray, removed: np.ndarray, position: int) -> np.ndarray:
    """Return the value at ``position`` of ``ordered`` once the element at ``removed`` is taken out."""
    shifted = np.minimum(position + 1, len(ordered) - 1)
    return np.where(position < removed, ordered[position], ordered[shifted])


def _group_sum_without_self(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    totals = pd.Series(values).groupby(groups).transform("sum").to_numpy()
    return totals - values


# ---------------------------------------------------------------------------------------------
# Participants and periods
# ---------------------------------------------------------------------------------------------

@dataclass
class _Frame:
    """Per-participant arrays of shape (participants, windows), plus the context they need."""

    ids: pd.Index
    windows: list[Window]
    active_days: np.ndarray  # days between hire and termination in each window, up to its last day
    full_days: np.ndarray  # the same over the whole period
    groups: np.ndarray  # peer group code per participant
    values: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.ids), len(self.windows)

    def cells(self, participant_codes: np.ndarray, window_codes: np.ndarray) -> np.ndarray:
        """Return the flat cell index of (participant, window) pairs, -1 where either is missing."""
        valid = (participant_codes >= 0) & (window_codes >= 0)
        return np.where(valid, participant_codes * len(self.windows) + window_codes, -1)

    def grid(self, flat: np.ndarray) -> np.ndarray:
        return flat.reshape(self.shape)


def _date_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), NAT, dtype=np.int64)
    return _seconds(frame[name])


def _text(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame[name].astype(object).where(frame[name].notna(), None)


def _active_days(hire: np.ndarray, termination: np.ndarray, start: dt.date, last: dt.date) -> np.ndarray:
    first = np.maximum(hire, _day_seconds(start))
    final = np.where(termination == NAT, _day_seconds(last), np.minimum(termination, _day_seconds(last)))
    return np.clip((final - first) // SECONDS_PER_DAY + 1, 0, None).astype(np.float64)


def _select_participants(inputs: SignalInputs, windows: list[Window], quotas: pd.DataFrame | None) -> pd.DataFrame:
    """Keep participants who own a deal, log an activity or hold a quota of the signal quota key.

    Only those active (between hire and termination) in the current period up to its
    last day count.
    """
    participants = inputs.participants.drop_duplicates("participant_id", keep="last")
    involved = set(pd.unique(inputs.deals["owner"].dropna().astype(str)))
    for frame in (quotas, inputs.activities):
        if frame is not None and len(frame):
            involved.update(pd.unique(frame["participant_id"].dropna().astype(str)))
    ids = participants["participant_id"].astype(str)
    hire = _date_column(participants, "hire_date")
    termination = _date_column(participants, "termination_date")
    current = windows[-1]
    active_now = _active_days(hire, termination, current.start, current.last_day) > 0
    keep = ids.isin(involved).to_numpy() & active_now
    return participants[keep].reset_index(drop=True)


def _build_frame(participants: pd.DataFrame, windows: list[Window], settings: SignalSettings) -> _Frame:
    ids = pd.Index(participants["participant_id"].astype(str))
    hire = _date_column(participants, "hire_date")
    hire = np.where(hire == NAT, np.iinfo(np.int64).min // 2, hire)
    termination = _date_column(participants, "termination_date")
    active = np.column_stack([_active_days(hire, termination, w.start, w.last_day) for w in windows])
    full = np.column_stack([_active_days(hire, termination, w.start, w.period.end) for w in windows])
    role = _text(participants, "role").fillna("")
    segment = _text(participants, settings.segment).fillna("")
    groups = pd.factorize(role.astype(str) + "\x1f" + segment.astype(str))[0]
    return _Frame(ids, windows, active, full, groups)


def _quota_rows(quotas: pd.DataFrame | None, settings: SignalSettings,
                problems: list[Problem]) -> tuple[pd.DataFrame | None, str | None]:
    """Return the quota rows of the signal quota key, and the key.

    Without ``signals.quota_key``: the only key, else ``bookings``, else the first in
    code-point order (with a warning naming the keys).
    """
    if quotas is None or quotas.empty:
        return None, None
    keys = sorted(set(quotas["quota_key"].dropna().astype(str)))
    key = settings.quota_key
    if key is None:
        key = "bookings" if len(keys) > 1 and "bookings" in keys else keys[0]
        if len(keys) > 1:
            problems.append(Problem("signals.quota_key", f"several quota keys ({', '.join(keys)}); signals use "
                                    f"{key!r}; set signals.quota_key to choose another", "warning"))
    return quotas[quotas["quota_key"].astype(str) == key], key


def _quota_grid(frame: _Frame, rows: pd.DataFrame | None, problems: list[Problem]) -> np.ndarray:
    """Spread quota rows over the windows by overlapping days (a yearly quota gives a quarter its share)."""
    grid = np.zeros(frame.shape)
    if rows is None or rows.empty:
        return grid
    participant = frame.ids.get_indexer(rows["participant_id"].astype(str))
    fiscal = frame.windows[-1].period.fiscal_start_month
    shares: dict[str, list[tuple[int, float]] | None] = {}
    for label, amount, code in zip(rows["period"].astype(str), rows["amount"], participant, strict=True):
        if code < 0 or pd.isna(amount):
            continue
        if label not in shares:
            shares[label] = _window_shares(label, frame.windows, fiscal)
        if shares[label] is None:
            problems.append(Problem("signals.quota_period", f"quota period {label!r} cannot be read; the row is "
                                    "left out of signals", "warning", participant_id=frame.ids[code], value=label))
            continue
        for index, share in shares[label]:
            grid[code, index] += float(amount) * share
    return grid


def _window_shares(label: str, windows: list[Window], fiscal_start_month: int) -> list[tuple[int, float]] | None:
    """Return (window, share of the labelled period's days inside it) pairs; None for an invalid label."""
    try:
        span = parse_period(label, fiscal_start_month=fiscal_start_month)
    except ValueError:
        return None
    shares = []
    for index, window in enumerate(windows):
        overlap = (min(window.period.end, span.end) - max(window.start, span.start)).days + 1
        if overlap > 0:
            shares.append((index, overlap / span.days))
    return shares


# ---------------------------------------------------------------------------------------------
# Opportunity paths
# ---------------------------------------------------------------------------------------------

@dataclass
class _Paths:
    """Stage history rows of all deals, sorted by deal and time, completed with the deals' own facts."""

    deal: np.ndarray  # deal code
    owner: np.ndarray  # participant code (-1: not a selected participant)
    time: np.ndarray  # seconds
    stage: np.ndarray  # stage code
    category: np.ndarray  # forecast rank (-1: none known)
    amount: np.ndarray  # int64 1/10,000, the latest known amount of the deal at the row
    close_date: np.ndarray  # seconds, the expected close date at the row (NAT: none)
    next_time: np.ndarray  # the deal's next row time (NAT: last row)
    stage_start: np.ndarray  # when the deal entered the row's stage
    first_row: np.ndarray  # bool: first row of its deal


def _stage_codes(stages: pd.Series, settings: SignalSettings) -> np.ndarray:
    codes, uniques = pd.factorize(stages.astype(object).where(stages.notna(), None), use_na_sentinel=True)
    mapping = settings.stage_codes()
    lookup = np.array([mapping.get(str(name), UNKNOWN) for name in uniques] + [MISSING], dtype=np.int64)
    return lookup[codes]


def _category_ranks(categories: pd.Series) -> np.ndarray:
    codes, uniques = pd.factorize(categories.astype(object).where(categories.notna(), None))
    lookup = np.array([FORECAST_RANKS.get(str(name).strip().lower().replace(" ", "_"), -1) for name in uniques]
                      + [-1], dtype=np.int64)
    return lookup[codes]


_PATH_FIELDS = ("deal", "time", "stage", "category", "amount", "amount_present", "close_date")


def _path_rows(**columns: object) -> dict[str, np.ndarray]:
    """Return path rows as equal-length numpy arrays (scalars are repeated), one array per field."""
    size = len(columns["deal"])
    return {name: np.broadcast_to(np.asarray(columns[name]), (size,)).copy() for name in _PATH_FIELDS}


def _sorted_rows(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate path rows, drop undated ones and sort by deal, then time (equal times keep their order)."""
    rows = {name: np.concatenate([part[name] for part in parts]) for name in _PATH_FIELDS}
    keep = np.flatnonzero(rows["time"] != NAT)
    time = rows["time"][keep]
    deal = rows["deal"][keep]
    if len(keep) and time.max() - time.min() < 2**32 and deal.max() < 2**30:
        # One int64 key (deal in the high bits, seconds since the earliest row in the low 32) sorts faster.
        order = np.argsort((deal << 32) | (time - time.min()), kind="stable")
    else:
        order = np.lexsort((time, deal))
    chosen = keep[order]
    return {name: values[chosen] for name, values in rows.items()}


def _build_paths(deals: pd.DataFrame, deal_owner: np.ndarray, history: pd.DataFrame | None,
                 settings: SignalSettings, problems: list[Problem]) -> _Paths:
    """Merge stage history with the deals: a creation row where history has none, a closing row where it stops short."""
    deal_count = len(deals)
    deal_stage = _stage_codes(deals["stage"] if "stage" in deals else pd.Series([None] * deal_count), settings)
    created = _date_column(deals, "created_date")
    closed = _date_column(deals, "close_date")
    if "amount" in deals:
        deal_amount, deal_amount_present = _int_amounts(deals["amount"])
    else:
        deal_amount, deal_amount_present = np.zeros(deal_count, np.int64), np.zeros(deal_count, bool)

    parts = []
    has_history = np.zeros(deal_count, bool)
    if history is not None and len(history):
        parts.append(_history_rows(deals, history, settings, problems))
        has_history[parts[0]["deal"]] = True

    # A deal without history starts in its current open stage (or the first stage) on its created date.
    start_stage = np.where((deal_stage >= 0) & (deal_stage < settings.won_code), deal_stage, 0)
    starts = np.flatnonzero(~has_history & (created != NAT))
    parts.append(_path_rows(deal=starts, time=created[starts], stage=start_stage[starts], category=-1,
                            amount=deal_amount[starts], amount_present=deal_amount_present[starts],
                            close_date=closed[starts]))
    rows = _sorted_rows(parts)

    # A closed deal whose history stops before the close gets a closing row on its close date.
    last_stage = np.full(deal_count, UNKNOWN, dtype=np.int64)
    last_time = np.full(deal_count, NAT, dtype=np.int64)
    if len(rows["deal"]):
        is_last = np.r_[rows["deal"][1:] != rows["deal"][:-1], True]
        last_stage[rows["deal"][is_last]] = rows["stage"][is_last]
        last_time[rows["deal"][is_last]] = rows["time"][is_last]
    is_closed = (deal_stage == settings.won_code) | (deal_stage == LOST)
    needs_close = is_closed & (closed != NAT) & (last_stage != deal_stage) & ((last_time == NAT) | (closed >= last_time))
    if needs_close.any():
        ends = np.flatnonzero(needs_close)
        categories = np.where(deal_stage[ends] == settings.won_code, FORECAST_RANKS["closed"],
                              FORECAST_RANKS["omitted"])
        closing = _path_rows(deal=ends, time=closed[ends], stage=deal_stage[ends], category=categories,
                             amount=deal_amount[ends], amount_present=deal_amount_present[ends],
                             close_date=closed[ends])
        rows = _sorted_rows([rows, closing])
    return _finish_paths(rows, deal_owner, deal_amount, deal_amount_present)


def _history_rows(deals: pd.DataFrame, history: pd.DataFrame, settings: SignalSettings,
                  problems: list[Problem]) -> dict[str, np.ndarray]:
    """Return the stage history rows of known deals as path rows, reporting rows of unknown deals."""
    codes = pd.Index(deals["deal_id"].astype(str)).get_indexer(history["deal_id"].astype(str))
    unknown = int((codes < 0).sum())
    if unknown:
        problems.append(Problem("signals.unknown_deal", f"{unknown} stage changes name deals that are not "
                                "imported; they are left out", "warning"))
    keep = codes >= 0
    hist = history[keep] if unknown else history
    size = int(keep.sum())
    if "amount" in hist:
        amounts, amounts_present = _int_amounts(hist["amount"])
    else:
        amounts, amounts_present = np.zeros(size, np.int64), np.zeros(size, bool)
    return _path_rows(
        deal=codes[keep],
        time=_seconds(hist["changed_at"]),
        stage=_stage_codes(hist["stage"], settings) if "stage" in hist else MISSING,
        category=_category_ranks(hist["forecast_category"]) if "forecast_category" in hist else -1,
        amount=amounts,
        amount_present=amounts_present,
        close_date=_date_column(hist, "close_date"),
    )


def _finish_paths(rows: dict[str, np.ndarray], deal_owner: np.ndarray, deal_amount: np.ndarray,
                  deal_amount_present: np.ndarray) -> _Paths:
    deal = rows["deal"].astype(np.int64)
    time = rows["time"].astype(np.int64)
    size = len(deal)
    first_row = np.r_[True, deal[1:] != deal[:-1]] if size else np.zeros(0, bool)
    last_row = np.r_[deal[1:] != deal[:-1], True] if size else np.zeros(0, bool)
    deal_start = np.maximum.accumulate(np.where(first_row, np.arange(size), 0)) if size else deal

    # A row without a stage keeps the stage the deal was in.
    stage_raw = rows["stage"].astype(np.int64)
    stage_source = _forward_fill(stage_raw != MISSING, deal_start)
    stage = np.where(stage_source >= 0, stage_raw[np.clip(stage_source, 0, None)], UNKNOWN)

    # Amount, category and close date hold until a later row of the same deal changes them.
    amount_source = _forward_fill(rows["amount_present"], deal_start)
    amount = np.where(amount_source >= 0, rows["amount"][np.clip(amount_source, 0, None)],
                      np.where(deal_amount_present[deal] if size else False, deal_amount[deal] if size else 0, 0))
    category_raw = rows["category"].astype(np.int64)
    category_source = _forward_fill(category_raw >= 0, deal_start)
    category = np.where(category_source >= 0, category_raw[np.clip(category_source, 0, None)], -1)
    close_raw = rows["close_date"].astype(np.int64)
    close_source = _forward_fill(close_raw != NAT, deal_start)
    close_date = np.where(close_source >= 0, close_raw[np.clip(close_source, 0, None)], NAT)

    next_time = np.full(size, NAT, dtype=np.int64)
    if size:
        next_time[:-1] = np.where(last_row[:-1], NAT, time[1:])
    stage_change = first_row | np.r_[True, stage[1:] != stage[:-1]] if size else first_row
    stage_start_source = _forward_fill(stage_change, deal_start)
    stage_start = time[np.clip(stage_start_source, 0, None)] if size else time
    return _Paths(deal, deal_owner[deal] if size else deal, time, stage, category, amount, close_date,
                  next_time, stage_start, first_row)


# ---------------------------------------------------------------------------------------------
# Measures per participant and window
# ---------------------------------------------------------------------------------------------

def _measure_pipeline(frame: _Frame, deals: pd.DataFrame, owner: np.ndarray, paths: _Paths,
                      starts: np.ndarray, stops: np.ndarray) -> dict[str, np.ndarray]:
    """Count and value of opportunities created per window, valued at their first known amount."""
    deal_count = len(deals)
    created = _date_column(deals, "created_date")
    first_time = np.full(deal_count, NAT, dtype=np.int64)
    first_amount = np.zeros(deal_count, dtype=np.int64)
    if len(paths.deal):
        first_time[paths.deal[paths.first_row]] = paths.time[paths.first_row]
        first_amount[paths.deal[paths.first_row]] = paths.amount[paths.first_row]
    created = np.where(created == NAT, first_time, created)
    cells = frame.cells(owner, _window_index(created, starts, stops))
    size = frame.shape[0] * frame.shape[1]
    return {
        "created_count": frame.grid(_count(cells, size)),
        "created_value": frame.grid(_count(cells, size, first_amount)),
        "_created": created,
    }


def _measure_won(frame: _Frame, deals: pd.DataFrame, owner: np.ndarray, created: np.ndarray,
                 credits: pd.DataFrame | None, settings: SignalSettings, starts: np.ndarray,
                 stops: np.ndarray) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Credit (won amounts or imported credits) and days to close of won deals per window."""
    size = frame.shape[0] * frame.shape[1]
    stage = _stage_codes(deals["stage"], settings) if "stage" in deals else np.full(len(deals), UNKNOWN)
    closed = _date_column(deals, "close_date")
    amount, _ = _int_amounts(deals["amount"]) if "amount" in deals else (np.zeros(len(deals), np.int64), None)
    won = stage == settings.won_code
    window = np.where(won, _window_index(closed, starts, stops), -1)
    cells = frame.cells(owner, window)
    result = {"won_count": frame.grid(_count(cells, size))}
    if credits is None:
        result["credit"] = frame.grid(_count(cells, size, amount))
    else:
        credit_owner = frame.ids.get_indexer(credits["participant_id"].astype(str))
        credit_window = _window_index(_date_column(credits, "credit_date"), starts, stops)
        credit_amount, _ = _int_amounts(credits["amount"])
        result["credit"] = frame.grid(_count(frame.cells(credit_owner, credit_window), size, credit_amount))

    days = np.where((created != NAT) & (closed != NAT), (closed - created) / SECONDS_PER_DAY, np.nan)
    keep = (cells >= 0) & ~np.isnan(days)
    won_days = pd.DataFrame({"cell": cells[keep], "deal": np.flatnonzero(keep), "days": days[keep]})
    medians = won_days.groupby("cell")["days"].median()
    median_grid = np.full(size, np.nan)
    median_grid[medians.index.to_numpy()] = medians.to_numpy()
    result["days_to_close"] = frame.grid(median_grid)
    return result, won_days


def _measure_activities(frame: _Frame, activities: pd.DataFrame | None, starts: np.ndarray,
                        stops: np.ndarray) -> np.ndarray:
    size = frame.shape[0] * frame.shape[1]
    if activities is None or activities.empty:
        return frame.grid(np.full(size, np.nan))
    participant = frame.ids.get_indexer(activities["participant_id"].astype(str))
    window = _window_index(_date_column(activities, "date"), starts, stops)
    counts = pd.to_numeric(activities["count"], errors="coerce") if "count" in activities else None
    weights = np.ones(len(activities)) if counts is None else counts.fillna(1).to_numpy(dtype=np.float64)
    return frame.grid(_count(frame.cells(participant, window), size, weights))


def _measure_conversion(frame: _Frame, paths: _Paths, settings: SignalSettings, starts: np.ndarray,
                        stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exits and advances per (participant, window, open stage), dated by when the deal left the stage."""
    stages = len(settings.open_stages)
    shape = (*frame.shape, stages)
    # The row where a deal enters a new stage closes the previous stage's stay.
    entered = ~paths.first_row & np.r_[False, paths.stage[1:] != paths.stage[:-1]] if len(paths.deal) else paths.first_row
    previous = np.r_[UNKNOWN, paths.stage[:-1]] if len(paths.deal) else paths.stage
    from_open = entered & (previous >= 0) & (previous < settings.won_code)
    advanced = from_open & (paths.stage > previous)
    lost = from_open & (paths.stage == LOST)
    window = _window_index(paths.time, starts, stops)
    cells = frame.cells(paths.owner, window)
    stage_cells = np.where((cells >= 0) & (advanced | lost), cells * stages + np.clip(previous, 0, None), -1)
    size = int(np.prod(shape))
    exits = _count(stage_cells, size).reshape(shape)
    advances = _count(np.where(advanced, stage_cells, -1), size).reshape(shape)
    return exits, advances


def _measure_open_and_stalled(frame: _Frame, paths: _Paths, settings: SignalSettings, windows: list[Window],
                              flagged: np.ndarray) -> dict[str, np.ndarray]:
    """Open deals at each window's last day: count, value, those stalled, and the value of flagged ones.

    ``flagged`` is a (deals, windows) boolean array of deals that dropped out of a watched
    forecast category or kept slipping in the window.
    """
    open_count = np.zeros(frame.shape)
    days_in_stage = np.full(frame.shape, np.nan)
    stalled = np.zeros(frame.shape)
    open_value = np.zeros(frame.shape)
    flagged_value = np.zeros(frame.shape)
    size = frame.shape[0]
    is_open_stage = (paths.stage >= 0) & (paths.stage < settings.won_code)
    stay_end = np.r_[paths.stage[1:] != paths.stage[:-1], True] & (paths.next_time != NAT) if len(paths.deal) else paths.first_row
    stays = paths.next_time - paths.stage_start
    for index, window in enumerate(windows):
        moment = _day_seconds(window.last_day) + SECONDS_PER_DAY - 1
        current = (paths.time <= moment) & ((paths.next_time == NAT) | (paths.next_time > moment))
        current &= is_open_stage & (paths.owner >= 0)
        normal = _normal_stays(paths, stay_end & (paths.next_time <= moment) & is_open_stage, stays, settings)
        age = (moment - paths.stage_start) / SECONDS_PER_DAY
        limit = normal[np.clip(paths.stage, 0, len(normal) - 1)]
        is_stalled = current & (age > limit)
        owners = np.where(current, paths.owner, -1)
        open_count[:, index] = _count(owners, size)
        stalled[:, index] = _count(np.where(is_stalled, paths.owner, -1), size)
        open_value[:, index] = _count(owners, size, paths.amount)
        ages = pd.Series(age[current]).groupby(paths.owner[current]).median()
        days_in_stage[ages.index.to_numpy(), index] = ages.to_numpy()
        at_risk = current & flagged[paths.deal, index] if len(paths.deal) else current
        flagged_value[:, index] = _count(np.where(at_risk, paths.owner, -1), size, paths.amount)
    return {"open_count": open_count, "stalled_count": stalled, "open_value": open_value,
            "flagged_open_value": flagged_value, "days_in_stage": days_in_stage}


def _normal_stays(paths: _Paths, finished: np.ndarray, stays: np.ndarray, settings: SignalSettings) -> np.ndarray:
    """Return, per open stage, the stay in days beyond which an open deal is stalled (inf: no finished stays)."""
    normal = np.full(max(len(settings.open_stages), 1), np.inf)
    for stage in range(len(settings.open_stages)):
        durations = stays[finished & (paths.stage == stage)] / SECONDS_PER_DAY
        if len(durations):
            normal[stage] = float(np.quantile(durations, settings.stall_quantile))
    return normal


def _measure_forecast(frame: _Frame, paths: _Paths, settings: SignalSettings, starts: np.ndarray, stops: np.ndarray,
                      deal_count: int) -> tuple[dict[str, np.ndarray], pd.DataFrame, np.ndarray]:
    """Drops out of watched forecast categories while open, and close-date slips, per window.

    Also returns the (deals, windows) array of deals flagged by either in each window.
    """
    size = frame.shape[0] * frame.shape[1]
    count = len(paths.deal)
    same_deal = ~paths.first_row
    previous_category = np.r_[-1, paths.category[:-1]] if count else paths.category
    previous_close = np.r_[NAT, paths.close_date[:-1]] if count else paths.close_date
    watched = np.array([FORECAST_RANKS.get(name, -9) for name in settings.watched_categories])
    is_open = (paths.stage >= 0) & (paths.stage < settings.won_code)
    dropped = same_deal & np.isin(previous_category, watched) & (paths.category >= 0)
    dropped &= (paths.category < previous_category) & is_open
    slipped = same_deal & (previous_close != NAT) & (paths.close_date != NAT) & (paths.close_date > previous_close)
    slipped &= is_open

    window = _window_index(paths.time, starts, stops)
    cells = frame.cells(paths.owner, window)
    result = {
        "commit_drops": frame.grid(_count(np.where(dropped, cells, -1), size)),
        "commit_drop_value": frame.grid(_count(np.where(dropped, cells, -1), size, paths.amount)),
        "slips": frame.grid(_count(np.where(slipped, cells, -1), size)),
    }

    # Slips so far per deal: the running count within the deal, read at each slipping row.
    running = np.cumsum(slipped)
    start_offset = np.maximum.accumulate(np.where(paths.first_row, running - slipped, 0)) if count else running
    slips_so_far = running - start_offset
    repeat = slipped & (slips_so_far >= settings.repeat_slips) & (cells >= 0)
    repeat_deals = pd.DataFrame({"cell": cells[repeat], "deal": paths.deal[repeat],
                                 "amount": paths.amount[repeat]}).drop_duplicates(["cell", "deal"], keep="last")
    result["repeat_slippers"] = frame.grid(_count(repeat_deals["cell"].to_numpy(), size))
    result["repeat_slip_value"] = frame.grid(_count(repeat_deals["cell"].to_numpy(), size,
                                                    repeat_deals["amount"].to_numpy()))

    flagged = np.zeros((deal_count, len(frame.windows)), dtype=bool)
    flag_rows = (dropped | repeat) & (window >= 0)
    flagged[paths.deal[flag_rows], window[flag_rows]] = True

    moved = same_deal & (paths.category != previous_category) & (paths.category >= 0) & (previous_category >= 0)
    current = len(frame.windows) - 1
    in_current = moved & (window == current) & (paths.owner >= 0)
    names = {rank: name for name, rank in FORECAST_RANKS.items()}
    moves = pd.DataFrame({
        "participant": paths.owner[in_current],
        "from_category": [names[rank] for rank in previous_category[in_current]],
        "to_category": [names[rank] for rank in paths.category[in_current]],
        "amount": paths.amount[in_current],
    })
    moves = (moves.groupby(["participant", "from_category", "to_category"], as_index=False)
             .agg(count=("amount", "size"), amount=("amount", "sum")))
    return result, moves, flagged


def _earnings_grid(frame: _Frame, earnings: pd.DataFrame | None, problems: list[Problem]) -> np.ndarray:
    """Sum earnings per window from period labels that start inside each window (NaN: no results)."""
    grid = np.full(frame.shape, np.nan)
    if earnings is None or earnings.empty:
        return grid
    fiscal = frame.windows[-1].period.fiscal_start_month
    participant = frame.ids.get_indexer(earnings["participant_id"].astype(str))
    spans: dict[str, Period | None] = {}
    for label, value, code in zip(earnings["period"].astype(str), earnings["earnings"], participant, strict=True):
        if code < 0 or value is None or pd.isna(value):
            continue
        if label not in spans:
            try:
                spans[label] = parse_period(label, fiscal_start_month=fiscal)
            except ValueError:
                spans[label] = None
                problems.append(Problem("signals.earnings_period", f"earnings period {label!r} cannot be read; "
                                        "it is left out of the earnings pace", "warning", value=label))
        span = spans[label]
        if span is None:
            continue
        for index, window in enumerate(frame.windows):
            if window.start <= span.start <= window.period.end:
                current = grid[code, index]
                grid[code, index] = (0.0 if np.isnan(current) else current) + float(value)
    return grid


def _target_grid(frame: _Frame, participants: pd.DataFrame, settings: SignalSettings) -> np.ndarray:
    """Annual target incentive spread over the active days elapsed in each window (NaN: no target)."""
    target = (pd.to_numeric(participants["target_incentive"], errors="coerce") if "target_incentive" in participants
              else pd.Series(np.nan, index=participants.index))
    ote = (pd.to_numeric(participants["ote"], errors="coerce") if "ote" in participants
           else pd.Series(np.nan, index=participants.index))
    annual = target.fillna(ote * settings.variable_share).to_numpy(dtype=np.float64) / 10_000
    year_days = np.array([366.0 if _is_leap(w.start.year) else 365.0 for w in frame.windows])
    return annual[:, None] * frame.active_days / year_days[None, :]


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


# ---------------------------------------------------------------------------------------------
# The whole computation
# ---------------------------------------------------------------------------------------------

def compute_signals(inputs: SignalInputs, period: Period, *, as_of: dt.date | None = None,
                    settings: SignalSettings | None = None, progress: ProgressCallback = no_progress,
                    cancel: CancelToken | None = None) -> SignalReport:
    """Measure the five signals for every participant in ``period`` up to ``as_of`` and diagnose each one.

    Raises SignalError when the participants or deals frame lacks a required column.
    Deals are taken in one currency: amounts are not converted between currencies.
    """
    settings = settings or SignalSettings()
    cancel = cancel or CancelToken()
    _check_inputs(inputs)
    problems: list[Problem] = []
    windows = signal_windows(period, as_of, settings.history_periods)
    starts = np.array([_day_seconds(w.start) for w in windows], dtype=np.int64)
    stops = np.array([_day_seconds(w.last_day) + SECONDS_PER_DAY for w in windows], dtype=np.int64)
    steps = 7

    progress(0, steps, "Selecting participants")
    if settings.segment not in inputs.participants.columns:
        problems.append(Problem("signals.segment", f"participants have no field {settings.segment!r}, so peers are "
                                "grouped by role only; set signals.segment to a participant field such as region",
                                "warning", value=settings.segment))
    quota_rows, quota_key = _quota_rows(inputs.quotas, settings, problems)
    participants = _select_participants(inputs, windows, quota_rows)
    frame = _build_frame(participants, windows, settings)
    deals = inputs.deals.reset_index(drop=True)
    owner = frame.ids.get_indexer(deals["owner"].astype(str))
    quota = _quota_grid(frame, quota_rows, problems)
    cancel.raise_if_cancelled()

    progress(1, steps, "Reading stage history")
    paths = _build_paths(deals, owner, inputs.stage_history, settings, problems)
    cancel.raise_if_cancelled()

    progress(2, steps, "Measuring pipeline and credit")
    values = frame.values
    pipeline = _measure_pipeline(frame, deals, owner, paths, starts, stops)
    created = pipeline.pop("_created")
    values.update(pipeline)
    won, won_days = _measure_won(frame, deals, owner, created, inputs.credits, settings, starts, stops)
    values.update(won)
    values["quota"] = quota
    values["activities"] = _measure_activities(frame, inputs.activities, starts, stops)
    cancel.raise_if_cancelled()

    progress(3, steps, "Measuring conversion")
    exits, advances = _measure_conversion(frame, paths, settings, starts, stops)
    cancel.raise_if_cancelled()

    progress(4, steps, "Measuring forecast movement")
    forecast, moves, flagged = _measure_forecast(frame, paths, settings, starts, stops, len(deals))
    values.update(forecast)
    cancel.raise_if_cancelled()

    progress(5, steps, "Measuring velocity")
    values.update(_measure_open_and_stalled(frame, paths, settings, windows, flagged))
    values["earnings"] = _earnings_grid(frame, inputs.earnings, problems)
    values["target"] = _target_grid(frame, participants, settings)
    cancel.raise_if_cancelled()

    progress(6, steps, "Comparing with history and peers")
    derived = _derive(frame, exits, advances, settings)
    table = _table(frame, participants, derived, exits, settings)
    report = SignalReport(
        windows=windows,
        settings=settings,
        table=table,
        series=_series(frame, derived),
        funnel=_funnel(frame, exits, advances, settings),
        won_days=_won_days_frame(frame, won_days, deals),
        forecast_moves=_moves_frame(frame, moves),
        pipeline=_pipeline_frame(frame, derived),
        generated_rows=_generated_rows(inputs),
        problems=problems,
    )
    if quota_key is None:
        problems.append(Problem("signals.no_quotas", "no quotas are imported, so attainment and pipeline pace "
                                "cannot be judged; import quotas for the period", "warning"))
    progress(steps, steps, "Signals ready")
    log.info("signals for %s as of %s: %d participants, %d stage rows", period.label, report.as_of,
             len(table), len(paths.deal))
    return report


def _check_inputs(inputs: SignalInputs) -> None:
    for name, frame, required in (("participants", inputs.participants, ("participant_id",)),
                                  ("deals", inputs.deals, ("deal_id", "owner"))):
        missing = [column for column in required if column not in frame.columns]
        if missing:
            raise SignalError(f"the {name} frame has no column {', '.join(missing)}; import {name} first")


def _generated_rows(inputs: SignalInputs) -> int:
    total = 0
    for frame in (inputs.stage_history, inputs.activities):
        if frame is not None and "_generated" in frame.columns:
            total += int(frame["_generated"].fillna(False).astype(bool).sum())
        elif frame is not None and "generated" in frame.columns:
            total += int(frame["generated"].fillna(False).astype(bool).sum())
    return total


# ---------------------------------------------------------------------------------------------
# Derived signals, benchmarks and history
# ---------------------------------------------------------------------------------------------

def _history_mean(grid: np.ndarray) -> np.ndarray:
    """Mean over the earlier windows (all but the last) that have a value; NaN without any."""
    earlier = grid[:, :-1]
    if earlier.shape[1] == 0:
        return np.full(grid.shape[0], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a row of NaN has no mean, and NaN is the result
        return np.nanmean(earlier, axis=1)


def _per_window_peer_median(grid: np.ndarray, groups: np.ndarray, active: np.ndarray) -> np.ndarray:
    result = np.full(grid.shape, np.nan)
    for index in range(grid.shape[1]):
        column = np.where(active[:, index] > 0, grid[:, index], np.nan)
        result[:, index] = peer_median(column, groups)
    return result


def _derive(frame: _Frame, exits: np.ndarray, advances: np.ndarray, settings: SignalSettings) -> dict[str, np.ndarray]:
    """Turn the raw measures into paces, rates and indices per (participant, window)."""
    v = frame.values
    derived: dict[str, np.ndarray] = {}
    active = frame.active_days
    elapsed_share = _ratio(active, frame.full_days)
    derived["elapsed_share"] = elapsed_share

    # Attainment pace: credit so far against the share of the quota due by now.
    derived["attainment_pace"] = _ratio(v["credit"], v["quota"] * elapsed_share)

    # Coverage needed: the pipeline that historically turned into one unit of credit, pooled over the peer group.
    created_history = v["created_value"][:, :-1].sum(axis=1)
    credit_history = v["credit"][:, :-1].sum(axis=1)
    group_created = pd.Series(created_history).groupby(frame.groups).transform("sum").to_numpy()
    group_credit = pd.Series(credit_history).groupby(frame.groups).transform("sum").to_numpy()
    coverage = _ratio(group_created, group_credit)
    coverage = np.where(np.isnan(coverage), _ratio(created_history, credit_history), coverage)
    coverage = np.where(np.isnan(coverage), settings.default_coverage, coverage)
    derived["coverage_needed"] = coverage
    needed = v["quota"] * coverage[:, None] * elapsed_share
    derived["needed_value"] = np.where(v["quota"] > 0, needed, np.nan)
    derived["pipeline_pace"] = _ratio(v["created_value"], needed)
    derived["coverage_built"] = _ratio(v["created_value"], v["quota"] * elapsed_share)

    derived["created_per_day"] = np.where(active > 0, _ratio(v["created_count"], active), np.nan)
    derived["created_per_day_peers"] = _per_window_peer_median(derived["created_per_day"], frame.groups, active)
    derived["activities_per_day"] = np.where(active > 0, _ratio(v["activities"], active), np.nan)
    derived["activities_per_day_peers"] = _per_window_peer_median(derived["activities_per_day"], frame.groups, active)

    _derive_conversion(frame, exits, advances, derived)

    derived["days_to_close"] = v["days_to_close"]
    derived["days_to_close_peers"] = _per_window_peer_median(v["days_to_close"], frame.groups, active)
    derived["stalled_share"] = _ratio(v["stalled_count"], v["open_count"])
    derived["stalled_share_peers"] = _per_window_peer_median(derived["stalled_share"], frame.groups, active)
    derived["days_in_stage_peers"] = _per_window_peer_median(v["days_in_stage"], frame.groups, active)

    expected = v["target"] * 1.0
    derived["expected_earnings"] = expected
    derived["earnings_pace"] = _ratio(v["earnings"], expected)
    derived["earnings_pace_peers"] = _per_window_peer_median(derived["earnings_pace"], frame.groups, active)

    # Share of the open pipeline at the window's end held by deals that dropped or kept slipping.
    derived["forecast_risk"] = _ratio(v["flagged_open_value"], v["open_value"])
    derived["forecast_risk_peers"] = _per_window_peer_median(derived["forecast_risk"], frame.groups, active)
    return derived


def _derive_conversion(frame: _Frame, exits: np.ndarray, advances: np.ndarray, derived: dict[str, np.ndarray]) -> None:
    """Own, peer (pooled, self excluded) and segment conversion; end to end is the product over stages."""
    own_rate = _ratio(advances, exits)
    peer_exits = np.empty_like(exits)
    peer_advances = np.empty_like(advances)
    for window in range(exits.shape[1]):
        for stage in range(exits.shape[2]):
            peer_exits[:, window, stage] = _group_sum_without_self(exits[:, window, stage], frame.groups)
            peer_advances[:, window, stage] = _group_sum_without_self(advances[:, window, stage], frame.groups)
    peer_rate = _ratio(peer_advances, peer_exits)
    derived["stage_rate"] = own_rate
    derived["stage_rate_peers"] = peer_rate
    derived["exits"] = exits.sum(axis=2)

    # End to end over the stages both sides have, so a stage without exits does not count as zero.
    both = ~np.isnan(own_rate) & ~np.isnan(peer_rate)
    derived["conversion_rate"] = np.where(both.any(axis=2), np.prod(np.where(both, own_rate, 1.0), axis=2), np.nan)
    derived["conversion_rate_peers"] = np.where(both.any(axis=2), np.prod(np.where(both, peer_rate, 1.0), axis=2),
                                                np.nan)
    own_only = ~np.isnan(own_rate)
    own_end_to_end = np.where(own_only.any(axis=2), np.prod(np.where(own_only, own_rate, 1.0), axis=2), np.nan)
    derived["conversion_rate"] = np.where(np.isnan(derived["conversion_rate"]), own_end_to_end,
                                          derived["conversion_rate"])


def _series(frame: _Frame, derived: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long frame of the sparkline values: one row per participant, window and signal."""
    sources = {
        "pipeline": derived["pipeline_pace"],
        "conversion": derived["conversion_rate"],
        "velocity": derived["days_to_close"],
        "earnings": derived["earnings_pace"],
        "forecast": derived["forecast_risk"],
        "activity": derived["activities_per_day"],
    }
    participants, windows = frame.shape
    labels = [w.label for w in frame.windows]
    parts = []
    for name, grid in sources.items():
        parts.append(pd.DataFrame({
            "participant_id": np.repeat(frame.ids.to_numpy(dtype=object), windows),
            "window": np.tile(np.arange(windows), participants),
            "period": np.tile(np.array(labels, dtype=object), participants),
            "signal": name,
            "value": grid.reshape(-1),
        }))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _funnel(frame: _Frame, exits: np.ndarray, advances: np.ndarray, settings: SignalSettings) -> pd.DataFrame:
    current = exits.shape[1] - 1
    own_exits = exits[:, current, :]
    own_advances = advances[:, current, :]
    rows = []
    segment_exits = {}
    segment_advances = {}
    for stage in range(len(settings.open_stages)):
        segment_exits[stage] = pd.Series(own_exits[:, stage]).groupby(frame.groups).transform("sum").to_numpy()
        segment_advances[stage] = pd.Series(own_advances[:, stage]).groupby(frame.groups).transform("sum").to_numpy()
    for stage, name in enumerate(settings.open_stages):
        peer_exits = segment_exits[stage] - own_exits[:, stage]
        peer_advances = segment_advances[stage] - own_advances[:, stage]
        rows.append(pd.DataFrame({
            "participant_id": frame.ids.to_numpy(dtype=object),
            "stage": name,
            "exits": own_exits[:, stage].astype(np.int64),
            "advanced": own_advances[:, stage].astype(np.int64),
            "rate": _ratio(own_advances[:, stage], own_exits[:, stage]),
            "peer_rate": _ratio(peer_advances, peer_exits),
            "segment_rate": _ratio(segment_advances[stage], segment_exits[stage]),
        }))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def _won_days_frame(frame: _Frame, won_days: pd.DataFrame, deals: pd.DataFrame) -> pd.DataFrame:
    windows = len(frame.windows)
    current = won_days[won_days["cell"].to_numpy() % windows == windows - 1]
    return pd.DataFrame({
        "participant_id": frame.ids.to_numpy(dtype=object)[current["cell"].to_numpy() // windows],
        "deal_id": deals["deal_id"].astype(str).to_numpy(dtype=object)[current["deal"].to_numpy()],
        "days_to_close": current["days"].to_numpy(),
    })


def _moves_frame(frame: _Frame, moves: pd.DataFrame) -> pd.DataFrame:
    result = moves.copy()
    result.insert(0, "participant_id", frame.ids.to_numpy(dtype=object)[moves["participant"].to_numpy()])
    return result.drop(columns="participant")


def _pipeline_frame(frame: _Frame, derived: dict[str, np.ndarray]) -> pd.DataFrame:
    participants, windows = frame.shape
    return pd.DataFrame({
        "participant_id": np.repeat(frame.ids.to_numpy(dtype=object), windows),
        "window": np.tile(np.arange(windows), participants),
        "period": np.tile(np.array([w.label for w in frame.windows], dtype=object), participants),
        "created_value": frame.values["created_value"].reshape(-1),
        "needed_value": derived["needed_value"].reshape(-1),
    })


# ---------------------------------------------------------------------------------------------
# The table and the diagnosis
# ---------------------------------------------------------------------------------------------

def _table(frame: _Frame, participants: pd.DataFrame, derived: dict[str, np.ndarray], exits: np.ndarray,
           settings: SignalSettings) -> pd.DataFrame:
    v = frame.values
    now = len(frame.windows) - 1
    group_sizes = pd.Series(frame.groups).map(pd.Series(frame.groups).value_counts()).to_numpy()
    history_with_data = (frame.active_days[:, :-1] > 0) & (
        (v["created_count"][:, :-1] > 0) | (v["won_count"][:, :-1] > 0))
    table = pd.DataFrame({
        "participant_id": frame.ids.to_numpy(dtype=object),
        "name": _text(participants, "name").to_numpy(dtype=object),
        "role": _text(participants, "role").to_numpy(dtype=object),
        "manager_id": _text(participants, "manager_id").to_numpy(dtype=object),
        "segment": _text(participants, settings.segment).to_numpy(dtype=object),
        "peer_count": (group_sizes - 1).astype(np.int64),
        "history_periods_with_data": history_with_data.sum(axis=1).astype(np.int64),
        "active_share": _ratio(frame.full_days[:, now], np.full(frame.shape[0], float(frame.windows[now].period.days))),
        "elapsed_share": derived["elapsed_share"][:, now],
        "quota": _money_e4(v["quota"][:, now]),
        "credit": _money_e4(v["credit"][:, now]),
        "attainment_pace": derived["attainment_pace"][:, now],
        "created_count": v["created_count"][:, now].astype(np.int64),
        "created_value": _money_e4(v["created_value"][:, now]),
        "coverage_needed": derived["coverage_needed"],
        "coverage_built": derived["coverage_built"][:, now],
        "pipeline_pace": derived["pipeline_pace"][:, now],
        "created_per_day": derived["created_per_day"][:, now],
        "created_per_day_peers": derived["created_per_day_peers"][:, now],
        "activities": v["activities"][:, now],
        "activities_per_day": derived["activities_per_day"][:, now],
        "activities_per_day_peers": derived["activities_per_day_peers"][:, now],
        "activities_per_day_history": _history_mean(derived["activities_per_day"]),
        "exits": derived["exits"][:, now].astype(np.int64),
        "conversion_rate": derived["conversion_rate"][:, now],
        "conversion_rate_peers": derived["conversion_rate_peers"][:, now],
        "conversion_rate_history": _history_mean(derived["conversion_rate"]),
        "won_count": v["won_count"][:, now].astype(np.int64),
        "days_to_close": derived["days_to_close"][:, now],
        "days_to_close_peers": derived["days_to_close_peers"][:, now],
        "days_to_close_history": _history_mean(derived["days_to_close"]),
        "open_count": v["open_count"][:, now].astype(np.int64),
        "days_in_stage": v["days_in_stage"][:, now],
        "days_in_stage_peers": derived["days_in_stage_peers"][:, now],
        "stalled_count": v["stalled_count"][:, now].astype(np.int64),
        "stalled_share": derived["stalled_share"][:, now],
        "stalled_share_peers": derived["stalled_share_peers"][:, now],
        "earnings": _earnings_decimal(v["earnings"][:, now]),
        "expected_earnings": _earnings_decimal(derived["expected_earnings"][:, now]),
        "earnings_pace": derived["earnings_pace"][:, now],
        "earnings_pace_peers": derived["earnings_pace_peers"][:, now],
        "commit_drops": v["commit_drops"][:, now].astype(np.int64),
        "commit_drop_value": _money_e4(v["commit_drop_value"][:, now]),
        "slips": v["slips"][:, now].astype(np.int64),
        "repeat_slippers": v["repeat_slippers"][:, now].astype(np.int64),
        "forecast_risk": derived["forecast_risk"][:, now],
        "forecast_risk_peers": derived["forecast_risk_peers"][:, now],
    })
    table["activity_index"] = _index_against(table["activities_per_day"], table["activities_per_day_peers"],
                                             table["activities_per_day_history"])
    table["conversion_index"] = _index_against(table["conversion_rate"], table["conversion_rate_peers"],
                                               table["conversion_rate_history"])
    table["velocity_index"] = _index_against(table["days_to_close"], table["days_to_close_peers"],
                                             table["days_to_close_history"])
    diagnoses = [diagnose(row, settings) for row in table.itertuples(index=False)]
    table["behind"] = [item.behind for item in diagnoses]
    table["diagnosis"] = [item.reason for item in diagnoses]
    table["confidence"] = [item.confidence for item in diagnoses]
    table["evidence"] = ["; ".join(item.evidence) for item in diagnoses]
    return table[list(TABLE_COLUMNS)].sort_values("participant_id", kind="stable").reset_index(drop=True)


def _money_e4(values: np.ndarray) -> pd.array:
    """Round float sums of 1/10,000 units back to exact integers (they are sums of integers)."""
    rounded = np.where(np.isnan(values), 0, np.rint(values)).astype(np.int64)
    return pd.array(rounded, dtype="Int64")


def _earnings_decimal(values: np.ndarray) -> list[Decimal | None]:
    return [None if np.isnan(value) else Decimal(repr(float(value))).quantize(Decimal("0.01")) for value in values]


def _index_against(own: pd.Series, peers: pd.Series, history: pd.Series) -> np.ndarray:
    """Own value against peers, or against the own history where there are no peers."""
    benchmark = peers.where(peers.notna(), history).to_numpy(dtype=np.float64)
    return _ratio(own.to_numpy(dtype=np.float64), benchmark)


@dataclass(frozen=True)
class Diagnosis:
    """The primary reason a participant is behind (or on track), why, and how sure the rules are."""

    behind: bool
    reason: str
    confidence: float
    evidence: tuple[str, ...]


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def diagnose(row: object, settings: SignalSettings) -> Diagnosis:
    """Name the primary reason for one table row (an object with the ``TABLE_COLUMNS`` attributes).

    Behind pace means attainment pace or pipeline pace under ``behind_pace``. A participant
    whose credit already meets the whole period's quota is on track, and low pipeline
    creation is then a caveat for the periods ahead. Each reason
    has a strength, how far past its threshold its figure is:

    * low activity: activity index under ``low_activity``;
    * weak conversion: conversion index under ``weak_conversion``;
    * slow velocity: velocity index over ``slow_velocity``, or stalled share over both
      ``stalled_share`` and the peers' median share times ``slow_velocity``;
    * territory capacity: pipeline pace under ``low_capacity`` while activity is known and not low.

    The strongest reason is primary. When none passes its threshold, the indicator
    furthest from normal is named with a low confidence.
    """
    evidence: list[str] = []
    paces = [value for value in (row.attainment_pace, row.pipeline_pace) if _present(value)]
    if not paces:
        evidence.append("no quota for the period, so neither attainment nor pipeline pace can be judged")
        return Diagnosis(False, "not_assessed", 0.0, tuple(evidence))
    pace = min(paces)
    if _present(row.attainment_pace):
        evidence.append(f"attainment pace {row.attainment_pace:.2f} (credit so far against the quota due by now)")
    if _present(row.pipeline_pace):
        evidence.append(f"pipeline pace {row.pipeline_pace:.2f} (created {row.created_count} opportunities, "
                        f"coverage needed {row.coverage_needed:.2f}x quota)")
    penalty, caveats = _data_penalty(row, settings)
    quota, credit = getattr(row, "quota", None), getattr(row, "credit", None)
    credit_met = _present(quota) and _present(credit) and quota > 0 and credit >= quota
    if pace >= settings.behind_pace or credit_met:
        if credit_met and pace < settings.behind_pace:
            # The period's quota is met; thin pipeline shows in the periods ahead, not in this one.
            pace = row.attainment_pace if _present(row.attainment_pace) else settings.behind_pace
            caveats.append(f"pipeline creation is under {settings.behind_pace:.2f} of what the quota needs, "
                           "which can hold back the next periods")
        strength = (pace - settings.behind_pace) / settings.behind_pace
        confidence = round((0.5 + 0.5 * min(1.0, strength / 0.5)) * penalty, 2)
        return Diagnosis(False, "on_track", confidence, (*evidence, *caveats))

    candidates = _candidates(row, settings)
    fired = [item for item in candidates if item[1] > 0]
    ranked = sorted(fired or candidates, key=lambda item: item[1], reverse=True)
    if not ranked:
        evidence.append("no activity, conversion or velocity figures to compare")
        return Diagnosis(True, "not_assessed", 0.0, (*evidence, *caveats))
    reason, strength, lines = ranked[0]
    if fired:
        confidence = 0.5 + 0.5 * min(1.0, strength / 0.5)
        if len(ranked) > 1 and ranked[1][1] >= 0.75 * strength:
            confidence *= 0.8
            runner_up, _, runner_lines = ranked[1]
            caveats.append(f"{DIAGNOSIS_TITLES[runner_up].lower()} is almost as strong: {', '.join(runner_lines)}")
    else:
        confidence = 0.3
        caveats.append("no indicator passes its threshold, so this is the one furthest from normal")
    return Diagnosis(True, reason, round(confidence * penalty, 2), (*evidence, *lines, *caveats))


def _data_penalty(row: object, settings: SignalSettings) -> tuple[float, list[str]]:
    """Lower confidence for missing peers, missing history and small samples."""
    factor = 1.0
    caveats = []
    if row.peer_count == 0:
        factor *= 0.7
        caveats.append("no peers: compared with the own history only")
    if row.history_periods_with_data == 0:
        factor *= 0.85
        caveats.append("no earlier periods with data")
    if row.exits < settings.min_sample:
        factor *= 0.8
        caveats.append(f"only {row.exits} opportunities left a stage this period")
    return factor, caveats


def _candidates(row: object, settings: SignalSettings) -> list[tuple[str, float, list[str]]]:
    """Return (reason, strength, evidence) for every reason with figures; strength > 0 means it passed its threshold."""
    candidates = []
    activity_low = False
    if _present(row.activity_index):
        strength = (settings.low_activity - row.activity_index) / settings.low_activity
        activity_low = strength > 0
        benchmark = _benchmark_text(row.activities_per_day_peers, row.activities_per_day_history)
        line = (f"activities {row.activities_per_day:.2f} a day against {benchmark} "
                f"(index {row.activity_index:.2f}, threshold {settings.low_activity:.2f})")
        candidates.append(("low_activity", strength, [line]))
    if _present(row.conversion_index):
        strength = (settings.weak_conversion - row.conversion_index) / settings.weak_conversion
        benchmark = _benchmark_text(row.conversion_rate_peers, row.conversion_rate_history, percent=True)
        line = (f"conversion {row.conversion_rate:.0%} against {benchmark} "
                f"(index {row.conversion_index:.2f}, threshold {settings.weak_conversion:.2f}, {row.exits} exits)")
        candidates.append(("weak_conversion", strength, [line]))
    velocity = _velocity_candidate(row, settings)
    if velocity is not None:
        candidates.append(velocity)
    if _present(row.pipeline_pace) and _present(row.activity_index) and not activity_low:
        strength = (settings.low_capacity - row.pipeline_pace) / settings.low_capacity
        line = (f"pipeline created {row.pipeline_pace:.0%} of what the quota needs by now while activity is "
                f"normal (threshold {settings.low_capacity:.2f})")
        candidates.append(("territory_capacity", strength, [line]))
    return candidates


def _velocity_candidate(row: object, settings: SignalSettings) -> tuple[str, float, list[str]] | None:
    strengths = []
    lines = []
    if _present(row.velocity_index):
        strengths.append((row.velocity_index - settings.slow_velocity) / settings.slow_velocity)
        lines.append(f"median {row.days_to_close:.0f} days to close against "
                     f"{_benchmark_text(row.days_to_close_peers, row.days_to_close_history, digits=0)} "
                     f"(index {row.velocity_index:.2f}, threshold {settings.slow_velocity:.2f})")
    if _present(row.stalled_share) and row.open_count >= settings.min_sample:
        # Open deals are the ones still running, so some stall everywhere: compare with peers too.
        limit = settings.stalled_share
        if _present(row.stalled_share_peers):
            limit = max(limit, row.stalled_share_peers * settings.slow_velocity)
        strengths.append((row.stalled_share - limit) / max(limit, 1e-9))
        lines.append(f"{row.stalled_count} of {row.open_count} open opportunities stalled "
                     f"against {_benchmark_text(row.stalled_share_peers, None, percent=True)} "
                     f"(limit {limit:.0%})")
    if not strengths:
        return None
    return ("slow_velocity", max(strengths), lines)


def _benchmark_text(peers: float, history: float, *, percent: bool = False, digits: int = 2) -> str:
    def show(value: float) -> str:
        return f"{value:.0%}" if percent else f"{value:.{digits}f}"

    if _present(peers):
        return f"{show(peers)} for peers"
    if _present(history):
        return f"{show(history)} in earlier periods"
    return "no benchmark"
