"""A process killed with SIGKILL in the middle of a large import leaves the workspace as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from spm_desktop.services import audit_service, record_service
from spm_desktop.services.context import Workspace
from spm_desktop.store import workspace as store

# The child pauses inside the open transaction after its first written chunk, so the
# kill lands with rows written but not committed.
CHILD = textwrap.dedent("""
    import sys, time
    from spm_desktop.services import import_service
    from spm_desktop.services.context import Workspace

    def report(done, total, message):
        if message.startswith("Writing") and done:
            print("writing", flush=True)
            time.sleep(60)

    workspace = Workspace.open(sys.argv[1], "killer")
    preview = import_service.preview(workspace, "deals", sys.argv[2])
    import_service.commit(workspace, preview, progress=report)
""")


def _state(path) -> tuple[dict[str, int], str | None, str]:
    with Workspace.open(path, "checker") as workspace:
        with workspace.read() as connection:
            counts = record_service.record_counts(connection)
        head = workspace.info().get("audit_head")
        integrity = store.vacuum_check(workspace.engine)
    return counts, head, integrity


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL exists on POSIX systems only")
def test_sigkill_during_import_changes_nothing(workspace_path, tmp_path, write_file):
    with Workspace.open(workspace_path, "tester") as workspace:
        from spm_desktop.services import import_service

        first = write_file("first.csv", "deal_id,owner,amount\nD-1,P1,100\nD-2,P2,200\n")
        import_service.commit(workspace, import_service.preview(workspace, "deals", first))
    before = _state(workspace_path)
    rows = "".join(f"L-{index},P{index % 50},{index}.25,2024-03-{index % 28 + 1:02d}\n" for index in range(150_000))
    large = write_file("large.csv", "deal_id,owner,amount,close_date\n" + rows)

    child = subprocess.Popen([sys.executable, "-c", CHILD, str(workspace_path), str(large)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        marker = child.stdout.readline()
        assert marker.strip() == "writing", child.stderr.read()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    after = _state(workspace_path)
    assert child.returncode == -signal.SIGKILL
    assert after[0] == before[0]
    assert after[1] == before[1]
    assert after[2] == "ok"
    with Workspace.open(workspace_path, "checker") as workspace:
        assert audit_service.verify(workspace).ok
