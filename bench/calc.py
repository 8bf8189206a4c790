"""Benchmark the calculation engine on generated data, and the same tiers as spreadsheet formulas.

    python bench/calc.py engine [--participants 5000] [--deals 1000000]
    python bench/calc.py spreadsheet --participants 250 --deals 50000 [--workdir /tmp/calc-bench]

``engine`` builds the frames in memory (not timed), runs ``calculate`` for one quarter
with four tiered components and splits on 10% of deals, and prints wall and CPU seconds
(user and system), minor page faults and the peak RSS of the process. It also prints the
load average, the CPU seconds of a fixed pure-Python loop (the machine's speed at that
moment) and whether numpy requests for transparent hugepages, because on a
machine whose kernel compacts memory for them on demand that alone can add seconds of
system time; ``NUMPY_MADVISE_HUGEPAGE=0`` in the environment switches numpy's request off.
With ``--tracemalloc`` it also prints the peak of memory that Python and numpy allocate during
the engine (above what the inputs hold) and what the result still holds afterwards. Tracing
makes the engine several times slower, so its times are not comparable.
``spreadsheet`` writes two of those components as SUMIFS and marginal-tier formulas with
xlsxwriter, has LibreOffice (soffice, headless) recalculate and save the workbook, and
compares time and totals with the engine on the same deals.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from decimal import Decimal

# isort: off
import spm_desktop  # noqa: F401  (first: it sets numpy's memory options as the application does)
import numpy as np
import pandas as pd
# isort: on

from spm_desktop.domain.engine import CalculationInputs, calculate
from spm_desktop.domain.metrics import MetricDefinition, compile_metric
from spm_desktop.domain.plans import load_plan

PLAN = """
plan: Bench
version: 1
effective_from: 2024-01-01
currency: USD
period: quarter
participants: {role: Rep}
components:
  - name: Bookings marginal
    type: commission
    metric: bookings
    quota: bookings
    tiers:
      method: marginal
      by: attainment
      bands: [{from: 0, rate: 0.03}, {from: 0.5, rate: 0.06}, {from: 1.0, rate: 0.09}, {from: 1.5, rate: 0.12}]
  - name: Bookings retroactive
    type: commission
    metric: bookings
    tiers:
      method: retroactive
      by: amount
      bands: [{from: 0, rate: 0.01}, {from: 100000, rate: 0.015}, {from: 250000, rate: 0.02}]
  - name: Hardware marginal
    type: commission
    metric: hardware
    tiers:
      method: marginal
      by: amount
      bands: [{from: 0, rate: 0.02}, {from: 50000, rate: 0.04}, {from: 150000, rate: 0.05}]
  - name: Large deals
    type: commission
    metric: bookings
    tiers:
      method: retroactive
      by: amount
      grain: deal
      bands: [{from: 0, rate: 0}, {from: 2000, rate: 0.005}, {from: 5000, rate: 0.01}]
"""


def build_frames(participants: int, deal_count: int, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Generate participants, deals (10% split between two people), quotas for 2024-Q1."""
    rng = np.random.default_rng(seed)
    ids = [f"P{index:05d}" for index in range(participants)]
    people = pd.DataFrame({"participant_id": ids, "name": [f"Seller {index}" for index in range(participants)],
                           "role": "Rep"})
    owners = rng.integers(0, participants, deal_count)
    amounts = rng.integers(1_000_000, 100_000_000, deal_count)  # 100.00 to 10,000.00 in 1/10,000
    days = rng.integers(0, 91, deal_count)
    deals = pd.DataFrame({
        "deal_id": [f"D{index:07d}" for index in range(deal_count)],
        "line_id": None,
        "owner": np.array(ids, dtype=object)[owners],
        "amount": pd.array(amounts, dtype="Int64"),
        "currency": "USD",
        "close_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D"),
        "stage": "Won",
        "product": np.where(rng.random(deal_count) < 0.4, "Hardware", "Software"),
        "type": "sale",
        "reference_deal_id": None,
    })

    split_rows = rng.choice(deal_count, deal_count // 10, replace=False)
    # The partner is never the owner, so every split row pair adds up to 100%.
    partners = (owners[split_rows] + 1 + rng.integers(0, participants - 1, len(split_rows))) % participants
    first = deals["owner"].to_numpy()[split_rows]
    second = np.array(ids, dtype=object)[partners]
    half = Decimal("0.5")
    splits = pd.DataFrame({
        "deal_id": np.concatenate([deals["deal_id"].to_numpy()[split_rows]] * 2),
        "participant_id": np.concatenate([first, second]),
        "share": [half] * (2 * len(split_rows)),
        "kind": "split",
    })

    quotas = pd.DataFrame({"participant_id": ids, "quota_key": "bookings", "period": "2024-Q1",
                           "amount": pd.array([int(deal_count / participants * 5_000 * 10_000)] * participants,
                                              dtype="Int64")})
    return {"participants": people, "deals": deals, "credit_splits": splits, "quotas": quotas}


def metrics() -> dict[str, object]:
    bookings = MetricDefinition(key="bookings", name="Bookings", value="sum(amount)", filter='stage == "Won"')
    hardware = MetricDefinition(key="hardware", name="Hardware", value="sum(amount)",
                                filter='stage == "Won" and product == "Hardware"')
    return {"bookings": compile_metric(bookings), "hardware": compile_metric(hardware)}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine_note() -> str:
    """Return the cores, load average and the memory settings that move the engine's system time."""
    import os

    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled", encoding="ascii") as stream:
            hugepages = stream.read().strip()
    except OSError:
        hugepages = "unknown"
    try:
        from numpy._core.multiarray import _get_madvise_hugepage

        numpy_madvise = "on" if _get_madvise_hugepage() else "off"
    except ImportError:
        numpy_madvise = "unknown"
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"cores {os.cpu_count()}, load average {load}, transparent hugepages {hugepages}, "
            f"numpy hugepage madvise {numpy_madvise} (NUMPY_MADVISE_HUGEPAGE), "
            f"reference loop {reference_loop():.2f} s")


