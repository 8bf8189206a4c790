"""User-facing errors raised by services.

Every class carries a message that names the value and states what to do. The GUI turns
them into one dialog (``gui.errors``) and the command line into exit code 1.
"""

from __future__ import annotations

from spm_desktop.domain.problems import Problem


class SpmError(Exception):
    """An error the user can act on; the message is shown as it is."""


class WorkspaceError(SpmError):
    """The workspace file cannot be created, opened or upgraded."""


class NotAWorkspaceError(WorkspaceError):
    """The file exists but is not an SPM Desktop workspace (or is damaged)."""


class NewerSchemaError(WorkspaceError):
    """The workspace was written by a newer version of SPM Desktop."""


class NotFoundError(SpmError):
    """A named object (participant, plan, metric, period, run) does not exist."""


class ValidationError(SpmError):
    """Input was rejected; ``problems`` lists every reason."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class PermissionDeniedError(SpmError):
    """The acting user may not do this, for example approve their own calculation."""


class PeriodLockedError(SpmError):
    """The period is closed; the message explains how to make the change instead."""


class ConflictError(SpmError):
    """The request conflicts with the workspace's state (a stale edit, a second plan)."""
