"""Bundle entry point of the ``spm`` command line."""

import sys

from spm_desktop.cli import main

sys.exit(main())
