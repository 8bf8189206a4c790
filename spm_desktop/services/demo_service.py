"""Build the demo workspace from the bundled maven-crm files, through the normal services.

Every step goes through the same services as a user's work (imports with their
mappings and the GTXPro alias, metric and plan documents, the history generator), so
the demo is also an end-to-end check of those paths. A failed build removes the new
file, so nothing half-built is left behind.
"""

from __future__ import annotations

import logging
from pathlib import Path

from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.importing.mapping import load_mapping_file
from spm_desktop.resources import resource
from spm_desktop.services import import_service, metric_service, plan_service, signal_service
from spm_desktop.services.context import Workspace

log = logging.getLogger(__name__)

DEMO_COMPANY = "Maven Demo Co (fictitious)"
# Seed of the generated stage history and activities, so every demo build is the same.
HISTORY_SEED = 2017
IMPORTS = (
    ("participants", "participants.csv", "mapping-participants.yaml"),
    ("deals", "sales_pipeline.csv", "mapping-opportunities.yaml"),
    ("quotas", "quotas-2017.csv", "mapping-quotas.yaml"),
)
PLANS = ("plan-agent.yaml", "plan-manager.yaml")
STEPS = len(IMPORTS) + len(PLANS) + 4


def demo_dir() -> Path:
    return resource("demo")


def build_demo(path: Path | str, *, user: str | None = None, progress: ProgressCallback = no_progress,
               cancel: CancelToken | None = None) -> Path:
    """Create a workspace at ``path`` filled with the demo data, metrics and plans."""
    path = Path(path)
    workspace = Workspace.create(path, user)
    try:
        _fill(workspace, progress, cancel)
    except BaseException:
        workspace.close()
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        raise
    workspace.close()
    log.info("built the demo workspace %s", path)
    return path


def _fill(workspace: Workspace, progress: ProgressCallback, cancel: CancelToken | None) -> None:
    source = demo_dir()
    step = 0

    def next_step(message: str) -> None:
        nonlocal step
        if cancel is not None:
            cancel.raise_if_cancelled()
        step += 1
        progress(step, STEPS, message)

    next_step("Settings")
    workspace.set_setting("company.name", DEMO_COMPANY)
    workspace.set_setting("demo.source", "Maven Analytics CRM Sales Opportunities (public domain)")

    for record_set, file_name, mapping_name in IMPORTS:
        next_step(f"Importing {file_name}")
        mapping = load_mapping_file(source / mapping_name)
        request = import_service.ImportRequest(record_set, source / file_name, mapping)
        import_service.commit(workspace, request, accept_valid=False, cancel=cancel)

    next_step("Metric definitions")
    metric_service.load_yaml_file(workspace, source / "metrics.yaml", reason="demo workspace")
    signal_service.ensure_catalog(workspace)

    for file_name in PLANS:
        next_step(f"Plan {file_name}")
        plan_service.load(workspace, (source / file_name).read_text(encoding="utf-8"), source=file_name,
                          reason="demo workspace")

    next_step("Generated stage history and activities")
    signal_service.generate_history(workspace, seed=HISTORY_SEED)
