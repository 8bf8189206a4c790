"""The one place that turns exceptions into dialogs."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QMessageBox, QWidget

from spm_desktop.domain.progress import Cancelled
from spm_desktop.services.errors import SpmError, ValidationError

log = logging.getLogger(__name__)

MAX_PROBLEMS_SHOWN = 30


def describe(error: BaseException) -> tuple[str, str]:
    """Return (summary, details) for an exception, as the user should read them."""
    if isinstance(error, ValidationError):
        lines = [str(problem) for problem in error.problems[:MAX_PROBLEMS_SHOWN]]
        if len(error.problems) > MAX_PROBLEMS_SHOWN:
            lines.append(f"... and {len(error.problems) - MAX_PROBLEMS_SHOWN} more")
        return str(error), "\n".join(lines)
    if isinstance(error, SpmError):
        return str(error), ""
    if isinstance(error, Cancelled):
        return "The operation was cancelled; nothing was changed.", ""
    return (
        f"An unexpected error occurred: {type(error).__name__}: {error}",
        "The details are in the log file (Help > Open log folder). Nothing was changed.",
    )


def show_error(parent: QWidget | None, error: BaseException, title: str = "SPM Desktop") -> QMessageBox:
    """Show an error dialog (non-blocking) and return it, so tests can read and close it."""
    if not isinstance(error, (SpmError, Cancelled)):
        log.error("unexpected error", exc_info=error)
    summary, details = describe(error)
    box = QMessageBox(QMessageBox.Icon.Warning if isinstance(error, SpmError) else QMessageBox.Icon.Critical,
                      title, summary, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorDialog")
    if details:
        box.setDetailedText(details)
    box.setModal(True)
    box.open()
    return box
