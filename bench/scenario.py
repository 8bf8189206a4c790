"""Time a what-if scenario run against the official calculation of the same period, in one process.

Usage: python bench/scenario.py [--participants N] [--deals N] [--workspace PATH]

Builds a workspace with N participants (default 5,000) on one quarterly plan with four
tiered components, and N deals (default 1,000,000) closed in 2017-Q3, 10% of them split
between two participants. Records are written straight into the record tables (the
import is not what is measured). Then it times, in this order:

1. ``calc_service.calculate(workspace, "2017-Q3")``: the official calculation, stored;
2. ``scenario_service.run(...)`` of a scenario that raises one band's rate: the scenario
   calculation, stored apart, plus the payout comparison with the official results.

and prints both wall-clock times, both process CPU times (``time.process_time``, which
leaves out the time spent waiting for the disk or for other processes on a shared
machine), their ratios and the peak RSS of the process (``resource``).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from spm_desktop.domain.records import RECORD_SETS
from spm_desktop.services import calc_service, metric_service, plan_service, scenario_service
from spm_desktop.services.context import Workspace
from spm_desktop.store.tables.records import RECORD_TABLES, column_name

PERIOD = "2017-Q3"
CHUNK = 50_000

METRICS = """\
metrics:
  - key: bookings
    name: Bookings
    owner: Finance
    tier: primary
    description: Won deal value, credited on the close date.
    source: deals
    filter: stage == "Won"
    value: sum(amount)
    date: close_date
    unit: currency
    status: approved
  - key: new_logo
    name: New logo bookings
    owner: Sales Ops
    tier: primary
    description: Won deals of the product line GTX.
    source: deals
    filter: stage == "Won" and product == "GTX"
    value: sum(amount)
    date: close_date
    unit: currency
    status: approved
  - key: won_deals
    name: Won deals
    owner: Sales Ops
    tier: supporting
    description: Count of won deals.
    source: deals
    filter: stage == "Won"
    value: count()
    date: close_date
    unit: count
    status: approved
"""

PLAN = """\
plan: Bench AE
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31
currency: USD
period: quarter
participants: {role: AE}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    quota: bookings
    tiers:
      method: marginal
      by: attainment
      bands:
        - {from: 0, rate: 0.03}
        - {from: 0.5, rate: 0.06}
        - {from: 1.0, rate: 0.09}
        - {from: 1.5, rate: 0.12}
  - name: New logo commission
    type: commission
    metric: new_logo
    tiers:
      method: retroactive
      by: amount
      bands:
        - {from: 0, rate: 0.01}
        - {from: 100000, rate: 0.02}
        - {from: 500000, rate: 0.03}
  - name: Deal count SPIF
    type: spif
    metric: won_deals
    amount_per_unit: 5
  - name: Attainment bonus
    type: bonus
    metric: bookings
    quota: bookings
    target: 5000
    curve:
      - {attainment: 0.5, payout: 0}
      - {attainment: 1.0, payout: 1.0}
      - {attainment: 1.5, payout: 2.0}
