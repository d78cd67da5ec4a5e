"""Reverse mode: `backward` and `grad`, one iterative pass over the graph.

The pass orders the graph's vertices by an explicit-stack depth-first search
(no recursion, so a 100,000-deep chain is fine), then visits them outputs-first.
A vertex is visited once, after every consumer has added its contribution to
the vertex's gradient buffer; that is what makes a reused non-leaf
(`b = a + a; c = b + b`) correct. The VJP rules are ordinary Tensor code, run
with recording switched to `create_graph`, so a recorded backward pass is just
more graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from gradcli.engine.collector import no_cycle_collection
from gradcli.engine.mode import set_grad_enabled
from gradcli.engine.op import lookup
from gradcli.engine.state import current
from gradcli.engine.tensor import AccumulateGrad, Node, Tensor, apply, as_tensor
from gradcli.errors import AutogradError, ShapeError

_new = object.__new__

Vertex = Node | AccumulateGrad

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad()."
)
FREED_HINT = (
    "Specify retain_graph=True if you need to backward through the graph a second time "
    "or if you need to access saved tensors after calling backward."
)


def vertex_of(t: Tensor) -> Vertex | None:
    """The vertex a gradient for `t` flows into, or None if `t` does not require grad."""
    if t.grad_fn is not None:
        return t.grad_fn
    if t.requires_grad:
        return t._accumulate_grad()
    return None


def topological_order(roots: Iterable[Vertex]) -> list[Vertex]:
    """Every vertex reachable from `roots`, each after all the vertices it depends on.

    A depth-first search with an explicit stack: `path` holds the vertices being
    explored, `pending` an iterator over the edges each has left to explore."""
    order: list[Vertex] = []
    seen: set[Vertex] = set()
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        path: list[Vertex] = [root]
        pending: list[Iterator[Vertex | None]] = [iter(root.edges)]
        while pending:
            for edge in pending[-1]:
                if edge is not None and edge not in seen:
                    seen.add(edge)
                    path.append(edge)
                    pending.append(iter(edge.edges))
                    break
            else:
                pending.pop()
                order.append(path.pop())
    return order


def _as_tensors(values: Tensor | Sequence[Tensor]) -> tuple[Tensor, ...]:
    if isinstance(values, Tensor):
        return (values,)
    return tuple(values)


def _seed(output: Tensor, gradient: Any, index: int) -> Tensor:
    if gradient is None:
        if output.data.size != 1:
            raise AutogradError(
                "grad can be implicitly created only for scalar outputs",
                hint=f"the output has shape {output.data.shape}: pass gradient= (a tensor of "
                "that shape) to get a vector-Jacobian product, or reduce it first, e.g. .sum()",
            )
        return Tensor._wrap(np.ones_like(output.data, dtype=np.float64))
    seed = as_tensor(gradient)
    if seed.data.shape != output.data.shape:
        raise ShapeError(
            f"Mismatch in shape: grad_output[{index}] has a shape of {seed.data.shape} and "
            f"output[{index}] has a shape of {output.data.shape}.",
            hint="the gradient passed to backward must have exactly the output's shape",
        )
    if seed.data.dtype != np.float64:
        seed = Tensor._wrap(seed.data.astype(np.float64))
    return seed


def _accumulate(t: Tensor, g: Tensor, create_graph: bool) -> None:
    if t.grad is None:
        t.grad = g if create_graph else Tensor._wrap(np.array(g.data, dtype=np.float64))
    elif create_graph or t.grad.grad_fn is not None or not t.grad.data.flags.writeable:
        t.grad = t.grad + g
    else:
        t.grad.data += g.data


def _run(outputs: tuple[Tensor, ...], seeds: Sequence[Any], *, retain_graph: bool,
         create_graph: bool, targets: tuple[Tensor, ...] | None, capture: bool,
         ) -> dict[Vertex, Tensor]:
    """The pass itself. With `capture`, gradients reaching `targets` are returned, not stored."""
    # a pass allocates many short-lived, acyclic objects: at 100,000 vertices the
    # collector would rescan the growing heap again and again (the ordering alone
    # used to set off two full passes)
    with no_cycle_collection():
        return _pass(outputs, seeds, retain_graph=retain_graph, create_graph=create_graph,
                     targets=targets, capture=capture)


def _pass(outputs: tuple[Tensor, ...], seeds: Sequence[Any], *, retain_graph: bool,
          create_graph: bool, targets: tuple[Tensor, ...] | None, capture: bool,
          ) -> dict[Vertex, Tensor]:
    buffers: dict[Vertex, Tensor] = {}
    for i, out in enumerate(outputs):
        vertex = vertex_of(out)
        if vertex is None:
            raise AutogradError(
                f"element {i} of tensors does not require grad and does not have a grad_fn",
                hint="only tensors computed from inputs made with requires_grad=True can be "
                "differentiated; a detach() on the way cuts the path",
            )
        seed = _seed(out, seeds[i], i)
        buffers[vertex] = buffers[vertex] + seed if vertex in buffers else seed

    order = topological_order(list(buffers))
    target_vertices: set[Vertex] | None = None
    target_tensors: dict[Vertex, Tensor] = {}
    needed: set[Vertex] | None = None
    if targets is not None:
        target_tensors = {v: t for t in targets if (v := vertex_of(t)) is not None}
        target_vertices = set(target_tensors)
        needed = set()
        for vertex in order:
            if vertex in target_vertices or any(e in needed for e in vertex.edges):
                needed.add(vertex)
    captured: dict[Vertex, Tensor] = {}

    watch = current().watch
    previous_context = None if watch is None else watch.context
    with set_grad_enabled(create_graph), np.errstate(all="ignore"):
        try:
            for vertex in reversed(order):
                g = buffers.pop(vertex, None)
                if g is None or (needed is not None and vertex not in needed):
                    continue
                if vertex.__class__ is AccumulateGrad:
                    variable = vertex.variable()
                    if variable is None:
                        continue
                    for hook in variable._hooks or ():
                        replaced = hook(g)
                        if replaced is not None:
                            g = as_tensor(replaced)
                    if target_vertices is None or vertex in target_vertices:
                        if capture:
                            captured[vertex] = g
                        else:
                            _accumulate(variable, g, create_graph)
                    continue
                node: Node = vertex  # type: ignore[assignment]
                if watch is not None:
                    watch.context = node
                if node.freed:
                    raise AutogradError(FREED_MESSAGE, hint=FREED_HINT)
                for hook in node.pre_hooks or ():
                    replaced = hook(g)
                    if replaced is not None:
                        g = as_tensor(replaced)
                if node.retained is not None:
                    kept = node.retained()
                    if kept is not None:
                        _accumulate(kept, g, create_graph)
                if target_vertices is not None and node in target_vertices:
                    if capture:
                        captured[node] = g
                    elif node.retained is None:
                        # backward(inputs=[non-leaf]) fills that tensor's .grad, as PyTorch does
                        _accumulate(target_tensors[node], g, create_graph)
                _propagate(node, g, buffers, needed, create_graph)
                if not retain_graph:
                    node.release()
        finally:
            if watch is not None:
                watch.context = previous_context
    return captured


def _propagate(node: Node, g: Tensor, buffers: dict[Vertex, Tensor],
               needed: set[Vertex] | None, create_graph: bool) -> None:
    """Apply the node's VJP rules and add each input's share to its buffer."""
    op = node.op
    saved = node.saved
    params = node.params
    assert saved is not None and node.out is not None
    out = _new(Tensor)
    out.data = node.out
    if create_graph:
        out.grad_fn, out.requires_grad = node, True
    rules = op.vjp
    edges = node.edges
    if rules.__class__ is tuple:
        for i, edge in enumerate(edges):
            if edge is None or (needed is not None and edge not in needed):
                continue
            gi = rules[i](g, out, *saved, **params)
            if gi is not None:
                _deposit(buffers, edge, gi, saved[i].data.shape, create_graph)
    else:
        assert callable(rules)
        for edge, gi, x in zip(edges, rules(g, out, *saved, **params), saved, strict=True):
            if gi is not None and edge is not None and (needed is None or edge in needed):
                _deposit(buffers, edge, gi, x.data.shape, create_graph)


def _deposit(buffers: dict[Vertex, Tensor], edge: Vertex, gi: Tensor,
             shape: tuple[int, ...], create_graph: bool) -> None:
    if gi.data.shape != shape:
        gi = _reduce_to(gi, shape)
    previous = buffers.get(edge)
    if previous is None:
        buffers[edge] = gi
    elif create_graph:
        buffers[edge] = previous + gi
    else:
        buffers[edge] = Tensor._wrap(previous.data + gi.data)


def _reduce_to(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Undo numpy broadcasting once, here, rather than in every rule."""
    if np.broadcast_shapes(g.data.shape, shape) == shape:
        return apply(lookup("broadcast_to"), (g,), {"shape": shape})
    return apply(lookup("sum_to"), (g,), {"shape": shape})


