"""Calculate plan periods and store the runs with full lineage; read results back.

``calculate`` reads every input: records, plans in force, metric versions, quotas, FX
rates, adjustments and the recorded results of earlier closed periods of the plan year.
It runs the domain engine and stores each plan period's run with its results, lines
and balances. All of that, the run's audit entry and the period's new state are
written in one transaction. A failure or a cancel before the commit leaves the workspace unchanged.

Every stored result, line and balance carries ``row_hash`` (SHA-256 of its canonical
content, id included) and the run's audit entry records a hash over each table's row
hashes. The content check registered with the audit service recomputes both, so
``spm audit verify`` names a result row that was edited outside the application.

Scenario runs (``kind="scenario"``) use the same engine with plans from the review
engineer's scenario; they never touch period states and never show in official results.

This module is the public face of the ``spm_desktop.services.calc`` package, which
holds the code by concept: ``inputs`` (reading), ``running`` (the engine and the
transaction), ``rows`` (engine output to table rows), ``storing``, ``hashing``,
``verification``, ``results``, ``lineage`` (drill-down) and ``suggestions``.
Importing this module also registers the audit content check.
"""

from __future__ import annotations

from spm_desktop.services.calc.computing import compute_runs, now_utc, recompute
from spm_desktop.services.calc.hashing import chain_digest, digest_cells, row_digest
from spm_desktop.services.calc.inputs import (
    RECORD_SETS,
    RecordFrames,
    RunInputs,
    frame_fingerprint,
    load_records,
    read_inputs,
)
from spm_desktop.services.calc.lineage import (
    LineSource,
    StoredLine,
    iter_lines,
    line_rows_of_result,
    line_source,
    lines_of_result,
    stored_line,
)
from spm_desktop.services.calc.results import (
    StoredResult,
    current_runs,
    export_csv,
    format_csv,
    format_rows,
    get_run,
    list_runs,
    period_results,
    results_of_runs,
    run_details,
    run_results,
)
from spm_desktop.services.calc.rows import engine_lines_to_columns, prepare_runs
from spm_desktop.services.calc.running import calculate
from spm_desktop.services.calc.storing import (
    OFFICIAL,
    RUN_ACTION,
    RUN_ENTITY,
    SCENARIO,
    PreparedRun,
    RunSummary,
    store_run,
)
from spm_desktop.services.calc.suggestions import MAX_SUGGESTED_PERIODS, suggested_periods
from spm_desktop.services.calc.verification import verify_stored_results

__all__ = [
    "MAX_SUGGESTED_PERIODS",
    "OFFICIAL",
    "RECORD_SETS",
    "RUN_ACTION",
    "RUN_ENTITY",
    "SCENARIO",
    "LineSource",
    "PreparedRun",
    "RecordFrames",
    "RunInputs",
    "RunSummary",
    "StoredLine",
    "StoredResult",
    "calculate",
    "chain_digest",
    "compute_runs",
    "current_runs",
    "digest_cells",
    "engine_lines_to_columns",
    "export_csv",
    "format_csv",
    "format_rows",
    "frame_fingerprint",
    "get_run",
    "iter_lines",
    "line_rows_of_result",
    "line_source",
    "lines_of_result",
    "list_runs",
    "load_records",
    "now_utc",
    "period_results",
    "prepare_runs",
    "read_inputs",
    "recompute",
    "results_of_runs",
    "row_digest",
    "run_details",
    "run_results",
    "store_run",
    "stored_line",
    "suggested_periods",
    "verify_stored_results",
]
