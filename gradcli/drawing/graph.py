"""The engine graph as a picture: a plain model, then DOT, Mermaid and a tree.

`graph_model` walks the graph from its outputs (iteratively) and gives every
vertex one entry: operations (the `grad_fn` nodes), variables (leaves that
require grad), constants (inputs that need no gradient) and outputs. Edges
point the way data flows, from inputs to the operation that consumes them.
The three renderers only read this model.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from gradcli.engine.autograd import topological_order, vertex_of
from gradcli.engine.tensor import AccumulateGrad, Node, Tensor
from gradcli.numbers import fmt_brief

LABEL_WIDTH = 40


class Vertex:
    __slots__ = ("grad", "id", "kind", "label", "op", "output", "shape", "value")

    def __init__(self, id: int, kind: str, label: str, op: str | None,
                 shape: tuple[int, ...], value: np.ndarray | None, grad: np.ndarray | None):
        self.id = id
        self.kind = kind  # "op" | "variable" | "constant"
        self.label = label
        self.op = op
        self.shape = shape
        self.value = value
        self.grad = grad
        self.output = False


class GraphModel:
    def __init__(self, vertices: list[Vertex], edges: list[tuple[int, int]]):
        self.vertices = vertices
        self.edges = edges

    def inputs_of(self) -> dict[int, list[int]]:
        inputs: dict[int, list[int]] = {v.id: [] for v in self.vertices}
        for source, target in self.edges:
            inputs[target].append(source)
        return inputs


def graph_model(outputs: list[Tensor], output_labels: list[str] | None = None) -> GraphModel:
    roots = [v for t in outputs if (v := vertex_of(t)) is not None]
    order = topological_order(roots)  # inputs before the operations that use them
    ids: dict[Any, int] = {}
    vertices: list[Vertex] = []
    edges: list[tuple[int, int]] = []

    def add(key: Any, vertex: Vertex) -> int:
        ids[key] = vertex.id
        vertices.append(vertex)
        return vertex.id

    for item in order:
        if isinstance(item, AccumulateGrad):
            t = item.variable()
            value = None if t is None else t.data
            add(item, Vertex(len(vertices), "variable", (t.label if t is not None else None)
                             or "leaf", None, () if value is None else value.shape, value,
                             None if t is None or t.grad is None else t.grad.data))
            continue
        node: Node = item
        saved = node.saved or ()
        for t, edge in zip(saved, node.edges, strict=False):
            if edge is None and id(t) not in ids:
                add(id(t), Vertex(len(vertices), "constant", t.label or _short(t.data), None,
                                  t.data.shape, t.data, None))
        kept = node.retained() if node.retained is not None else None
        vertex_id = add(node, Vertex(
            len(vertices), "op", node.label or node.op.name, node.op.name,
            () if node.out is None else node.out.shape, node.out,
            None if kept is None or kept.grad is None else kept.grad.data))
        for t, edge in zip(saved, node.edges, strict=False):
            source = ids[edge] if edge is not None else ids[id(t)]
            edges.append((source, vertex_id))
    for k, t in enumerate(outputs):
        v = vertex_of(t)
        if v is not None and v in ids:
            vertex = vertices[ids[v]]
            vertex.output = True
            if output_labels and output_labels[k] != vertex.label:
                named = vertex.label != vertex.op  # a user's name or source text
                vertex.label = f"{output_labels[k]} = {vertex.label}" if named \
                    else output_labels[k]
    return GraphModel(vertices, edges)


def _short(value: np.ndarray) -> str:
    """A value in a label: the tables' number formatting, on one line, in brief."""
    return fmt_brief(value)


def _clip(text: str, width: int = LABEL_WIDTH) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _lines(vertex: Vertex) -> list[str]:
    if vertex.kind != "op" or vertex.label == vertex.op:
        head = _clip(vertex.label)
    else:  # a long label is cut, never the op's name after it
        tag = f"  [{vertex.op}]"
        head = _clip(vertex.label, max(LABEL_WIDTH - len(tag), 8)) + tag
    lines = [head]
    if vertex.shape:
        lines.append("shape " + "x".join(map(str, vertex.shape)))
    if vertex.value is not None and vertex.kind != "constant":
        lines.append("value " + _clip(_short(vertex.value)))
    if vertex.grad is not None:
        lines.append("grad " + _clip(_short(vertex.grad)))
    return lines


