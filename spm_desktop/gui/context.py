"""Application context shared by all areas: the open workspace and background operations.

There is one way to run background work. ``AppContext.run`` hands a service call to a
worker thread with a progress dialog and a Cancel button, and delivers the result to a
success callback on the GUI thread. Every failure is shown through ``gui.errors``, and
the names of what changed are announced so only the affected views refresh.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QSettings, Qt, QThreadPool, QTimer, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

from spm_desktop.domain.progress import Cancelled, CancelToken
from spm_desktop.gui import errors
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import SpmError

log = logging.getLogger(__name__)


class _WorkerSignals(QObject):
    progress = Signal(int, int, str)
    succeeded = Signal(object)
    failed = Signal(object)


class _Worker(QRunnable):
    def __init__(self, fn: Callable[..., Any], args: tuple, token: CancelToken) -> None:
        super().__init__()
        self.fn = fn
        self.args = args
        self.token = token
        self.signals = _WorkerSignals()

    def run(self) -> None:
        def report(done: int, total: int, message: str) -> None:
            self.token.raise_if_cancelled()
            self.signals.progress.emit(done, total, message)

        try:
            result = self.fn(*self.args, progress=report, cancel=self.token)
        except BaseException as error:  # every failure must reach the user
            error.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            self.signals.failed.emit(error)
        else:
            self.signals.succeeded.emit(result)


class Operation(QObject):
    """A running background operation; ``finished`` fires after its callbacks ran."""

    finished = Signal(bool)

    def __init__(self, title: str, token: CancelToken) -> None:
        super().__init__()
        self.title = title
        self.token = token
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False

    def cancel(self) -> None:
        self.token.cancel()


class AppContext(QObject):
    workspace_changed = Signal(object)
    data_changed = Signal(object)
    status_message = Signal(str)

    # Delay before the progress dialog appears, so quick operations do not flash it.
    PROGRESS_DELAY_MS = 400

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.workspace: Workspace | None = None
        self.settings = settings or QSettings()
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(2)
        self._running: list[Operation] = []
        self.last_error: BaseException | None = None
        self.last_error_dialog = None

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def set_workspace(self, workspace: Workspace | None) -> None:
        if self.workspace is not None and self.workspace is not workspace:
            self.workspace.close()
        self.workspace = workspace
        self.workspace_changed.emit(workspace)

    def notify_changed(self, changes: Iterable[str]) -> None:
        changed = frozenset(changes)
        if changed:
            self.data_changed.emit(changed)

    def run(self, title: str, fn: Callable[..., Any], *args: Any,
            on_success: Callable[[Any], None] | None = None,
            on_failure: Callable[[BaseException], None] | None = None,
            changes: Iterable[str] = (), parent: QWidget | None = None, show_progress: bool = True) -> Operation:
        """Run ``fn(*args, progress=..., cancel=...)`` in a worker thread."""
        token = CancelToken()
        operation = Operation(title, token)
        worker = _Worker(fn, args, token)
        dialog = self._progress_dialog(title, operation, parent) if show_progress else None
        changed = frozenset(changes)

        def on_progress(done: int, total: int, message: str) -> None:
            if dialog is None:
                return
            dialog.setMaximum(max(total, 0))
            dialog.setValue(min(done, total) if total else 0)
            if message:
                dialog.setLabelText(f"{title}\n{message}")

        def finish(ok: bool) -> None:
            operation.done = True
            if dialog is not None:
                dialog.reset()
                dialog.deleteLater()
            if operation in self._running:
                self._running.remove(operation)
            operation.finished.emit(ok)

        def succeeded(result: Any) -> None:
            operation.result = result
            try:
                if on_success is not None:
                    on_success(result)
                self.notify_changed(changed)
            except Exception as error:  # a failing view update must still be reported
                log.exception("after %s", title)
                self._report(error, parent)
            finish(True)

        def failed(error: BaseException) -> None:
            operation.error = error
            if isinstance(error, SpmError):
                # A user error (a period not calculated yet, a rejected file) is not a fault of the program.
                log.info("%s failed: %s", title, error)
            elif not isinstance(error, Cancelled):
                log.error("%s failed: %s\n%s", title, error, getattr(error, "__traceback_text__", ""))
            if on_failure is not None:
                on_failure(error)
            else:
                self._report(error, parent)
            finish(False)

        worker.signals.progress.connect(on_progress, Qt.ConnectionType.QueuedConnection)
        worker.signals.succeeded.connect(succeeded, Qt.ConnectionType.QueuedConnection)
        worker.signals.failed.connect(failed, Qt.ConnectionType.QueuedConnection)
        # The signals object must outlive the runnable, which Qt deletes after run().
        operation._signals = worker.signals  # type: ignore[attr-defined]
        self._running.append(operation)
        self.pool.start(worker)
        return operation

    def _report(self, error: BaseException, parent: QWidget | None) -> None:
        self.last_error = error
        if isinstance(error, Cancelled):
            self.status_message.emit("Cancelled; nothing was changed.")
            return
        self.last_error_dialog = errors.show_error(parent, error)

    def _progress_dialog(self, title: str, operation: Operation, parent: QWidget | None) -> QProgressDialog:
        dialog = QProgressDialog(title, "Cancel", 0, 0, parent)
        dialog.setObjectName("progressDialog")
        dialog.setWindowTitle(title)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(self.PROGRESS_DELAY_MS)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(operation.cancel)
        return dialog

    def wait_for(self, operation: Operation, timeout_ms: int = 60_000) -> bool:
        """Block (processing events) until an operation finished; for scripts and tests."""
        from PySide6.QtCore import QCoreApplication, QElapsedTimer

        timer = QElapsedTimer()
        timer.start()
        while not operation.done and timer.elapsed() < timeout_ms:
            QCoreApplication.processEvents()
            self.pool.waitForDone(10)
        QCoreApplication.processEvents()
        return operation.done

    @Slot()
    def shutdown(self) -> None:
        for operation in list(self._running):
            operation.cancel()
        self.pool.waitForDone(5000)
        QTimer.singleShot(0, lambda: None)
