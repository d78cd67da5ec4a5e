"""Evaluating a program at many points at once: a batch axis on every tensor.

A program is written for one point. To run a whole chunk of points in one
pass, every value that depends on the points carries a leading batch axis,
and each op is told so: elementwise ops line the per-point shapes up for
broadcasting, reductions and joins shift their axes past the batch axis,
indexing keeps the batch axis whole, and the linear-algebra ops act per
point. Values that do not depend on the points (constants, shared bindings)
stay unbatched and broadcast. Every adaptation is made of ordinary engine
ops, so gradients, Jacobians and Hessians of the batched graph are the
per-point derivatives, stacked: the points never interact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gradcli.engine.op import OPS
from gradcli.engine.tensor import Tensor, as_tensor
from gradcli.errors import GradcliError, ShapeError, Span
from gradcli.language.program import Program, source_label
from gradcli.ops import fn
from gradcli.ops._define import as_int

_ELEMENTWISE_KINDS = ("elementwise", "binary", "comparison")


class Batched:
    """A value in the batched evaluation: the tensor, and whether axis 0 is the batch."""

    __slots__ = ("batched", "tensor")

    def __init__(self, tensor: Tensor, batched: bool):
        self.tensor = tensor
        self.batched = batched

    def point_ndim(self) -> int:
        return self.tensor.ndim - 1 if self.batched else self.tensor.ndim

    def point_shape(self) -> tuple[int, ...]:
        return self.tensor.shape[1:] if self.batched else self.tensor.shape


def evaluate_batched(program: Program, points: Mapping[str, Tensor],
                     constants: Mapping[str, Any], size: int) -> Tensor:
    """The program's output at every point: shape (size, *output shape)."""
    program.check_bindings({**constants, **points})
    values: list[Batched] = []
    for instruction in program.instructions:
        kind = instruction.kind
        try:
            if kind == "const":
                value = Batched(Tensor._wrap(instruction.value), False)
            elif kind == "var":
                name = instruction.value
                if name in points:
                    value = Batched(points[name], True)
                else:
                    value = Batched(as_tensor(constants[name]), False)
            elif kind == "op":
                value = _apply(instruction, values)
            else:
                value = _index(instruction, values)
        except GradcliError as exc:
            if exc.span is None:
                exc.span = instruction.op_span or instruction.span
            raise
        node = value.tensor.grad_fn
        if node is not None and node.label is None and kind != "var":
            node.label = instruction.label or source_label(program.text, instruction.span)
        values.append(value)
    outputs = [values[r.reg] for r in program._outputs]
    out = outputs[0] if len(outputs) == 1 else _stack(outputs, 0)
    if not out.batched:
        # the same at every point: repeat it, so there is one result per point
        return fn.broadcast_to(out.tensor, (size, *out.tensor.shape))
    return out.tensor


def _pad(value: Batched, ndim: int) -> Tensor:
    """A batched value reshaped so numpy broadcasting lines up its per-point axes."""
    missing = ndim - value.point_ndim()
    if not value.batched or missing <= 0:
        return value.tensor
    t = value.tensor
    return fn.reshape(t, (t.shape[0],) + (1,) * missing + t.shape[1:])


def _axes(axis: Any, ndim: int, default_all: bool) -> tuple[int, ...] | None:
    """Per-point axes (None, an int or a list; negative allowed) -> batched axes."""
    if axis is None:
        return tuple(range(1, ndim + 1)) if default_all else None
    raw = axis.data.reshape(-1).tolist() if isinstance(axis, Tensor) else (
        list(axis) if isinstance(axis, (list, tuple)) else [axis])
    out = []
    for a in raw:
        a = as_int(a, "axis")
        if not -max(ndim, 1) <= a < max(ndim, 1):
            from gradcli.errors import AxisError

            raise AxisError(f"axis {a} is out of bounds for a value with {ndim} dimensions "
                            "(at each point)")
        out.append(a % max(ndim, 1) + 1)
    return tuple(out)


def _apply(instruction: Any, values: list[Batched]) -> Batched:
    op = OPS[instruction.op]
    args = [values[r] for r in instruction.args]
    keywords = {name: values[r].tensor for name, r in instruction.keywords}
    if any(values[r].batched for _, r in instruction.keywords):
        raise ShapeError(f"{op.name}: its settings (axis, ord, ...) must be the same at "
                         "every point, not come from the point file")
    function = getattr(fn, op.name)
    if not any(a.batched for a in args):
        result = function([a.tensor for a in args], **keywords) if op.nin < 0 else \
            function(*[a.tensor for a in args], **keywords)
        return Batched(result, False)
    name = op.name
    if op.kind in _ELEMENTWISE_KINDS or name in ("detach", "clone"):
        ndim = max(a.point_ndim() for a in args)
        return Batched(function(*[_pad(a, ndim) for a in args], **keywords), True)
    x = args[0]
    if op.kind == "reduction":
        keywords["axis"] = _axes(keywords.get("axis"), x.point_ndim(), default_all=True)
        return Batched(function(x.tensor, **keywords), True)
    if name in ("softmax", "log_softmax"):
        axis = keywords.get("axis", -1)
        keywords["axis"] = _axes(axis, x.point_ndim(), default_all=False)[0]  # type: ignore[index]
        return Batched(function(x.tensor, **keywords), True)
    if name in ("stack", "concatenate"):
        return _join(name, args, keywords)
    if name == "reshape":
        shape = keywords["shape"]
        dims = shape.data.reshape(-1).tolist() if isinstance(shape, Tensor) else shape
        dims = [dims] if isinstance(dims, (int, float)) else list(dims)
        target = (x.tensor.shape[0], *(as_int(d, "a shape entry") for d in dims))
        return Batched(fn.reshape(x.tensor, target), True)
    if name == "transpose":
        axes = keywords.get("axes")
        per_point = tuple(reversed(range(x.point_ndim()))) if axes is None else \
            tuple(a - 1 for a in _axes(axes, x.point_ndim(), default_all=False) or ())
        return Batched(fn.transpose(x.tensor, axes=(0, *(a + 1 for a in per_point))), True)
    if name in ("matmul", "dot"):
        return Batched(_matmul(name, args[0], args[1]), True)
    if name == "outer":
        a, b = (_flat(v) for v in args)
        return Batched(_expand(a, -1) * _expand(b, -2), True)
    if name == "trace":
        if x.point_ndim() != 2:
            raise ShapeError(f"trace: needs a matrix at each point, got shape {x.point_shape()}")
        eye = Tensor._wrap(np.eye(*x.point_shape()))
        return Batched(fn.sum(x.tensor * eye, axis=(1, 2)), True)
    raise ShapeError(f"{name} cannot be evaluated over many points at once yet",
                     hint="use it with constants only, or run the points one by one")


