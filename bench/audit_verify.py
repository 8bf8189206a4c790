"""Benchmark: CPU time of each part of ``spm audit verify`` on one workspace.

Usage: python bench/audit_verify.py [WORKSPACE] [--repeat 3]

Without WORKSPACE it builds the demo workspace in a temporary folder, calculates 2017 and
closes 2017-Q1 to 2017-Q3, as the README's command-line close does. It then times, each
``--repeat`` times in this one process, the hash chain, the continuity walk and every
registered content check, and prints the best CPU seconds (``time.process_time``) of
each, their sum, and the machine it ran on. The records check reads every record set
once, so its share grows with the record count.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build_demo(folder: Path) -> Path:
    from spm_desktop.services import calc_service, close_service, demo_service
    from spm_desktop.services.context import Workspace

    path = folder / "demo.spm"
    demo_service.build_demo(path, user="admin")
    with Workspace.open(path, "admin") as admin:
        calc_service.calculate(admin, "2017")
        finance = admin.as_user("finance")
        for quarter in ("2017-Q1", "2017-Q2", "2017-Q3"):
            close_service.approve(finance, quarter)
            close_service.close(finance, quarter)
    return path


def best_cpu_seconds(step, repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.process_time()
        step()
        timings.append(time.process_time() - started)
    return min(timings)


def machine() -> str:
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout.splitlines()
    total = memory[1].split()[1] if len(memory) > 1 else "unknown"
    return (f"{os.cpu_count()} CPUs, {total} RAM, Python {platform.python_version()}, "
            f"load average {os.getloadavg()[0]:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", nargs="?", type=Path, help="workspace to verify; default: a new demo workspace")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step; the best CPU time is printed")
    args = parser.parse_args()

    from spm_desktop.services import audit_service
    from spm_desktop.services.context import Workspace
    from spm_desktop.store import audit

    with tempfile.TemporaryDirectory() as folder:
        path = args.workspace or build_demo(Path(folder))
        audit_service._load_content_checks()
        with Workspace.open(path, "bench") as workspace, workspace.read() as connection:
            steps = {
                "hash chain": lambda: audit.verify_chain(connection),
                "continuity": lambda: audit.verify_continuity(connection),
            }
            for name, check in sorted(audit_service._content_checks.items()):
                steps[name] = lambda check=check: check(connection)
            entries = audit.verify_chain(connection)[0]
            print(f"machine: {machine()}")
            print(f"workspace: {path} ({entries} audit entries)")
            total = 0.0
            for name, step in steps.items():
                seconds = best_cpu_seconds(step, args.repeat)
                total += seconds
                print(f"{name:32s} {seconds:8.3f} s CPU")
            print(f"{'total':32s} {total:8.3f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
