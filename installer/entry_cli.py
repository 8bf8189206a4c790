"""Bundle entry point of the ``spm`` command line."""

import multiprocessing
import sys

if __name__ == "__main__":
    # Statement export workers are spawned copies of this executable: freeze_support runs
    # the worker and exits in them, before the application is imported.
    multiprocessing.freeze_support()

    from spm_desktop.cli import main

    sys.exit(main())