def _flat(value: Batched) -> Tensor:
    t = value.tensor
    if value.batched:
        return fn.reshape(t, (t.shape[0], -1))
    return fn.reshape(t, (1, -1))


def _expand(t: Tensor, axis: int) -> Tensor:
    shape = list(t.shape)
    shape.insert(len(shape) + 1 + axis if axis < 0 else axis, 1)
    return fn.reshape(t, tuple(shape))


def _matmul(name: str, a: Batched, b: Batched) -> Tensor:
    """Per-point matrix products, with numpy's promotion of 1-D operands at each point."""
    if name == "dot" and (a.point_ndim() == 0 or b.point_ndim() == 0):
        ndim = max(a.point_ndim(), b.point_ndim())
        return _pad(a, ndim) * _pad(b, ndim)
    if max(a.point_ndim(), b.point_ndim()) > 2 or min(a.point_ndim(), b.point_ndim()) == 0:
        raise ShapeError(f"{name} over many points needs vectors or matrices at each point")
    left = _as_matrix(a, row=True)
    right = _as_matrix(b, row=False)
    product = fn.matmul(left, right)
    if a.point_ndim() == 1:  # drop the promoted axes again
        product = fn.getitem(product, (slice(None), 0) if product.ndim == 3 else (0,))
    if b.point_ndim() == 1:
        product = fn.getitem(product, (Ellipsis, 0))
    return product


def _as_matrix(value: Batched, row: bool) -> Tensor:
    t = value.tensor
    if value.point_ndim() == 2:
        return t
    if value.batched:
        n = t.shape[1]
        return fn.reshape(t, (t.shape[0], 1, n) if row else (t.shape[0], n, 1))
    n = t.shape[0]
    return fn.reshape(t, (1, n) if row else (n, 1))


def _join(name: str, args: list[Batched], keywords: dict[str, Any]) -> Batched:
    size = next(a.tensor.shape[0] for a in args if a.batched)
    shapes = {a.point_shape() for a in args}
    if name == "stack" and len(shapes) > 1:
        raise ShapeError(f"stack: all inputs must have the same shape, got {sorted(shapes)}")
    tensors = [a.tensor if a.batched else fn.broadcast_to(a.tensor, (size, *a.tensor.shape))
               for a in args]
    ndim = args[0].point_ndim() + (1 if name == "stack" else 0)
    axis = _axes(keywords.get("axis", 0), ndim, default_all=False)
    function = fn.stack if name == "stack" else fn.concatenate
    return Batched(function(tensors, axis=axis[0] if axis else 1), True)


def _stack(values: list[Batched], axis: int) -> Batched:
    if not any(v.batched for v in values):
        return Batched(fn.stack([v.tensor for v in values]), False)
    return _join("stack", values, {"axis": axis})


def _index(instruction: Any, values: list[Batched]) -> Batched:
    from gradcli.language.program import _index_value

    base = values[instruction.args[0]]
    items: list[Any] = []
    for item in instruction.value:
        if item[0] == "reg":
            part = values[item[1]]
            if part.batched:
                raise ShapeError("an index must be the same at every point, not come from "
                                 "the point file", span=instruction.op_span)
            items.append(_index_value(part.tensor))
        else:
            bounds = []
            for r in item[1:]:
                if r is not None and values[r].batched:
                    raise ShapeError("a slice bound must be the same at every point",
                                     span=instruction.op_span)
                bounds.append(None if r is None else as_int(values[r].tensor, "a slice bound"))
            items.append(slice(*bounds))
    if not base.batched:
        return Batched(base.tensor[tuple(items)], False)
    if any(i is Ellipsis for i in items):
        return Batched(base.tensor[(slice(None), *items)], True)
    if len([i for i in items if i is not None]) > base.point_ndim():
        raise ShapeError(f"too many indices for a value of shape {base.point_shape()} at "
                         "each point", span=instruction.op_span or Span(0, 0))
    return Batched(base.tensor[(slice(None), *items)], True)