# -- DOT ---------------------------------------------------------------------------------
_DOT_STYLE = {
    "variable": 'shape=box, style="rounded,filled", fillcolor="#cfe6ff"',
    "constant": 'shape=box, style="dashed", color="#888888", fontcolor="#555555"',
    "op": 'shape=ellipse, style=filled, fillcolor="#f4f4f4"',
}


def dot_quote(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, lines joined by \\n."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(model: GraphModel, title: str) -> str:
    out = ["digraph gradcli {",
           "  rankdir=LR;",
           f"  label={dot_quote(title)}; labelloc=t; fontname=\"Helvetica\";",
           '  node [fontname="Helvetica", fontsize=11];',
           '  edge [color="#666666"];']
    for v in model.vertices:
        style = _DOT_STYLE[v.kind]
        if v.output:
            style = 'shape=doubleoctagon, style=filled, fillcolor="#ffe3b3"'
        out.append(f"  n{v.id} [label={dot_quote(chr(10).join(_lines(v)))}, {style}];")
    for source, target in model.edges:
        out.append(f"  n{source} -> n{target};")
    out.append("}")
    return "\n".join(out) + "\n"


# -- Mermaid -------------------------------------------------------------------------------
def mermaid_text(text: str) -> str:
    """Mermaid label text: its entity codes for the characters that break a label."""
    for char, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text


def to_mermaid(model: GraphModel, title: str) -> str:
    # the front matter is YAML, not a label: the title is a double-quoted YAML string
    # (JSON's escapes are YAML's), so '>' stays '>' and a ':' or '#' cannot end it
    out = ["---", f"title: {json.dumps(title, ensure_ascii=False)}", "---", "flowchart LR"]
    shapes = {"variable": ('(["', '"])'), "constant": ('["', '"]'), "op": ('("', '")')}
    for v in model.vertices:
        left, right = ('{{"', '"}}') if v.output else shapes[v.kind]
        label = "<br/>".join(mermaid_text(line) for line in _lines(v))
        out.append(f"  n{v.id}{left}{label}{right}")
    for source, target in model.edges:
        out.append(f"  n{source} --> n{target}")
    out += ["  classDef variable fill:#cfe6ff,stroke:#3a78c2",
            "  classDef constant stroke-dasharray:4 3,color:#555",
            "  classDef output fill:#ffe3b3,stroke:#c98a1a"]
    for kind in ("variable", "constant"):
        members = [f"n{v.id}" for v in model.vertices if v.kind == kind and not v.output]
        if members:
            out.append(f"  class {','.join(members)} {kind}")
    outputs = [f"n{v.id}" for v in model.vertices if v.output]
    if outputs:
        out.append(f"  class {','.join(outputs)} output")
    return "\n".join(out) + "\n"


# -- a tree, from the output down to the leaves -----------------------------------------------
def to_tree(model: GraphModel, title: str) -> Any:
    """A Rich Tree; a sub-expression used twice is drawn once and referred to after that."""
    from rich.markup import escape
    from rich.tree import Tree

    inputs = model.inputs_of()
    by_id = {v.id: v for v in model.vertices}
    tree = Tree(escape(title))
    shown: set[int] = set()
    roots = [v.id for v in model.vertices if v.output]
    stack: list[tuple[int, Any]] = [(r, tree) for r in reversed(roots)]
    while stack:
        vid, parent = stack.pop()
        vertex = by_id[vid]
        text = "  ".join(_lines(vertex))
        if vid in shown and vertex.kind == "op":
            parent.add(f"[dim]{escape(_clip(vertex.label))}  (shown above)[/dim]")
            continue
        style = {"variable": "bold cyan", "constant": "dim", "op": ""}[vertex.kind]
        if vertex.output:
            style = "bold yellow"
        branch = parent.add(f"[{style}]{escape(text)}[/{style}]" if style else escape(text))
        shown.add(vid)
        for source in reversed(inputs[vid]):
            stack.append((source, branch))
    return tree