"""


def _rows(record_set: str, columns: dict[str, object], count: int, key_fields: tuple[str, ...]) -> list[dict]:
    spec = RECORD_SETS[record_set]
    names = [column_name(field) for field in spec.fields]
    rows = []
    for index in range(count):
        row = dict.fromkeys(names)
        for name, values in columns.items():
            value = values[index]
            row[name] = value.item() if hasattr(value, "item") else value
        row["record_key"] = json.dumps([row.get(column_name(spec.field(field))) for field in key_fields])
        row["row_hash"] = f"{index:032x}"
        rows.append(row)
    return rows


def _insert(workspace: Workspace, record_set: str, rows: list[dict]) -> None:
    with workspace.transaction() as unit:
        for start in range(0, len(rows), CHUNK):
            unit.connection.execute(RECORD_TABLES[record_set].insert(), rows[start:start + CHUNK])


def build_workspace(path: Path, participant_count: int, deal_count: int, seed: int = 7) -> Workspace:
    rng = np.random.default_rng(seed)
    workspace = Workspace.create(path, "bench")
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN)

    ids = np.array([f"P{index:05d}" for index in range(participant_count)], dtype=object)
    _insert(workspace, "participants", _rows("participants", {
        "participant_id": ids, "name": ids, "role": ["AE"] * participant_count,
        "region": rng.choice(np.array(["East", "West", "Central"], dtype=object), participant_count),
    }, participant_count, ("participant_id",)))
    quota = rng.integers(150_000, 400_000, participant_count) * 10_000
    _insert(workspace, "quotas", _rows("quotas", {
        "participant_id": ids, "quota_key": ["bookings"] * participant_count, "period": [PERIOD] * participant_count,
        "amount_e4": quota, "currency": ["USD"] * participant_count,
    }, participant_count, ("participant_id", "quota_key", "period")))

    deal_ids = np.array([f"D{index:07d}" for index in range(deal_count)], dtype=object)
    days = np.datetime64("2017-07-01") + rng.integers(0, 92, deal_count) * np.timedelta64(1, "D")
    _insert(workspace, "deals", _rows("deals", {
        "deal_id": deal_ids, "owner": ids[rng.integers(0, participant_count, deal_count)],
        "amount_e4": rng.integers(100, 5_000, deal_count) * 10_000, "currency": ["USD"] * deal_count,
        "close_date": days.astype(str), "stage": np.where(rng.random(deal_count) < 0.8, "Won", "Lost"),
        "product": rng.choice(np.array(["GTX", "MG", "Zen"], dtype=object), deal_count),
        "type": ["sale"] * deal_count,
    }, deal_count, ("deal_id", "line_id", "type")))

    split_count = deal_count // 10
    split_deals = deal_ids[:split_count]
    first_index = rng.integers(0, participant_count, split_count)
    second_index = (first_index + rng.integers(1, participant_count, split_count)) % participant_count
    first, second = ids[first_index], ids[second_index]
    split_rows = _rows("credit_splits", {
        "deal_id": np.concatenate([split_deals, split_deals]), "participant_id": np.concatenate([first, second]),
        "share": ["0.5"] * (2 * split_count), "kind": ["split"] * (2 * split_count),
    }, 2 * split_count, ("deal_id", "participant_id", "kind"))
    _insert(workspace, "credit_splits", split_rows)
    return workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=5_000)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--workspace", type=Path, help="workspace file to create (default: a temporary folder)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="spm-bench-"))
    path = args.workspace or folder / "bench.spm"
    started = time.perf_counter()
    workspace = build_workspace(path, args.participants, args.deals)
    print(f"workspace built in {time.perf_counter() - started:.1f} s: {path}")

    started, cpu_started = time.perf_counter(), time.process_time()
    summaries = calc_service.calculate(workspace, PERIOD)
    official, official_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"official calculation of {PERIOD}: {official:.1f} s wall, {official_cpu:.1f} s CPU, "
          f"{sum(s.result_count for s in summaries)} result rows, {sum(s.line_count for s in summaries)} lines")

    higher = PLAN.replace("{from: 1.0, rate: 0.09}", "{from: 1.0, rate: 0.10}")
    scenario_service.create(workspace, "Higher third band", "Bench AE", document_text=higher)
    started, cpu_started = time.perf_counter(), time.process_time()
    report = scenario_service.run(workspace, "Higher third band", PERIOD)
    scenario, scenario_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"scenario run and comparison: {scenario:.1f} s wall, {scenario_cpu:.1f} s CPU; "
          f"{report.comparison.explanation}")
    print(f"ratio scenario / official: {scenario / official:.2f} wall, {scenario_cpu / official_cpu:.2f} CPU")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the process: {peak:.0f} MB; Python {platform.python_version()}")
    workspace.close()


if __name__ == "__main__":
    main()
