"""Layer rules: the domain stays pure, and services never reach up into the faces."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "spm_desktop"
FORBIDDEN_IN_DOMAIN = ("PySide6", "sqlalchemy", "alembic", "matplotlib", "spm_desktop.store",
                       "spm_desktop.services", "spm_desktop.gui", "spm_desktop.cli", "spm_desktop.importing",
                       "spm_desktop.exporting")
FORBIDDEN_IN_SERVICES = ("PySide6", "spm_desktop.gui", "spm_desktop.cli")
# PDF statements are drawn with QPainter on QPdfWriter, so exporting may use QtCore and
# QtGui as a drawing library, but never the GUI package. From QtWidgets it may take only
# QApplication: a process has one application object, and a QGuiApplication made first
# would stop later widgets in the same process from working.
FORBIDDEN_IN_EXPORTING = ("spm_desktop.gui", "spm_desktop.cli")
ALLOWED_WIDGETS_IN_EXPORTING = {"QApplication"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _violations(folders: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    violations = []
    for folder in folders:
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            for line, module in _imports(path):
                if any(module == name or module.startswith(name + ".") for name in forbidden):
                    violations.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}")
    return violations


def test_domain_imports_no_qt_sql_or_outer_layers() -> None:
    assert _violations(("domain",), FORBIDDEN_IN_DOMAIN) == []


def test_services_import_no_faces() -> None:
    assert _violations(("store", "services", "importing"), FORBIDDEN_IN_SERVICES) == []


def test_exporting_draws_without_widgets() -> None:
    assert _violations(("exporting",), FORBIDDEN_IN_EXPORTING) == []
    widget_names = set()
    for path in (PACKAGE / "exporting").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "PySide6.QtWidgets":
                widget_names.update(alias.name for alias in node.names)
            if isinstance(node, ast.Import):
                assert all(alias.name != "PySide6.QtWidgets" for alias in node.names), path
    assert widget_names <= ALLOWED_WIDGETS_IN_EXPORTING


def test_domain_loads_without_qt_or_sqlalchemy() -> None:
    # A runtime check as well: importing every domain module pulls in neither library.
    modules = sorted(
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for path in (PACKAGE / "domain").rglob("*.py")
    )
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'sqlalchemy', 'alembic'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_rule_catches_a_violation(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from PySide6.QtCore import QObject\nimport sqlalchemy\n")
    assert [module for _, module in _imports(probe)] == ["PySide6.QtCore", "sqlalchemy"]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path, known: set[str]) -> set[str]:
    """Return the known modules a file imports anywhere in it, deferred imports inside functions included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known}


def _cycles(folder: str) -> list[list[str]]:
    paths = {_module_name(path): path for path in (PACKAGE / folder).rglob("*.py")}
    graph = {name: _imported_modules(path, set(paths)) - {name} for name, path in paths.items()}
    cycles = []
    for start in sorted(graph):
        stack = [(start, [start])]
        seen = set()
        while stack:
            name, route = stack.pop()
            for target in sorted(graph[name]):
                if target == start:
                    cycles.append(route)
                elif target not in seen and target > start:
                    seen.add(target)
                    stack.append((target, [*route, target]))
    return cycles


def test_services_import_each_other_without_cycles() -> None:
    """A service imports only services below it, so each can be read and tested from the bottom up."""
    assert _cycles("services") == []
