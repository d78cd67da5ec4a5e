"""Derivatives as formulas: read off the recorded graph, simplified, printed.

`diff(expression, at=None, wrt=None, order=1)` returns a `DiffResult` whose
formulas are text in gradcli's own language (each parses and evaluates to the
engine's numbers) and can also be written as LaTeX.
"""

from gradcli.formula.derive import Formula, diff
from gradcli.results import DiffResult

__all__ = ["DiffResult", "Formula", "diff"]
