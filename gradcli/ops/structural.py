"""Ops that move elements without doing arithmetic on them.

Indexing, reshaping, transposing and broadcasting come in pairs whose VJPs are
each other (index <-> scatter_add, sum_to <-> broadcast_to), so any order of
derivative stays inside the table.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.engine.batching import elementwise, pad_leading
from gradcli.engine.tensor import Tensor, apply
from gradcli.errors import IndexingError, ShapeError
from gradcli.ops._define import as_int, defop, fn

_BATCH = slice(None)


def _sum_to(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and x.shape[i + lead] != 1)
    reduced = np.sum(x, axis=axes, keepdims=True) if axes else x
    return reduced.reshape(shape)


def _sum_to_batch(op: Any, tensors: tuple[Tensor, ...], batched: tuple[bool, ...],
                  params: dict[str, Any]) -> Tensor:
    (x,) = tensors
    shape = params["shape"]
    lead = x.ndim - 1 - len(shape)
    if lead > 0:  # the per-point leading axes first, so the batch axis is never summed
        x = fn.sum(x, axis=tuple(range(1, lead + 1)))
    return apply(op, (x,), {"shape": (x.shape[0], *shape)})


defop("sum_to", _sum_to, batch=_sum_to_batch,
      vjp=(lambda g, out, x, shape: fn.broadcast_to(g, x.shape),),
      jvp="linear",
      params=(("shape", ()),), kind="structural", public=False, dependency="sum_to",
      help="sum a broadcast result back to a shape (the VJP of broadcasting)")


def _broadcast_batch(op: Any, tensors: tuple[Tensor, ...], batched: tuple[bool, ...],
                     params: dict[str, Any]) -> Tensor:
    shape = params["shape"]
    x = pad_leading(tensors[0], len(shape))
    return apply(op, (x,), {"shape": (x.shape[0], *shape)})


defop("broadcast_to", np.broadcast_to, batch=_broadcast_batch,
      vjp=(lambda g, out, x, shape: fn.sum_to(g, x.shape),),
      jvp="linear", params=(("shape", ()),), kind="structural", public=False,
      moves=lambda shape: lambda a: np.broadcast_to(a, shape),
      help="repeat x along new or length-1 axes to reach shape")


def _shape_param(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, Tensor):
        shape = shape.data.tolist()
    if isinstance(shape, (int, float, np.integer, np.floating)):
        shape = (shape,)
    return tuple(as_int(s, "a shape entry") for s in shape)


def _reshape_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    params["shape"] = _shape_param(params["shape"])
    return tensors, params


def _reshape_batch(op: Any, tensors: tuple[Tensor, ...], batched: tuple[bool, ...],
                   params: dict[str, Any]) -> Tensor:
    (x,) = tensors
    return apply(op, (x,), {"shape": (x.shape[0], *params["shape"])})


defop("reshape", np.reshape, batch=_reshape_batch,
      vjp=(lambda g, out, x, shape: fn.reshape(g, x.shape),),
      jvp="linear",
      params=(("shape", ()),), kind="array", method=False, prepare=_reshape_prepare,
      moves=lambda shape: lambda a: np.reshape(a, shape),
      help="the same elements in a new shape (one entry may be -1)")


def _transpose_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    ndim = tensors[0].ndim
    axes = params["axes"]
    if axes is None:
        axes = tuple(reversed(range(ndim)))
    else:
        axes = _shape_param(axes)
        if sorted(a % max(ndim, 1) for a in axes) != list(range(ndim)):
            raise ShapeError(f"transpose: axes {axes} are not a permutation of {ndim} axes")
        axes = tuple(a % ndim for a in axes)
    params["axes"] = axes
    return tensors, params


def _transpose_batch(op: Any, tensors: tuple[Tensor, ...], batched: tuple[bool, ...],
                     params: dict[str, Any]) -> Tensor:
    return apply(op, tensors, {"axes": (0, *(a + 1 for a in params["axes"]))})


defop("transpose", np.transpose, batch=_transpose_batch,
      vjp=(lambda g, out, x, axes: fn.transpose(g, axes=tuple(np.argsort(axes).tolist())),),
      jvp="linear",
      params=(("axes", None),), kind="array", prepare=_transpose_prepare,
      moves=lambda axes: lambda a: np.transpose(a, axes),
      help="reverse (or permute, with axes) the axes; for a matrix, its transpose")

defop("clone", np.copy, batch=elementwise, vjp=(lambda g, out, x: g,), jvp="linear",
      kind="structural", method=True, help="a copy that stays in the graph",
      moves=lambda: lambda a: a)


# -- indexing -------------------------------------------------------------------
def _is_basic(index: tuple[Any, ...]) -> bool:
    return all(isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in index)


def canonical_index(index: Any) -> tuple[Any, ...]:
    """Python/Tensor indices -> a tuple numpy understands, with integer arrays."""
    if not isinstance(index, tuple):
        index = (index,)
    out: list[Any] = []
    for item in index:
        if isinstance(item, Tensor):
            item = item.data
        if isinstance(item, np.ndarray):
            if item.dtype == np.bool_:
                out.append(item)
                continue
            if not np.all(np.equal(np.mod(item, 1), 0)):
                raise IndexingError("indices must be whole numbers")
            out.append(item.astype(np.intp))
        elif isinstance(item, (list, tuple)):
            out.append(canonical_index(np.asarray(item))[0])
        elif isinstance(item, slice) or item is None or item is Ellipsis:
            out.append(item)
        else:
            out.append(as_int(item, "an index"))
    return tuple(out)


def _scatter_add(g: np.ndarray, shape: tuple[int, ...], index: tuple[Any, ...],
                 dtype: Any = np.float64) -> np.ndarray:
    out = np.full(shape, 0.0, dtype=dtype)
    if _is_basic(index):
        out[index] += g
    else:
        np.add.at(out, index, g)
    return out


def _scatter_move(shape: tuple[int, ...], index: tuple[Any, ...]) -> Any:
    """Place an array into zeros at a basic (duplicate-free) index."""

    def move(a: np.ndarray) -> np.ndarray:
        out = np.zeros(shape, dtype=a.dtype)
        out[index] = a
        return out

    return move


def _scatter_batch(op: Any, tensors: tuple[Tensor, ...], batched: tuple[bool, ...],
                   params: dict[str, Any]) -> Tensor:
    (g,) = tensors
    return apply(op, (g,), {"shape": (g.shape[0], *params["shape"]),
                            "index": (_BATCH, *params["index"])})


defop("scatter_add", _scatter_add, batch=_scatter_batch,
      vjp=(lambda g, out, x, shape, index: fn.getitem(g, index),),
      jvp="linear", params=(("shape", ()), ("index", ())), kind="structural",
      moves=lambda shape, index: _scatter_move(shape, index) if _is_basic(index) else None,
      scalar=lambda g, shape, index: _scatter_add(g, shape, index, dtype=object),
      public=False, help="zeros of a shape with x added at an index (the VJP of indexing)")

def _getitem_batch(op: Any, tensors: tuple[Tensor, ...], batched: tuple[bool, ...],
                   params: dict[str, Any]) -> Tensor:
    """The same index at every point: the batch axis is kept whole in front of it."""
    (x,) = tensors
    index = params["index"]
    try:  # checked against one point's shape, so errors speak of the point
        np.broadcast_to(np.float64(0.0), x.shape[1:])[index]
    except (IndexError, ValueError) as exc:
        raise IndexingError(f"{exc} (at each point the value has shape {x.shape[1:]})") from None
    return apply(op, (x,), {"index": (_BATCH, *index)})


GETITEM = defop(
    "getitem", lambda x, index: x[index], batch=_getitem_batch,
    vjp=(lambda g, out, x, index: fn.scatter_add(g, x.shape, index),),
    jvp="linear",
    params=(("index", ()),), kind="structural", public=False, backward="IndexBackward0",
    printed="{0}[{index}]",
    moves=lambda index: lambda a: a[index],
    help="x[index]: elements, slices, or integer arrays")


def _getitem(self: Tensor, index: Any) -> Tensor:
    return apply(GETITEM, (self,), {"index": canonical_index(index)})


def _reshape_method(self: Tensor, *shape: Any) -> Tensor:
    return fn.reshape(self, shape[0] if len(shape) == 1 else shape)


def _transpose_method(self: Tensor, *axes: Any) -> Tensor:
    return fn.transpose(self, axes=(axes[0] if len(axes) == 1 else axes) if axes else None)


setattr(Tensor, "__getitem__", _getitem)
setattr(Tensor, "reshape", _reshape_method)
setattr(Tensor, "transpose", _transpose_method)
setattr(Tensor, "T", property(lambda self: fn.transpose(self)))

defop("detach", lambda x: x, batch=elementwise, vjp=None, jvp=None, kind="structural",
      dependency="none",
      differentiable=False,
      help="the same value, cut from the graph: no gradient flows through it",
      note="a detached path contributes exactly 0 to every derivative")
