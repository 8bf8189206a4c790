"""Bundle entry point of the desktop application."""

import sys

from spm_desktop.gui.app import main

sys.exit(main())
