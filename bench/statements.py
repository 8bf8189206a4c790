"""Benchmark: export 5,000 PDF statements and compare with drawing the same pages with QPainter alone.

Usage: python bench/statements.py [--participants 5000] [--lines 20] [--processes 2] [--keep DIR]

Steps, all in one run:
1. Build a workspace with N participants, one deal line per statement line, a metric, a
   plan with a draw, and one stored calculation of 2017-Q3 (through calc_service.store_run,
   so the engine is not timed), approved by a second user.
2. Export: ``statement_service.export_statements(..., ["pdf"], processes=P)``, timed end
   to end (reading the run, building every statement, layout, drawing, hashing, writing
   the files, recording the statements rows and the audit entry).
3. Floor: the same statements, laid out beforehand in the same worker processes, then
   only painted onto QPdfWriter (``statement_pdf.paint_document``). Each worker times its
   painting; the floor is the painting time of the busiest worker, so it is what the
   drawing alone costs on P cores with no overhead at all.

Prints the machine, the timings and the ratio export / floor, in wall time and in CPU
time. On a machine shared with other work the wall-time ratio moves with the load, so
the CPU-time ratio (parent and workers for the export, painting only for the floor) is
printed too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path

CUSTOMERS = ("Acme Corporation", "Betasoloin", "Betatech", "Bioholding", "Cancity", "Codehow", "Condax", "Konex",
             "Plexzap", "Rangreen", "Isdom", "Kan-code")
PRODUCTS = ("GTX Basic", "GTX Pro", "MG Special", "MG Advanced", "GTX Plus Basic", "GTX Plus Pro", "GTK 500")
PERIOD = "2017-Q3"
PLAN = "Account Executive 2017"
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
PLAN_YAML = """\
plan: Account Executive 2017
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
      by: attainment
      bands:
        - {from: 0, rate: 0.03}
        - {from: 0.5, rate: 0.06}
