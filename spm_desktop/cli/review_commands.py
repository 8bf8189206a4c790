"""``spm review`` and ``spm scenario create|list|run|export|delete``."""

from __future__ import annotations

import argparse
import csv
import sys
from decimal import Decimal
from pathlib import Path

from spm_desktop.cli.common import (
    add_period_argument,
    add_workspace_argument,
    open_workspace,
    progress_bar,
    write_csv,
    write_json,
    write_table,
)
from spm_desktop.domain.money import format_plain
from spm_desktop.services import review_service, scenario_service
from spm_desktop.services.errors import SpmError, ValidationError

PARTICIPANT_HEADER = ("participant_id", "participant_name", "actual", "scenario", "difference", "currency")
OVERRIDE_COLUMNS = ("participant_id", "quota_key", "period", "amount")


def register(subparsers: argparse._SubParsersAction) -> None:
    review = subparsers.add_parser(
        "review", help="incentive alignment review of a period or year",
        description="Pay for performance, top earners against top performers, attainment and payout "
                    "distributions, cost of sales, behaviours not paid for, plan complexity and forecast "
                    "distortion, from the official results of the period.")
    add_workspace_argument(review)
    add_period_argument(review)
    review.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="table: one line per figure; csv: figure, title, value, unit, explanation; "
                             "json: every figure with its chart data (default table)")
    review.add_argument("--late-weeks", type=int, metavar="N",
                        help="weeks at the end of each period counted as late closing "
                             f"(default: the workspace setting {review_service.WINDOW_SETTING}, else 2)")
    review.set_defaults(handler=_review)

    group = subparsers.add_parser("scenario", help="what-if copies of plans, run without touching official results")
    actions = group.add_subparsers(dest="scenario_command", metavar="ACTION")
    actions.required = True
    _register_create(actions)

    listing = actions.add_parser("list", help="list the saved scenarios")
    add_workspace_argument(listing)
    listing.set_defaults(handler=_list)

    run = actions.add_parser("run", help="calculate a scenario on a period and compare it with the official results")
    add_workspace_argument(run)
    run.add_argument("scenario", metavar="SCENARIO", help="scenario name")
    add_period_argument(run)
    run.add_argument("--format", choices=("table", "csv"), default="table",
                     help="table: summary and changed participants; csv: every participant (default table)")
    run.set_defaults(handler=_run)

    export = actions.add_parser("export", help="write a scenario comparison to an .xlsx workbook")
    add_workspace_argument(export)
    export.add_argument("scenario", metavar="SCENARIO", help="scenario name")
    add_period_argument(export)
    export.add_argument("-o", "--output", required=True, type=Path, help="output workbook (.xlsx)")
    export.set_defaults(handler=_export)

    remove = actions.add_parser("delete", help="delete a saved scenario (its stored runs stay)")
    add_workspace_argument(remove)
    remove.add_argument("scenario", metavar="SCENARIO", help="scenario name")
    remove.set_defaults(handler=_delete)


def _register_create(actions: argparse._SubParsersAction) -> None:
    create = actions.add_parser("create", help="save a copy of a plan as a scenario")
    add_workspace_argument(create)
    create.add_argument("name", metavar="NAME", help="scenario name")
    create.add_argument("--plan", required=True, help="name of the stored plan the scenario replaces when it runs")
    create.add_argument("--version", type=int, help="plan version to copy (default: the latest)")
    create.add_argument("--from-yaml", type=Path, metavar="F",
                        help="plan YAML to use instead of a copy of the stored version")
    create.add_argument("--quotas", type=Path, metavar="F.csv",
                        help="CSV of quota overrides with columns participant_id, quota_key, period, amount "
                             "and optionally currency")
    create.add_argument("--description", help="what the scenario tries")
    create.set_defaults(handler=_create)


# --- review -----------------------------------------------------------------------------


