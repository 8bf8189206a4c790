"""Statement layout: width bounds that never understate text, and cells shortened only when they do not fit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies

from spm_desktop.exporting import statement_pdf
from spm_desktop.exporting.statement_pdf import STYLES, TextOp
from spm_desktop.services import statement_service
from spm_desktop.services.context import Workspace

PRINTABLE = "".join(chr(code) for code in range(32, 127))
# Pairs DejaVu Sans kerns apart (positive) or together (negative), so sums of single advances are off.
KERNED = ("-J", "C-", "AV", "To", "LT", "Yo", "r.", "F,", "W.", "P.")


@pytest.fixture(scope="module")
def metrics(qapp):
    statement_pdf.ensure_gui_application()
    return statement_pdf._Metrics()


@pytest.mark.parametrize("style", sorted(STYLES))
def test_bound_covers_kerned_text(metrics, style: str) -> None:
    for text in (*KERNED, "".join(KERNED), "-J-J-J-J-J-J", "1,234,567.89", "D00012-013/2"):
        assert metrics.bound(text, style) >= metrics.width(text, style) - 1e-9, text


@settings(max_examples=300, deadline=None)
@given(text=strategies.text(alphabet=PRINTABLE, min_size=1, max_size=40),
       style=strategies.sampled_from(sorted(STYLES)))
def test_bound_never_below_exact_width(metrics, text: str, style: str) -> None:
    fresh = statement_pdf._Metrics.bound(metrics, text, style)
    exact = metrics._metrics[style].horizontalAdvance(text)
    assert fresh >= exact - 1e-9


def test_bound_of_other_characters_is_exact(metrics) -> None:
    text = "Zoë Ångström · Łódź"
    assert metrics.bound(text, "cell") == metrics._metrics["cell"].horizontalAdvance(text)


def _long_customer_statement(path: Path):
    with Workspace.open(path, "tester") as workspace:
        data = statement_service.statement_for(workspace, "2017-Q3", "P-1007")
    customer = "Isdom International Holdings and Subsidiaries of the Northern Region"
    lines = tuple(dataclasses.replace(line, customer=customer) for line in data.lines)
    return dataclasses.replace(data, lines=lines), customer


def _text_ops(document) -> list[TextOp]:
    return [op for page in document.pages for op in page if isinstance(op, TextOp)]


def test_long_cell_is_shortened_to_its_box(qapp, statement_workspace_path: Path) -> None:
    data, customer = _long_customer_statement(statement_workspace_path)
    document = statement_pdf.layout_statement(data)
    metrics = statement_pdf._metrics()
    shortened = [op for op in _text_ops(document) if op.text.startswith("Isdom")]
    assert len(shortened) == len(data.lines)
    for op in shortened:
        assert op.text.endswith("…")
        assert customer.startswith(op.text[:-1])
        assert metrics.width(op.text, op.style) <= op.rect[2]


def test_fitting_cells_stay_whole(qapp, statement_workspace_path: Path) -> None:
    with Workspace.open(statement_workspace_path, "tester") as workspace:
        data = statement_service.statement_for(workspace, "2017-Q3", "P-1007")
    texts = {op.text for op in _text_ops(statement_pdf.layout_statement(data))}
    assert "Z063OYW0" in texts
    assert "2017-07-05" in texts
    assert "GTX Pro" in texts
    assert not any(text.endswith("…") for text in texts if not text.startswith("="))


def test_layout_repeats_identically(qapp, statement_workspace_path: Path) -> None:
    data, _ = _long_customer_statement(statement_workspace_path)
    first = statement_pdf.layout_statement(data)
    # The second layout finds every width in the caches; it must place the same text.
    second = statement_pdf.layout_statement(data)
    assert first.pages == second.pages