draw: {amount: 2000, recoverable: true, year_end: carry_forward}
"""


def build_workspace(path: Path, participants: int, lines: int) -> None:
    """Create the workspace with one approved calculation; every statement line pays 3% of its deal."""
    from spm_desktop.domain.canonical import sha256_hex
    from spm_desktop.domain.periods import parse_period
    from spm_desktop.services import calc_service, close_service, metric_service, plan_service
    from spm_desktop.services.context import Workspace
    from spm_desktop.store.tables import records

    workspace = Workspace.create(path, user="maker")
    people, deal_rows, quota_rows = [], [], []
    for index in range(participants):
        pid = f"P{index:05d}"
        people.append({"participant_id": pid, "name": f"Seller {index:05d}", "role": "Sales Agent",
                       "manager_id": "M0001", "payroll_id": f"PR{index:06d}", "currency": "USD",
                       "record_key": json.dumps([pid]), "row_hash": sha256_hex(pid)[:32]})
        quota_rows.append({"participant_id": pid, "quota_key": "bookings", "period": PERIOD,
                           "amount_e4": 600_000_000, "currency": "USD", "record_key": json.dumps([pid, PERIOD]),
                           "row_hash": "0" * 32})
    people.append({"participant_id": "M0001", "name": "Summer Sewald", "role": "Sales Manager", "manager_id": None,
                   "payroll_id": "PR999999", "currency": "USD", "record_key": '["M0001"]', "row_hash": "1" * 32})
    result_rows, line_rows = [], []
    row_id = 0
    for index in range(participants):
        pid = f"P{index:05d}"
        total = 0
        for number in range(lines):
            row_id += 1
            amount = 1000 + 37 * ((index + number) % 97)
            day = dt.date(2017, 7, 1) + dt.timedelta(days=(number * 4 + index) % 92)
            deal_id = f"D{index:05d}-{number:03d}"
            deal_rows.append({"id": row_id, "deal_id": deal_id, "owner": pid, "amount_e4": amount * 10_000,
                              "currency": "USD", "close_date": day.isoformat(), "stage": "Won",
                              "product": PRODUCTS[number % len(PRODUCTS)],
                              "customer": CUSTOMERS[(index + number) % len(CUSTOMERS)], "type": "sale",
                              "record_key": json.dumps([deal_id]), "row_hash": sha256_hex(deal_id)[:32]})
            earnings_minor = amount * 3  # 3% of whole dollars, in cents
            total += earnings_minor
            line_rows.append({
                "participant_id": pid, "plan": PLAN, "component": "Bookings commission", "line_kind": "sale",
                "deal_row_id": row_id, "deal_id": deal_id, "line_id": None, "credit_date": day, "share": "1",
                "credit_kind": "owner", "via_participant_id": None, "amount": str(amount), "deal_currency": "USD",
                "credited": str(amount), "fx_rate": None, "bands": '["1"]', "rates": '["0.03"]',
                "exact_earnings": str(Decimal(earnings_minor) / 100), "earnings_minor": earnings_minor,
                "paid_now_minor": earnings_minor, "held_minor": 0, "currency": "USD", "source_batch": None,
                "source_row": None, "note": None, "_result_key": (pid, PLAN, "Bookings commission"),
            })
        draw = max(0, 200_000 - total)
        base = {"participant_id": pid, "participant_name": f"Seller {index:05d}", "period": PERIOD, "plan": PLAN,
                "plan_version": 1, "metric_key": None, "metric_version": None, "metric_unit": None,
                "metric_value": None, "quota": None, "attainment": None, "currency": "USD"}
        credit = sum(1000 + 37 * ((index + number) % 97) for number in range(lines))
        result_rows.append({**base, "row_kind": "component", "component": "Bookings commission",
                            "metric_key": "bookings", "metric_version": 1, "metric_unit": "currency",
                            "metric_value": str(credit), "quota": "60000",
                            "attainment": str((Decimal(credit) / 60000).quantize(Decimal("0.0001"))),
                            "earnings_minor": total})
        result_rows.append({**base, "row_kind": "draw", "component": "Draw", "earnings_minor": draw})
        result_rows.append({**base, "row_kind": "total", "component": "TOTAL", "earnings_minor": total + draw})
    with workspace.transaction() as unit:
        for table, rows in ((records.participants, people), (records.deals, deal_rows), (records.quotas, quota_rows)):
            for start in range(0, len(rows), 20_000):
                unit.connection.execute(table.insert(), rows[start:start + 20_000])
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN_YAML, source="plan.yaml")
    workspace.set_setting("company.name", "Maven Analytics Sales Co.")
    period = parse_period(PERIOD)
    prepared = calc_service.PreparedRun(PERIOD, period.start, period.end, calc_service.OFFICIAL, None,
                                        dt.datetime.now(dt.UTC).isoformat(), {"deals": "a" * 64}, {}, [],
                                        result_rows, {name: [row[name] for row in line_rows] for name in line_rows[0]},
                                        [], period)
    with workspace.transaction() as unit:
        calc_service.store_run(unit, prepared)
    close_service.approve(workspace.as_user("checker"), PERIOD)
    workspace.close()


def _paint_only(batch: list) -> tuple[float, float, int]:
    """Lay out a batch (not timed), then time painting it; returns (wall seconds, CPU seconds, pages)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from spm_desktop.exporting import statement_pdf

    statement_pdf.ensure_gui_application()
    documents = [statement_pdf.layout_statement(item, "A4") for item in batch]
    start = time.perf_counter()
    cpu_start = time.process_time()
    for document in documents:
        statement_pdf.paint_document(document)
    pages = sum(len(document.pages) for document in documents)
    return time.perf_counter() - start, time.process_time() - cpu_start, pages


