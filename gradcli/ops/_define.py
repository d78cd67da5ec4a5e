"""Turning one table entry into an op: rules, public function, Tensor method.

The entries themselves live in the sibling modules (`elementwise`, `binary`,
`reductions`, `arrays`, `linalg`, `structural`). This module holds the few
shapes of entry that most ops share, so each entry states only its maths:

* `unary`: y = f(x), given f'(x) as Tensor code. VJP g*f'(x); the engine
  derives the JVP t*f'(x) from the same partial.
* `binary`: broadcasting z = f(x, y), given both partials as Tensor code.
* `reduction`: out = R(x, axis), given the weight W with dR/dx = W
  (broadcast over the reduced axes). VJP expand(g)*W, JVP sum(t*W).
* `defop`: anything else, with its VJP and JVP written out (or named:
  ``jvp="linear"`` for an op linear in its inputs, ``jvp="bilinear"`` for a
  product such as matmul, where the rule is the op itself on the tangents).

An entry may also give a `scalar` form, for compiled plans: the forward
written for arrays of scalar symbols (`each` builds one from a function of
single symbols). Most entries need none: their numpy forward runs on such
arrays as it is (`gradcli.plans.symbols`), masks and `np.where` included.
Only a forward that assigns through a boolean mask or into a float array
needs one.

Derivatives written once as Tensor code serve both modes: reverse mode calls
them with graph-recording Tensors (so `create_graph` works), forward mode
calls them on constants and multiplies the tangents by the result. A JVP rule
is written for one tangent; forward mode runs it on a whole batch of
directions through the batch rules (`gradcli.engine.forward`), so no rule
ever sees a directions axis.

The keywords of an entry (`defop`; the helpers pass them through):

========================  =====================================================
``name, forward``         the op's name in the language and its numpy function
``vjp``                   per input, ``(g, out, *inputs, **params) -> Tensor``
                          in Tensor code (or one function returning a list, for
                          variadic ops); None for ops with no derivative
``jvp``                   ``(tangents, out, *inputs, **params) -> Tensor``, Tensor
                          code for one tangent per input (None: no tangent);
                          ``"linear"`` or ``"bilinear"``; None where the entry's
                          ``linear`` partials give it (elementwise entries)
``nin, inputs, params``   tensor inputs (-1: a list), their names, and the
                          keyword parameters with defaults, in order
``batch``                 the batch rule (see `gradcli.engine.batching`):
                          ``elementwise``, ``axis_rule(...)`` or the entry's own
                          ``(op, tensors, batched, params) -> Tensor``
``core``                  instead of ``batch``, for an op whose forward, VJP and
                          JVP broadcast over leading axes: its gufunc core
                          signature, e.g. ``"(m,m)->()"`` (det) or
                          ``"(n?,k),(k,m?)->(n?,m?)"`` (matmul)
``kind, help``            what sort of op it is, one line of help
``group, aliases``        the heading in `gradcli functions` (default: from
                          kind), and other names the language accepts (``ln``)
``domain, note``          where the op is defined; the derivative chosen at a
                          kink or tie and why
``inside, ends``          the domain as a numpy test (True inside it, ends
                          included), and where its ends have an infinite value;
                          for warnings: an end or an overflow is not "outside"
``sample``                per input, an interval inside the domain (tests, docs)
``prepare``               checks and canonicalises arguments for one point
``linear, moves``         optional fast forward-mode forms (sparse tangents)
``public, method``        listed for users; attached as a Tensor method
``taylor``                Taylor mode's own rule where the generic one (the JVP,
                          recorded) would not end: ``"bilinear"`` (set for
                          ``jvp="bilinear"``), ``"quotient"``, ``"power"``
``conditions``            the inputs that take a condition (where's ``cond``): the
                          only arguments the language lets a comparison be
``dependency``            the sparsity rule (`gradcli.engine.sparsity`), beside the
                          batch rule: ``elementwise`` (default for entries with
                          ``linear`` partials and the elementwise batch rule),
                          ``reduction``, ``moves`` (default with ``moves``),
                          ``sum_to``, ``none``; None: the conservative dense rule
``curvature``             ``linear``, ``bilinear`` or ``nonlinear`` (default; from
                          ``jvp="linear"``/``"bilinear"``): what the op adds to a
                          Hessian's pattern
========================  =====================================================

An op with tensor inputs and neither ``batch`` nor ``core`` is refused when it
is defined, so no op can work at one point and fail under ``--points``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradcli.engine.batching import BatchRule, axis_rule, elementwise
from gradcli.engine.batching import core as core_rule
from gradcli.engine.mode import set_grad_enabled
from gradcli.engine.op import OpDef, register
from gradcli.engine.tensor import Tensor, apply, operand
from gradcli.errors import ArgumentError, AxisError

Partial = Callable[..., Any]


class Namespace:
    """The generated public functions, by op name; rules call each other through it."""

    def __getattr__(self, name: str) -> Callable[..., Tensor]:
        raise AttributeError(f"gradcli has no function {name!r}")


fn: Any = Namespace()


def backward_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) + "Backward0"


def evaluate(partial: Partial, *arrays: np.ndarray, **params: Any) -> np.ndarray:
    """Evaluate a Tensor-code derivative on plain arrays (for JVPs)."""
    with set_grad_enabled(False):
        result = partial(*(Tensor._wrap(a) for a in arrays), **params)
    return result.data if isinstance(result, Tensor) else np.asarray(result)


# -- signatures and argument binding ------------------------------------------
def _signature(name: str, nin: int, params: Sequence[tuple[str, Any]],
               inputs: Sequence[str]) -> str:
    parts = list(inputs) if nin >= 0 else ["[x1, x2, ...]"]
    parts += [f"{p}={d!r}" if d is not None else f"{p}=None" for p, d in params]
    return f"{name}({', '.join(parts)})"


def make_binder(op: OpDef) -> Callable[..., tuple[tuple[Tensor, ...], dict[str, Any]]]:
    """Positional and keyword arguments -> (tensor inputs, params with defaults)."""
    names = op.param_names
    defaults = dict(op.params)

    def bind(args: Sequence[Any], kwargs: dict[str, Any]
             ) -> tuple[tuple[Tensor, ...], dict[str, Any]]:
        if op.nin < 0:
            if not args:
                raise ArgumentError(f"{op.name} needs a list of tensors", hint=op.signature)
            tensors = tuple(operand(a) for a in args[0])
            if not tensors:
                raise ArgumentError(f"{op.name} needs at least one tensor", hint=op.signature)
            rest = args[1:]
        else:
            if len(args) < op.nin:
                raise ArgumentError(
                    f"{op.name} takes {op.nin} tensor argument{'s' * (op.nin != 1)}, "
                    f"got {len(args)}", hint=f"usage: {op.signature}")
            tensors = tuple(operand(a) for a in args[:op.nin])
            rest = args[op.nin:]
        if len(rest) > len(names):
            raise ArgumentError(f"{op.name} got too many arguments",
                                hint=f"usage: {op.signature}")
        params = dict(defaults)
        params.update(zip(names, rest, strict=False))
        for key, value in kwargs.items():
            if key not in defaults:
                raise ArgumentError(f"{op.name} has no argument {key!r}",
                                    hint=f"usage: {op.signature}")
            if key in names[:len(rest)]:
                raise ArgumentError(f"{op.name} got {key!r} twice", hint=f"usage: {op.signature}")
            params[key] = value
        return tensors, params

    return bind


BINDERS: dict[str, Callable[..., tuple[tuple[Tensor, ...], dict[str, Any]]]] = {}


def make_function(op: OpDef) -> Callable[..., Tensor]:
    bind = BINDERS[op.name] = make_binder(op)

    def function(*args: Any, **kwargs: Any) -> Tensor:
        tensors, params = bind(args, kwargs)
        if op.prepare is not None:
            tensors, params = op.prepare(tensors, params)
        return apply(op, tensors, params)

    if op.nin in (1, 2) and not op.params and op.prepare is None:
        function = _fast_path(op, function)
    function.__name__ = op.name
    function.__qualname__ = op.name
    function.__doc__ = f"{op.signature}: {op.help}" + (f"\n\n{op.note}" if op.note else "")
    return function


_NO_PARAMS: dict[str, Any] = {}


def _fast_path(op: OpDef, general: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """Plain calls like sin(x) skip argument binding; anything unusual takes the general path."""
    if op.nin == 1:
        def unary_call(*args: Any, **kwargs: Any) -> Tensor:
            if len(args) == 1 and not kwargs:
                x = args[0]
                return apply(op, (x if x.__class__ is Tensor else operand(x),), _NO_PARAMS)
            return general(*args, **kwargs)

        return unary_call

    def binary_call(*args: Any, **kwargs: Any) -> Tensor:
        if len(args) == 2 and not kwargs:
            return apply(op, (operand(args[0]), operand(args[1])), _NO_PARAMS)
        return general(*args, **kwargs)

    return binary_call


def defop(name: str, forward: Callable[..., Any], *, vjp: Any, jvp: Any, nin: int = 1,
          params: Sequence[tuple[str, Any]] = (), kind: str, help: str,
          inputs: Sequence[str] | None = None, domain: str | None = None,
          sample: Sequence[tuple[float, float]] | None = None, note: str | None = None,
          broadcasting: bool = False, public: bool = True, method: bool = False,
          differentiable: bool = True, prepare: Callable[..., Any] | None = None,
          backward: str | None = None, linear: Callable[..., Any] | None = None,
          moves: Callable[..., Any] | None = None, batch: BatchRule | None = None,
          core: str | None = None, group: str | None = None,
          aliases: Sequence[str] = (), scalar: Callable[..., Any] | None = None,
          printed: str | None = None, taylor: str | None = None,
          conditions: Sequence[str] = (), inside: Callable[..., Any] | None = None,
          ends: Callable[..., Any] | None = None, dependency: str | None = None,
          curvature: str | None = None) -> OpDef:
    if dependency is None:
        dependency = "moves" if moves is not None else \
            "elementwise" if linear is not None and batch is elementwise else None
    if curvature is None:
        curvature = jvp if jvp in ("linear", "bilinear") else "nonlinear"
    if core is not None:
        if batch is not None:
            raise ValueError(f"op {name!r}: give batch= or core=, not both")
        batch = core_rule(core)
    if batch is None and nin != 0:
        raise ValueError(f"op {name!r} has no batch rule: give batch= (e.g. elementwise) or "
                         "core= (a gufunc signature such as '(m,m)->()'); see "
                         "gradcli.engine.batching")
    input_names = list(inputs) if inputs else (["x", "y", "z"][:nin] if nin >= 0 else [])
    op = OpDef(
        name=name, forward=forward, vjp=vjp, jvp=jvp, nin=nin, params=tuple(params), kind=kind,
        help=help, domain=domain, sample=tuple(sample) if sample else None, note=note,
        backward_name=backward or backward_name(name), broadcasting=broadcasting,
        public=public, method=method,
        signature=_signature(name, nin, params, input_names),
        differentiable=differentiable, prepare=prepare, linear=linear, moves=moves,
        batch=batch, core=core, scalar=scalar,
        group=group or GROUPS.get(kind, kind), aliases=tuple(aliases),
        printed=printed, taylor=taylor or ("bilinear" if jvp == "bilinear" else None),
        conditions=tuple(input_names.index(c) for c in conditions),
        inside=inside, ends=ends, dependency=dependency, curvature=curvature,
    )
    if jvp in ("linear", "bilinear"):
        op.jvp = _applied_to_tangents(op, bilinear=jvp == "bilinear")
    register(op)
    function = make_function(op)
    for spelling in (name, *aliases):
        setattr(fn, spelling, function)
    if method:
        setattr(Tensor, name, _as_method(function))
    return op


#: the heading `gradcli functions` lists an entry under, unless the entry names its own
GROUPS = {"elementwise": "elementwise functions", "binary": "functions of several values",
          "reduction": "reductions", "array": "arrays", "structural": "arrays",
          "constructor": "constructors", "comparison": "comparisons"}


def _as_method(function: Callable[..., Tensor]) -> Callable[..., Tensor]:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return function(self, *args, **kwargs)

    method.__name__ = function.__name__
    method.__doc__ = function.__doc__
    return method


def _applied_to_tangents(op: OpDef, bilinear: bool) -> Callable[..., Tensor | None]:
    """The JVP of an op linear in its inputs, op(t), or in each one, op(t_a, b) + op(a, t_b)."""

    def linear(ts: list[Tensor | None], out: Tensor, *xs: Tensor, **params: Any
               ) -> Tensor | None:
        if all(t is None for t in ts):
            return None
        # a missing tangent is zero; zeros of the input's shape are a constant of the shape only
        filled = tuple(Tensor._wrap(np.zeros(x.shape)) if t is None else t
                       for t, x in zip(ts, xs, strict=True))
        return apply(op, filled, params)

    def product(ts: list[Tensor | None], out: Tensor, a: Tensor, b: Tensor, **params: Any
                ) -> Tensor | None:
        terms = [apply(op, (t, b) if k == 0 else (a, t), params)
                 for k, t in enumerate(ts) if t is not None]
        return None if not terms else terms[0] if len(terms) == 1 else terms[0] + terms[1]

    return product if bilinear else linear


def each(scalar: Callable[..., Any], nin: int) -> Callable[..., np.ndarray]:
    """An op's scalar form (see `OpDef.scalar`) from a function of single symbols.

    It broadcasts like a ufunc. The symbols (`gradcli.plans.scalar.Scalar`) have
    numpy's arithmetic and comparisons, `select(a, b)` for masks and `call(name)`
    for the C library's functions (`x.call("erf")`); see that module."""
    ufunc = np.frompyfunc(scalar, nin, 1)

    def form(*arrays: Any) -> np.ndarray:
        return np.asarray(ufunc(*arrays), dtype=object)

    return form


