"""The ``spm`` command: the same services as the GUI, for scripts and schedules.

Exit codes: 0 success, 1 a user error (the message names the file, row, value and
what to do), 2 a usage error. Each command group lives in its own module with a
``register(subparsers)`` function; a command's handler takes the parsed arguments and
returns its exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from sqlalchemy.exc import OperationalError

from spm_desktop import __version__
from spm_desktop.domain.progress import Cancelled
from spm_desktop.logsetup import configure_logging
from spm_desktop.services.errors import SpmError, ValidationError
from spm_desktop.store.workspace import database_error

log = logging.getLogger(__name__)

# Order of the groups in ``spm --help``.
COMMAND_MODULES = (
    "workspace_commands",
    "import_commands",
    "metric_commands",
    "plan_commands",
    "calc_commands",
    "close_commands",
    "statement_commands",
    "signal_commands",
    "review_commands",
    "tieout_commands",
    "demo_commands",
    "settings_commands",
    "audit_commands",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with usage, as argparse does, but to stderr
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="spm",
        description="SPM Desktop on the command line: import, calculate, approve, close and audit a workspace.",
        epilog="The acting user is --user NAME, else the SPM_USER environment variable, else the OS login.",
    )
    parser.add_argument("--version", action="version", version=f"spm {__version__}")
    parser.add_argument("--user", help="acting user recorded in the audit trail (default: SPM_USER or the OS login)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to standard error")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"spm_desktop.cli.{name}")
        module.register(subparsers)
    return parser


def _report_problems(error: ValidationError) -> None:
    for problem in error.problems[:200]:
        print(str(problem), file=sys.stderr)
    if len(error.problems) > 200:
        print(f"... and {len(error.problems) - 200} more problems", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.user is not None and not args.user.strip():
        # An unset variable in a script ("--user $APPROVER") must not approve as the OS login.
        parser.error("--user is empty; give the acting user's name, or leave --user out to use SPM_USER")
    configure_logging(verbose=args.verbose)
    try:
        return int(args.handler(args) or 0)
    except ValidationError as error:
        _report_problems(error)
        print(f"error: {error}", file=sys.stderr)
        return 1
    except SpmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OperationalError as error:
        # Reads do not pass through the write transaction that translates these errors.
        translated = database_error(error, str(getattr(args, "workspace", "the workspace")))
        if translated is None:
            raise
        print(f"error: {translated}", file=sys.stderr)
        return 1
    except OverflowError as error:
        # NOTE: a last resort that cannot name the value. Services should reject numbers too
        # large for the 64-bit integer columns before they reach the database.
        log.error("%s failed: a number is too large to store", args.command, exc_info=error)
        print(f"error: a number is too large to store ({error}); nothing was changed. Check the amounts for a "
              "typing mistake: amounts of up to 14 integer digits can be stored", file=sys.stderr)
        return 1
    except Cancelled:
        print("cancelled; nothing was changed", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; nothing was changed", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
