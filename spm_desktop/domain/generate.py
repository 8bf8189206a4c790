"""Made-up stage history and activities for real opportunities, so the demo can show signals.

Public CRM samples such as Maven Analytics' pipeline hold each opportunity's final stage
and its created and close dates, but no stage changes, forecast categories or activity
logs. ``generate_history`` invents those around the real facts with a seeded
``random.Random``, so the same seed gives the same rows:

* every opportunity starts in Prospecting on its created date, or on a day 0 to 45 days
  before the as-of day when the export has none. It moves to Engaging between the
  created and close dates (some lost deals are lost straight from Prospecting) and ends
  Won or Lost on its real close date;
* forecast categories follow the stage (pipeline, best_case, commit, closed, omitted);
  some deals reach commit and drop back while still open;
* the expected close date starts optimistic and slips, one row per slip, until it
  reaches the real close date (or passes the as-of day for open deals);
* calls, emails, meetings and demos per participant and weekday, in proportion to the
  participant's share of opportunities, plus a meeting on the day a deal starts Engaging.

Every row carries ``generated = True``. Amounts are the deal's value when it is won,
and otherwise a plausible value: the median won amount of the same product (lost deals
in that sample carry 0), varied by up to 15%. Nothing here is real behaviour of the
people in the data.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

import pandas as pd

from spm_desktop.domain.records import RECORD_SETS

PROSPECTING, ENGAGING, WON, LOST = "Prospecting", "Engaging", "Won", "Lost"
CLOSED_STAGES = (WON, LOST)

# Mean activities per working day of a participant with an average share of opportunities.
ACTIVITY_RATES = {"call": 6.0, "email": 9.0, "meeting": 1.2, "demo": 0.4}

# Most slips one deal gets, so a very long deal does not fill the table with slips.
MAX_SLIPS = 6


@dataclass(frozen=True)
class GeneratedHistory:
    """Generated rows in the record frames' layout, each with ``generated`` set to True."""

    stage_history: pd.DataFrame
    activities: pd.DataFrame
    seed: int
    as_of: dt.date


@dataclass
class _Event:
    time: dt.datetime
    stage: str | None = None
    category: str | None = None
    close_date: dt.date | None = None


def _as_date(value: object) -> dt.date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return pd.Timestamp(value).date()


def default_as_of(deals: pd.DataFrame) -> dt.date:
    """Return the latest created or close date of the deals, raising ValueError when there is none."""
    latest = None
    for column in ("created_date", "close_date"):
        if column in deals.columns and deals[column].notna().any():
            value = pd.to_datetime(deals[column]).max().date()
            latest = value if latest is None else max(latest, value)
    if latest is None:
        raise ValueError("the deals have no created or close date; give the as-of day of the generated history")
    return latest


def generate_history(deals: pd.DataFrame, *, seed: int = 0, as_of: dt.date | None = None) -> GeneratedHistory:
    """Generate stage history and activities for ``deals`` (a deals frame with open, won and lost rows).

    Deals whose stage is not Prospecting, Engaging, Won or Lost are skipped. The rows
    depend only on the deals and the seed, never on the order of the deals in the frame.
    """
    as_of = as_of or default_as_of(deals)
    ordered = deals.sort_values("deal_id", kind="stable").reset_index(drop=True)
    medians = _median_won_amounts(ordered)
    rng = random.Random(seed)
    rows: list[tuple] = []
    engaged: list[tuple[str, dt.date, str]] = []
    for deal in ordered.itertuples(index=False):
        if deal.stage not in (PROSPECTING, ENGAGING, WON, LOST):
            continue
        style = _owner_style(seed, str(deal.owner))
        events, engaged_on = _deal_events(deal, rng, style, as_of)
        amount = _deal_amount(deal, medians, rng)
        rows.extend(_event_rows(str(deal.deal_id), events, amount))
        if engaged_on is not None:
            engaged.append((str(deal.owner), engaged_on, str(deal.deal_id)))
    history = _history_frame(rows)
    activities = _activities_frame(_activities(ordered, engaged, seed, as_of))
    return GeneratedHistory(history, activities, seed, as_of)


def _owner_style(seed: int, owner: str) -> dict[str, float]:
    """Return a participant's habits: how optimistic their close dates are and how busy they are."""
    rng = random.Random(f"{seed}:{owner}")
    return {"optimism": rng.uniform(0.5, 1.5), "busy": rng.uniform(0.85, 1.15), "commit": rng.uniform(0.2, 0.6)}


def _median_won_amounts(deals: pd.DataFrame) -> dict[str, int]:
    won = deals[(deals["stage"] == WON) & deals["amount"].notna()]
    medians = {str(product): int(values.median()) for product, values in won.groupby("product")["amount"]}
    medians[""] = int(won["amount"].median()) if len(won) else 10_000_000
    return medians


def _deal_amount(deal: object, medians: dict[str, int], rng: random.Random) -> int:
    if deal.stage == WON and not pd.isna(deal.amount):
        return int(deal.amount)
    base = medians.get(str(deal.product), medians[""])
    # Round to whole currency units, as a CRM estimate would be.
    return round(base * rng.uniform(0.85, 1.15) / 10_000) * 10_000


def _at(day: dt.date, rng: random.Random) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(8)) + dt.timedelta(minutes=rng.randint(0, 600))


