"""``spm signals WS --period P`` and the actions ``generate``, ``catalog`` and ``settings``.

All forms share one ``signals`` command. When the first argument is ``generate``,
``catalog`` or ``settings``, the second is the workspace. Otherwise the first argument is the
workspace, so a workspace file named ``generate`` is written ``./generate``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from spm_desktop.cli.common import progress_bar, write_csv, write_json, write_table
from spm_desktop.services import signal_service
from spm_desktop.services.context import Workspace

# Columns of the plain-text table: the full set goes to CSV and JSON.
TABLE_COLUMNS = ("participant_id", "manager_id", "attainment_pace", "pipeline_pace", "activity_index",
                 "conversion_index", "velocity_index", "earnings_pace", "forecast_risk", "diagnosis", "confidence")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "signals",
        help="early performance signals per participant, or generate demo history",
        description="Print early performance signals and a diagnosis per participant for a period; "
                    "'spm signals generate WS' replaces the generated demo stage history and activities; "
                    "'spm signals catalog WS' registers the signal definitions as supporting metrics; "
                    "'spm signals settings WS [--set NAME=VALUE] [--reset NAME]' shows or changes thresholds.",
        epilog="Thresholds are the signals.* workspace settings; see docs/signals.md for each one and its default.",
    )
    parser.add_argument("first", metavar="WS",
                        help="workspace file (.spm), or 'generate', 'catalog' or 'settings' followed by the workspace")
    parser.add_argument("second", nargs="?", metavar="WS", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--period", metavar="P", help="period label: 2017-Q3, 2017-07, 2017 or FY2018-Q1")
    parser.add_argument("--as-of", metavar="YYYY-MM-DD", type=_date,
                        help="day up to which data counts (default: today, or the period's end when it is over)")
    parser.add_argument("--manager", metavar="ID", help="only the participants whose manager_id is ID")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="output format (default table)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated history (default 0)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="assignments",
                        help="with 'settings': store a threshold, such as low_activity=0.6 or segment=manager_id "
                             "(lists as JSON: open_stages='[\"Lead\", \"Demo\"]'); may be repeated")
    parser.add_argument("--reset", action="append", default=[], metavar="NAME",
                        help="with 'settings': go back to the default of NAME; may be repeated")
    parser.set_defaults(handler=_dispatch)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD") from None


def _dispatch(args: argparse.Namespace) -> int:
    if args.first in ACTIONS:
        if args.second is None:
            print(f"spm signals: error: 'spm signals {args.first}' needs the workspace: "
                  f"spm signals {args.first} WS", file=sys.stderr)
            return 2
        return ACTIONS[args.first](args, args.second)
    if args.second is not None:
        print(f"spm signals: error: unexpected argument {args.second}; write 'spm signals generate WS' "
              "or 'spm signals WS --period P'", file=sys.stderr)
        return 2
    if not args.period:
        print("spm signals: error: --period is required, for example --period 2017-Q3", file=sys.stderr)
        return 2
    return _show(args, Path(args.first))


def _show(args: argparse.Namespace, path: Path) -> int:
    with Workspace.open(path, args.user) as workspace, progress_bar("Computing signals") as progress:
        report = signal_service.compute(workspace, args.period, as_of=args.as_of, progress=progress)
    header, rows = signal_service.export_rows(report, manager_id=args.manager)
    for problem in report.problems:
        print(str(problem), file=sys.stderr)
    banner = signal_service.describe_generated(report)
    if banner:
        print(banner, file=sys.stderr)
    if args.format == "csv":
        write_csv(header, rows)
    elif args.format == "json":
        write_json([dict(zip(header, row, strict=True)) for row in rows])
    else:
        positions = [header.index(name) for name in TABLE_COLUMNS]
        write_table(TABLE_COLUMNS, [[row[index] for index in positions] for row in rows])
        print(f"{len(rows)} participants, {report.period.label} as of {report.as_of}")
    return 0


def _generate(args: argparse.Namespace, path: Path) -> int:
    with Workspace.open(path, args.user) as workspace, progress_bar("Generating history") as progress:
        summary = signal_service.generate_history(workspace, args.seed, as_of=args.as_of, progress=progress)
    print(f"generated {summary.stage_rows} stage changes for {summary.deals} deals and {summary.activity_rows} "
          f"activity rows (seed {summary.seed}, as of {summary.as_of}); replaced {summary.replaced_rows} "
          f"generated rows; left {summary.skipped_deals} deals with imported history alone")
    return 0


def _catalog(args: argparse.Namespace, path: Path) -> int:
    with Workspace.open(path, args.user) as workspace:
        created = signal_service.ensure_catalog(workspace)
    if created:
        print(f"registered {len(created)} signal metrics: {', '.join(created)}")
    else:
        print("the metric catalog already holds every signal metric")
    return 0


def _settings(args: argparse.Namespace, path: Path) -> int:
    values = {}
    for assignment in args.assignments:
        name, separator, text = assignment.partition("=")
        if not separator or not name.strip():
            print(f"spm signals: error: --set {assignment!r} is invalid; write NAME=VALUE, such as low_activity=0.6",
                  file=sys.stderr)
            return 2
        values[name.strip().removeprefix(signal_service.SETTING_PREFIX)] = _setting_value(text.strip())
    reset = tuple(name.strip().removeprefix(signal_service.SETTING_PREFIX) for name in args.reset)
    with Workspace.open(path, args.user) as workspace:
        if values or reset:
            signal_service.update_settings(workspace, values, reset=reset)
        current = signal_service.current_settings(workspace)
        stored = signal_service.current_stored(workspace)
    defaults = dict(signal_service.settings_help())
    rows = [[signal_service.SETTING_PREFIX + name, json.dumps(value),
             json.dumps(defaults[signal_service.SETTING_PREFIX + name]), "stored" if name in stored else "default"]
            for name, value in current.items()]
    write_table(("setting", "value", "default", "source"), rows)
    return 0


def _setting_value(text: str) -> object:
    """Read a value as JSON (numbers, lists, null) and otherwise as plain text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


ACTIONS = {"generate": _generate, "catalog": _catalog, "settings": _settings}
