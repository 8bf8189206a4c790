"""SPM Desktop: sales compensation and performance administration on a local workspace."""

import os

# numpy asks Linux for transparent huge pages on every large array by default. On machines
# where the kernel compacts memory to serve them, that request cost a million-deal
# calculation several seconds of system time (docs/benchmarks.md), so the application
# turns it off unless the user chose otherwise. It takes effect only when this package is
# imported before numpy, which is the case for the `spm` and desktop entry points.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

__version__ = "0.1.0"
APP_NAME = "SPM Desktop"
ORG_NAME = "SPM Desktop"
