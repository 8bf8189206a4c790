"""``spm approve``, ``spm close``, ``spm periods``, ``spm adjust ...`` and ``spm inquiry ...``."""

from __future__ import annotations

import argparse
import sys

from spm_desktop.cli.common import (
    add_format_argument,
    add_period_argument,
    add_workspace_argument,
    open_workspace,
    write_csv,
    write_json,
    write_table,
)
from spm_desktop.domain.money import format_plain
from spm_desktop.services import adjustment_service, audit_service, close_service, inquiry_service, period_service
from spm_desktop.store.tables.close import ADJUSTMENT_SOURCES, ADJUSTMENT_STATUSES, INQUIRY_STATES

PERIOD_HEADER = ("period", "state", "start", "end", "latest_run", "calculated_by", "calculated_at",
                 "approved_by", "approved_at", "closed_by", "closed_at")
ADJUSTMENT_HEADER = ("id", "participant_id", "period", "amount", "currency", "reason_code", "status", "source",
                     "source_period", "author", "approved_by", "note")
INQUIRY_HEADER = ("id", "participant_id", "period", "line", "state", "raised_by", "raised_at", "text",
                  "answer", "resolution", "adjustment")


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_period_commands(subparsers)
    _register_adjust(subparsers)
    _register_inquiry(subparsers)


def _register_period_commands(subparsers: argparse._SubParsersAction) -> None:
    approve = subparsers.add_parser(
        "approve", help="approve a period's latest calculation (as a user other than the one who ran it)")
    add_workspace_argument(approve)
    add_period_argument(approve)
    approve.set_defaults(handler=_approve)

    close = subparsers.add_parser("close", help="close an approved period; it cannot be reopened")
    add_workspace_argument(close)
    add_period_argument(close)
    close.set_defaults(handler=_close)

    periods = subparsers.add_parser("periods", help="list periods with their close state")
    add_workspace_argument(periods)
    add_format_argument(periods, ("table", "csv", "json"))
    periods.set_defaults(handler=_periods)


