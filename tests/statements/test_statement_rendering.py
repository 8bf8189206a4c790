"""Where statements are rendered (this process or worker processes) and how rendered files are named."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from statement_processes import run_python_file

from spm_desktop.domain.statements import content_sha256
from spm_desktop.services import statement_service
from spm_desktop.services.context import Workspace


def test_many_statements_render_in_workers() -> None:
    assert statement_service.worker_processes(2, 100, ["pdf"]) == 2


def test_few_xlsx_statements_render_here() -> None:
    assert statement_service.worker_processes(2, 3, ["xlsx"]) == 0


def test_one_process_renders_here() -> None:
    assert statement_service.worker_processes(1, 500, ["xlsx"]) == 0


def test_file_stems_separate_ids_that_clean_alike() -> None:
    stems = statement_service.file_stems([("2017-Q3", "P/1010"), ("2017-Q3", "P_1010"), ("2017-Q3", "P-1007")])
    assert stems[0].startswith("statement_2017-Q3_P_1010_")
    assert stems[1].startswith("statement_2017-Q3_P_1010_")
    assert stems[0] != stems[1]
    assert stems[2] == "statement_2017-Q3_P-1007"


def test_long_ids_make_short_distinct_file_names(tmp_path: Path) -> None:
    first, second = "P" * 300, "P" * 299 + "Q"
    stems = statement_service.file_stems([("2017-Q3", first), ("2017-Q3", second), ("2017-Q3", "P-1007")])
    assert len({*stems}) == 3
    assert max(len(stem) for stem in stems) <= 120
    assert stems[0].startswith("statement_2017-Q3_" + "P" * 60)
    assert stems[2] == "statement_2017-Q3_P-1007"
    # The temporary name the renderer writes first must fit the file system too.
    (tmp_path / f"{stems[0]}.pdf.part-4194304").write_bytes(b"")


@pytest.mark.slow
def test_pool_keeps_order_while_reading_waits(statement_workspace_path: Path, tmp_path: Path) -> None:
    """More batches than may be in flight: adding waits for workers, and results still come back in job order."""
    with Workspace.open(statement_workspace_path, "tester") as workspace:
        data = statement_service.statement_for(workspace, "2017-Q3", "P-1007")
    count = (statement_service.IN_FLIGHT_PER_WORKER * 2 + 2) * statement_service.BATCH_SIZE
    items = [dataclasses.replace(data, participant_name=f"Seller {index:04d}") for index in range(count)]
    jobs = [(item, ("pdf",), "A4", str(tmp_path / f"statement-{index}")) for index, item in enumerate(items)]
    reports: list[int] = []

    rendered = statement_service.render_files(jobs, 2, lambda done, total, message: reports.append(done), None)

    assert [content_hash for content_hash, _ in rendered] == [content_sha256(item) for item in items]
    assert all(Path(written[0][1]).exists() for _, written in rendered)
    assert reports[-1] == count


# Renders 30 copies of P-1007's statement with 2 workers. The module-level call has no
# `if __name__ == "__main__"` guard, so each spawned worker re-runs it while starting,
# multiprocessing stops that worker, and the pool breaks.
BREAKING_SCRIPT = """
import sys
from pathlib import Path
from spm_desktop.services import statement_service
from spm_desktop.services.context import Workspace

workspace = Workspace.open(Path(sys.argv[1]), "tester")
data = statement_service.statement_for(workspace, "2017-Q3", "P-1007")
jobs = [(data, ("pdf",), "A4", str(Path(sys.argv[2]) / f"copy-{index}")) for index in range(30)]
rendered = statement_service.render_files(jobs, 2, lambda *_: None, None)
print(len({written[0][2] for _, written in rendered}), sum(Path(written[0][1]).exists() for _, written in rendered))
"""


@pytest.mark.slow
def test_broken_pool_falls_back_here(statement_workspace_path: Path, tmp_path: Path) -> None:
    script = tmp_path / "render_without_guard.py"
    script.write_text(BREAKING_SCRIPT, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()

    result = run_python_file(script, str(statement_workspace_path), str(out))

    assert "rendering the rest in this process" in result.stderr
    assert result.stdout.split() == ["1", "30"]
