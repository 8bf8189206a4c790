"""``spm statements`` and ``spm payroll``: issue payout statements and export approved payouts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spm_desktop.cli.common import add_period_argument, add_workspace_argument, open_workspace, progress_bar
from spm_desktop.services import payroll_service, statement_service


def _formats(text: str) -> list[str]:
    chosen = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in statement_service.FORMATS]
    if not chosen or unknown:
        raise argparse.ArgumentTypeError(f"invalid format {text!r}; use pdf, xlsx or pdf,xlsx")
    return chosen


def register(subparsers: argparse._SubParsersAction) -> None:
    issue = subparsers.add_parser(
        "statements", help="write payout statements (PDF and XLSX) of a calculated period",
        description="Write one statement per participant and format into DIR, named "
                    "statement_<period>_<participant id> (characters unsafe in file names become _). "
                    "Statements of a period that is not approved are marked DRAFT on every page. "
                    "Every file's SHA-256 is recorded in the audit trail; re-exporting gives identical files.")
    add_workspace_argument(issue)
    add_period_argument(issue)
    issue.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder for the statement files")
    issue.add_argument("--format", type=_formats, default=["pdf", "xlsx"], metavar="pdf,xlsx",
                       help="file formats, comma-separated (default pdf,xlsx)")
    issue.add_argument("--participant", metavar="ID", help="write the statement of this participant only")
    issue.add_argument("--processes", type=int, metavar="N",
                       help="worker processes for rendering (default: the number of CPU cores, at most 8)")
    issue.set_defaults(handler=_statements)

    payroll = subparsers.add_parser(
        "payroll", help="export the approved payouts of a period for payroll",
        description="One row per participant and plan period: payroll_id, participant_id, participant_name, "
                    "period, currency and amount (the TOTAL of the approved calculation). A period that is "
                    "not approved is rejected.")
    add_workspace_argument(payroll)
    add_period_argument(payroll)
    payroll.add_argument("-o", "--output", required=True, type=Path, metavar="FILE", help="output file, .csv or .xlsx")
    payroll.add_argument("--again", action="store_true",
                         help="export plan periods that payroll already received (warns on stderr); without it "
                         "such an export exits 1")
    payroll.set_defaults(handler=_payroll)


def _statements(args: argparse.Namespace) -> int:
    if args.processes is not None and args.processes < 1:
        print("error: --processes must be 1 or more", file=sys.stderr)
        return 2
    with open_workspace(args) as workspace, progress_bar(f"Statements {args.period}") as progress:
        summary = statement_service.export_statements(workspace, args.period, args.out, args.format,
                                                      args.participant, progress, processes=args.processes)
    reissued = sum(1 for item in summary.files if item.reissued)
    draft = f", {summary.drafts} of them marked DRAFT (period not approved)" if summary.drafts else ""
    print(f"wrote {len(summary.files)} files for {summary.statements} statements of {summary.period} "
          f"into {summary.out_dir}{draft}; {reissued} identical to files issued before")
    return 0


def _payroll(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        summary = payroll_service.export_payroll(workspace, args.period, args.output, again=args.again)
    for earlier in summary.earlier:
        print(f"warning: payroll of {', '.join(earlier.periods)} was already exported {earlier.describe()}; "
              "make sure payroll does not pay both files", file=sys.stderr)
    totals = ", ".join(f"{amount:f} {currency}" for currency, amount in sorted(summary.totals.items())) or "0.00"
    print(f"wrote {summary.rows} payroll rows of {args.period} to {summary.path} (total {totals}); "
          f"SHA-256 {summary.file_sha256}")
    for participant_id in summary.missing_payroll_ids:
        print(f"warning: participant {participant_id} has no payroll_id; add it to the participants file",
              file=sys.stderr)
    return 0