def reference_loop() -> float:
    """Return the CPU seconds of a fixed pure-Python loop, to compare machines and moments.

    A virtual machine's speed drifts by a quarter or more within an hour, so a run's engine
    seconds are read together with this figure from the same moment.
    """
    started = time.process_time()
    sum(range(30_000_000))
    return time.process_time() - started


def run_engine(participants: int, deal_count: int, trace: bool = False) -> None:
    print(machine_note())
    started = time.perf_counter()
    frames = build_frames(participants, deal_count)
    built = time.perf_counter() - started
    print(f"frames built in {built:.1f} s (not part of the engine time), peak RSS {peak_rss_mb():.0f} MB")
    inputs = CalculationInputs(period="2024-Q1", plans=[load_plan(PLAN)], metrics=metrics(), **frames)
    if trace:
        tracemalloc.start()
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    cpu_started = time.process_time()
    result = calculate(inputs)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    after = resource.getrusage(resource.RUSAGE_SELF)
    if trace:
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"tracemalloc: engine peak {peak / 2**20:.0f} MiB above the inputs, result holds "
              f"{held / 2**20:.0f} MiB ({held / max(len(result.lines), 1):.0f} bytes per line)")
    total = sum(row.earnings for row in result.rows if row.component == "TOTAL")
    print(f"engine: {participants} participants, {deal_count} deals, {len(result.lines)} lines, "
          f"{len(result.rows)} rows, {len(result.problems)} problems")
    print(f"engine wall seconds {elapsed:.2f}, CPU seconds {cpu:.2f} (user {after.ru_utime - before.ru_utime:.2f}, "
          f"system {after.ru_stime - before.ru_stime:.2f}, minor page faults {after.ru_minflt - before.ru_minflt}), "
          f"peak RSS {peak_rss_mb():.0f} MB, total payout {total}")


def write_workbook(frames: dict[str, pd.DataFrame], path: str) -> None:
    """Write the deals and a results sheet whose commissions are SUMIFS and marginal-tier formulas.

    The results sheet pays the first and third components of the engine plan
    ("Bookings marginal" on owner credit, "Hardware marginal"). Splits are left out on
    both sides of the comparison, because SUMIFS credits each deal to its owner only.
    """
    import xlsxwriter

    deals = frames["deals"]
    people = frames["participants"]["participant_id"].tolist()
    quota = Decimal(int(frames["quotas"]["amount"].iloc[0])) / 10_000
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True})
    sheet = workbook.add_worksheet("Deals")
    sheet.write_row(0, 0, ["deal_id", "owner", "amount", "product"])
    amounts = (deals["amount"].astype("int64") / 10_000).tolist()
    for row, values in enumerate(zip(deals["deal_id"], deals["owner"], amounts, deals["product"], strict=True), 1):
        sheet.write_row(row, 0, values)
    results = workbook.add_worksheet("Results")
    results.write_row(0, 0, ["participant", "bookings", "quota", "marginal", "hardware", "hardware marginal"])
    last = len(deals) + 1
    for index, participant in enumerate(people):
        row, cell = index + 1, index + 2
        results.write(row, 0, participant)
        results.write_formula(row, 1, f"=SUMIFS(Deals!$C$2:$C${last},Deals!$B$2:$B${last},A{cell})")
        results.write(row, 2, float(quota))
        results.write_formula(row, 3, f"=0.03*MIN(B{cell},0.5*C{cell})+0.06*MAX(0,MIN(B{cell},C{cell})-0.5*C{cell})"
                                      f"+0.09*MAX(0,MIN(B{cell},1.5*C{cell})-C{cell})+0.12*MAX(0,B{cell}-1.5*C{cell})")
        results.write_formula(row, 4, f'=SUMIFS(Deals!$C$2:$C${last},Deals!$B$2:$B${last},A{cell},'
                                      f'Deals!$D$2:$D${last},"Hardware")')
        results.write_formula(row, 5, f"=0.02*MIN(E{cell},50000)+0.04*MAX(0,MIN(E{cell},150000)-50000)"
                                      f"+0.05*MAX(0,E{cell}-150000)")
    workbook.close()


