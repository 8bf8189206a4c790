"""``spm import``, ``spm data`` (export, counts, batches) and ``spm alias`` (add, list, remove)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spm_desktop.cli.common import add_workspace_argument, open_workspace, progress_bar, write_table
from spm_desktop.domain.records import RECORD_SET_ALIASES, RECORD_SETS
from spm_desktop.importing.mapping import Reference, load_mapping_file
from spm_desktop.services import data_service, import_service, record_service
from spm_desktop.services.errors import SpmError

RECORD_SET_HELP = f"record set: {', '.join([*RECORD_SETS, *RECORD_SET_ALIASES])}"
# Problems printed after a successful import; the rest are counted.
PRINTED_PROBLEMS = 200


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_import(subparsers)
    _register_data(subparsers)
    _register_alias(subparsers)


def _register_import(subparsers: argparse._SubParsersAction) -> None:
    command = subparsers.add_parser(
        "import", help="import a .xlsx/.xlsm/.xls/.ods/.csv file into a record set (all rows or none)",
        description="Read, check and import a file. Without --accept-valid any rejected row means nothing is "
                    "imported and the exit code is 1.")
    add_workspace_argument(command)
    command.add_argument("record_set", metavar="RECORD_SET", help=RECORD_SET_HELP)
    command.add_argument("file", metavar="FILE", type=Path, help="file to import")
    command.add_argument("--mapping", type=Path, metavar="M.yaml",
                         help="column mapping document (default: the saved mapping for files like this one, "
                              "else columns suggested from the headers)")
    command.add_argument("--sheet", metavar="S", help="sheet to read (default: the mapping's sheet, else the first)")
    command.add_argument("--accept-valid", action="store_true",
                         help="import the valid rows and list the rejected ones instead of importing nothing")
    command.add_argument("--reference", action="append", default=[], metavar="FIELD=FILE[:COLUMN]",
                         help="check FIELD against the values in a column of FILE (default column 1); repeatable")
    command.set_defaults(handler=_import)


def _register_data(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("data", help="export imported records, count them, list import batches")
    actions = group.add_subparsers(dest="data_command", metavar="ACTION")
    actions.required = True

    export = actions.add_parser("export", help="write the records of a set to .csv or .xlsx")
    add_workspace_argument(export)
    export.add_argument("record_set", metavar="RECORD_SET", help=RECORD_SET_HELP)
    export.add_argument("-o", "--output", required=True, type=Path, help="output file, .csv or .xlsx")
    export.set_defaults(handler=_export)

    counts = actions.add_parser("counts", help="number of records per record set")
    add_workspace_argument(counts)
    counts.set_defaults(handler=_counts)

    batches = actions.add_parser("batches", help="import batches, newest first")
    add_workspace_argument(batches)
    batches.add_argument("record_set", metavar="RECORD_SET", nargs="?", help="only batches of this record set")
    batches.set_defaults(handler=_batches)


def _register_alias(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("alias", help="record, list or remove value aliases applied on import")
    actions = group.add_subparsers(dest="alias_command", metavar="ACTION")
    actions.required = True

    add = actions.add_parser("add", help="read FROM as TO in a field of a record set on every later import")
    add_workspace_argument(add)
    add.add_argument("record_set", metavar="RECORD_SET", help=RECORD_SET_HELP)
    add.add_argument("field", metavar="FIELD", help="field name, for example product or owner")
    add.add_argument("from_value", metavar="FROM", help="value as spelled in the files")
    add.add_argument("to_value", metavar="TO", help="value it stands for")
    add.set_defaults(handler=_alias_add)

    listing = actions.add_parser("list", help="list recorded aliases")
    add_workspace_argument(listing)
    listing.add_argument("record_set", metavar="RECORD_SET", nargs="?", help="only aliases of this record set")
    listing.set_defaults(handler=_alias_list)

    remove = actions.add_parser("remove", help="remove an alias")
    add_workspace_argument(remove)
    remove.add_argument("record_set", metavar="RECORD_SET", help=RECORD_SET_HELP)
    remove.add_argument("field", metavar="FIELD")
    remove.add_argument("from_value", metavar="FROM")
    remove.set_defaults(handler=_alias_remove)


def _references(texts: list[str]) -> dict[str, Reference]:
    references = {}
    for text in texts:
        field, separator, rest = text.partition("=")
        if not separator or not field or not rest:
            raise SpmError(f"--reference {text!r} is invalid; write FIELD=FILE or FIELD=FILE:COLUMN")
        file_text, _colon, column = rest.partition(":") if not Path(rest).exists() else (rest, "", "")
        column_value: str | int = int(column) if column.isdigit() else (column or 1)
        references[field.strip()] = Reference(Path(file_text), column_value)
    return references


def _import(args: argparse.Namespace) -> int:
    mapping = load_mapping_file(args.mapping) if args.mapping else None
    references = _references(args.reference)
    with open_workspace(args) as workspace, progress_bar(f"Importing {args.file.name}") as progress:
        preview = import_service.preview(workspace, args.record_set, args.file, mapping, args.sheet,
                                         progress=progress)
        if references:
            if mapping is None:
                mapping = preview.mapping
            mapping.references.update(references)
            preview = import_service.preview(workspace, args.record_set, args.file, mapping, args.sheet,
                                             progress=progress)
        result = import_service.commit(workspace, preview, accept_valid=args.accept_valid, progress=progress)
    counts = result.counts
    print(f"imported {result.file_name} into {result.record_set} as batch {result.batch_id} "
          f"({preview.mapping_text('the mapping file given')})")
    print(f"added {counts.added}, updated {counts.updated}, unchanged {counts.unchanged}, "
          f"duplicates {counts.duplicates}, rejected {counts.rejected}; skipped rows {result.skipped_rows}")
    for name, related in result.related.items():
        print(f"{name}: added {related.added}, updated {related.updated}, unchanged {related.unchanged}, "
              f"rejected {related.rejected}")
    for problem in result.problems[:PRINTED_PROBLEMS]:
        print(str(problem))
    if len(result.problems) > PRINTED_PROBLEMS:
        print(f"... and {len(result.problems) - PRINTED_PROBLEMS} more problems")
    return 0


def _export(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        count = data_service.export_records(workspace, args.record_set, args.output)
    print(f"wrote {count} {args.record_set} records to {args.output}")
    return 0


def _counts(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace, workspace.read() as connection:
        counts = record_service.record_counts(connection)
    write_table(("record_set", "records"), [(name, count) for name, count in counts.items()])
    return 0


def _batches(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace, workspace.read() as connection:
        batches = record_service.list_batches(connection, args.record_set)
    header = ("batch", "record_set", "file", "imported_at", "by", "added", "updated", "unchanged", "duplicates",
              "rejected")
    write_table(header, [(b.batch_id, b.record_set, b.file_name, b.imported_at, b.imported_by, b.added, b.updated,
                          b.unchanged, b.duplicates, b.rejected) for b in batches])
    return 0


def _alias_add(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        alias = import_service.add_alias(workspace, args.record_set, args.field, args.from_value, args.to_value)
    print(f"alias recorded: {alias.record_set}.{alias.field} {alias.from_value!r} -> {alias.to_value!r}")
    return 0


def _alias_list(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        aliases = import_service.list_aliases(workspace, args.record_set)
    if not aliases:
        print("no aliases recorded", file=sys.stderr)
    write_table(("record_set", "field", "from", "to", "recorded_by", "recorded_at"),
                [(a.record_set, a.field, a.from_value, a.to_value, a.created_by, a.created_at) for a in aliases])
    return 0


def _alias_remove(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        import_service.remove_alias(workspace, args.record_set, args.field, args.from_value)
    print(f"alias removed: {args.record_set}.{args.field} {args.from_value!r}")
    return 0
