"""Bundle entry point of the desktop application."""

import multiprocessing
import sys

if __name__ == "__main__":
    # Statement export workers are spawned copies of this executable: freeze_support runs
    # the worker and exits in them, before the application is imported.
    multiprocessing.freeze_support()

    from spm_desktop.gui.app import main

    sys.exit(main())