def _deal_events(deal: object, rng: random.Random, style: dict[str, float],
                 as_of: dt.date) -> tuple[list[_Event], dt.date | None]:
    """Return the dated events of one deal and the day it started Engaging (None: never)."""
    created = _as_date(deal.created_date) or as_of - dt.timedelta(days=rng.randint(0, 45))
    closed = _as_date(deal.close_date) if deal.stage in CLOSED_STAGES else None
    end = closed or as_of
    span = max((end - created).days, 0)
    expected = created + dt.timedelta(days=max(7, round(rng.randint(14, 60) / style["optimism"])))
    events = [_Event(_at(created, rng).replace(hour=8, minute=0), PROSPECTING, "pipeline", expected)]

    engaged_on = None
    skips_engaging = deal.stage == PROSPECTING or (deal.stage == LOST and rng.random() < 0.3)
    if not skips_engaging and span >= 0:
        offset = round(span * rng.uniform(0.1, 0.5)) if closed else rng.randint(0, min(span, 30))
        engaged_on = created + dt.timedelta(days=offset)
        events.append(_Event(_at(engaged_on, rng), ENGAGING, "best_case" if rng.random() < 0.6 else "pipeline"))
        _add_commit(events, engaged_on, end, deal.stage, rng, style)

    _add_slips(events, created, expected, closed, as_of, rng)
    if closed is not None:
        final_time = dt.datetime.combine(closed, dt.time(18))
        events.append(_Event(final_time, deal.stage, "closed" if deal.stage == WON else "omitted", closed))
    return events, engaged_on


def _add_commit(events: list[_Event], engaged_on: dt.date, end: dt.date, stage: str, rng: random.Random,
                style: dict[str, float]) -> None:
    """Move some engaged deals to commit; some lost or open ones drop back while still open."""
    days = (end - engaged_on).days
    if days < 2:
        return
    reaches_commit = rng.random() < (0.85 if stage == WON else style["commit"])
    if not reaches_commit:
        return
    commit_day = engaged_on + dt.timedelta(days=rng.randint(1, days - 1))
    events.append(_Event(_at(commit_day, rng), category="commit"))
    if stage != WON and (end - commit_day).days >= 2 and rng.random() < 0.5:
        drop_day = commit_day + dt.timedelta(days=rng.randint(1, (end - commit_day).days - 1))
        events.append(_Event(_at(drop_day, rng), category=rng.choice(("best_case", "pipeline"))))


def _add_slips(events: list[_Event], created: dt.date, expected: dt.date, closed: dt.date | None,
               as_of: dt.date, rng: random.Random) -> None:
    """Push the expected close date back each time it passes before the deal closes."""
    limit = closed or as_of
    slips = 0
    while expected < limit and slips < MAX_SLIPS:
        moved = expected + dt.timedelta(days=rng.randint(7, 30))
        if closed is not None:
            moved = min(moved, closed)
        slip_day = max(created, expected - dt.timedelta(days=rng.randint(0, 3)))
        events.append(_Event(_at(slip_day, rng), close_date=moved))
        expected = moved
        slips += 1


def _event_rows(deal_id: str, events: list[_Event], amount: int) -> list[tuple]:
    """Turn events into full rows: each row repeats the stage, category and close date still in force."""
    events.sort(key=lambda event: event.time)
    rows = []
    stage = category = None
    close_date = None
    last_time = None
    for event in events:
        time = event.time
        if last_time is not None and time <= last_time:
            time = last_time + dt.timedelta(minutes=1)  # (deal_id, changed_at) identifies a row
        stage = event.stage or stage
        category = event.category or category
        close_date = event.close_date or close_date
        rows.append((deal_id, time, stage, category, amount, close_date))
        last_time = time
    return rows


def _history_frame(rows: list[tuple]) -> pd.DataFrame:
    names = RECORD_SETS["stage_history"].field_names
    frame = pd.DataFrame(rows, columns=list(names))
    frame["changed_at"] = pd.to_datetime(frame["changed_at"]).astype("datetime64[ns]")
    frame["close_date"] = pd.to_datetime(frame["close_date"]).astype("datetime64[ns]")
    frame["amount"] = pd.array(frame["amount"], dtype="Int64")
    frame["generated"] = True
    return frame


def _poisson(rng: random.Random, mean: float) -> int:
    """Draw from a Poisson distribution (Knuth's method; fine for the small daily means used here)."""
    limit = math.exp(-mean)
    count = 0
    product = rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _activities(deals: pd.DataFrame, engaged: list[tuple[str, dt.date, str]], seed: int,
                as_of: dt.date) -> list[tuple]:
    owners = deals["owner"].dropna().astype(str)
    if owners.empty:
        return []
    shares = owners.value_counts(normalize=True)
    mean_share = 1 / len(shares)
    created = pd.to_datetime(deals["created_date"]).dropna() if "created_date" in deals else pd.Series([])
    first_day = created.min().date() if len(created) else as_of - dt.timedelta(days=90)
    rows = []
    for owner in sorted(shares.index):
        rng = random.Random(f"{seed}:activities:{owner}")
        level = (shares[owner] / mean_share) ** 0.6 * _owner_style(seed, owner)["busy"]
        day = first_day
        while day <= as_of:
            if day.weekday() < 5:
                for kind, rate in ACTIVITY_RATES.items():
                    count = _poisson(rng, rate * level)
                    if count:
                        rows.append((owner, day, kind, count, None))
            day += dt.timedelta(days=1)
    for owner, day, deal_id in engaged:
        rows.append((owner, day, "meeting", 1, deal_id))
    return rows


def _activities_frame(rows: list[tuple]) -> pd.DataFrame:
    names = RECORD_SETS["activities"].field_names
    frame = pd.DataFrame(rows, columns=list(names))
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    frame["count"] = pd.array(frame["count"], dtype="Int64")
    frame["deal_id"] = frame["deal_id"].astype(object)
    frame["generated"] = True
    return frame
