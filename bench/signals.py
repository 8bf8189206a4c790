"""Time all signals for 5,000 participants, 1,000,000 opportunities and 5,000,000 stage changes.

Usage: python bench/signals.py [--participants N] [--deals N] [--repeat N] [--workspace]

The frames are built in memory with numpy (seeded), in the layout ``domain.records``
describes, so the timing covers ``compute_signals`` alone: no workspace, no SQL. With
``--workspace`` the same rows are also written to a new workspace file in a temporary
folder and ``signal_service.compute`` is timed, which adds reading the records back.
Each opportunity gets exactly five stage rows (Prospecting, Engaging, commit, a
close-date slip and its outcome or a second slip), so 1,000,000 opportunities make
5,000,000 stage changes. Peak RSS is read from ``resource.getrusage`` after the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import time

import numpy as np
import pandas as pd

from spm_desktop.domain.periods import parse_period
from spm_desktop.domain.signals import SignalInputs, compute_signals

DAY = np.timedelta64(1, "D")
FIRST_DAY = np.datetime64("2016-07-01")
LAST_DAY = np.datetime64("2017-09-30")


def build_inputs(participant_count: int, deal_count: int, seed: int = 1) -> SignalInputs:
    rng = np.random.default_rng(seed)
    ids = np.array([f"P{index:05d}" for index in range(participant_count)], dtype=object)
    participants = pd.DataFrame({
        "participant_id": ids,
        "name": ids,
        "role": "AE",
        "region": rng.choice(np.array(["North", "South", "East", "West", "Central"], dtype=object),
                             participant_count),
        "manager_id": np.array([f"M{index // 10:04d}" for index in range(participant_count)], dtype=object),
        "target_incentive": pd.array(rng.integers(20_000, 60_000, participant_count) * 10_000, dtype="Int64"),
    })

    owner = ids[rng.integers(0, participant_count, deal_count)]
    span = int((LAST_DAY - FIRST_DAY) / DAY)
    created = FIRST_DAY + rng.integers(0, span, deal_count) * DAY
    cycle = rng.integers(2, 120, deal_count)
    closed = created + cycle * DAY
    outcome = rng.random(deal_count)
    stage = np.where(outcome < 0.45, "Won", np.where(outcome < 0.7, "Lost", "Engaging")).astype(object)
    stage = np.where((stage != "Engaging") & (closed > LAST_DAY), "Engaging", stage)
    amount = rng.integers(1_000, 100_000, deal_count) * 10_000
    deal_ids = np.array([f"O{index:07d}" for index in range(deal_count)], dtype=object)
    is_closed = stage != "Engaging"
    deals = pd.DataFrame({
        "deal_id": deal_ids,
        "owner": owner,
        "amount": pd.array(np.where(stage == "Won", amount, 0), dtype="Int64"),
        "created_date": created.astype("datetime64[ns]"),
        "close_date": pd.Series(np.where(is_closed, closed, np.datetime64("NaT")).astype("datetime64[ns]")),
        "stage": stage,
    })
    return SignalInputs(participants, deals, stage_history=_history(rng, deal_ids, created, cycle, stage, amount),
                        activities=_activities(rng, ids), quotas=_quotas(rng, ids))


def _history(rng: np.random.Generator, deal_ids: np.ndarray, created: np.ndarray, cycle: np.ndarray,
             stage: np.ndarray, amount: np.ndarray) -> pd.DataFrame:
    count = len(deal_ids)
    seconds = np.timedelta64(1, "s")
    start = created.astype("datetime64[s]") + 9 * 3600 * seconds
    length = cycle.astype(np.int64) * 86_400
    offsets = np.stack([np.zeros(count, np.int64), length // 4, length // 2, (3 * length) // 4, length - 1], axis=1)
    times = start[:, None] + offsets * seconds
    final = np.where(stage == "Engaging", None, stage)
    stages = np.stack([np.full(count, "Prospecting", object), np.full(count, "Engaging", object),
                       np.full(count, None, object), np.full(count, None, object), final], axis=1)
    final_category = np.where(stage == "Won", "closed", np.where(stage == "Lost", "omitted", "pipeline"))
    categories = np.stack([np.full(count, "pipeline", object), np.full(count, "best_case", object),
                           np.full(count, "commit", object), np.full(count, None, object),
                           final_category.astype(object)], axis=1)
    expected = created + 30 * DAY
    slipped = expected + rng.integers(10, 40, count) * DAY
    closes = np.stack([expected, expected, expected, slipped, slipped + 14 * DAY], axis=1)
    return pd.DataFrame({
        "deal_id": np.repeat(deal_ids, 5),
        "changed_at": times.reshape(-1).astype("datetime64[ns]"),
        "stage": stages.reshape(-1),
        "forecast_category": categories.reshape(-1),
        "amount": pd.array(np.repeat(amount, 5), dtype="Int64"),
        "close_date": closes.reshape(-1).astype("datetime64[ns]"),
        "_generated": True,
    })


def _activities(rng: np.random.Generator, ids: np.ndarray) -> pd.DataFrame:
    weeks = pd.date_range("2016-07-04", "2017-09-25", freq="7D").to_numpy()
    kinds = np.array(["call", "email", "meeting", "demo"], dtype=object)
    grid = np.array(np.meshgrid(np.arange(len(ids)), np.arange(len(weeks)), np.arange(len(kinds)),
                                indexing="ij")).reshape(3, -1)
    return pd.DataFrame({
        "participant_id": ids[grid[0]],
        "date": weeks[grid[1]],
        "type": kinds[grid[2]],
        "count": pd.array(rng.poisson(12, grid.shape[1]), dtype="Int64"),
        "deal_id": None,
    })


def _quotas(rng: np.random.Generator, ids: np.ndarray) -> pd.DataFrame:
    labels = ["2016-Q3", "2016-Q4", "2017-Q1", "2017-Q2", "2017-Q3"]
    return pd.DataFrame({
        "participant_id": np.repeat(ids, len(labels)),
        "quota_key": "bookings",
        "period": np.tile(np.array(labels, dtype=object), len(ids)),
        "amount": pd.array(np.repeat(rng.integers(500_000, 2_000_000, len(ids)) * 10_000, len(labels)),
                           dtype="Int64"),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=5_000)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workspace", action="store_true", help="also time the service on a workspace file")
    args = parser.parse_args()

    started = time.perf_counter()
    inputs = build_inputs(args.participants, args.deals)
    print(f"built {len(inputs.participants):,} participants, {len(inputs.deals):,} opportunities, "
          f"{len(inputs.stage_history):,} stage changes, {len(inputs.activities):,} activity rows "
          f"in {time.perf_counter() - started:.1f} s")

    period = parse_period("2017-Q3")
    timings = []
    cpu_timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        cpu_started = time.process_time()
        report = compute_signals(inputs, period, as_of=dt.date(2017, 8, 15))
        timings.append(time.perf_counter() - started)
        cpu_timings.append(time.process_time() - cpu_started)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"compute_signals wall: {', '.join(f'{value:.2f}' for value in timings)} s "
          f"(best {min(timings):.2f} s) for {len(report.table):,} participants and "
          f"{len(report.windows)} periods")
    # CPU time of this process, which other programs on a busy machine disturb less than wall time.
    print(f"compute_signals CPU: {', '.join(f'{value:.2f}' for value in cpu_timings)} s "
          f"(best {min(cpu_timings):.2f} s); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"diagnoses: {report.table['diagnosis'].value_counts().to_dict()}")
    print(f"peak RSS {peak_mb:,.0f} MB; Python {platform.python_version()}, pandas {pd.__version__}, "
          f"numpy {np.__version__}")
    if args.workspace:
        time_workspace(inputs, period, args.repeat)


def time_workspace(inputs: SignalInputs, period: object, repeat: int) -> None:
    """Write the inputs to a workspace and time ``signal_service.compute``, reading included."""
    import tempfile
    from pathlib import Path

    from spm_desktop.services import signal_service
    from spm_desktop.services.context import Workspace

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.spm"
        started = time.perf_counter()
        with Workspace.create(path, "bench") as workspace:
            with workspace.transaction() as unit:
                for name, frame in (("participants", inputs.participants), ("deals", inputs.deals),
                                    ("stage_history", inputs.stage_history), ("activities", inputs.activities),
                                    ("quotas", inputs.quotas)):
                    _write(unit.connection, name, frame)
            print(f"wrote the workspace in {time.perf_counter() - started:.1f} s "
                  f"({path.stat().st_size / 2**20:,.0f} MB)")
            timings = []
            for _ in range(repeat):
                started = time.perf_counter()
                signal_service.compute(workspace, period.label, as_of=dt.date(2017, 8, 15))
                timings.append(time.perf_counter() - started)
    print(f"signal_service.compute (reading included): {', '.join(f'{value:.2f}' for value in timings)} s "
          f"(best {min(timings):.2f} s)")


def _write(connection: object, record_set: str, frame: pd.DataFrame) -> None:
    from spm_desktop.domain.records import RECORD_SETS
    from spm_desktop.importing.records import record_key
    from spm_desktop.store.tables.records import RECORD_TABLES, column_name

    spec = RECORD_SETS[record_set]
    columns = {}
    for field in spec.fields:
        values = frame[field.name] if field.name in frame.columns else pd.Series([None] * len(frame))
        if field.kind == "date":
            values = pd.to_datetime(values).dt.strftime("%Y-%m-%d")
        elif field.kind == "datetime":
            values = pd.to_datetime(values).dt.strftime("%Y-%m-%d %H:%M:%S")
        columns[column_name(field)] = values.astype(object).where(values.notna(), None).to_numpy()
    names = list(columns)
    rows = []
    for values in zip(*columns.values(), strict=True):
        row = dict(zip(names, values, strict=True))
        row["record_key"] = record_key(spec, values) if spec.natural_key else f"#{len(rows)}"
        if "generated" in RECORD_TABLES[record_set].c:
            row["generated"] = True
        rows.append(row)
    for start in range(0, len(rows), 50_000):
        connection.execute(RECORD_TABLES[record_set].insert(), rows[start:start + 50_000])


if __name__ == "__main__":
    main()
