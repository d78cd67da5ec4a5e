"""What the engine needs to know about an operation, and the registry of them.

The engine is generic: it calls an op's numpy `forward`, and in backward its
`vjp` rules, which are written with Tensor operations so that a backward pass
recorded under `create_graph=True` can itself be differentiated. The table of
concrete ops lives in `gradcli.ops`; the engine only looks entries up here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

#: A VJP rule for one input: (g, out, *inputs, **params) -> Tensor or None.
#: A variadic op instead has one rule returning a sequence, one per input.
VjpRule = Callable[..., Any]
#: A JVP rule: (tangents, out, *input_arrays, **params) -> batched tangent array.
JvpRule = Callable[..., Any]


class OpDef:
    """One row of the op table.

    `nin` is the number of tensor inputs, or -1 for a variadic op (stack,
    concatenate). `params` are the non-tensor keyword parameters with their
    defaults, in positional order. `broadcasting` marks numpy-broadcasting
    elementwise ops: the engine sums their input gradients back to each
    input's shape, and pads tangents so the batch axis lines up.
    """

    __slots__ = ("aliases", "backward_name", "batch", "broadcasting", "conditions", "core",
                 "curvature", "dependency", "differentiable",
                 "domain", "ends", "forward", "group", "help", "inside", "jvp", "kind", "linear",
                 "method", "moves",
                 "name", "nin", "note", "params", "prepare", "printed", "public", "sample",
                 "scalar", "signature", "taylor", "vjp")

    def __init__(self, name: str, forward: Callable[..., Any],
                 vjp: tuple[VjpRule, ...] | VjpRule | None, jvp: JvpRule | None, *,
                 nin: int = 1, params: tuple[tuple[str, Any], ...] = (),
                 kind: str = "elementwise", help: str = "", domain: str | None = None,
                 sample: tuple[tuple[float, float], ...] | None = None,
                 note: str | None = None, backward_name: str = "",
                 broadcasting: bool = False, public: bool = True, method: bool = False,
                 signature: str = "", differentiable: bool = True,
                 linear: Callable[..., Any] | None = None,
                 moves: Callable[..., Any] | None = None,
                 prepare: Callable[..., Any] | None = None,
                 batch: Callable[..., Any] | None = None, core: str | None = None,
                 group: str = "", aliases: tuple[str, ...] = (),
                 scalar: Callable[..., Any] | None = None, printed: str | None = None,
                 taylor: str | None = None, conditions: tuple[int, ...] = (),
                 inside: Callable[..., Any] | None = None,
                 ends: Callable[..., Any] | None = None,
                 dependency: str | None = None, curvature: str = "nonlinear"):
        self.name = name
        self.forward = forward
        self.vjp = vjp
        self.jvp = jvp
        self.nin = nin
        self.params = params
        self.kind = kind
        self.help = help
        self.domain = domain
        #: the domain as a test, for messages: (*inputs) -> True where the arguments lie in
        #: it (its ends included). A non-finite value from a point inside is not "outside
        #: the domain": it is an end where the value tends to infinity, or an overflow
        self.inside = inside
        #: (*inputs) -> True at the ends of the domain where the value is infinite (its limit)
        self.ends = ends
        #: for each tensor input, an interval of points well inside the domain (tests, docs)
        self.sample = sample
        self.note = note
        self.backward_name = backward_name
        self.broadcasting = broadcasting
        self.public = public
        self.method = method
        #: for the language: the call signature shown in help and errors
        self.signature = signature
        #: False for ops like comparisons whose result never requires grad
        self.differentiable = differentiable
        #: elementwise ops: (out, *inputs, **params) -> per input, the coefficient c_k of
        #: the linear map JVP = sum_k c_k * t_k (None where an input has no derivative)
        self.linear = linear
        #: element-moving ops: (**params) -> a function applied alike to every array
        #: travelling with the data (None where these params move elements irregularly)
        self.moves = moves
        #: prepares user-facing arguments (e.g. canonical axes) before the op is applied
        self.prepare = prepare
        #: how the op runs on many points at once (see `gradcli.engine.batching`)
        self.batch = batch
        #: for ops that broadcast over leading axes: the gufunc core signature
        self.core = core
        #: for `gradcli functions`: the heading this op is listed under
        self.group = group
        #: other names the language accepts for this op (ln for log, arcsin for asin)
        self.aliases = aliases
        #: compiled plans: the forward written for numpy arrays of scalar symbols
        #: (`gradcli.plans.scalar`), same signature as `forward`; None where `forward`
        #: itself runs on such arrays (ufuncs, reshapes, sums, matmul do)
        self.scalar = scalar
        #: how a formula writes this op, where not as a call `name(args)`: a template with
        #: {0}, {1} for the inputs (an operator such as "{0} + {1}"), read by gradcli.formula
        self.printed = printed
        #: Taylor mode's rule where the generic one (the JVP, recorded) would not end:
        #: "bilinear" (the Cauchy product), "quotient" or "power" (see gradcli.engine.taylor)
        self.taylor = taylor
        #: the positions of the tensor inputs that take a condition (where's cond): the
        #: only places the language accepts a comparison such as x > 0
        self.conditions = conditions
        #: which input elements each output element depends on, for sparsity detection
        #: (`gradcli.engine.sparsity`): "elementwise", "reduction", "moves", "sum_to",
        #: "none"; None is the conservative dense rule (every output on every input)
        self.dependency = dependency
        #: "linear", "bilinear" (a product) or "nonlinear" in the inputs: which second
        #: derivatives the op can make (linear ops add nothing to a Hessian's pattern)
        self.curvature = curvature

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.params)

    def __repr__(self) -> str:
        return f"<op {self.name}>"


OPS: dict[str, OpDef] = {}


def register(op: OpDef) -> OpDef:
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} defined twice")
    OPS[op.name] = op
    return op


def lookup(name: str) -> OpDef:
    try:
        return OPS[name]
    except KeyError:
        # tinygrad's lesson: a missing rule must fail loudly, naming the op
        raise KeyError(f"gradcli has no op named {name!r}") from None


def public_ops() -> Sequence[OpDef]:
    return [op for op in OPS.values() if op.public]
