"""SPM Desktop: sales compensation and performance administration on a local workspace."""

import os

# By default numpy requests transparent huge pages (madvise) for every large array. Where
# the kernel compacts memory to serve them, that cost a million-deal calculation several
# seconds of system time (docs/benchmarks.md), so the application turns the request off
# unless the user chose otherwise. It takes effect only when this package is
# imported before numpy, which is the case for the `spm` and desktop entry points.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

__version__ = "0.1.0"
APP_NAME = "SPM Desktop"
ORG_NAME = "SPM Desktop"
