"""Logging to a size-rotated file in the user log directory."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

from platformdirs import user_log_dir

from spm_desktop import APP_NAME

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s:%(funcName)s:%(lineno)d %(message)s"
MAX_LOG_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 5
_configured = False


def log_directory() -> Path:
    """Return the log folder: SPM_LOG_DIR when set, else the platform's user log folder."""
    override = os.environ.get("SPM_LOG_DIR")
    return Path(override) if override else Path(user_log_dir(APP_NAME, appauthor=False))


def configure_logging(verbose: bool = False) -> Path | None:
    """Send log records to the rotating file (and to stderr when verbose); return the file path."""
    global _configured
    root = logging.getLogger()
    if _configured:
        return None
    _configured = True
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    path: Path | None = log_directory() / "spm-desktop.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
    except OSError:
        # A read-only home folder must not stop the application; log to stderr instead.
        path = None
        handler = logging.StreamHandler()
        handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    if verbose:
        console = logging.StreamHandler()
        console.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(console)
    for noisy in ("matplotlib", "PIL", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