# LibreOffice keeps the cached values of an xlsx written by another program unless its
# profile sets recalculation on load; the value 0 means "always recalculate".
_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
</oor:items>
"""


def recalculate(path: str, workdir: str) -> tuple[float, float, float]:
    """Recalculate a workbook with LibreOffice headless; return wall seconds, CPU seconds and peak RSS MB."""
    import os
    import subprocess

    profile = os.path.join(workdir, "profile", "user")
    os.makedirs(profile, exist_ok=True)
    with open(os.path.join(profile, "registrymodifications.xcu"), "w", encoding="utf-8") as stream:
        stream.write(_PROFILE)
    out = os.path.join(workdir, "out")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(["soffice", f"-env:UserInstallation=file://{os.path.dirname(profile)}", "--headless",
                    "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", out, path],
                   check=True, capture_output=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, after.ru_maxrss / 1024


def spreadsheet_totals(path: str) -> tuple[Decimal, Decimal]:
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(path).get_sheet_by_name("Results").to_python()[1:]
    marginal = sum(Decimal(repr(row[3])) for row in rows)
    hardware = sum(Decimal(repr(row[5])) for row in rows)
    return marginal, hardware


def run_spreadsheet(participants: int, deal_count: int, workdir: str) -> None:
    import os

    os.makedirs(workdir, exist_ok=True)
    frames = build_frames(participants, deal_count)
    frames["credit_splits"] = frames["credit_splits"].iloc[0:0]
    path = os.path.join(workdir, "calc-bench.xlsx")
    write_workbook(frames, path)
    elapsed, cpu, rss = recalculate(path, workdir)
    marginal, hardware = spreadsheet_totals(os.path.join(workdir, "out", "calc-bench.xlsx"))
    print(f"spreadsheet: {participants} participants, {deal_count} deals; LibreOffice recalculation and save "
          f"wall seconds {elapsed:.2f}, CPU seconds {cpu:.2f}, peak RSS {rss:.0f} MB")
    print(f"spreadsheet totals: bookings marginal {marginal:.2f}, hardware marginal {hardware:.2f}")

    plan = load_plan(PLAN)
    inputs = CalculationInputs(period="2024-Q1", plans=[plan], metrics=metrics(), **frames)
    started = time.perf_counter()
    cpu_started = time.process_time()
    result = calculate(inputs)
    engine_wall = time.perf_counter() - started
    engine_cpu = time.process_time() - cpu_started
    totals = {name: sum(row.earnings for row in result.rows if row.component == name)
              for name in ("Bookings marginal", "Hardware marginal")}
    print(f"engine on the same data: wall seconds {engine_wall:.2f}, CPU seconds {engine_cpu:.2f}; totals "
          f"bookings marginal {totals['Bookings marginal']}, hardware marginal {totals['Hardware marginal']}")
    print(f"ratio spreadsheet / engine: wall {elapsed / engine_wall:.1f}x, CPU {cpu / engine_cpu:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["engine", "spreadsheet"])
    parser.add_argument("--participants", type=int, default=5000)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--workdir", default="/tmp/calc-bench")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="engine mode: also print the engine's traced peak memory and the memory its result uses")
    arguments = parser.parse_args()
    if arguments.mode == "engine":
        run_engine(arguments.participants, arguments.deals, arguments.tracemalloc)
    else:
        run_spreadsheet(arguments.participants, arguments.deals, arguments.workdir)


if __name__ == "__main__":
    main()
