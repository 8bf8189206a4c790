"""Helpers shared by the command modules: opening the workspace, output, progress."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from spm_desktop.domain.progress import ProgressCallback
from spm_desktop.exporting.safe import neutralise_text
from spm_desktop.services.context import Workspace


def add_workspace_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("workspace", metavar="WS", type=Path, help="workspace file (.spm)")


def add_period_argument(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--period", required=required, metavar="P",
                        help="period label: 2017-Q3, 2017-07, 2017, FY2018-Q1, or a week's first day")


def add_format_argument(parser: argparse.ArgumentParser, choices: Sequence[str] = ("table", "csv"),
                        default: str = "table") -> None:
    parser.add_argument("--format", choices=choices, default=default, help=f"output format (default {default})")


def open_workspace(args: argparse.Namespace) -> Workspace:
    return Workspace.open(args.workspace, getattr(args, "user", None))


def write_csv(header: Sequence[str], rows: Sequence[Sequence[object]], stream=None) -> None:
    """Print CSV with every text cell that a spreadsheet would run as a formula neutralised."""
    writer = csv.writer(stream or sys.stdout, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise_text(cell) if isinstance(cell, str) else cell for cell in row])


def write_json(value: object, stream=None) -> None:
    json.dump(value, stream or sys.stdout, indent=2, default=str)
    (stream or sys.stdout).write("\n")


def write_table(header: Sequence[str], rows: Sequence[Sequence[object]], stream=None) -> None:
    """Print rows as aligned plain-text columns."""
    out = stream or sys.stdout
    texts = [[str(cell) if cell is not None else "" for cell in row] for row in rows]
    widths = [len(name) for name in header]
    for row in texts:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    out.write("  ".join(name.ljust(widths[i]) for i, name in enumerate(header)).rstrip() + "\n")
    for row in texts:
        out.write("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n")


@contextmanager
def progress_bar(description: str) -> Iterator[ProgressCallback]:
    """Yield a progress callback that draws a bar on a terminal and stays quiet otherwise."""
    if not sys.stderr.isatty():
        yield lambda done, total, message: None
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                  transient=True, console=None) as progress:
        task = progress.add_task(description, total=None)

        def report(done: int, total: int, message: str) -> None:
            progress.update(task, completed=done, total=total or None, description=message or description)

        yield report