# -- the common shapes of entry -------------------------------------------------
def unary(name: str, forward: Callable[[np.ndarray], Any], derivative: Partial | None, *,
          help: str, domain: str | None = None, sample: tuple[float, float] = (-2.0, 2.0),
          note: str | None = None, scalar: Callable[..., Any] | None = None,
          **more: Any) -> OpDef:
    """y = f(x) elementwise; `derivative(x, out)` is f'(x) in Tensor code (None: zero).

    `scalar(x)`, where the forward cannot run on scalar symbols, is f of one symbol;
    `more` passes `group` and `aliases` on to `defop`."""
    if derivative is None:
        # piecewise constant (floor, sign, ...): PyTorch's gradient is zero everywhere
        vjp: tuple[Callable[..., Tensor], ...] = (lambda g, out, x: g * 0.0,)
        linear: Callable[..., Any] = lambda out, x: [None]
    else:
        d = derivative
        vjp = (lambda g, out, x: g * d(x, out),)
        linear = lambda out, x: [evaluate(d, x, out)]
    if derivative is None:
        more.setdefault("curvature", "linear")  # a zero derivative couples nothing
    return defop(name, forward, vjp=vjp, jvp=None, kind="elementwise", help=help,
                 domain=domain, sample=(sample,), note=note, method=True, linear=linear,
                 batch=elementwise, scalar=None if scalar is None else each(scalar, 1),
                 **more)


