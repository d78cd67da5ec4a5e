"""One chunk of points, one pass: values and derivatives at every point as columns.

The columns are named as the single-point CSV output names them (`value`,
`grad[x]`, `grad[m[0]]`, `jac[f[0],x]`, `hess[x,y]`), each an array with one
entry per point. Gradients come from one backward pass over the batched graph
(the points are independent, so the gradient of the sum is every point's own
gradient); Jacobians and Hessians push one tangent per input element through
the batched graph, all points at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradcli.batch.vectorise import evaluate_batched
from gradcli.compute import NotScalarError, flat_labels
from gradcli.engine.autograd import grad
from gradcli.engine.mode import enable_grad
from gradcli.engine.tensor import Tensor
from gradcli.errors import ArgumentError, Span
from gradcli.language.program import Program

Columns = list[tuple[str, np.ndarray]]


def _value_columns(out: np.ndarray) -> Columns:
    size = out.shape[0]
    if out.ndim == 1:
        return [("value", out)]
    flat = out.reshape(size, -1)
    return [(f"value[{','.join(map(str, i))}]", flat[:, k])
            for k, i in enumerate(np.ndindex(out.shape[1:]))]


def _labels(names: Sequence[str], shapes: Mapping[str, tuple[int, ...]]) -> list[str]:
    return [label for n in names for label in flat_labels(n, shapes[n])]


def _one_hot_tangents(names: Sequence[str], points: Mapping[str, np.ndarray]
                      ) -> list[np.ndarray]:
    """For each flattened input element k (over all variables): e_k at every point.

    Shape per variable: (n_in, size, *point shape)."""
    size = next(iter(points.values())).shape[0]
    sizes = [int(np.prod(points[n].shape[1:], dtype=np.int64)) for n in names]
    total = sum(sizes)
    tangents, offset = [], 0
    for name, count in zip(names, sizes, strict=True):
        block = np.zeros((total, size, count))
        block[np.arange(offset, offset + count), :, np.arange(count)] = 1.0
        tangents.append(block.reshape((total, size, *points[name].shape[1:])))
        offset += count
    return tangents


def chunk_columns(command: str, program: Program, points: Mapping[str, np.ndarray],
                  constants: Mapping[str, Any], wrt: Sequence[str] | None = None,
                  mode: str = "auto") -> Columns:
    """Every output column for this chunk of points (all arrays of length `size`)."""
    size = next(iter(points.values())).shape[0]
    chosen = list(wrt) if wrt is not None else [n for n in program.free_variables
                                                 if n in points]
    for name in chosen:
        if name not in points:
            raise ArgumentError(f"--wrt names '{name}', which does not come from the point "
                                "file", hint="derivatives are taken with respect to the "
                                "variables in the point file")
    shapes = {n: points[n].shape[1:] for n in points}
    leaves = {n: Tensor(v, requires_grad=(command != "eval" and n in chosen))
              for n, v in points.items()}
    with enable_grad(), np.errstate(all="ignore"):
        out = evaluate_batched(program, leaves, constants, size)
        columns = _value_columns(out.data)
        if command == "eval" or not chosen:
            return columns
        inputs = [leaves[n] for n in chosen]
        if command in ("grad", "hessian"):
            if out.ndim != 1:
                raise NotScalarError(
                    f"{command} needs a scalar output at each point, but the expression "
                    f"gives shape {out.shape[1:]}", span=Span(0, len(program.text)),
                    hint="use jacobian for vector outputs")
            ones = Tensor._wrap(np.ones(size))
            grads = grad(out, inputs, grad_outputs=ones, allow_unused=True,
                         create_graph=command == "hessian") if out.requires_grad \
                else (None,) * len(inputs)
            gradients = [np.zeros(points[n].shape) if g is None else g.data
                         for n, g in zip(chosen, grads, strict=True)]
            for name, g in zip(chosen, gradients, strict=True):
                columns += _per_element("grad", name, g)
            if command == "hessian":
                columns += _hessian(chosen, points, shapes, grads, inputs)
            return columns
        return columns + _jacobian(out, inputs, chosen, points, shapes, mode)


def _per_element(prefix: str, name: str, array: np.ndarray) -> Columns:
    size = array.shape[0]
    if array.ndim == 1:
        return [(f"{prefix}[{name}]", array)]
    flat = array.reshape(size, -1)
    return [(f"{prefix}[{name}[{','.join(map(str, i))}]]", flat[:, k])
            for k, i in enumerate(np.ndindex(array.shape[1:]))]


def _hessian(chosen: list[str], points: Mapping[str, np.ndarray],
             shapes: Mapping[str, tuple[int, ...]], grads: Sequence[Tensor | None],
             inputs: list[Tensor]) -> Columns:
    """Forward-over-reverse: one tangent per input element through the recorded gradient."""
    from gradcli.engine.forward import push_tangents

    size = next(iter(points.values())).shape[0]
    labels = _labels(chosen, shapes)
    n = len(labels)
    live = [(k, g) for k, g in enumerate(grads) if g is not None and g.requires_grad]
    blocks: dict[int, np.ndarray] = {}
    if live:
        pushed = push_tangents([g for _, g in live], inputs, _one_hot_tangents(chosen, points))
        for (k, _), tangent in zip(live, pushed, strict=True):
            blocks[k] = tangent  # (n, size, *shape_k)
    rows = []
    for k, name in enumerate(chosen):
        count = int(np.prod(shapes[name], dtype=np.int64))
        if k in blocks:
            rows.append(blocks[k].reshape(n, size, count).transpose(1, 2, 0))
        else:
            rows.append(np.zeros((size, count, n)))
    matrix = np.concatenate(rows, axis=1)  # (size, n, n): H[b, i, j]
    return [(f"hess[{a},{b}]", matrix[:, i, j]) for i, a in enumerate(labels)
            for j, b in enumerate(labels)]


def _jacobian(out: Tensor, inputs: list[Tensor], chosen: list[str],
              points: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]],
              mode: str) -> Columns:
    from gradcli.engine.forward import push_tangents

    size = out.shape[0]
    out_shape = out.shape[1:]
    m = int(np.prod(out_shape, dtype=np.int64))
    n = sum(int(np.prod(shapes[c], dtype=np.int64)) for c in chosen)
    in_labels = _labels(chosen, shapes)
    out_labels = flat_labels("f", out_shape)
    if mode not in ("auto", "forward", "reverse"):
        raise ArgumentError(f"--mode must be auto, forward or reverse, not '{mode}'")
    use_forward = mode == "forward" or (mode == "auto" and n <= m)
    if not out.requires_grad:
        matrix = np.zeros((size, m, n))
    elif use_forward:
        (pushed,) = push_tangents([out], inputs, _one_hot_tangents(chosen, points))
        matrix = pushed.reshape(n, size, m).transpose(1, 2, 0)
    else:
        matrix = np.zeros((size, m, n))
        for i in range(m):  # one pass per output element, every point at once
            seed = np.zeros((size, m))
            seed[:, i] = 1.0
            grads = grad(out, inputs, grad_outputs=Tensor._wrap(seed.reshape(out.shape)),
                         retain_graph=True, allow_unused=True)
            matrix[:, i, :] = np.concatenate(
                [np.zeros((size, int(np.prod(shapes[c], dtype=np.int64)))) if g is None
                 else g.data.reshape(size, -1) for g, c in zip(grads, chosen, strict=True)],
                axis=1)
    return [(f"jac[{o},{x}]", matrix[:, i, j]) for i, o in enumerate(out_labels)
            for j, x in enumerate(in_labels)]
