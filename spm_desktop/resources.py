"""Locate the bundled resources folder (demo data, fonts) in a checkout or a bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """Return the ``resources`` folder of a source checkout or a PyInstaller bundle.

    NOTE: a wheel built from pyproject.toml does not carry ``resources/``; the supported
    installs are the editable one of scripts/setup.sh and the PyInstaller bundle.
    """
    bundle = getattr(sys, "_MEIPASS", None)
    candidates = [Path(bundle) / "resources"] if bundle else []
    candidates.append(Path(__file__).resolve().parents[1] / "resources")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the resources folder is missing; looked in {', '.join(map(str, candidates))}")


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)
