"""Commands of this group are registered here by the area that owns them."""

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this group's commands; the area's owner fills this in."""
