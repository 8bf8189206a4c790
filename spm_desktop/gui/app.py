"""``spm-desktop [WORKSPACE]``: start the desktop application."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from spm_desktop import APP_NAME, ORG_NAME, __version__
from spm_desktop.logsetup import configure_logging

log = logging.getLogger(__name__)

LEGACY_USER_KEY = "user"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spm-desktop", description=f"{APP_NAME}: start the desktop application.")
    parser.add_argument("workspace", nargs="?", type=Path, help="workspace file to open (.spm)")
    parser.add_argument("--demo", type=Path, metavar="PATH",
                        help="build the demo workspace at PATH if it does not exist, then open it")
    parser.add_argument("--user", help="acting user recorded in the audit trail (default: SPM_USER or the OS login)")
    parser.add_argument("--version", action="version", version=f"spm-desktop {__version__}")
    args = parser.parse_args(argv)
    log_file = configure_logging()

    from PySide6.QtWidgets import QApplication

    from spm_desktop.gui.context import AppContext
    from spm_desktop.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORG_NAME)
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    log.info("starting %s %s, log file %s", APP_NAME, __version__, log_file)

    context = AppContext()
    if context.settings.contains(LEGACY_USER_KEY):
        # Earlier versions saved --user here, so it stuck to every later start.
        log.info("removed the acting user saved by an earlier version from the settings")
        context.settings.remove(LEGACY_USER_KEY)
    window = MainWindow(context, user=args.user)
    window.show()
    if args.demo is not None:
        if args.demo.exists():
            window.open_workspace(args.demo)
        else:
            window.create_demo_workspace(args.demo)
    elif args.workspace is not None:
        window.open_workspace(args.workspace)
    else:
        window.offer_demo_on_first_start()
    quit_after = os.environ.get("SPM_DESKTOP_QUIT_AFTER_MS")
    if quit_after:
        # Smoke tests of the installed bundle start the window and let it close itself.
        from PySide6.QtCore import QTimer

        QTimer.singleShot(int(quit_after), window.close)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
