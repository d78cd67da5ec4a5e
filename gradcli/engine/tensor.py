"""Tensor, the graph vertices behind it, and `apply`, which runs one op.

A Tensor is a numpy array plus autograd bookkeeping. Every non-leaf Tensor
that requires grad points at the `Node` that made it (its `grad_fn`). A Node
keeps what its op's VJP rules need (the input Tensors and the output array)
and its outgoing `edges`: for each input, the vertex its gradient flows into,
which is either that input's own `grad_fn` or, for a leaf that requires grad,
the leaf's `AccumulateGrad`. Edges are fixed when the Node is made so that
releasing the saved values (after a backward without `retain_graph`) keeps
the graph's shape readable through `next_functions`.

Operators and the module-level functions are attached by `gradcli.ops`,
which owns the op table; this module knows nothing of particular ops.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcli.engine.op import OpDef
from gradcli.engine.state import changed, current
from gradcli.engine.watch import check
from gradcli.errors import AutogradError, AxisError, IndexingError, ShapeError

Hook = Callable[["Tensor"], "Tensor | None"]
_new = object.__new__


class AccumulateGrad:
    """The vertex where a leaf's gradient ends up; one per leaf, made on first use."""

    __slots__ = ("__weakref__", "variable")
    edges: tuple[()] = ()

    def __init__(self, variable: Tensor):
        self.variable = weakref.ref(variable)

    def name(self) -> str:
        return "AccumulateGrad"

    @property
    def next_functions(self) -> tuple[()]:
        return ()

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


def _edge(t: Tensor) -> Node | AccumulateGrad | None:
    if t.grad_fn is not None:
        return t.grad_fn
    return t._accumulate_grad() if t.requires_grad else None


class Node:
    """The backward function of one op application (a tensor's `grad_fn`).

    Built on every recorded op, so it is kept cheap: rarely used fields are
    class-level defaults, and `edges` is worked out on first use.

    A Node is the only object the cycle collector tracks per recorded op. It
    keeps an input that came out of another op as that op's Node and array,
    not as the input's Tensor: the Tensors of intermediate results die as soon
    as the caller drops them (as PyTorch's Python tensors do), so a graph of N
    ops is N tracked objects, not 3N, and the collector's full passes, which
    rescan everything alive, come a third as often. `saved` rebuilds the
    input Tensors when a VJP rule needs them.
    """

    __slots__ = ("__dict__", "_data0", "_data1", "_in0", "_in1", "_more", "op", "out", "params")
    #: the first and second input: a Node (with its array in _data0/_data1) or a Tensor
    _in0: Node | Tensor | None
    _in1: Node | Tensor | None
    _data0: np.ndarray | None
    _data1: np.ndarray | None
    #: the inputs of an op with more than two (or none), as they are
    _more: tuple[Tensor, ...] | None

    pre_hooks: list[Hook] | None = None
    retained: weakref.ref[Tensor] | None = None
    freed = False
    label: str | None = None
    _edges: tuple[Node | AccumulateGrad | None, ...] | None = None

    def __init__(self, op: OpDef, params: dict[str, Any], inputs: tuple[Tensor, ...],
                 out: np.ndarray):
        self.op = op
        self.params = params
        self.out: np.ndarray | None = out
        # an input that is a plain non-leaf is kept as (its Node, its array); any other
        # (a leaf, a constant, a subclass) as itself; spelled out: this runs on every op
        n = len(inputs)
        if n != 1 and n != 2:
            self._more = inputs
            self._in0 = self._data0 = self._in1 = self._data1 = None
            return
        self._more = None
        t = inputs[0]
        grad_fn = t.grad_fn
        if grad_fn is not None and t.__class__ is Tensor:
            self._in0, self._data0 = grad_fn, t.data
        else:
            self._in0, self._data0 = t, None
        if n == 1:
            self._in1 = self._data1 = None
            return
        t = inputs[1]
        grad_fn = t.grad_fn
        if grad_fn is not None and t.__class__ is Tensor:
            self._in1, self._data1 = grad_fn, t.data
        else:
            self._in1, self._data1 = t, None

    @property
    def saved(self) -> tuple[Tensor, ...] | None:
        """The op's input Tensors (None once released); non-leaf ones are rebuilt."""
        if self.freed:
            return None
        if self._more is not None:
            return self._more
        first = _restore(self._in0, self._data0)
        if self._in1 is None:
            return (first,)
        return (first, _restore(self._in1, self._data1))

    @property
    def edges(self) -> tuple[Node | AccumulateGrad | None, ...]:
        """For each input, the vertex its gradient flows into (None: a constant)."""
        edges = self._edges
        if edges is None:
            if self._more is not None:
                edges = tuple(_edge(t) for t in self._more)
            elif self._in1 is None:
                edges = (_edge_of(self._in0),)
            else:
                edges = (_edge_of(self._in0), _edge_of(self._in1))
            self._edges = edges
        return edges

    def name(self) -> str:
        return self.op.backward_name

    @property
    def next_functions(self) -> tuple[tuple[Node | AccumulateGrad | None, int], ...]:
        return tuple((edge, 0) for edge in self.edges)

    def release(self) -> None:
        """Drop the saved values: the graph's memory goes, its shape stays."""
        if self._edges is None:
            self.edges  # noqa: B018  (fixed before the inputs are let go)
        self._in0 = self._in1 = self._data0 = self._data1 = self._more = None
        self.out = None
        self.freed = True

    def __repr__(self) -> str:
        return f"<{self.name()}>"


