"""``spm audit verify`` and ``spm audit export``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spm_desktop.cli.common import add_workspace_argument, open_workspace, progress_bar
from spm_desktop.services import audit_service


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("audit", help="verify or export the audit trail")
    audit_sub = group.add_subparsers(dest="audit_command", metavar="ACTION")
    audit_sub.required = True

    verify = audit_sub.add_parser("verify", help="check the audit hash chain and every stored result and statement")
    add_workspace_argument(verify)
    verify.set_defaults(handler=_verify)

    export = audit_sub.add_parser("export", help="write the audit trail to .xlsx or .csv")
    add_workspace_argument(export)
    export.add_argument("-o", "--output", required=True, type=Path, help="output file, .xlsx or .csv")
    export.set_defaults(handler=_export)


def _verify(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace, progress_bar("Verifying") as progress:
        report = audit_service.verify(workspace, progress)
    if report.chain_break is not None:
        print(f"FAILED: {report.chain_break}", file=sys.stderr)
    for problem in report.content_problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    if not report.ok:
        print(f"{report.entries} entries intact before the first break; restore the workspace from a backup "
              "and compare it with this file to find the change", file=sys.stderr)
        return 1
    print(f"OK: {report.entries} audit entries verified; head {report.head or 'none'}")
    return 0


def _export(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        count = audit_service.export(workspace, args.output)
    print(f"wrote {count} audit entries to {args.output}")
    return 0
