"""``spm tieout``: tie credits or payouts out against finance's or payroll's figures, explain, sign off.

Forms (the first word after ``tieout`` picks the action):

* ``spm tieout WS --period P --against FILE [...]`` imports their file and prints the findings;
* ``spm tieout signoff WS --period P [--kind K]`` signs the latest tie-out off;
* ``spm tieout explain WS --tieout ID --line KEY --reason CODE [--note TEXT]`` explains a finding;
* ``spm tieout confirm WS --kind K --pair OUR_ID=THEIR_ID ...`` saves pairs in the id map.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal

from spm_desktop.cli.common import open_workspace, progress_bar, write_csv, write_table
from spm_desktop.domain import tieout as matching
from spm_desktop.domain.money import format_plain
from spm_desktop.services import tieout_service
from spm_desktop.store.tables.tieout import TIEOUT_KINDS

ACTIONS = ("signoff", "explain", "confirm")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tieout", help="tie credits or payouts out against finance's or payroll's own figures",
        description="Forms: 'spm tieout WS --period P --against FILE', 'spm tieout signoff WS --period P', "
                    "'spm tieout explain WS --tieout ID --line KEY --reason CODE', "
                    "'spm tieout confirm WS --kind K --pair OUR_ID=THEIR_ID'. "
                    "The exit code is 0 when the tie-out ran, whatever it found.")
    parser.add_argument("words", nargs="+", metavar="[ACTION] WS",
                        help="the workspace file (.spm), preceded by signoff, explain or confirm for those actions")

    parser.add_argument("--period", metavar="P", help="period label: 2017-Q3, 2017-07 or 2017")
    parser.add_argument("--against", metavar="FILE", help="their file (.xlsx, .xls, .ods or .csv)")
    parser.add_argument("--mapping", metavar="M.yaml",
                        help="columns of their file: external_id, our_id, participant_id, period, customer, date, "
                             "amount, currency, note (default: suggested from the headers)")

    parser.add_argument("--kind", choices=TIEOUT_KINDS, default=None,
                        help="credits (per deal, default) or payouts (per participant)")
    parser.add_argument("--grain", choices=tieout_service.GRAINS, default="deal",
                        help="credits only: deal (their rows are deals or invoices, default) or participant (their "
                             "rows are summed per participant and compared with our credit per participant)")
    parser.add_argument("--key", metavar="FIELDS", default="",
                        help=f"composite key for records without a shared id, comma-separated from: "
                             f"{', '.join(matching.KEY_FIELDS)}")
    parser.add_argument("--date-window", type=int, default=0, metavar="DAYS",
                        help="days a date may differ and still match a date key field (default 0)")
    parser.add_argument("--tolerance", metavar="T",
                        help="allowed difference: an amount (0.01), a percentage of our amount (0.5%%) or both "
                             "(0.01,0.5%%); default the workspace setting tieout.tolerance, else 0")
    parser.add_argument("--metric", metavar="KEY", help="metric that selects credited deals when no calculation ran "
                                                        "(default: the primary bookings metric)")

    parser.add_argument("--save-matches", action="store_true",
                        help="save the pairs matched by composite key in the id map, so later tie-outs match on id")
    parser.add_argument("--export", metavar="FILE.xlsx", help="also write the report for finance as .xlsx")
    parser.add_argument("--format", choices=("table", "csv"), default="table", help="output format (default table)")

    parser.add_argument("--tieout", type=int, metavar="ID", help="tie-out id (explain)")
    parser.add_argument("--line", metavar="KEY", help="finding key 'our id|their id' as printed (explain)")
    parser.add_argument("--reason", metavar="CODE", help="reason code of the explanation (explain)")
    parser.add_argument("--note", metavar="TEXT", help="free text kept with the explanation (explain)")
    parser.add_argument("--pair", action="append", default=[], metavar="OUR_ID=THEIR_ID",
                        help="a confirmed pair for the id map; repeat for more (confirm)")
    parser.add_argument("--accept-unexplained", action="store_true",
                        help="sign off although findings are not explained (signoff)")

    parser.set_defaults(handler=_dispatch, parser=parser)


def _dispatch(args: argparse.Namespace) -> int:
    words = args.words
    action = words[0] if words[0] in ACTIONS and len(words) == 2 else None
    expected = 2 if action else 1
    if len(words) != expected:
        args.parser.error("give the workspace file, preceded by signoff, explain or confirm for those actions")
    args.workspace = words[-1]
    handler = {"signoff": _signoff, "explain": _explain, "confirm": _confirm, None: _tieout}[action]
    return handler(args)


def _require(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        if getattr(args, name) in (None, "", []):
            args.parser.error(f"--{name.replace('_', '-')} is required for this action")


def _tieout(args: argparse.Namespace) -> int:
    _require(args, "period", "against")
    kind = args.kind or "credits"
    key_fields = [name.strip() for name in args.key.split(",") if name.strip()]
    with open_workspace(args) as workspace:
        options = tieout_service.default_options(workspace, key_fields, args.date_window, args.tolerance)
        mapping = tieout_service.load_mapping(args.mapping) if args.mapping else None
        with progress_bar("Tie-out") as progress:
            report = tieout_service.tie_out_file(workspace, kind, args.period, args.against, options, mapping,
                                                 grain=args.grain, metric=args.metric, progress=progress)
        if args.save_matches:
            saved = tieout_service.confirm_pairs(workspace, kind, report.result.key_matches())
            print(f"saved {saved} pairs in the id map", file=sys.stderr)
        if args.export:
            tieout_service.export_xlsx(report, args.export)
    _print_summary(report)
    rows = [_printable(row, report.result.currency) for row in tieout_service.report_rows(report)]
    header = ("key", *tieout_service.REPORT_HEADER)
    keyed = [(line.key, *row) for line, row in zip(report.result.lines, rows, strict=True)]
    if args.format == "csv":
        write_csv(header, keyed)
    else:
        write_table(header, keyed)
    return 0


def _print_summary(report: tieout_service.TieoutReport) -> None:
    currency = report.result.currency
    theirs = report.result.theirs_total
    print(f"tie-out {report.id}: {report.kind} of {report.period} against {report.source.file_name}", file=sys.stderr)
    print(f"ours {format_plain(report.result.ours_total, currency)} {currency}; theirs "
          f"{'not converted (a currency has no rate)' if theirs is None else format_plain(theirs, currency)}",
          file=sys.stderr)
    counts = ", ".join(f"{status} {item.count}" for status, item in report.result.summary().items() if item.count)
    print(counts or "nothing to compare", file=sys.stderr)


def _printable(row: tuple[object, ...], currency: str) -> tuple[object, ...]:
    printable = []
    for name, value in zip(tieout_service.REPORT_HEADER, row, strict=True):
        if isinstance(value, Decimal) and name != "fx_rate":
            printable.append(format_plain(value, currency))
        elif isinstance(value, Decimal):
            printable.append(f"{value:f}")
        else:
            printable.append(value)
    return tuple(printable)


def _signoff(args: argparse.Namespace) -> int:
    _require(args, "period")
    with open_workspace(args) as workspace:
        ids = tieout_service.sign_off(workspace, args.period, args.kind, accept_unexplained=args.accept_unexplained)
        user = workspace.user
    print(f"signed off tie-out {', '.join(map(str, ids))} of {args.period} as {user}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    _require(args, "tieout", "line", "reason")
    with open_workspace(args) as workspace:
        tieout_service.explain(workspace, args.tieout, args.line, args.reason, args.note)
    print(f"explained {args.line} of tie-out {args.tieout} as {args.reason}")
    return 0


def _confirm(args: argparse.Namespace) -> int:
    _require(args, "pair")
    kind = args.kind or "credits"
    pairs = []
    for text in args.pair:
        our_id, separator, their_id = text.partition("=")
        if not separator or not our_id.strip() or not their_id.strip():
            args.parser.error(f"--pair {text!r} is invalid; write OUR_ID=THEIR_ID")
        pairs.append((our_id.strip(), their_id.strip()))
    with open_workspace(args) as workspace:
        saved = tieout_service.confirm_pairs(workspace, kind, pairs)
    print(f"saved {saved} pairs in the {kind} id map")
    return 0
