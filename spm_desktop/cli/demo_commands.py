"""``spm demo``: build the demo workspace."""

from __future__ import annotations

import argparse

from spm_desktop.cli.common import add_workspace_argument, progress_bar
from spm_desktop.services import demo_service


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo", help="create a workspace filled with the bundled demo data, metrics, plans and quotas",
        description="Create WS from the bundled maven-crm sample (35 agents, 6 managers, 8,800 opportunities), "
                    "its 2017 quotas, two conflicting bookings definitions, an agent and a manager plan, and "
                    "generated stage history and activities (marked as generated).")
    add_workspace_argument(demo)
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    with progress_bar("Building the demo workspace") as progress:
        demo_service.build_demo(args.workspace, user=args.user, progress=progress)
    print(f"created the demo workspace {args.workspace}")
    return 0