def binary(name: str, forward: Callable[[np.ndarray, np.ndarray], Any],
           partials: tuple[Partial, Partial], *, help: str, domain: str | None = None,
           sample: tuple[tuple[float, float], tuple[float, float]] = ((-2, 2), (-2, 2)),
           note: str | None = None, inputs: Sequence[str] = ("x", "y"),
           backward: str | None = None, scalar: Callable[..., Any] | None = None,
           **more: Any) -> OpDef:
    """z = f(x, y) with numpy broadcasting; partials are (dz/dx, dz/dy)(x, y, out).

    `scalar(x, y)`, where the forward cannot run on scalar symbols, is f of two symbols."""
    dx, dy = partials
    vjp = (lambda g, out, x, y: g * dx(x, y, out), lambda g, out, x, y: g * dy(x, y, out))
    linear = lambda out, x, y: [evaluate(dx, x, y, out), evaluate(dy, x, y, out)]
    return defop(name, forward, vjp=vjp, jvp=None, nin=2, kind="binary", help=help,
                 domain=domain, sample=sample, note=note, broadcasting=True,
                 inputs=inputs, backward=backward, linear=linear, batch=elementwise,
                 scalar=None if scalar is None else each(scalar, 2), **more)


def canonical_axes(axis: Any, ndim: int) -> tuple[int, ...] | None:
    """None, an int or a sequence of ints -> a sorted tuple of non-negative axes."""
    if axis is None:
        return None
    raw = axis if isinstance(axis, (tuple, list)) else (axis,)
    axes = []
    for a in raw:
        a = as_int(a, "axis")
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise AxisError(f"axis {a} is out of bounds for a tensor with {ndim} dimensions")
        axes.append(a % ndim if ndim else 0)
    if len(set(axes)) != len(axes):
        raise AxisError(f"repeated axis in {tuple(raw)}")
    return tuple(sorted(axes)) if ndim else None


