"""CSV cells that a spreadsheet would run as formulas are neutralised; numbers are not."""

from __future__ import annotations

import io

import pytest

from spm_desktop.cli.common import write_csv
from spm_desktop.exporting.safe import neutralise_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=HYPERLINK("http://example.invalid","x")', '\'=HYPERLINK("http://example.invalid","x")'),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("-", "'-"),
        ("-inf", "'-inf"),
        ("-1561.00", "-1561.00"),
        ("+3.5", "+3.5"),
        ("Anna Snelling", "Anna Snelling"),
    ],
)
def test_neutralise_text(text: str, expected: str) -> None:
    assert neutralise_text(text) == expected


def test_cli_csv_neutralises_names_but_not_amounts() -> None:
    stream = io.StringIO()
    write_csv(["participant", "difference"], [['=HYPERLINK("http://example.invalid","x")', "-12.50"]], stream)
    lines = stream.getvalue().splitlines()
    assert lines[1] == '"\'=HYPERLINK(""http://example.invalid"",""x"")",-12.50'
