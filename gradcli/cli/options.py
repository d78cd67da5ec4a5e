"""The options every command understands, in one place.

Both front ends (the Typer app, and the lean path that skips importing Typer
for ordinary invocations) fill in the same `Options`, and `OPTION_FLAGS` is
the list both accept, so they cannot drift apart unnoticed (tests compare
them).
"""

from __future__ import annotations

from gradcli.batch import DEFAULT_CHUNK

FORMATS = ("table", "json", "csv")
#: with --points, records go out as CSV, JSON lines or NPZ
POINT_FORMATS = ("csv", "json", "jsonl", "npz")
#: graph also draws: a tree in the terminal, Graphviz source, or a Mermaid flowchart
GRAPH_FORMATS = ("tree", "dot", "mermaid")
COMMANDS = ("eval", "grad", "hessian", "jacobian", "graph", "check")


class Options:
    def __init__(self, format: str = "table", precision: int = 6, at: list[str] | None = None,
                 wrt: str | None = None, seed: str | None = None, strict: bool = False,
                 eig: bool = False, mode: str = "auto", retain_grad: bool = False,
                 order: int = 1, rtol: float = 1e-5, atol: float = 1e-8,
                 render: str | None = None, points: str | None = None,
                 out: str | None = None, chunk_size: int = DEFAULT_CHUNK, fail_fast: bool = False,
                 points_format: str | None = None, quiet: bool = False):
        self.format = format
        self.precision = precision
        self.at: list[str] = list(at or [])
        self.wrt = wrt
        self.seed = seed
        self.strict = strict
        self.eig = eig
        self.mode = mode
        self.retain_grad = retain_grad
        self.order = order
        self.rtol = rtol
        self.atol = atol
        self.render = render
        self.points = points
        self.out = out
        self.chunk_size = chunk_size
        self.fail_fast = fail_fast
        self.points_format = points_format
        self.quiet = quiet

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Options) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"Options({vars(self)})"


#: flag -> (Options field, takes a value, which commands accept it)
OPTION_FLAGS: dict[str, tuple[str, bool, tuple[str, ...]]] = {
    "--format": ("format", True, COMMANDS),
    "--precision": ("precision", True, COMMANDS),
    "--at": ("at", True, COMMANDS),
    "--strict": ("strict", False, COMMANDS),
    "--wrt": ("wrt", True, ("grad", "hessian", "jacobian", "graph", "check")),
    "--seed": ("seed", True, ("grad", "graph")),
    "--eig": ("eig", False, ("hessian",)),
    "--mode": ("mode", True, ("jacobian",)),
    "--retain-grad": ("retain_grad", False, ("graph",)),
    "--order": ("order", True, ("check", "graph")),
    "--render": ("render", True, ("graph",)),
    "--points": ("points", True, ("eval", "grad", "hessian", "jacobian")),
    "--out": ("out", True, ("eval", "grad", "hessian", "jacobian")),
    "--chunk-size": ("chunk_size", True, ("eval", "grad", "hessian", "jacobian")),
    "--fail-fast": ("fail_fast", False, ("eval", "grad", "hessian", "jacobian")),
    "--points-format": ("points_format", True, ("eval", "grad", "hessian", "jacobian")),
    "--quiet": ("quiet", False, ("eval", "grad", "hessian", "jacobian")),
    "--rtol": ("rtol", True, ("check",)),
    "--atol": ("atol", True, ("check",)),
}