def backward(tensors: Tensor | Sequence[Tensor], grad_tensors: Any = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Tensor | Sequence[Tensor] | None = None) -> None:
    """Accumulate d(tensors)/d(leaf) into each leaf's `.grad` (or only into `inputs`)."""
    outputs = _as_tensors(tensors)
    seeds = _normalise_seeds(grad_tensors, len(outputs))
    if retain_graph is None:
        retain_graph = create_graph
    targets = None if inputs is None else _as_tensors(inputs)
    _run(outputs, seeds, retain_graph=retain_graph, create_graph=create_graph,
         targets=targets, capture=False)


def _normalise_seeds(grad_outputs: Any, n: int) -> list[Any]:
    if grad_outputs is None:
        return [None] * n
    if isinstance(grad_outputs, Tensor) or (n == 1 and not _is_sequence_of_seeds(grad_outputs, n)):
        return [grad_outputs]
    seeds = list(grad_outputs)
    if len(seeds) != n:
        raise AutogradError(f"grad_outputs has {len(seeds)} entries but there are {n} outputs")
    return seeds


def _is_sequence_of_seeds(value: Any, n: int) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == n
            and all(v is None or isinstance(v, Tensor) for v in value))


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False,
         ) -> tuple[Tensor | None, ...]:
    """Return d(outputs)/d(inputs) without touching any `.grad`."""
    outs = _as_tensors(outputs)
    ins = _as_tensors(inputs)
    for t in ins:
        if not t.requires_grad:
            raise AutogradError("One of the differentiated Tensors does not require grad")
    seeds = _normalise_seeds(grad_outputs, len(outs))
    if retain_graph is None:
        retain_graph = create_graph
    captured = _run(outs, seeds, retain_graph=retain_graph, create_graph=create_graph,
                    targets=ins, capture=True)
    results: list[Tensor | None] = []
    for t in ins:
        vertex = vertex_of(t)
        value = captured.get(vertex) if vertex is not None else None
        if value is None and not allow_unused:
            raise AutogradError(
                "One of the differentiated Tensors appears to not have been used in the graph.",
                hint="Set allow_unused=True if this is the desired behavior.",
            )
        results.append(value)
    return tuple(results)


def _tensor_backward(self: Tensor, gradient: Any = None, retain_graph: bool | None = None,
                     create_graph: bool = False,
                     inputs: Tensor | Sequence[Tensor] | None = None) -> None:
    """`tensor.backward(...)` is `backward(tensor, ...)`."""
    backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph,
             inputs=inputs)


# Tensor's method, attached here so that the Tensor module does not import this one
setattr(Tensor, "backward", _tensor_backward)
