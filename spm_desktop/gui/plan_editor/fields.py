"""Form fields bound to one value of a frozen plan or component, with the problems shown under each field.

A binding reads its value from the subject (the plan or a component) when the form is
shown. When the user commits input, the binding turns it into a new subject. Input is
committed by Enter or by leaving a text field, by choosing a list entry, or by clicking
a check box. Input that cannot be converted stays in the field, red, with the reason
under it, and the subject does not change until it is corrected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from spm_desktop.gui.plan_editor.bands import INVALID_BACKGROUND, parse_decimal

PROBLEM_STYLE = "color: #A61B1B;"
# Characters that YAML reads as line breaks, so a one-line value must not contain them.
_LINE_BREAKS = "\n\r\x85"
INVALID_STYLE = f"background: {INVALID_BACKGROUND.name()};"


class FieldError(ValueError):
    """Raised for input that cannot become the field's value. The message names the input expected instead."""


def read_text(text: str, field_name: str) -> str:
    """Return one line of typed text without surrounding spaces, or raise FieldError."""
    cleaned = text.strip()
    if any(character in cleaned for character in _LINE_BREAKS):
        raise FieldError(f"{field_name} must be one line; remove the line break")
    return cleaned


def read_decimal(text: str, expected: str, example: str) -> Decimal | None:
    """Read an optional number typed into a field (empty text is None), accepting a trailing % sign."""
    if not text.strip():
        return None
    try:
        return parse_decimal(text)
    except (InvalidOperation, ValueError):
        raise FieldError(f"{text.strip()!r} is not a number; type {expected} such as {example}") from None


def read_whole_number(text: str, expected: str) -> int:
    cleaned = text.strip()
    if not cleaned.lstrip("-").isdigit():
        raise FieldError(f"{cleaned!r} is not a whole number; type {expected} in digits, such as 90")
    return int(cleaned)


def read_date(text: str, expected: str) -> dt.date | None:
    """Read an optional ISO date (empty text is None)."""
    cleaned = text.strip()
    if not cleaned:
        return None
    try:
        return dt.date.fromisoformat(cleaned)
    except ValueError:
        raise FieldError(f"{cleaned!r} is not a date; type {expected} as YYYY-MM-DD, such as 2017-01-01") from None


@dataclass
class Binding:
    """One field: its widget, the label that shows its problems, and how it reads and writes the subject."""

    key: str
    label: str
    widget: QWidget
    problem_label: QLabel
    row: QWidget
    read: Callable[[Any], Any]
    write: Callable[[Any, Any], Any]


