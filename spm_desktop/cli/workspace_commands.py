"""``spm init`` and ``spm info``."""

from __future__ import annotations

import argparse

from spm_desktop.cli.common import add_workspace_argument, open_workspace
from spm_desktop.services.context import Workspace


def register(subparsers: argparse._SubParsersAction) -> None:
    init = subparsers.add_parser("init", help="create an empty workspace (schema migrated to the latest version)")
    add_workspace_argument(init)
    init.set_defaults(handler=_init)

    info = subparsers.add_parser("info", help="show a workspace's schema version and who created it")
    add_workspace_argument(info)
    info.set_defaults(handler=_info)


def _init(args: argparse.Namespace) -> int:
    with Workspace.create(args.workspace, args.user) as workspace:
        print(f"created {args.workspace} (schema {workspace.schema_revision})")
    return 0


def _info(args: argparse.Namespace) -> int:
    with open_workspace(args) as workspace:
        for key, value in sorted(workspace.info().items()):
            print(f"{key}: {value}")
    return 0
