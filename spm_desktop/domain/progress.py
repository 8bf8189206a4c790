"""Progress reporting and cancellation for long domain and service jobs."""

from __future__ import annotations

import threading
from collections.abc import Callable

# Called with (done, total, message); total 0 means the total is not known yet.
ProgressCallback = Callable[[int, int, str], None]


class Cancelled(Exception):
    """Raised inside a job when its cancel token was set; the job's writes roll back."""


class CancelToken:
    """A flag shared between the thread that runs a job and the one that may stop it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


def no_progress(done: int, total: int, message: str) -> None:
    """Progress callback that ignores every report."""
