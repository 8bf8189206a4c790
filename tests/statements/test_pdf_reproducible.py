"""Statement PDFs come out byte-identical in every process: CLI, GUI, after widgets, from any install folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget
from statement_processes import PARTICIPANT, PERIOD, cli_statement_pdf, run_python

from spm_desktop.exporting import statement_pdf
from spm_desktop.services import statement_service
from spm_desktop.services.context import Workspace

# Renders P-1007's statement of the workspace in sys.argv[1] into sys.argv[2] in this fresh process.
RENDER_SCRIPT = """
import sys
from pathlib import Path
from spm_desktop.exporting import statement_pdf
from spm_desktop.services import statement_service
from spm_desktop.services.context import Workspace
{before}
workspace = Workspace.open(Path(sys.argv[1]), "tester")
data = statement_service.statement_for(workspace, "2017-Q3", "P-1007")
workspace.close()
Path(sys.argv[2]).write_bytes(statement_pdf.render_statement_pdf(data))
"""

# Draws widgets in the system's DejaVu Sans before any statement font is registered.
WIDGETS_FIRST = """
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel("Payout statement 1,234.50")
label.setFont(QFont("DejaVu Sans", 9))
label.show()
label.grab()
"""


def _show_widgets(qtbot) -> QWidget:
    """Show and grab a window whose text uses the system's DejaVu Sans, as the GUI's widgets do."""
    window = QWidget()
    layout = QVBoxLayout(window)
    for size, bold in ((6.5, False), (6.5, True), (13.0, True)):
        label = QLabel("Payout statement · 2017-Q3 7,057.50 USD")
        font = QFont("DejaVu Sans")
        font.setPointSizeF(size)
        font.setBold(bold)
        label.setFont(font)
        layout.addWidget(label)
    table = QTableWidget(3, 2)
    table.setItem(0, 0, QTableWidgetItem("Bookings commission"))
    layout.addWidget(table)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert not window.grab().isNull()
    return window


def test_pdf_after_widgets_matches_cli(qtbot, statement_workspace_path: Path, tmp_path: Path) -> None:
    _show_widgets(qtbot)
    with Workspace.open(statement_workspace_path, "tester") as workspace:
        data = statement_service.statement_for(workspace, PERIOD, PARTICIPANT)
    in_process = statement_pdf.render_statement_pdf(data, statement_pdf.page_size_key("A4"))

    from_cli = cli_statement_pdf(statement_workspace_path, tmp_path / "cli")

    assert statement_pdf.fonts_in_first_slots()
    assert in_process == from_cli


def test_export_after_widgets_matches_cli(qtbot, statement_workspace_path: Path, tmp_path: Path) -> None:
    _show_widgets(qtbot)
    with Workspace.open(statement_workspace_path, "tester") as workspace:
        summary = statement_service.export_statements(workspace, PERIOD, tmp_path / "service", ["pdf"], PARTICIPANT)

    from_cli = cli_statement_pdf(statement_workspace_path, tmp_path / "cli")

    assert summary.files[0].path.read_bytes() == from_cli


def test_fresh_process_drawing_widgets_first_matches_cli(statement_workspace_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "widgets-first.pdf"
    run_python(RENDER_SCRIPT.format(before=WIDGETS_FIRST), str(statement_workspace_path), str(target))

    from_cli = cli_statement_pdf(statement_workspace_path, tmp_path / "cli")

    assert target.read_bytes() == from_cli


def test_pdf_independent_of_font_folder(statement_workspace_path: Path, tmp_path: Path) -> None:
    # Qt keys a font loaded from a file by its path, and that key orders the embedded font
    # objects. These two folders gave different bytes before the fonts were loaded from memory.
    outputs = []
    for folder in (tmp_path / "f1", tmp_path / "opt" / "spm-desktop" / "_internal" / "resources" / "fonts"):
        folder.mkdir(parents=True)
        for name in statement_pdf.FONT_FILES:
            shutil.copyfile(statement_pdf.FONT_DIR / name, folder / name)
        before = f"statement_pdf.FONT_DIR = Path({str(folder)!r})"
        target = folder / "statement.pdf"
        run_python(RENDER_SCRIPT.format(before=before), str(statement_workspace_path), str(target))
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]


def test_fonts_registered_late_render_in_worker(statement_workspace_path: Path, tmp_path: Path) -> None:
    """A process that registered another application font first exports through a worker, same bytes as the CLI."""
    script = """
import sys
from pathlib import Path
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QApplication
from spm_desktop.exporting import statement_pdf
from spm_desktop.services import statement_service
from spm_desktop.services.context import Workspace
app = QApplication([])
assert QFontDatabase.addApplicationFont(str(statement_pdf.FONT_DIR / "DejaVuSans-Bold.ttf")) == 0
assert not statement_pdf.fonts_in_first_slots()
assert statement_service.worker_processes(4, 1, ["pdf"]) == 1
workspace = Workspace.open(Path(sys.argv[1]), "tester")
summary = statement_service.export_statements(workspace, "2017-Q3", Path(sys.argv[2]), ["pdf"], "P-1007")
workspace.close()
"""
    out = tmp_path / "late"
    run_python(script, str(statement_workspace_path), str(out))

    from_cli = cli_statement_pdf(statement_workspace_path, tmp_path / "cli")

    assert (out / f"statement_{PERIOD}_{PARTICIPANT}.pdf").read_bytes() == from_cli
