"""Measure what prior-period adjustments add to the calculation of the first open period.

Builds a workspace with one quarterly plan, PARTICIPANTS participants and DEALS_PER_QUARTER
won deals in each quarter of 2017 and 2018-Q1, calculates, approves and closes the four
2017 quarters, then times ``calc_service.calculate`` of 2018-Q1 four ways:

1. with no change inside a closed quarter (each closed quarter is skipped by its fingerprint);
2. the prior-period check alone (``prior_period.apply_prior_period_adjustments``) in case 1;
3. after one late deal dated inside 2017-Q2 (that quarter is recalculated and compared);
4. after one more late deal in each of 2017-Q1, Q3 and Q4 (all four quarters recalculated).

Each step prints wall seconds and the CPU seconds of this process (user plus system),
because the machine is often shared. The load average is printed before each step.

Run: python bench/close.py [PARTICIPANTS] [DEALS_PER_QUARTER]
"""

from __future__ import annotations

import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from spm_desktop.domain.records import RECORD_SETS
from spm_desktop.services import calc_service, close_service, metric_service, plan_service, prior_period
from spm_desktop.services.context import Workspace
from spm_desktop.store.tables.records import RECORD_TABLES, column_name

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
"""

PLAN = """\
plan: AE
version: 1
effective_from: 2017-01-01
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
        - {from: 0, rate: 0.05}
        - {from: 1.0, rate: 0.10}
"""

QUARTERS = ("2017-Q1", "2017-Q2", "2017-Q3", "2017-Q4", "2018-Q1")
QUARTER_MONTHS = {"Q1": (1, 2, 3), "Q2": (4, 5, 6), "Q3": (7, 8, 9), "Q4": (10, 11, 12)}


def insert(connection, record_set: str, rows: list[dict]) -> None:
    spec = RECORD_SETS[record_set]
    stored = []
    for number, row in enumerate(rows):
        values = {column_name(field): row.get(field.name) for field in spec.fields}
        values["record_key"] = json.dumps([record_set, number, *[row.get(name) for name in spec.natural_key]])
        stored.append(values)
    connection.execute(RECORD_TABLES[record_set].insert(), stored)


def build(path: Path, participants: int, deals_per_quarter: int) -> Workspace:
    rng = random.Random(11)
    workspace = Workspace.create(path, user="maker")
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN)
    ids = [f"P{index:05d}" for index in range(participants)]
    deals = []
    for label in QUARTERS:
        year, quarter = label.split("-")
        for number in range(deals_per_quarter):
            month = rng.choice(QUARTER_MONTHS[quarter])
            deals.append({"deal_id": f"{label}-{number}", "owner": rng.choice(ids), "currency": "USD",
                          "amount": rng.randint(1_000, 60_000) * 10_000, "stage": "Won", "type": "sale",
                          "close_date": f"{year}-{month:02d}-{rng.randint(1, 28):02d}"})
    with workspace.transaction() as unit:
        insert(unit.connection, "participants", [
            {"participant_id": pid, "name": f"Rep {pid}", "role": "AE", "currency": "USD", "hire_date": "2016-01-04"}
            for pid in ids])
        insert(unit.connection, "quotas", [
            {"participant_id": pid, "quota_key": "bookings", "period": label, "amount": 300_000 * 10_000,
             "currency": "USD"} for pid in ids for label in QUARTERS])
        insert(unit.connection, "deals", deals)
    return workspace


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(label: str, action) -> object:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    wall_start, cpu_start = time.perf_counter(), cpu_seconds()
    outcome = action()
    wall, cpu = time.perf_counter() - wall_start, cpu_seconds() - cpu_start
    print(f"{label}: {wall:.2f} s wall, {cpu:.2f} s CPU (load average before: {load})", flush=True)
    return outcome


def read_open_period_inputs(connection, label: str) -> object:
    """Read an official calculation's inputs through the calculation service's public API."""
    return calc_service.read_inputs(connection, label)


def late_deal(deal_id: str, close_date: str) -> dict:
    return {"deal_id": deal_id, "owner": "P00000", "currency": "USD", "amount": 90_000 * 10_000,
            "stage": "Won", "type": "sale", "close_date": close_date}


def main() -> None:
    participants = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    deals_per_quarter = int(sys.argv[2]) if len(sys.argv) > 2 else 25_000
    print(f"participants {participants}, deals per quarter {deals_per_quarter}, cores {os.cpu_count()}, "
          f"Python {sys.version.split()[0]}", flush=True)
    folder = Path(tempfile.mkdtemp())
    workspace = build(folder / "bench.spm", participants, deals_per_quarter)
    checker = workspace.as_user("checker")
    for label in QUARTERS[:4]:
        timed(f"calculate {label}", lambda label=label: calc_service.calculate(workspace, label))
        close_service.approve(checker, label)
        close_service.close(checker, label)

    timed("calculate 2018-Q1, closed quarters unchanged", lambda: calc_service.calculate(workspace, "2018-Q1"))

    with workspace.read() as connection:
        inputs = read_open_period_inputs(connection, "2018-Q1")
        timed("prior-period check alone, closed quarters unchanged",
              lambda: prior_period.apply_prior_period_adjustments(connection, inputs))

    with workspace.transaction() as unit:
        insert(unit.connection, "deals", [late_deal("LATE-Q2", "2017-05-03")])
    timed("calculate 2018-Q1 after one late deal in 2017-Q2 (1 quarter recomputed)",
          lambda: calc_service.calculate(workspace, "2018-Q1"))

    with workspace.transaction() as unit:
        insert(unit.connection, "deals", [late_deal("LATE-Q1", "2017-02-03"), late_deal("LATE-Q3", "2017-08-03"),
                                          late_deal("LATE-Q4", "2017-11-03")])
    timed("calculate 2018-Q1 after late deals in all four closed quarters (4 quarters recomputed)",
          lambda: calc_service.calculate(workspace, "2018-Q1"))

    with workspace.read() as connection:
        inputs = read_open_period_inputs(connection, "2018-Q1")
        found = timed("prior-period check alone, four closed quarters changed",
                      lambda: prior_period.apply_prior_period_adjustments(connection, inputs))
    adjustments = [item for items in found.values() for item in items]
    total = sum(item.amount_minor for item in adjustments)
    print(f"prior-period adjustments found: {len(adjustments)}, total {total} minor units", flush=True)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB; CPU seconds of the whole run: {cpu_seconds():.1f}", flush=True)
    workspace.close()


if __name__ == "__main__":
    main()
