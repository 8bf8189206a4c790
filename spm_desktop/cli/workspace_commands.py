"""``spm init`` and ``spm info``."""

from __future__ import annotations

import argparse
import sys

from spm_desktop.cli.common import add_workspace_argument
from spm_desktop.services.context import Workspace
from spm_desktop.store import workspace as store


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
    """Print the info rows and schema without opening the workspace for writing, so nothing is upgraded."""
    revision, info = store.describe_workspace(args.workspace)
    head = store.head_revision()
    info["schema"] = revision or "none"
    for key, value in sorted(info.items()):
        print(f"{key}: {value}")
    if revision is not None and revision != head and revision in store.known_revisions():
        print(f"note: schema {revision} is older than this version's schema {head}; any other spm "
              "command on it, or opening it in the desktop application, upgrades it after writing a backup copy "
              "next to it", file=sys.stderr)
    elif revision is not None and revision not in store.known_revisions():
        print(f"note: schema {revision} is newer than this version knows ({head}); install the newer version "
              "of SPM Desktop to open it", file=sys.stderr)
    return 0