class BoundForm(QWidget):
    """A form of bound fields that never changes its subject itself.

    It emits ``edited(new_subject, field_label)`` for a change, and ``input_checked`` when
    input was rejected or changed nothing, so the owner can update its Save button.
    """

    edited = Signal(object, str)
    input_checked = Signal()

    def __init__(self, prefix: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prefix = prefix
        self.subject: Any = None
        self.bindings: dict[str, Binding] = {}
        self.invalid: dict[str, str] = {}
        self._problems: dict[str, list[str]] = {}

    # Building ---------------------------------------------------------------------------

    def _row(self, layout: QFormLayout, key: str, label: str, widget: QWidget, read: Callable[[Any], Any],
             write: Callable[[Any, Any], Any], tooltip: str = "") -> Binding:
        widget.setObjectName(f"{self.prefix}_{key}")
        widget.setToolTip(tooltip)
        problem_label = QLabel("")
        problem_label.setObjectName(f"{self.prefix}_{key}_problem")
        problem_label.setWordWrap(True)
        problem_label.setStyleSheet(PROBLEM_STYLE)
        problem_label.hide()
        row = QWidget()
        row_layout = QVBoxLayout(row)
        row_layout.setContentsMargins(0, 0, 0, 0)
        row_layout.setSpacing(2)
        row_layout.addWidget(widget)
        row_layout.addWidget(problem_label)
        layout.addRow(label, row)
        binding = Binding(key, label.rstrip(":"), widget, problem_label, row, read, write)
        self.bindings[key] = binding
        return binding

    def add_line(self, layout: QFormLayout, key: str, label: str, read: Callable[[Any], str],
                 write: Callable[[Any, str], Any], placeholder: str = "", tooltip: str = "") -> QLineEdit:
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder)
        binding = self._row(layout, key, label, edit, read, write, tooltip)
        edit.editingFinished.connect(lambda: self._commit(binding, edit.text()))
        return edit

    def add_combo(self, layout: QFormLayout, key: str, label: str, choices: Sequence[tuple[str, Any]],
                  read: Callable[[Any], Any], write: Callable[[Any, Any], Any], tooltip: str = "") -> QComboBox:
        """Add a drop-down of (label, value) choices; ``read`` and ``write`` work with the values."""
        combo = self._combo()
        for text, value in choices:
            combo.addItem(text, value)
        binding = self._row(layout, key, label, combo, read, write, tooltip)
        combo.activated.connect(lambda _index: self._commit(binding, combo.currentData()))
        return combo

    def add_editable_combo(self, layout: QFormLayout, key: str, label: str, read: Callable[[Any], str],
                           write: Callable[[Any, str], Any], placeholder: str = "", tooltip: str = "") -> QComboBox:
        """Add a drop-down of suggestions that also takes typed text, such as a metric key."""
        combo = self._combo()
        combo.setEditable(True)
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        combo.lineEdit().setPlaceholderText(placeholder)
        binding = self._row(layout, key, label, combo, read, write, tooltip)
        combo.lineEdit().editingFinished.connect(lambda: self._commit(binding, combo.currentText()))
        combo.activated.connect(lambda _index: self._commit(binding, combo.currentText()))
        return combo

    def add_check(self, layout: QFormLayout, key: str, label: str, text: str, read: Callable[[Any], bool],
                  write: Callable[[Any, bool], Any], tooltip: str = "") -> QCheckBox:
        check = QCheckBox(text)
        binding = self._row(layout, key, label, check, read, write, tooltip)
        check.clicked.connect(lambda checked: self._commit(binding, checked))
        return check

    @staticmethod
    def _combo() -> QComboBox:
        combo = QComboBox()
        # Long entries must not widen the form beyond the editor's column.
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(12)
        return combo

    @staticmethod
    def monospace(widget: QWidget) -> None:
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.TypeWriter)
        widget.setFont(font)

    # Showing ----------------------------------------------------------------------------

    def show_subject(self, subject: Any, problems: dict[str, list[str]]) -> None:
        """Fill every field from ``subject`` and show ``problems`` (field key to messages) under the fields."""
        self.subject = subject
        self._problems = problems
        self.invalid = {}
        if subject is None:
            return
        for binding in self.bindings.values():
            self._fill(binding, binding.read(subject))
            self._show_problem(binding)

    @staticmethod
    def _fill(binding: Binding, value: Any) -> None:
        widget = binding.widget
        widget.blockSignals(True)
        if isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QComboBox) and widget.isEditable():
            widget.setCurrentText(str(value))
        elif isinstance(widget, QComboBox):
            widget.setCurrentIndex(max(0, widget.findData(value)))
        elif isinstance(widget, QLineEdit):
            widget.setText(str(value))
            widget.setCursorPosition(0)
        widget.blockSignals(False)

    def _show_problem(self, binding: Binding, live: str | None = None, typing: bool = False) -> None:
        """Show the input error, else the live check, else the validation problems of one field.

        While the user types (``typing``), validation problems of the committed value are
        hidden, because they may no longer apply to the text in the field.
        """
        messages = [self.invalid[binding.key]] if binding.key in self.invalid else []
        if not messages and live:
            messages = [live]
        if not messages and not typing:
            messages = self._problems.get(binding.key, [])
        binding.problem_label.setText("\n".join(messages))
        binding.problem_label.setVisible(bool(messages))
        binding.widget.setStyleSheet(INVALID_STYLE if binding.key in self.invalid or live else "")

    def set_live_problem(self, key: str, message: str | None) -> None:
        """Show a check that runs while the user types (such as an expression's parse check)."""
        binding = self.bindings[key]
        committed = str(binding.read(self.subject)) if self.subject is not None else ""
        widget = binding.widget
        typed = widget.text() if isinstance(widget, QLineEdit) else committed
        self._show_problem(binding, live=message, typing=typed != committed)

    def set_field_visible(self, key: str, visible: bool) -> None:
        binding = self.bindings[key]
        parent = binding.row.parentWidget()
        layout = parent.layout() if parent is not None else None
        if isinstance(layout, QFormLayout):
            layout.setRowVisible(binding.row, visible)

    def problem_text(self, key: str) -> str:
        """Return the text shown under a field (empty when the field has no problem)."""
        label = self.bindings[key].problem_label
        return label.text() if not label.isHidden() else ""

    # Committing -------------------------------------------------------------------------

    def _commit(self, binding: Binding, value: Any) -> None:
        if self.subject is None:
            return
        try:
            updated = binding.write(self.subject, value)
        except FieldError as error:
            self.invalid[binding.key] = str(error)
            self._show_problem(binding)
            self.input_checked.emit()
            return
        self.invalid.pop(binding.key, None)
        self._show_problem(binding)
        if updated != self.subject:
            self.edited.emit(updated, binding.label)
        else:
            self.input_checked.emit()
