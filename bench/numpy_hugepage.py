"""Time fresh numpy allocations with numpy's transparent hugepage request on and off, each in its own process.

    python bench/numpy_hugepage.py [--arrays 40] [--length 3740000]

Each child process allocates ``--arrays`` int64 arrays of ``--length`` elements, fills
them and keeps them, as the calculation engine does with the columns of its lines frame
(3,740,027 lines at 1,000,000 deals). numpy requests transparent hugepages for
large arrays unless ``NUMPY_MADVISE_HUGEPAGE=0`` is set before numpy is
imported. Whether that helps depends on the kernel: with
``/sys/kernel/mm/transparent_hugepage/defrag`` at ``madvise`` the kernel may compact
memory on each such page fault, which shows as system time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

CHILD = """
import resource, sys, time
import numpy as np
arrays, length = int(sys.argv[1]), int(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF)
started = time.perf_counter()
allocated = [np.ones(length, dtype=np.int64) for _ in range(arrays)]
after = resource.getrusage(resource.RUSAGE_SELF)
print(f"wall {time.perf_counter() - started:.2f} s, user {after.ru_utime - before.ru_utime:.2f} s, "
      f"system {after.ru_stime - before.ru_stime:.2f} s, minor page faults {after.ru_minflt - before.ru_minflt}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arrays", type=int, default=40, help="number of arrays to keep")
    parser.add_argument("--length", type=int, default=3_740_000, help="int64 elements per array")
    arguments = parser.parse_args()
    for setting in ("1", "0"):
        environment = dict(os.environ, NUMPY_MADVISE_HUGEPAGE=setting)
        output = subprocess.run([sys.executable, "-c", CHILD, str(arguments.arrays), str(arguments.length)],
                                env=environment, check=True, capture_output=True, text=True).stdout.strip()
        print(f"NUMPY_MADVISE_HUGEPAGE={setting}: {output}")


if __name__ == "__main__":
    main()