def measure_floor(items: list, processes: int) -> tuple[float, float, int]:
    """Return the busiest worker's painting time, the painting CPU time of all workers, and the pages drawn."""
    slices = [items[worker::processes] for worker in range(processes)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        outcomes = list(pool.map(_paint_only, slices))
    return (max(wall for wall, _, _ in outcomes), sum(cpu for _, cpu, _ in outcomes),
            sum(pages for _, _, pages in outcomes))


def _cpu_seconds(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def machine() -> str:
    memory = os.popen("free -h | awk '/Mem:/ {print $2}'").read().strip()
    return (f"{platform.platform()}, {os.cpu_count()} CPUs (nproc), {memory} RAM, Python {platform.python_version()}, "
            f"PySide6 {__import__('PySide6').__version__}")


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages, as `uptime` prints them."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=20, help="deal lines per statement")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", type=Path, help="keep the workspace and files in this folder")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("SPM_USER", "bench")

    folder = args.keep or Path(tempfile.mkdtemp(prefix="spm-bench-statements-"))
    folder.mkdir(parents=True, exist_ok=True)
    workspace_path = folder / "bench.spm"
    if workspace_path.exists():
        workspace_path.unlink()
    print(f"machine: {machine()}")
    print(f"command: python {' '.join(sys.argv)}")
    start = time.perf_counter()
    build_workspace(workspace_path, args.participants, args.lines)
    print(f"workspace: {args.participants} participants x {args.lines} lines built in "
          f"{time.perf_counter() - start:.1f} s (not part of the comparison)")

    from spm_desktop.services import statement_service
    from spm_desktop.services.context import Workspace

    workspace = Workspace.open(workspace_path, "bench")
    out = folder / "statements"
    shutil.rmtree(out, ignore_errors=True)
    marks: dict[str, float] = {}

    def note(done: int, total: int, message: str) -> None:
        # First and last time each progress message was seen, relative to the start.
        elapsed = time.perf_counter() - start
        marks.setdefault(f"{message} first", elapsed)
        marks[f"{message} last"] = elapsed

    # CPU time of this process and of its finished children (the worker processes).
    print(f"load average before the export: {load_average()}")
    cpu_before = _cpu_seconds(resource.getrusage(resource.RUSAGE_SELF))
    children_before = _cpu_seconds(resource.getrusage(resource.RUSAGE_CHILDREN))
    start = time.perf_counter()
    summary = statement_service.export_statements(workspace, PERIOD, out, ["pdf"], progress=note,
                                                  processes=args.processes)
    export_seconds = time.perf_counter() - start
    parent_cpu = _cpu_seconds(resource.getrusage(resource.RUSAGE_SELF)) - cpu_before
    workers_cpu = _cpu_seconds(resource.getrusage(resource.RUSAGE_CHILDREN)) - children_before
    export_cpu = parent_cpu + workers_cpu
    files = len(summary.files)
    size = sum(item.path.stat().st_size for item in summary.files)
    print(f"export: {files} PDF statements in {export_seconds:.2f} s with {args.processes} processes "
          f"({export_seconds / files * 1000:.2f} ms per statement, {size / files / 1024:.1f} KiB per file)")
    print(f"export CPU time: parent {parent_cpu:.1f} s ({parent_cpu / files * 1000:.2f} ms per statement), "
          f"workers {workers_cpu:.1f} s ({workers_cpu / files * 1000:.2f} ms per statement)")

    for name, seconds in sorted(marks.items(), key=lambda item: item[1]):
        print(f"  {seconds:8.2f} s  {name}")
    start = time.perf_counter()
    items = statement_service.build_statements(workspace, PERIOD)
    print(f"reading and building the {len(items)} statements alone: {time.perf_counter() - start:.2f} s")
    print(f"load average before the floor: {load_average()}")
    floor_seconds, floor_cpu, pages = measure_floor(items, args.processes)
    print(f"floor: painting the same {pages} pages with QPainter alone took {floor_seconds:.2f} s "
          f"on the busiest of {args.processes} processes")
    print(f"ratio export / floor, wall time: {export_seconds / floor_seconds:.2f}")
    print(f"CPU time: export {export_cpu:.1f} s (parent and workers, start-up included), "
          f"floor {floor_cpu:.1f} s (painting only); ratio {export_cpu / floor_cpu:.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: parent {peak:.0f} MiB, largest worker {children:.0f} MiB")
    print(f"load average at the end: {load_average()}")
    workspace.close()
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
