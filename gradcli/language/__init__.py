"""The expression language: a Lark grammar compiled to engine graphs.

`parse(text)` returns a `Program`; `Program.evaluate(bindings)` builds the graph.
`parse_value(text)` reads a constant (as in a binding `m=[2,3]`), and
`render_error(error, text)` shows an error with a caret under its span.
"""

from gradcli.language.diagnostics import render_error
from gradcli.language.program import Evaluation, NonFiniteReport, Program, parse
from gradcli.language.values import parse_binding, parse_value

__all__ = ["Evaluation", "NonFiniteReport", "Program", "parse", "parse_binding",
           "parse_value", "render_error"]
