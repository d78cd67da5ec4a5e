"""Batch rules: how each op runs on many points, or many directions, at once.

This is JAX's `vmap_rules[p]`, kept in the engine because the engine itself
lifts code over a batch axis: the language's interpreter lifts a program over
a points axis, and forward mode lifts each op's JVP (Tensor code for *one*
tangent) over a directions axis (`lifted`, below). Both use the same rules.

A batched value carries its points on a leading axis; an unbatched one (a
constant, a shared binding) is the same at every point. When an op meets at
least one batched input, the interpreter calls the op entry's `batch` rule
with the tensors, which of them are batched, and the op's parameters as they
were checked and canonicalised for *one point* (its `prepare` ran on
point-shaped stand-ins). The rule returns the batched result, built from
ordinary op applications, so derivatives of a batched graph are the
per-point derivatives and recordings replay.

Three kinds of rule cover the table:

* `elementwise`: line the per-point axes up (`pad_leading`) and apply the op;
  unary and binary entries get it from their helper.
* `core(signature)`: for ops that already broadcast over leading axes, a
  numpy gufunc signature such as `(m,m)->()` says which trailing axes are the
  op's own; the rule lines the loop axes up, including numpy's optional
  dimensions (`(n?,k),(k,m?)->(n?,m?)` for matmul), and applies the op.
* a small rule of the entry's own (`axis_rule` for ops with an axis
  parameter, or a function next to the entry).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradcli.engine.op import OpDef
from gradcli.engine.tensor import Tensor, apply

#: (op, tensors, batched flags, point-level params) -> the batched result
BatchRule = Callable[[OpDef, tuple[Tensor, ...], tuple[bool, ...], dict[str, Any]], Tensor]


def pad_leading(value: Tensor, item_ndim: int) -> Tensor:
    """`value` (batch axis first) reshaped so its per-item part has `item_ndim` axes.

    numpy broadcasts from the right, so the length-1 axes go right after the
    batch axis, lining per-item axes up with per-item axes."""
    shape = value.shape
    missing = item_ndim - (len(shape) - 1)
    if missing <= 0:
        return value
    return apply(_lookup("reshape"), (value,),
                 {"shape": (shape[0],) + (1,) * missing + tuple(shape[1:])})


def shift_axes(axes: Any, item_ndim: int) -> tuple[int, ...]:
    """Canonical per-item axes (a tuple of non-negative ints, or None for all) -> batched."""
    if axes is None:
        return tuple(range(1, item_ndim + 1))
    return tuple(a + 1 for a in axes)


def item_ndim(t: Tensor, batched: bool) -> int:
    return t.ndim - 1 if batched else t.ndim


def item_shape(t: Tensor, batched: bool) -> tuple[int, ...]:
    return t.shape[1:] if batched else t.shape


def batch_size(tensors: Sequence[Tensor], batched: Sequence[bool]) -> int:
    return next(t.shape[0] for t, b in zip(tensors, batched, strict=True) if b)


def lined_up(tensors: Sequence[Tensor], batched: Sequence[bool]) -> tuple[Tensor, ...]:
    """Batched inputs padded so numpy broadcasting matches per-point axes."""
    ndim = max(item_ndim(t, b) for t, b in zip(tensors, batched, strict=True))
    return tuple(pad_leading(t, ndim) if b else t
                 for t, b in zip(tensors, batched, strict=True))


def elementwise(op: OpDef, tensors: tuple[Tensor, ...], batched: tuple[bool, ...],
                params: dict[str, Any]) -> Tensor:
    return apply(op, lined_up(tensors, batched), params)


def everywhere(tensors: Sequence[Tensor], batched: Sequence[bool]) -> list[Tensor]:
    """Every input with the batch axis: unbatched ones repeated (a broadcast view)."""
    size = batch_size(tensors, batched)
    broadcast = _lookup("broadcast_to")
    return [t if b else apply(broadcast, (t,), {"shape": (size, *t.shape)})
            for t, b in zip(tensors, batched, strict=True)]


def _lookup(name: str) -> OpDef:
    from gradcli.engine.op import lookup

    return lookup(name)


def axis_rule(*, single: bool = False, name: str = "axis") -> BatchRule:
    """Ops whose only per-point structure is an axis parameter: shift it past the batch.

    `single`: the parameter is one int (softmax), else a canonical tuple or None
    (reductions, where None means every per-point axis)."""

    def rule(op: OpDef, tensors: tuple[Tensor, ...], batched: tuple[bool, ...],
             params: dict[str, Any]) -> Tensor:
        (x,) = everywhere(tensors, batched)
        ndim = x.ndim - 1
        axis = params[name]
        shifted = shift_axes((axis,), ndim)[0] if single else shift_axes(axis, ndim)
        return apply(op, (x,), {**params, name: shifted})

    return rule


# -- gufunc core signatures -------------------------------------------------------------
_ARGUMENT = re.compile(r"\(([^()]*)\)")


def parse_signature(signature: str) -> tuple[list[list[tuple[str, bool]]],
                                               list[tuple[str, bool]]]:
    """'(n?,k),(k,m?)->(n?,m?)' -> per input and for the output, [(dim, optional)]."""
    try:
        inputs, output = signature.replace(" ", "").split("->")
        parts = [_ARGUMENT.findall(inputs), _ARGUMENT.findall(output)]
    except ValueError:
        raise ValueError(f"bad core signature {signature!r}") from None
    if len(parts[1]) != 1:
        raise ValueError(f"core signature {signature!r} needs exactly one output")

    def dims(text: str) -> list[tuple[str, bool]]:
        return [(d.rstrip("?"), d.endswith("?")) for d in text.split(",") if d]

    return [dims(p) for p in parts[0]], dims(parts[1][0])


def core(signature: str) -> BatchRule:
    """The batch rule of an op that broadcasts over leading axes, from its core signature.

    Loop (leading) axes of the batched inputs are padded to line up after the
    batch axis; an optional core dimension absent at each point (a vector
    where a matrix may stand) is inserted as length 1 and dropped again from
    the result, which is how numpy's matmul treats 1-D operands."""
    ins, out = parse_signature(signature)

    def rule(op: OpDef, tensors: tuple[Tensor, ...], batched: tuple[bool, ...],
             params: dict[str, Any]) -> Tensor:
        absent: set[str] = set()
        expanded: list[Tensor] = []
        loops: list[int] = []
        for t, b, dims in zip(tensors, batched, ins, strict=True):
            ndim = item_ndim(t, b)
            optional = [d for d, opt in dims if opt]
            if ndim < len(dims) and optional and ndim == len(dims) - len(optional):
                absent.update(optional)
                shape = list(t.shape)
                for position, (_, opt) in enumerate(dims):
                    if opt:  # counted from the end of the core dims
                        shape.insert(len(shape) - (len(dims) - position - 1), 1)
                t = apply(_lookup("reshape"), (t,), {"shape": tuple(shape)})
                ndim = len(dims)
            expanded.append(t)
            loops.append(ndim - len(dims))
        depth = max(loops)
        lined = tuple(pad_leading(t, depth + len(dims)) if b else t
                      for t, b, dims in zip(expanded, batched, ins, strict=True))
        result = apply(op, lined, params)
        kept = [d in absent and opt for d, opt in out]
        if any(kept):
            n = len(out)
            trimmed = tuple(s for i, s in enumerate(result.shape)
                            if not (i >= result.ndim - n and kept[i - (result.ndim - n)]))
            result = apply(_lookup("reshape"), (result,), {"shape": trimmed})
        return result

    return rule


def apply_batched(op: OpDef, tensors: tuple[Tensor, ...], batched: tuple[bool, ...],
                  params: dict[str, Any]) -> Tensor:
    """Run `op` where some inputs carry the batch axis; the result carries it too.

    The op's own argument checks run on stand-ins of one point's shape, so an
    error speaks of the point, and the rule gets the canonical parameters."""
    if op.prepare is not None:
        probes = tuple(Tensor._wrap(_zeros(item_shape(t, b)))
                       for t, b in zip(tensors, batched, strict=True))
        _, params = op.prepare(probes, dict(params))
    assert op.batch is not None  # every op with inputs has one (checked at definition)
    return op.batch(op, tensors, batched, params)


def _zeros(shape: tuple[int, ...]) -> Any:
    return np.broadcast_to(np.float64(0.0), shape)
