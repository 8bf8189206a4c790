"""Measure ``spm calc`` end to end: read inputs, run the engine, store run, results and lines, verify.

Builds a workspace with generated participants, deals and quotas (imported through the
import service), loads one metric catalog and one plan with a tiered commission and a
SPIF, then times each step on one quarter. Usage:

    python bench/calc_service.py [--participants 500] [--deals 100000] [--out bench/out]
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import time
from pathlib import Path

from spm_desktop.services import audit_service, calc_service, import_service, metric_service, plan_service
from spm_desktop.services.context import Workspace

METRICS = """\
metrics:
  - {key: bookings, name: Bookings, owner: Finance, tier: primary, description: Won deal value., source: deals,
     filter: 'stage == "Won"', value: sum(amount), date: close_date, unit: currency, status: approved}
  - {key: pro_deals, name: Pro deals, owner: Sales Ops, tier: supporting, description: Won Pro deals., source: deals,
     filter: 'stage == "Won" and product == "Pro"', value: count(), date: close_date, unit: count, status: approved}
"""

PLAN = """\
plan: Bench 2017
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31
currency: USD
period: quarter
participants: {role: Sales Agent}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    quota: bookings
    tiers:
      method: marginal
      bands:
        - {from: 0, rate: 0.03}
        - {from: 0.5, rate: 0.06}
        - {from: 1.0, rate: 0.09}
        - {from: 1.5, rate: 0.12}
  - name: Pro SPIF
    type: spif
    metric: pro_deals
    amount_per_unit: 100
"""


def _write_inputs(folder: Path, participants: int, deals: int, seed: int) -> None:
    generator = random.Random(seed)
    with (folder / "participants.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["participant_id", "name", "role", "hire_date", "currency"])
        for index in range(participants):
            writer.writerow([f"P{index:05d}", f"Seller {index}", "Sales Agent", "2016-01-01", "USD"])
    with (folder / "deals.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["deal_id", "owner", "amount", "currency", "close_date", "stage", "product"])
        for index in range(deals):
            day = 1 + generator.randrange(90)
            close = f"2017-{1 + (day - 1) // 30:02d}-{1 + (day - 1) % 28:02d}"
            writer.writerow([f"D{index:07d}", f"P{generator.randrange(participants):05d}",
                             f"{generator.randrange(100, 20000)}.{generator.randrange(100):02d}", "USD", close,
                             generator.choice(["Won", "Won", "Won", "Lost"]), generator.choice(["Pro", "Basic"])])
    with (folder / "quotas.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["participant_id", "quota_key", "period", "amount"])
        for index in range(participants):
            writer.writerow([f"P{index:05d}", "bookings", "2017-Q1", 1_500_000])


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"calc-{args.participants}-{args.deals}.spm"
    for leftover in args.out.glob(f"{path.name}*"):
        leftover.unlink()
    _write_inputs(args.out, args.participants, args.deals, seed=2017)

    workspace = Workspace.create(path, "bench")
    for record_set in ("participants", "deals", "quotas"):
        import_service.commit(workspace, import_service.ImportRequest(record_set, args.out / f"{record_set}.csv"))
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN)

    timings: dict[str, float] = {}
    started = time.perf_counter()
    [summary] = calc_service.calculate(workspace, "2017-Q1")
    timings["calculate (read, engine, store)"] = time.perf_counter() - started
    started = time.perf_counter()
    [summary] = calc_service.calculate(workspace, "2017-Q1")
    timings["recalculate (supersedes the first run)"] = time.perf_counter() - started
    started = time.perf_counter()
    rows = calc_service.period_results(workspace, "2017-Q1")
    calc_service.format_csv(rows)
    timings["spm results as CSV"] = time.perf_counter() - started
    started = time.perf_counter()
    report = audit_service.verify(workspace)
    timings["audit verify (two runs)"] = time.perf_counter() - started

    print(f"participants {args.participants}, deals {args.deals}: {summary.result_count} result rows, "
          f"{summary.line_count} lines, verify ok={report.ok}")
    for name, seconds in timings.items():
        print(f"{name}: {seconds:.2f} s")
    print(f"peak RSS: {_peak_mb():.0f} MB; workspace file {path.stat().st_size / 1e6:.0f} MB")
    workspace.close()


if __name__ == "__main__":
    main()
