"""Benchmark `spm import` of generated deals files against a floor measured in the same run.

The floor is the least any importer must do: read the cells (python-calamine for
.xlsx, the csv module for .csv) and insert the same rows with raw sqlite3 executemany
into a fresh table in one transaction. Each measurement runs in its own process, so
peak RSS (ru_maxrss) belongs to that step alone. Both wall-clock and CPU seconds
(time.process_time) are printed with their ratios, because on a shared machine the CPU
ratio moves less than the wall-clock one. The load average is printed before each file.

Floor and import run in turn ``--repeat`` times per file. The table gives the least
time of each (with the largest peak memory), and the ratio of each floor-import pair,
sorted, so the spread the machine adds is visible.

    python bench/import.py --rows 200000 1000000 --formats csv xlsx --repeat 3

Generated files are kept in bench/out/ (ignored by git) and reused by later runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
HEADER = ["deal_id", "line_id", "owner", "amount", "currency", "close_date", "created_date", "stage", "product",
          "customer", "type", "quantity"]
STAGES = ["Won", "Lost", "Engaging", "Prospecting"]
PRODUCTS = ["GTX Basic", "GTX Pro", "MG Special", "MG Advanced", "GTX Plus Pro", "GTX Plus Basic", "GTK 500"]


def _rows(count: int):
    generator = random.Random(7)
    start = dt.date(2016, 1, 1)
    for index in range(count):
        closed = start + dt.timedelta(days=generator.randrange(1460))
        created = closed - dt.timedelta(days=generator.randrange(1, 120))
        yield [f"D{index:08d}", str(index % 3 + 1), f"rep{generator.randrange(400):03d}",
               round(generator.uniform(10, 50_000), 2), "USD", closed, created, generator.choice(STAGES),
               generator.choice(PRODUCTS), f"Account {generator.randrange(5000)}", "sale", generator.randrange(1, 20)]


def generate(count: int, fmt: str) -> Path:
    path = OUT / f"deals_{count}.{fmt}"
    if path.exists():
        return path
    OUT.mkdir(exist_ok=True)
    started = time.perf_counter()
    if fmt == "csv":
        import csv

        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            for row in _rows(count):
                writer.writerow([value.isoformat() if isinstance(value, dt.date) else value for value in row])
    else:
        import xlsxwriter

        workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        sheet = workbook.add_worksheet("Deals")
        date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
        sheet.write_row(0, 0, HEADER)
        for number, row in enumerate(_rows(count), start=1):
            for column, value in enumerate(row):
                if isinstance(value, dt.date):
                    sheet.write_datetime(number, column, dt.datetime(value.year, value.month, value.day), date_format)
                else:
                    sheet.write(number, column, value)
        workbook.close()
    print(f"generated {path.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


FLOOR = r"""
import csv, json, resource, sqlite3, sys, time
from pathlib import Path
path, database = Path(sys.argv[1]), sys.argv[2]
started = time.perf_counter()
cpu_started = time.process_time()
if path.suffix == ".csv":
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
else:
    import python_calamine
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    rows = list(workbook.get_sheet_by_index(0).iter_rows())
rows = rows[1:]
read = time.perf_counter() - started
connection = sqlite3.connect(database, isolation_level=None)
connection.execute("PRAGMA journal_mode = WAL")
connection.execute("PRAGMA synchronous = NORMAL")
width = len(rows[0])
connection.execute("CREATE TABLE deals (id INTEGER PRIMARY KEY, " + ", ".join(f"c{i}" for i in range(width)) + ")")
connection.execute("BEGIN")
connection.executemany("INSERT INTO deals (" + ", ".join(f"c{i}" for i in range(width)) + ") VALUES ("
                       + ", ".join("?" for _ in range(width)) + ")", rows)
connection.execute("COMMIT")
total = time.perf_counter() - started
print(json.dumps({"seconds": total, "cpu_seconds": time.process_time() - cpu_started, "read_seconds": read,
                  "rows": len(rows), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

IMPORT = r"""
import json, resource, sys, time
from spm_desktop.services import import_service
from spm_desktop.services.context import Workspace
path, database = sys.argv[1], sys.argv[2]
workspace = Workspace.create(database, "bench")
started = time.perf_counter()
cpu_started = time.process_time()
preview = import_service.preview(workspace, "deals", path)
checked = time.perf_counter() - started
checked_cpu = time.process_time() - cpu_started
result = import_service.commit(workspace, preview)
total = time.perf_counter() - started
print(json.dumps({"seconds": total, "cpu_seconds": time.process_time() - cpu_started, "preview_seconds": checked,
                  "preview_cpu_seconds": checked_cpu, "rows": result.counts.added,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(script: str, path: Path, database: Path) -> dict:
    for leftover in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        leftover.unlink(missing_ok=True)
    completed = subprocess.run([sys.executable, "-c", script, str(path), str(database)], capture_output=True,
                               text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--formats", nargs="+", default=["csv", "xlsx"], choices=["csv", "xlsx"])
    parser.add_argument("--repeat", type=int, default=3,
                        help="floor and import runs per file, taken in turn (default 3)")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    print("| file | rows | load avg | floor s | floor CPU s | floor MB | import s | import CPU s | "
          "of which preview s (CPU) | import MB | import / floor | CPU import / floor | pair ratios |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for count in args.rows:
        for fmt in args.formats:
            path = generate(count, fmt)
            load = os.getloadavg()[0]
            floors, imports = [], []
            for _ in range(max(1, args.repeat)):
                floors.append(_run(FLOOR, path, OUT / "import-floor.sqlite"))
                imports.append(_run(IMPORT, path, OUT / "import-bench.spm"))
            floor = _least(floors)
            spm = _least(imports)
            pairs = sorted(each["seconds"] / other["seconds"] for each, other in zip(imports, floors, strict=True))
            print(f"| {path.name} | {spm['rows']:,} | {load:.1f} | {floor['seconds']:.1f} | "
                  f"{floor['cpu_seconds']:.1f} | {floor['peak_rss_mb']:.0f} | {spm['seconds']:.1f} | "
                  f"{spm['cpu_seconds']:.1f} | {spm['preview_seconds']:.1f} ({spm['preview_cpu_seconds']:.1f}) | "
                  f"{spm['peak_rss_mb']:.0f} | {spm['seconds'] / floor['seconds']:.2f} | "
                  f"{spm['cpu_seconds'] / floor['cpu_seconds']:.2f} | "
                  f"{' '.join(f'{ratio:.2f}' for ratio in pairs)} |", flush=True)


def _least(runs: list[dict]) -> dict:
    """Return the fastest run's times with the largest peak memory of all runs.

    On a shared machine other work only ever adds time, so the least time of a few runs
    is the steadiest estimate of what a step costs.
    """
    fastest = dict(min(runs, key=lambda run: run["seconds"]))
    fastest["cpu_seconds"] = min(run["cpu_seconds"] for run in runs)
    fastest["peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs)
    return fastest


if __name__ == "__main__":
    main()