def _restore(kept: Any, data: np.ndarray | None) -> Tensor:
    """The input Tensor a Node kept as (Node, array): the same array, grad_fn, requires_grad."""
    if kept.__class__ is Node:
        t = _new(Tensor)
        t.data = data  # type: ignore[assignment]
        t.grad_fn = kept
        t.requires_grad = True
        return t
    return kept


def _edge_of(kept: Any) -> Node | AccumulateGrad | None:
    return kept if kept.__class__ is Node else _edge(kept)


class RemovableHandle:
    def __init__(self, hooks: list[Hook], hook: Hook):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _to_float_array(data: Any) -> np.ndarray:
    if isinstance(data, Tensor):
        return np.array(data.data, copy=True)
    array = np.array(data, copy=True)
    if array.dtype == np.bool_:
        return array
    if array.dtype.kind not in "biuf":
        raise ShapeError(
            f"cannot make a tensor from {type(data).__name__}: values must be numbers, "
            "nested lists of numbers with a regular shape, or numpy arrays"
        )
    return array.astype(np.float64, copy=False)


class Tensor:
    """A numpy array that can record the operations applied to it.

    The public surface follows PyTorch: `requires_grad`, `grad`, `grad_fn`,
    `is_leaf`, `backward`, `retain_grad`, `register_hook`, `detach`, `clone`.
    """

    # Fields other than `data` default at class level: a result of an op costs
    # one attribute write, which matters at 100,000 ops.
    requires_grad: bool = False
    grad: Tensor | None = None
    grad_fn: Node | None = None
    label: str | None = None
    _hooks: list[Hook] | None = None
    _accumulator: AccumulateGrad | None = None
    # numpy defers `ndarray + Tensor` to our reflected operators
    __array_priority__ = 1000.0
    __hash__ = object.__hash__

    def __init__(self, data: Any, requires_grad: bool = False):
        self.data = _to_float_array(data)
        if requires_grad:
            self.requires_grad_(True)

    # -- construction without copying, for the engine's own results --------
    @staticmethod
    def _wrap(data: np.ndarray) -> Tensor:
        t = _new(Tensor)
        t.data = data
        return t

    # -- attributes ------------------------------------------------------
    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return int(self.data.size)

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.data.dtype

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def _accumulate_grad(self) -> AccumulateGrad:
        if self._accumulator is None:
            self._accumulator = AccumulateGrad(self)
        return self._accumulator

    # -- autograd switches -------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not self.is_leaf:
            if requires_grad:
                return self
            raise AutogradError(
                "you can only change requires_grad flags of leaf variables",
                hint="call .detach() to get a leaf that does not require grad",
            )
        if requires_grad and self.data.dtype.kind != "f":
            raise AutogradError("only floating-point tensors can require gradients")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf's gradient in `.grad` after backward (leaves always do)."""
        if not self.requires_grad:
            raise AutogradError("can't retain_grad on a tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self.grad_fn.retained = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return self.grad_fn is not None and self.grad_fn.retained is not None

    def register_hook(self, hook: Hook) -> RemovableHandle:
        """Call `hook(grad)` whenever this tensor's gradient is computed.

        The hook may return a tensor to use instead of the gradient.
        """
        if not self.requires_grad:
            raise AutogradError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            if self.grad_fn.pre_hooks is None:
                self.grad_fn.pre_hooks = []
            hooks = self.grad_fn.pre_hooks
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def detach(self) -> Tensor:
        """The same values, cut from the graph: a leaf that does not require grad."""
        return Tensor._wrap(self.data)

    # -- plain values -------------------------------------------------------
    def item(self) -> float:
        if self.data.size != 1:
            raise ShapeError(
                f"a tensor with {self.data.size} elements cannot be converted to a Python scalar"
            )
        return self.data.reshape(()).item()

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise AutogradError(
                "can't call numpy() on a tensor that requires grad",
                hint="use tensor.detach().numpy() instead",
            )
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def zero_(self) -> Tensor:
        self.data[...] = 0
        return self

    def __float__(self) -> float:
        return float(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ShapeError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous"
            )
        return bool(self.data.reshape(()))

    if TYPE_CHECKING:
        # Operators and methods are attached from the op table by gradcli.ops;
        # these declarations tell type checkers they exist.
        def __add__(self, other: Any) -> Tensor: ...
        def __radd__(self, other: Any) -> Tensor: ...
        def __sub__(self, other: Any) -> Tensor: ...
        def __rsub__(self, other: Any) -> Tensor: ...
        def __mul__(self, other: Any) -> Tensor: ...
        def __rmul__(self, other: Any) -> Tensor: ...
        def __truediv__(self, other: Any) -> Tensor: ...
        def __rtruediv__(self, other: Any) -> Tensor: ...
        def __pow__(self, other: Any) -> Tensor: ...
        def __rpow__(self, other: Any) -> Tensor: ...
        def __matmul__(self, other: Any) -> Tensor: ...
        def __rmatmul__(self, other: Any) -> Tensor: ...
        def __neg__(self) -> Tensor: ...
        def __pos__(self) -> Tensor: ...
        def __lt__(self, other: Any) -> Tensor: ...
        def __le__(self, other: Any) -> Tensor: ...
        def __gt__(self, other: Any) -> Tensor: ...
        def __ge__(self, other: Any) -> Tensor: ...
        def __eq__(self, other: Any) -> Tensor: ...  # type: ignore[override]
        def __ne__(self, other: Any) -> Tensor: ...  # type: ignore[override]
        def __getitem__(self, index: Any) -> Tensor: ...
        # attached by gradcli.engine.autograd, which this module does not import
        def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                     create_graph: bool = False,
                     inputs: Sequence[Tensor] | Tensor | None = None) -> None: ...
        def reshape(self, *shape: Any) -> Tensor: ...
        def transpose(self, *axes: Any) -> Tensor: ...
        def __getattr__(self, name: str) -> Any: ...

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", precision=4, prefix="tensor(")
        extras = ""
        if self.grad_fn is not None:
            extras = f", grad_fn=<{self.grad_fn.name()}>"
        elif self.requires_grad:
            extras = ", requires_grad=True"
        return f"tensor({body}{extras})"


class Batched(Tensor):
    """A value with a leading batch axis that the code it flows through does not see.

    Forward mode writes each op's JVP for one tangent and runs it on tangents
    that hold a whole batch of directions (JAX's batch tracers). Inside that
    code a Batched tensor reports the shape of one item, so the rule reads as
    if there were one direction; `apply` sends every op that meets one through
    the op's batch rule, the same rule that lifts a program over points, and
    wraps the result again. `data` holds the whole batch.
    """

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape[1:]

    @property
    def ndim(self) -> int:
        return self.data.ndim - 1

    @property
    def size(self) -> int:
        return math.prod(self.data.shape[1:])


def batched(data: np.ndarray) -> Batched:
    """A Batched tensor around `data` (batch axis first); no copy."""
    t = _new(Batched)
    t.data = data
    return t


def _apply_lifted(op: OpDef, inputs: tuple[Tensor, ...], params: dict[str, Any]) -> Tensor:
    """`op` on per-item values, some of them Batched: through the op's batch rule."""
    flags = tuple(t.__class__ is Batched for t in inputs)
    plain = tuple(Tensor._wrap(t.data) if b else t for t, b in zip(inputs, flags, strict=True))
    assert op.batch is not None, f"op {op.name} has no batch rule"
    with changed(lifting=False):
        out = op.batch(op, plain, flags, params)
    return batched(out.data)


#: Constant Tensors for Python floats, shared between op calls: loops like
#: `y * 1.0001` reuse the same literal on every iteration. Bounded; -0.0 and nan
#: are never cached (-0.0 == 0.0 as a key, and nan != nan). Only `operand` hands
#: them out, to ops, which never return an input Tensor itself; the public
#: `as_tensor` always makes a new one.
_FLOAT_CONSTANTS: dict[float, Tensor] = {}
_FLOAT_CONSTANTS_MAX = 4096


def as_tensor(value: Any) -> Tensor:
    """A Tensor as it is, or a new constant Tensor holding `value` (no copy for float arrays).

    Never a shared object: what a caller does to the result (requires_grad_, a
    label) stays with that result."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return Tensor._wrap(value)
    return Tensor._wrap(_to_float_array(value))


def operand(value: Any) -> Tensor:
    """An op's input: a Tensor as it is, or a constant (shared for Python floats)."""
    if value.__class__ is Tensor:
        return value
    if value.__class__ is float:
        signed_zero = value == 0.0 and math.copysign(1.0, value) < 0
        cached = None if signed_zero else _FLOAT_CONSTANTS.get(value)
        if cached is not None:
            return cached
        t = Tensor._wrap(np.array(value))
        if not signed_zero and value == value and len(_FLOAT_CONSTANTS) < _FLOAT_CONSTANTS_MAX:
            t.data.flags.writeable = False
            _FLOAT_CONSTANTS[value] = t
        return t
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return Tensor._wrap(value)
    return Tensor._wrap(_to_float_array(value))


def tensor(data: Any, requires_grad: bool = False) -> Tensor:
    """Make a Tensor: numbers and nested lists become float64 arrays (the data is copied)."""
    return Tensor(data, requires_grad=requires_grad)


#: numpy's words for "these shapes do not fit together" (broadcasting, a gufunc's core
#: dimensions, dot, concatenate, stack): our message says it, with the user's shapes, so
#: numpy's own text (gufunc signatures, "operand 1") would only repeat it in its terms
_MISFIT_WORDS = ("could not be broadcast", "mismatch in its core dimension", "not aligned",
                 "must match exactly", "must have the same shape", "same number of dimensions")


def _engine_error(op: OpDef, inputs: Sequence[Tensor], params: dict[str, Any],
                  exc: Exception) -> Exception:
    shapes = " and ".join(str(t.data.shape) for t in inputs)
    text = str(exc)
    if isinstance(exc, np.exceptions.AxisError):
        return AxisError(f"{op.name}: {text} (input shape {shapes})")
    if isinstance(exc, IndexError):
        return IndexingError(f"{op.name}: {text} (shape {shapes})")
    if "zero-size array to reduction" in text:  # min, max: no identity to give back
        return ShapeError(f"{op.name}: the {op.name} of an empty array (shape {shapes}) has "
                          "no value", hint="give it at least one element")
    if any(words in text for words in _MISFIT_WORDS):
        return ShapeError(f"{op.name}: shapes {shapes} do not fit together")
    return ShapeError(f"{op.name}: shapes {shapes} do not fit together ({text})")


_BOOL = np.dtype(np.bool_)


_FLOAT64 = np.dtype(np.float64)


def _has_bool(inputs: tuple[Tensor, ...]) -> bool:
    return any(t.data.dtype is _BOOL for t in inputs)


def _on_numbers(op: OpDef, inputs: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    """The op's forward with its boolean inputs as float64 0/1."""
    arrays = [t.data.astype(np.float64) if t.data.dtype is _BOOL else t.data for t in inputs]
    try:
        return op.forward(*arrays, **params)
    except (ValueError, IndexError) as exc:
        raise _engine_error(op, inputs, params, exc) from None


def apply(op: OpDef, inputs: tuple[Tensor, ...], params: dict[str, Any]) -> Tensor:
    """Run `op` forward and, if any input requires grad, record a Node for it.

    A boolean input (a comparison's result) is computed on as float64 0/1 (numpy
    would compute exp(True) in float16, and refuse -True); the input itself stays
    as it is, so the graph still links it to the comparison that made it."""
    state = current()
    if state.lifting:
        for t in inputs:
            if t.__class__ is Batched:
                return _apply_lifted(op, inputs, params)
    try:
        n = len(inputs)
        if params:
            out = op.forward(*[t.data for t in inputs], **params)
        elif n == 2:  # the common cases, spelled out: no argument lists to build
            out = op.forward(inputs[0].data, inputs[1].data)
        elif n == 1:
            out = op.forward(inputs[0].data)
        else:
            out = op.forward(*[t.data for t in inputs])
    except (ValueError, IndexError) as exc:
        raise _engine_error(op, inputs, params, exc) from None
    except TypeError:
        if not _has_bool(inputs):
            raise
        out = _on_numbers(op, inputs, params)
    if out.__class__ is not np.ndarray:
        out = np.asarray(out)
    if out.dtype is not _FLOAT64 and _has_bool(inputs):  # one check on the common path
        out = np.asarray(_on_numbers(op, inputs, params))
    result = _new(Tensor)
    result.data = out
    if state.grad and op.differentiable:
        for t in inputs:
            if t.requires_grad:
                result.grad_fn = Node(op, params, inputs, out)
                result.requires_grad = True
                break
    if state.watch is not None:
        check(state.watch, op.name, tuple(t.data for t in inputs), out, params, result)
    if state.recorder is not None:
        state.recorder.record(op, inputs, params, out)
    return result