def _review(args: argparse.Namespace) -> int:
    if args.late_weeks is not None and args.late_weeks < 1:
        raise ValidationError(f"--late-weeks {args.late_weeks} is invalid; give a whole number of weeks from 1")
    with open_workspace(args) as workspace, progress_bar("Reviewing") as progress:
        result = review_service.review(workspace, args.period, weeks=args.late_weeks, progress=progress)
    if args.format == "json":
        write_json(review_service.review_as_dict(result))
    elif args.format == "csv":
        write_csv(review_service.CSV_HEADER, review_service.headline_rows(result))
    else:
        rows = [(title, value, explanation) for _key, title, value, _unit, explanation
                in review_service.headline_rows(result)]
        write_table(("figure", "value", "explanation"), rows)
        for note in result.notes:
            print(f"note: {note}")
    return 0


# --- scenarios --------------------------------------------------------------------------


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise SpmError(f"cannot read {what} {path}: {error.strerror}; check the path") from error
    except UnicodeDecodeError as error:
        raise SpmError(f"{what} {path} is not UTF-8 text; save it as UTF-8 and try again") from error


def read_overrides(path: Path) -> list[scenario_service.QuotaOverride]:
    """Read quota overrides from a CSV file with a header row."""
    reader = csv.DictReader(_read_text(path, "quota override file").splitlines())
    missing = [column for column in OVERRIDE_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise ValidationError(f"{path.name} lacks the column(s) {', '.join(missing)}; the header must name "
                              f"{', '.join(OVERRIDE_COLUMNS)} and optionally currency")
    overrides = []
    for number, row in enumerate(reader, start=2):
        try:
            amount = Decimal(row["amount"].replace(",", "").strip())
        except ArithmeticError:
            raise ValidationError(f"{path.name}, row {number}: amount {row['amount']!r} is not a number") from None
        overrides.append(scenario_service.QuotaOverride(row["participant_id"].strip(), row["quota_key"].strip(),
                                                        row["period"].strip(), amount,
                                                        (row.get("currency") or "").strip() or None))
    return overrides


def _create(args: argparse.Namespace) -> int:
    text = _read_text(args.from_yaml, "plan file") if args.from_yaml else None
    overrides = read_overrides(args.quotas) if args.quotas else []
    with open_workspace(args) as workspace:
        info = scenario_service.create(workspace, args.name, args.plan, version=args.version, document_text=text,
                                       description=args.description, overrides=overrides)
    print(f"created scenario {info.name!r} from plan {info.base_plan!r} version {info.base_version} "
          f"with {info.quota_overrides} quota override(s)")
    return 0


def _list(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        saved = scenario_service.list_scenarios(workspace)
    rows = [(s.name, s.base_plan, s.base_version, s.quota_overrides, s.updated_by, s.updated_at[:19])
            for s in saved]
    write_table(("scenario", "plan", "version", "quota_overrides", "updated_by", "updated_at"), rows)
    return 0


def _run(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace, progress_bar("Running scenario") as progress:
        report = scenario_service.run(workspace, args.scenario, args.period, progress=progress)
    comparison = report.comparison
    currency = comparison.currency
    rows = [(c.participant_id, c.name, format_plain(c.actual, currency), format_plain(c.scenario, currency),
             format_plain(c.difference, currency), currency) for c in comparison.changes]
    if args.format == "csv":
        write_csv(PARTICIPANT_HEADER, rows)
        return 0
    for label, value in scenario_service.summary_rows(report):
        shown = format_plain(value, currency) if isinstance(value, Decimal) else value
        print(f"{label}: {'' if shown is None else shown}")
    changed = [row for row, change in zip(rows, comparison.changes, strict=True) if change.difference != 0]
    if changed:
        print()
        write_table(PARTICIPANT_HEADER, changed)
    return 0


def _export(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        target = scenario_service.export(workspace, args.scenario, args.period, args.output)
    print(f"wrote the comparison of scenario {args.scenario!r} on {args.period} to {target}", file=sys.stdout)
    return 0


def _delete(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        scenario_service.delete_scenario(workspace, args.scenario)
    print(f"deleted scenario {args.scenario!r}")
    return 0
