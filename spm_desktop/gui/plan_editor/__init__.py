"""The plan editor: every field of a plan and its components, with undo/redo, live checks and a payout curve.

``PlanEditor`` is the widget the Plans area embeds. Its modules split it by concept.
``editor`` builds the layout and owns the undo stack and saving. ``plan_form`` and
``component_form`` contain the bound fields, ``bands`` the band and curve table, and
``curve`` the payout chart. ``changes`` contains the pure plan edits and maps each
validation problem to its field.
"""

from spm_desktop.gui.plan_editor.bands import BandTableModel, cell_problems, parse_decimal
from spm_desktop.gui.plan_editor.editor import PlanEdit, PlanEditor

__all__ = ["BandTableModel", "PlanEdit", "PlanEditor", "cell_problems", "parse_decimal"]
