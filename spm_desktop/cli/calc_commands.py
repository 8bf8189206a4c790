"""``spm calc`` and ``spm results``: calculate a period and print its stored results."""

from __future__ import annotations

import argparse
import decimal
import logging
import sys

from spm_desktop.cli.common import (
    add_format_argument,
    add_period_argument,
    add_workspace_argument,
    open_workspace,
    progress_bar,
    write_csv,
    write_json,
    write_table,
)
from spm_desktop.exporting.safe import neutralise_text
from spm_desktop.services import calc_service

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    calc = subparsers.add_parser(
        "calc", help="calculate a period",
        description="Calculate the plans in force for a period and store the run with its lineage. A label "
                    "coarser than a plan's period (2017 for a quarterly plan) calculates each period inside it, "
                    "in order, and stores all of them or none.")
    add_workspace_argument(calc)
    add_period_argument(calc)
    calc.set_defaults(handler=_calc)

    results_parser = subparsers.add_parser(
        "results", help="print the results of the latest calculation of a period",
        description="One row per participant and component, then Draw and Adjustments rows, then TOTAL.")
    add_workspace_argument(results_parser)
    add_period_argument(results_parser)
    add_format_argument(results_parser, choices=("table", "csv", "json"), default="table")
    results_parser.set_defaults(handler=_results)


def _calc(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace, progress_bar(f"Calculating {args.period}") as progress:
        try:
            summaries = calc_service.calculate(workspace, args.period, progress)
        except (OverflowError, decimal.Overflow) as error:
            # NOTE: plan checks bound rates and amounts, but large sums can still exceed the 64-bit
            # minor units that results are stored in. The engine raises then, and nothing is stored.
            log.warning("calculation of %s overflowed: %s", args.period, error)
            print(f"error: the calculation of {args.period} failed because an amount is too large to store "
                  f"({error}); nothing was stored. Check the plan rates and the largest record amounts",
                  file=sys.stderr)
            return 1
    for summary in summaries:
        totals = ", ".join(f"{total:f} {currency}" for currency, total in sorted(summary.totals.items())) or "0.00"
        print(f"{summary.period}: run {summary.run_id}, {summary.participants} participants, "
              f"{summary.result_count} result rows, {summary.line_count} lines, payout {totals}")
        for problem in summary.problems:
            print(f"{summary.period}: {problem}", file=sys.stderr)
    failed = [summary.period for summary in summaries
              if any(problem.severity == "error" for problem in summary.problems)]
    if failed:
        print(f"error: the calculation of {', '.join(failed)} reported errors (listed above); the run is stored "
              "for review but cannot be approved. Fix the plan or data and calculate again", file=sys.stderr)
        return 1
    return 0


def _results(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        rows = calc_service.period_results(workspace, args.period)
    header, texts = calc_service.format_rows(rows)
    if args.format == "csv":
        # The layout of calc_service.format_csv, with names that a spreadsheet would run as formulas quoted.
        write_csv(header, texts)
    elif args.format == "json":
        write_json([dict(zip(header, row, strict=True)) for row in texts])
    else:
        write_table(header, [[neutralise_text(cell) if isinstance(cell, str) else cell for cell in row]
                             for row in texts])
    return 0