def as_int(value: Any, what: str) -> int:
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    raise ArgumentError(f"{what} must be a whole number, got {value!r}")


def kept_shape(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> tuple[int, ...]:
    """The shape a reduction has with keepdims=True."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def expand(g: Tensor, shape: tuple[int, ...], axes: tuple[int, ...] | None) -> Tensor:
    """Broadcast a reduction's gradient back over the axes it reduced."""
    kept = kept_shape(shape, axes)
    if g.shape != kept:
        g = fn.reshape(g, kept)
    if g.shape != shape:
        g = fn.broadcast_to(g, shape)
    return g


def reduction_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any]
                      ) -> tuple[tuple[Tensor, ...], dict[str, Any]]:
    params["axis"] = canonical_axes(params["axis"], tensors[0].ndim)
    params["keepdims"] = bool(params["keepdims"])
    return tensors, params


def reduction(name: str, forward: Callable[..., Any], weight: Partial | None, *,
              help: str, extra: Sequence[tuple[str, Any]] = (),
              sample: tuple[float, float] = (-2.0, 2.0), domain: str | None = None,
              note: str | None = None, prepare: Callable[..., Any] | None = None,
              curvature: str = "nonlinear") -> OpDef:
    """out = R(x, axis, keepdims); `weight(x, out_kept, axis, **extra)` is dR/dx (None: 1).

    `curvature` is "linear" for a weighted sum (sum, mean): no Hessian pattern of its own."""

    def vjp_x(g: Tensor, out: Tensor, x: Tensor, axis: Any, keepdims: bool,
              **more: Any) -> Tensor:
        grad = expand(g, x.shape, axis)
        if weight is None:
            return grad
        out_kept = fn.reshape(out, kept_shape(x.shape, axis))
        return grad * weight(x, out_kept, axis, **more)

    def jvp(ts: list[Any], out: Tensor, x: Tensor, axis: Any, keepdims: bool,
            **more: Any) -> Tensor:
        t = ts[0] if weight is None else \
            ts[0] * weight(x, fn.reshape(out, kept_shape(x.shape, axis)), axis, **more)
        return fn.sum(t, axis=axis, keepdims=keepdims)

    def prep(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
        tensors, params = reduction_prepare(tensors, params)
        return prepare(tensors, params) if prepare else (tensors, params)

    return defop(name, forward, vjp=(vjp_x,), jvp=jvp,
                 params=(("axis", None), ("keepdims", False), *extra), kind="reduction",
                 help=help, sample=(sample,), domain=domain, note=note, method=True,
                 prepare=prep, batch=axis_rule(), dependency="reduction",
                 curvature=curvature)

