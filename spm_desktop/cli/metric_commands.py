"""``spm metrics``: load, export, list, evaluate, compare and adopt metric definitions."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from pathlib import Path

from spm_desktop.cli.common import (
    add_format_argument,
    add_period_argument,
    add_workspace_argument,
    open_workspace,
    progress_bar,
    write_csv,
    write_table,
)
from spm_desktop.domain.money import round_half_up
from spm_desktop.domain.problems import Problem
from spm_desktop.domain.reconcile import Reconciliation
from spm_desktop.services import metric_service

# Differing records printed by the table format of ``compare``; the .xlsx export has them all.
SHOWN_RECORDS = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("metrics", help="governed metric definitions: load, export, compare, adopt")
    actions = group.add_subparsers(dest="metrics_command", metavar="ACTION")
    actions.required = True

    load = actions.add_parser("load", help="load a metrics.yaml file (all definitions or none)")
    add_workspace_argument(load)
    load.add_argument("file", type=Path, help="metrics.yaml to load")
    load.add_argument("--reason", help="why the definitions change (default: 'loaded from FILE')")
    load.set_defaults(handler=_load)

    export = actions.add_parser("export", help="write the current definitions to a metrics.yaml file")
    add_workspace_argument(export)
    export.add_argument("-o", "--output", required=True, type=Path, help="output .yaml file")
    export.set_defaults(handler=_export)

    listing = actions.add_parser("list", help="list the current definitions and the catalog's flags")
    add_workspace_argument(listing)
    add_format_argument(listing)
    listing.set_defaults(handler=_list)

    value = actions.add_parser("value", help="evaluate a metric per participant for a period")
    add_workspace_argument(value)
    value.add_argument("key", metavar="KEY", help="metric key, or KEY@VERSION")
    add_period_argument(value)
    add_format_argument(value)
    value.set_defaults(handler=_value)

    compare = actions.add_parser("compare", help="compare two definitions on the same records for a period")
    add_workspace_argument(compare)
    compare.add_argument("key_a", metavar="KEY_A", help="first metric key, or KEY@VERSION")
    compare.add_argument("key_b", metavar="KEY_B", help="second metric key, or KEY@VERSION")
    add_period_argument(compare)
    add_format_argument(compare)
    compare.add_argument("-o", "--output", type=Path, help="also write the full comparison to this .xlsx file")
    compare.set_defaults(handler=_compare)

    adopt = actions.add_parser("adopt", help="approve one definition over another, with a reason")
    add_workspace_argument(adopt)
    adopt.add_argument("key", metavar="KEY", help="metric to approve")
    adopt.add_argument("--over", required=True, metavar="OTHER", help="competing metric to retire (or rename)")
    adopt.add_argument("--reason", required=True, help="why KEY is adopted; recorded in the catalog and audit trail")
    adopt.add_argument("--rename-to", metavar="NAME",
                       help="keep OTHER as a supporting metric under this name instead of retiring it")
    adopt.set_defaults(handler=_adopt)

    status = actions.add_parser("status", help="set a metric's status: draft, approved or retired")
    add_workspace_argument(status)
    status.add_argument("key", metavar="KEY")
    status.add_argument("status", choices=("draft", "approved", "retired"))
    status.add_argument("--reason", required=True, help="why the status changes")
    status.set_defaults(handler=_status)

    history = actions.add_parser("history", help="list the versions of a metric, newest first")
    add_workspace_argument(history)
    history.add_argument("key", metavar="KEY")
    history.set_defaults(handler=_history)


def _load(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        summary = metric_service.load_yaml_file(workspace, args.file, reason=args.reason)
    for problem in summary.warnings:
        print(str(problem), file=sys.stderr)
    print(f"loaded {args.file.name}: {len(summary.created)} created, {len(summary.changed)} changed, "
          f"{len(summary.status_changed)} status changed, {len(summary.unchanged)} unchanged")
    return 0


def _export(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        text = metric_service.export_yaml(workspace, args.output)
    count = text.count("\n  - key:")
    print(f"wrote {count} metric definitions to {args.output}")
    return 0


def _list(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        summaries = metric_service.list_metrics(workspace)
        flags = metric_service.proliferation_flags(workspace)
    header = ("key", "version", "status", "tier", "owner", "name", "unit", "filter", "value")
    rows = [(d.key, d.version, d.status, d.tier, d.owner, d.name, d.unit, d.filter, d.value)
            for d in (summary.definition for summary in summaries)]
    if args.format == "csv":
        write_csv(header, rows)
    else:
        write_table(header, rows)
    for flag in flags:
        print(f"flag {flag.code}: {flag.message}", file=sys.stderr)
    return 0


def _plain(value: object, unit: str = "") -> str:
    """Format a metric value for files: money with two decimals, whole counts as integers, no separators."""
    if not isinstance(value, Decimal):
        return "" if value is None else str(value)
    if unit == "currency" or (unit == "count" and value != value.to_integral_value()):
        return f"{round_half_up(value, 2):f}"
    if value == value.to_integral_value():
        return f"{value.quantize(Decimal(1)):f}"
    return f"{value.normalize():f}"


def _report_date_problems(problems: list[Problem]) -> int:
    """Print the records left out for an unusable date; return exit code 1 when there are any."""
    for problem in problems:
        print(str(problem), file=sys.stderr)
    if not problems:
        return 0
    print(f"error: {len(problems)} record(s) with a date outside the usable years were left out, so the values "
          "above are incomplete; correct the dates and re-import", file=sys.stderr)
    return 1


def _value(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace, progress_bar("Evaluating") as progress:
        values = metric_service.evaluate(workspace, args.key, args.period, progress=progress)
        problems = metric_service.date_problems(workspace, [values.definition.source])
    header = ("participant_id", "value", "records")
    unit = values.definition.unit
    rows = [(row.participant_id, _plain(row.value, unit), row.records) for row in values.per_participant.itertuples()]
    rows.append(("TOTAL", _plain(values.total, unit), values.records))
    if args.format == "csv":
        write_csv(header, rows)
    else:
        print(f"{values.definition.key}@{values.definition.version} in {values.period.label}")
        write_table(header, rows)
    return _report_date_problems(problems)


def _compare(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace, progress_bar("Comparing") as progress:
        result = metric_service.compare(workspace, args.key_a, args.key_b, args.period, progress=progress)
        if args.output is not None:
            metric_service.export_comparison(workspace, result, args.output)
        problems = metric_service.date_problems(workspace, [result.a.source, result.b.source])
    header = ("participant_id", result.label_a, result.label_b, "difference")
    unit = result.a.unit
    rows = [(row.participant_id, _plain(row.value_a, unit), _plain(row.value_b, unit), _plain(row.difference, unit))
            for row in result.participants.itertuples()]
    rows.append(("TOTAL", _plain(result.total_a, unit), _plain(result.total_b, unit), _plain(result.difference, unit)))
    if args.format == "csv":
        write_csv(header, rows)
    else:
        _print_comparison(result, header, rows)
    if args.output is not None:
        print(f"wrote the comparison to {args.output}", file=sys.stderr)
    return _report_date_problems(problems)


def _print_comparison(result: Reconciliation, header: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    print(f"{result.label_a} ({result.a.owner or 'no owner'}) vs {result.label_b} ({result.b.owner or 'no owner'}) "
          f"in {result.period_label}")
    write_table(header, rows)
    if not result.comparable_records:
        print("\nthe two metrics read different record sets, so records are not compared one by one")
        return
    for label, frame in ((result.label_a, result.only_a), (result.label_b, result.only_b)):
        print(f"\n{len(frame)} record(s) counted only by {label}")
        shown = [(row.deal_id, row.owner, row.date, _plain(row.value, result.a.unit), row.reason)
                 for row in frame.head(SHOWN_RECORDS).itertuples()]
        if shown:
            write_table(("deal_id", "owner", "date", "value", "why the other excludes it"), shown)
        if len(frame) > SHOWN_RECORDS:
            print(f"(showing the first {SHOWN_RECORDS} of {len(frame)}; write all of them to a workbook "
                  "with -o FILE.xlsx)")
    print(f"\n{len(result.changed)} record(s) counted by both with different values")


def _adopt(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        metric_service.adopt(workspace, args.key, args.over, reason=args.reason, rename_to=args.rename_to)
        with workspace.read() as connection:
            still_used = sorted(metric_service.plan_metric_uses(connection).get(args.over, set()))
    outcome = f"renamed to {args.rename_to!r}" if args.rename_to else "retired"
    print(f"adopted {args.key}; {args.over} {outcome}")
    if still_used and not args.rename_to:
        # Calculations keep using the retired definition until the plans name the adopted one.
        print(f"warning: plan {', '.join(still_used)} still pays on {args.over}; load a new plan version that "
              f"names {args.key} (spm plan export, edit, spm plan load)", file=sys.stderr)
    return 0


def _status(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        definition = metric_service.set_status(workspace, args.key, args.status, reason=args.reason)
    print(f"{definition.key}@{definition.version} is {definition.status}")
    return 0


def _history(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        versions = metric_service.history(workspace, args.key)
    rows = [(info.definition.version, info.created_at[:19], info.author, info.reason or "", info.definition.filter,
             info.definition.value) for info in versions]
    write_table(("version", "saved_at", "author", "reason", "filter", "value"), rows)
    return 0