def _register_adjust(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("adjust", help="manual payout adjustments: add, approve, reject, stage, withdraw, list")
    actions = group.add_subparsers(dest="adjust_command", metavar="ACTION")
    actions.required = True

    add = actions.add_parser("add", help="record a pending adjustment of an open period")
    add_workspace_argument(add)
    add.add_argument("--participant", required=True, metavar="ID", help="participant_id of the payee")
    add_period_argument(add)
    add.add_argument("--amount", required=True, metavar="A",
                     help="amount in the currency's unit, negative to recover, for example -125.50")
    add.add_argument("--reason", required=True, metavar="CODE", help="reason code, for example SPIF_FIX")
    add.add_argument("--note", help="free text shown on the statement")
    add.add_argument("--currency", metavar="ISO",
                     help="three-letter currency code (default: the participant's currency)")
    add.set_defaults(handler=_adjust_add)

    for name, verb in (("approve", "approve (not by its author)"), ("reject", "reject")):
        decide = actions.add_parser(name, help=f"{verb} a pending adjustment")
        add_workspace_argument(decide)
        decide.add_argument("id", type=int, metavar="ID", help="adjustment id, as 'spm adjust list' shows it")
        decide.add_argument("--note", help="reason for the decision")
        decide.set_defaults(handler=_adjust_decide, decision=name)

    stage = actions.add_parser(
        "stage", help="turn valid imported adjustment records into pending adjustments; list the rejected rows "
        "on stderr and exit 1 when any row was rejected")
    add_workspace_argument(stage)
    stage.set_defaults(handler=_adjust_stage)

    withdraw = actions.add_parser(
        "withdraw", help="withdraw an imported adjustment record that staging rejected, so staging skips it")
    add_workspace_argument(withdraw)
    withdraw.add_argument("record", type=int, metavar="RECORD_ID",
                          help="record id of the imported row, as 'spm adjust stage' names it")
    withdraw.add_argument("--note", help="reason for the withdrawal, kept in the audit trail")
    withdraw.set_defaults(handler=_adjust_withdraw)

    listing = actions.add_parser("list", help="list adjustments, newest first")
    add_workspace_argument(listing)
    add_period_argument(listing, required=False)
    listing.add_argument("--participant", metavar="ID", help="only this participant")
    listing.add_argument("--status", choices=ADJUSTMENT_STATUSES, help="only adjustments in this status")
    listing.add_argument("--source", choices=ADJUSTMENT_SOURCES, help="only adjustments from this source")
    add_format_argument(listing, ("table", "csv", "json"))
    listing.set_defaults(handler=_adjust_list)


def _register_inquiry(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("inquiry", help="participant inquiries about statements")
    actions = group.add_subparsers(dest="inquiry_command", metavar="ACTION")
    actions.required = True

    add = actions.add_parser("add", help="log a participant's question about a statement")
    add_workspace_argument(add)
    add.add_argument("--participant", required=True, metavar="ID", help="participant_id of who asked")
    add_period_argument(add)
    add.add_argument("--text", required=True, help="the question as the participant put it")
    add.add_argument("--line", type=int, metavar="LINE_ID", help="statement line id the question is about")
    add.set_defaults(handler=_inquiry_add)

    answer = actions.add_parser("answer", help="record the response given to the participant")
    add_workspace_argument(answer)
    answer.add_argument("id", type=int, metavar="ID", help="inquiry id")
    answer.add_argument("--text", required=True, help="the response text")
    answer.set_defaults(handler=_inquiry_answer)

    resolve = actions.add_parser("resolve", help="resolve an inquiry, optionally with a pending adjustment")
    add_workspace_argument(resolve)
    resolve.add_argument("id", type=int, metavar="ID", help="inquiry id")
    resolve.add_argument("--text", required=True, help="the resolution")
    resolve.add_argument("--amount", metavar="A", help="create an adjustment of this amount (needs --reason)")
    resolve.add_argument("--reason", metavar="CODE", help="reason code of the adjustment")
    resolve.add_argument("--adjust-period", metavar="P",
                         help="period that pays the adjustment (default: the inquiry's, or the first open one)")
    resolve.add_argument("--currency", metavar="ISO", help="currency of the adjustment (default: the participant's)")
    resolve.set_defaults(handler=_inquiry_resolve)

    listing = actions.add_parser("list", help="list inquiries, newest first")
    add_workspace_argument(listing)
    add_period_argument(listing, required=False)
    listing.add_argument("--participant", metavar="ID", help="only this participant")
    listing.add_argument("--state", choices=INQUIRY_STATES, help="only inquiries in this state")
    add_format_argument(listing, ("table", "csv", "json"))
    listing.set_defaults(handler=_inquiry_list)


# -- periods ------------------------------------------------------------------------------


def _approve(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        approved = close_service.approve(workspace, args.period)
    print(f"{approved.label} approved by {approved.approved_by} (run {approved.approved_run_id})")
    return 0


def _close(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        outcome = close_service.close(workspace, args.period)
        anchor = audit_service.head(workspace)
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{outcome.period.label} closed by {outcome.period.closed_by}")
    print(f"audit anchor {anchor}: {audit_service.ANCHOR_ADVICE}")
    return 0


def _periods(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace, workspace.read() as connection:
        periods = period_service.list_periods(connection)
    rows = [(p.label, p.state, p.start_date, p.end_date, p.latest_run_id, p.calculated_by, p.calculated_at,
             p.approved_by, p.approved_at, p.closed_by, p.closed_at) for p in periods]
    _write(args.format, PERIOD_HEADER, rows)
    return 0


# -- adjustments --------------------------------------------------------------------------


def _adjust_add(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        created = adjustment_service.create(workspace, args.participant, args.period, args.amount, args.reason,
                                            note=args.note, currency=args.currency)
        warning = adjustment_service.coverage_warning(workspace, created.period)
    print(f"adjustment {created.id} recorded: {format_plain(created.amount, created.currency)} {created.currency} "
          f"for {created.participant_id} in {created.period}, pending approval by another user")
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _adjust_decide(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        if args.decision == "approve":
            decided = adjustment_service.approve(workspace, args.id, args.note)
        else:
            decided = adjustment_service.reject(workspace, args.id, args.note)
    print(f"adjustment {decided.id} {decided.status} by {decided.approved_by}")
    return 0


def _adjust_stage(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        outcome = adjustment_service.stage_imported(workspace)
    ids = ", ".join(str(adjustment.id) for adjustment in outcome.staged)
    suffix = f" (ids {ids}), pending approval by another user" if outcome.staged else ""
    print(f"staged {len(outcome.staged)} imported adjustments{suffix}")
    if not outcome.rejected:
        return 0
    print(f"error: {len(outcome.rejected)} imported adjustment rows were rejected and not staged:", file=sys.stderr)
    for problem in outcome.rejected:
        print(f"  {problem.message}", file=sys.stderr)
    return 1


def _adjust_withdraw(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        withdrawn = adjustment_service.withdraw_imported(workspace, args.record, args.note)
    print(f"imported adjustment record {withdrawn.record_id} ({withdrawn.location()}) withdrawn; "
          "staging skips it from now on")
    return 0


def _adjust_list(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        found = adjustment_service.list_adjustments(workspace, period=args.period, participant_id=args.participant,
                                                    status=args.status, source=args.source)
    rows = [(a.id, a.participant_id, a.period, format_plain(a.amount, a.currency), a.currency, a.reason_code,
             a.status, a.source, a.source_period, a.author, a.approved_by, a.note) for a in found]
    _write(args.format, ADJUSTMENT_HEADER, rows)
    return 0


# -- inquiries ----------------------------------------------------------------------------


def _inquiry_add(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        created = inquiry_service.raise_inquiry(workspace, args.participant, args.period, args.text,
                                                result_line_id=args.line)
    print(f"inquiry {created.id} logged for {created.participant_id} about {created.period}")
    return 0


def _inquiry_answer(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        answered = inquiry_service.answer(workspace, args.id, args.text)
    print(f"inquiry {answered.id} answered by {answered.answered_by}")
    return 0


def _inquiry_resolve(args: argparse.Namespace) -> int:
    if (args.amount is None) != (args.reason is None):
        print("error: --amount and --reason go together; give both to create an adjustment, or neither",
              file=sys.stderr)
        return 2
    request = None
    if args.amount is not None:
        request = inquiry_service.AdjustmentRequest(amount=args.amount, reason_code=args.reason,
                                                    period=args.adjust_period, currency=args.currency)
    with open_workspace(args) as workspace:
        resolved = inquiry_service.resolve(workspace, args.id, args.text, request)
    suffix = f"; adjustment {resolved.adjustment_id} awaits approval" if request is not None else ""
    print(f"inquiry {resolved.id} resolved by {resolved.resolved_by}{suffix}")
    return 0


def _inquiry_list(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        found = inquiry_service.list_inquiries(workspace, state=args.state, participant_id=args.participant,
                                               period=args.period)
    rows = [(i.id, i.participant_id, i.period, i.result_line_id, i.state, i.raised_by, i.raised_at, i.text,
             i.answer, i.resolution, i.adjustment_id) for i in found]
    _write(args.format, INQUIRY_HEADER, rows)
    return 0


def _write(output_format: str, header: tuple[str, ...], rows: list[tuple]) -> None:
    if output_format == "csv":
        write_csv(header, rows)
    elif output_format == "json":
        write_json([dict(zip(header, row, strict=True)) for row in rows])
    else:
        write_table(header, rows)
