"""Statement rendering in fresh processes: a Python snippet, and `spm statements` itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PERIOD = "2017-Q3"
PARTICIPANT = "P-1007"


def run_python(script: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a Python snippet in a fresh interpreter, offscreen; raise with its stderr when it fails."""
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                            env=environment, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result


def run_python_file(script: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run a Python script file in a fresh interpreter, offscreen; raise with its stderr when it fails."""
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                            env=environment, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result


def cli_statement_pdf(workspace_path: Path, out_dir: Path, participant: str = PARTICIPANT) -> bytes:
    """Export one participant's PDF statement with `spm statements` in a new process and return its bytes."""
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    command = [sys.executable, "-m", "spm_desktop.cli", "statements", str(workspace_path), "--period", PERIOD,
               "--out", str(out_dir), "--format", "pdf", "--participant", participant]
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120)
    assert result.returncode == 0, result.stderr
    return (out_dir / f"statement_{PERIOD}_{participant}.pdf").read_bytes()
