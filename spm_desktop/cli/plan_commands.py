"""``spm plan load|export|list|diff|show``: comp plans in and out of a workspace."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spm_desktop.cli.common import add_period_argument, add_workspace_argument, open_workspace, write_table
from spm_desktop.services import plan_service
from spm_desktop.services.errors import SpmError
from spm_desktop.store.tables.calc import PLAN_STATUSES


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("plan", help="load, export, list and compare comp plans")
    plan_sub = group.add_subparsers(dest="plan_command", metavar="ACTION")
    plan_sub.required = True

    load = plan_sub.add_parser("load", help="validate a plan.yaml and store it as a new plan version")
    add_workspace_argument(load)
    load.add_argument("file", metavar="PLAN_YAML", type=Path, help="plan document (.yaml)")
    load.add_argument("--reason", help="why this version exists (recorded with the version and in the audit trail)")
    load.add_argument("--draft", action="store_true",
                      help="store the version as a draft, which calculations do not use (default: active)")
    load.set_defaults(handler=_load)

    export = plan_sub.add_parser("export", help="write a stored plan version to a YAML file")
    add_workspace_argument(export)
    export.add_argument("name", metavar="NAME", help="plan name, as in the document's 'plan' key")
    export.add_argument("--version", type=int, help="version number (default: the latest)")
    export.add_argument("-o", "--output", required=True, type=Path, help="output file (.yaml)")
    export.set_defaults(handler=_export)

    listing = plan_sub.add_parser("list", help="list every stored plan version")
    add_workspace_argument(listing)
    listing.set_defaults(handler=_list)

    diff = plan_sub.add_parser("diff", help="show what changed between two versions of a plan")
    add_workspace_argument(diff)
    diff.add_argument("name", metavar="NAME", help="plan name")
    diff.add_argument("old", metavar="V1", type=int, help="older version number")
    diff.add_argument("new", metavar="V2", type=int, help="newer version number")
    diff.set_defaults(handler=_diff)

    status = plan_sub.add_parser("status", help="set a version's status: active, draft or retired")
    add_workspace_argument(status)
    status.add_argument("name", metavar="NAME", help="plan name")
    status.add_argument("version", metavar="VERSION", type=int, help="version number")
    status.add_argument("status", choices=PLAN_STATUSES, help="new status; calculations use active versions only")
    status.add_argument("--reason", required=True, help="why the status changes (recorded in the audit trail)")
    status.set_defaults(handler=_status)

    check = plan_sub.add_parser("check", help="list participants on two active plans on the same date")
    add_workspace_argument(check)
    add_period_argument(check)
    check.set_defaults(handler=_check)

    show = plan_sub.add_parser("show", help="print a plan version in plain language, as a seller would read it")
    add_workspace_argument(show)
    show.add_argument("name", metavar="NAME", help="plan name")
    show.add_argument("--version", type=int, help="version number (default: the latest)")
    show.set_defaults(handler=_show)


def _read_document(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpmError(f"plan file {path} not found; check the path") from None
    except UnicodeDecodeError as error:
        raise SpmError(f"plan file {path} is not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    except OSError as error:
        raise SpmError(f"cannot read plan file {path}: {error.strerror}") from None


def _load(args: argparse.Namespace) -> int:
    text = _read_document(args.file)
    status = "draft" if args.draft else "active"
    with open_workspace(args) as workspace:
        outcome = plan_service.load(workspace, text, source=args.file.name, reason=args.reason, status=status)
    for warning in outcome.warnings:
        print(str(warning), file=sys.stderr)
    stored = outcome.plan
    if outcome.created:
        print(f"stored plan {stored.name!r} version {stored.version} ({stored.status}, "
              f"effective {stored.effective_from.isoformat()} to {_date_text(stored.effective_to)})")
    else:
        print(f"plan {stored.name!r} version {stored.version} is already stored with this content; nothing changed")
    return 0


def _date_text(value: object) -> str:
    return value.isoformat() if value is not None else "open end"  # type: ignore[attr-defined]


def _export(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        found = plan_service.export(workspace, args.name, args.output, args.version)
    print(f"wrote plan {found.name!r} version {found.version} to {args.output}")
    return 0


def _list(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        versions = plan_service.list_plans(workspace)
    if not versions:
        print("no plans stored; load one with 'spm plan load WS plan.yaml'")
        return 0
    header = ("plan", "version", "status", "period", "currency", "effective_from", "effective_to", "author",
              "created_at", "reason")
    rows = [(v.name, v.version, v.status, v.period_kind, v.currency, v.effective_from.isoformat(),
             _date_text(v.effective_to), v.author, v.created_at[:19], v.reason or "") for v in versions]
    write_table(header, rows)
    return 0


def _diff(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        changes = plan_service.diff(workspace, args.name, args.old, args.new)
    if not changes:
        print(f"versions {args.old} and {args.new} of {args.name!r} calculate the same")
        return 0
    for change in changes:
        print(change)
    return 0


def _show(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        print(plan_service.describe(workspace, args.name, args.version))
    return 0


def _status(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        changed = plan_service.set_status(workspace, args.name, args.version, args.status, reason=args.reason)
    print(f"plan {changed.name!r} version {changed.version} is {changed.status}")
    return 0


def _check(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        problems = plan_service.period_assignment_problems(workspace, args.period)
    for problem in problems:
        print(str(problem), file=sys.stderr)
    if problems:
        print(f"{len(problems)} assignment conflicts in {args.period}; narrow the plans' participants or dates",
              file=sys.stderr)
        return 1
    print(f"every participant is on at most one plan per date in {args.period}")
    return 0
