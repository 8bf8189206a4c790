"""``spm audit verify``, ``spm audit head`` and ``spm audit export``."""

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

    verify = audit_sub.add_parser(
        "verify", help="check the audit hash chain, each entry against the previous one of its entity, and every "
                       "stored result, statement, period, adjustment, metric, setting and record set")
    add_workspace_argument(verify)
    verify.add_argument("--anchor", action="append", default=[], type=_anchors, metavar="ENTRY:HASH",
                        help="an entry number and hash that 'spm audit head' printed earlier and you kept outside "
                             "the workspace; verify fails when that entry no longer has that hash (repeatable)")
    verify.set_defaults(handler=_verify)

    head = audit_sub.add_parser("head", help="print the newest audit entry as ENTRY:HASH, to keep outside the "
                                             "workspace as an anchor for 'spm audit verify --anchor'")
    add_workspace_argument(head)
    head.set_defaults(handler=_head)

    export = audit_sub.add_parser("export", help="write the audit trail to .xlsx or .csv")
    add_workspace_argument(export)
    export.add_argument("-o", "--output", required=True, type=Path, help="output file, .xlsx or .csv")
    export.set_defaults(handler=_export)


def _anchors(text: str) -> tuple[object, ...]:
    try:
        return audit_service.parse_anchors(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _verify(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace, progress_bar("Verifying") as progress:
        anchors = tuple(anchor for group in args.anchor for anchor in group)
        report = audit_service.verify(workspace, progress, anchors=anchors)
    for problem in report.problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    if not report.ok:
        if report.chain_break is not None:
            print(f"{report.entries} entries are intact before the first break.", file=sys.stderr)
        print("Restore the workspace from a backup and compare it with this file to find the change.",
              file=sys.stderr)
        return 1
    anchors = f"; {report.anchors_checked} anchors match" if report.anchors_checked else ""
    keyed = "" if report.keyed_through is None else f"; the audit key covers entries up to {report.keyed_through}"
    print(f"OK: {report.entries} audit entries verified{anchors}{keyed}; head {report.head or 'none'}")
    return 0


def _head(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        newest = audit_service.head(workspace)
    if newest is None:
        print("the audit trail is empty", file=sys.stderr)
        return 1
    print(newest)
    print(audit_service.ANCHOR_ADVICE, file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        count = audit_service.export(workspace, args.output)
    print(f"wrote {count} audit entries to {args.output}")
    return 0
