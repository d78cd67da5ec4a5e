"""A recorded plan, lowered to one LLVM IR function that loops over points.

The plan (`gradcli.plans.plan`) is a straight line of table ops on batched
arrays. Lowering runs that straight line once more, on numpy object arrays
of `Scalar` symbols holding a block of two points: each op's `scalar` form
(or its forward, where that runs on symbols) writes the instructions for one
point into the loop body. Every per-point element becomes one SSA value, so
reductions and matrix products over a variable's elements are unrolled inner
loops, masks are selects, and nothing is stored between steps: the loop reads
each input element once and writes each output element once.

The function is

    void gradcli_kernel(i64 start, i64 stop, double* noalias in0, ...,
                        double* noalias out0, ...)

over points [start, stop), each argument C-contiguous with the points on the
first axis, so that threads can share the points by range.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradcli.engine.op import OPS, OpDef
from gradcli.plans.plan import Plan
from gradcli.plans.scalar import PHANTOM, Emitter, NotCompilable, Scalar
from gradcli.plans.symbols import symbols

FUNCTION = "gradcli_kernel"
MAX_INSTRUCTIONS = 40_000
"""Larger loop bodies (big Hessians of big variables) stay on the numpy replay:
compiling them would cost more than it saves."""


class Lowered:
    """The IR text and the per-point shapes of the function's arguments."""

    def __init__(self, ir: str, input_shapes: list[tuple[int, ...]],
                 output_shapes: list[tuple[int, ...]], instructions: int):
        self.ir = ir
        self.input_shapes = input_shapes
        self.output_shapes = output_shapes
        self.instructions = instructions


def _ops_by_forward() -> dict[Callable[..., Any], OpDef | None]:
    """The table entry of each forward a plan step calls (None where two ops share one)."""
    found: dict[Callable[..., Any], OpDef | None] = {}
    for op in OPS.values():
        found[op.forward] = None if op.forward in found else op
    return found


def lower(plan: Plan, input_shapes: Sequence[tuple[int, ...]],
          math_mode: str = "accurate", vector_width: int = 8) -> Lowered:
    """The loop for `plan`, recorded on a block of two points; raises NotCompilable.

    `math_mode` says where transcendentals come from (--math); `vector_width` is the
    target's (doubles per vector with fma; 0 without fma), which decides whether our
    own functions pay there (`gradcli.vecmath.provides`)."""
    if plan.block != 2:
        raise NotCompilable("plans are lowered from a two-point recording")
    emitter = Emitter(math_mode, vector_width)
    forms = _ops_by_forward()
    values: dict[int, np.ndarray] = {r: symbols(c) for r, c in plan.constants.items()}
    arguments, loads = [], []
    for k, (r, shape) in enumerate(zip(plan.inputs, input_shapes, strict=True)):
        count = math.prod(shape)
        arguments.append(f"double* noalias nocapture readonly %in{k}")
        loads.append(f"  %base_in{k} = mul nsw i64 %p, {count}")
        block = np.empty((2, count), dtype=object)
        for j in range(count):
            loads.append(f"  %i_in{k}_{j} = add nsw i64 %base_in{k}, {j}")
            loads.append(f"  %a_in{k}_{j} = getelementptr inbounds double, double* %in{k}, "
                         f"i64 %i_in{k}_{j}")
            loads.append(f"  %v_in{k}_{j} = load double, double* %a_in{k}_{j}")
            block[0, j] = Scalar(emitter, f"%v_in{k}_{j}")
            block[1, j] = PHANTOM
        values[r] = symbols(block.reshape((2, *shape)))

    with np.errstate(all="ignore"):
        for function, args, params, out, _ in plan.steps:
            op = forms.get(function)
            if op is None:
                raise NotCompilable(f"a step outside the op table: {function!r}")
            form = op.scalar or op.forward
            try:
                result = form(*(values[a] for a in args), **(params or {}))
            except NotCompilable:
                raise
            except Exception as exc:  # the forward needs real numbers: no scalar form
                raise NotCompilable(f"{op.name} has no scalar form ({exc})") from None
            values[out] = symbols(result)
            if len(emitter.lines) > MAX_INSTRUCTIONS:
                raise NotCompilable("the loop body would be too long")

    stores, output_shapes = [], []
    for k, (r, shape) in enumerate(zip(plan.outputs, plan.output_shapes, strict=True)):
        value = values[r]
        if value.shape != (2, *shape):
            value = np.broadcast_to(value, (2, *shape)) if value.ndim <= len(shape) + 1 \
                else value
        if value.shape != (2, *shape):
            raise NotCompilable("an output without its point axis")
        count = math.prod(shape)
        arguments.append(f"double* noalias nocapture writeonly %out{k}")
        stores.append(f"  %base_out{k} = mul nsw i64 %p, {count}")
        for j, element in enumerate(value.reshape(2, count)[0]):
            if element is PHANTOM or not isinstance(element, Scalar):
                raise NotCompilable("an output mixes points")
            stores.append(f"  %i_out{k}_{j} = add nsw i64 %base_out{k}, {j}")
            stores.append(f"  %a_out{k}_{j} = getelementptr inbounds double, double* %out{k}, "
                          f"i64 %i_out{k}_{j}")
            stores.append(f"  store double {element.ref}, double* %a_out{k}_{j}")
        output_shapes.append(tuple(shape))

    from gradcli import vecmath

    own = vecmath.definitions(emitter.vecmath)
    header = [line for name, line in sorted(emitter.declared.items())
              if not any(f"@{name}(" in d for d in own if d.startswith("declare"))] + own
    ir = "\n".join([
        *header,
        f"define void @{FUNCTION}(i64 %start, i64 %stop, {', '.join(arguments)}) nounwind {{",
        "entry:",
        "  %empty = icmp sge i64 %start, %stop",
        "  br i1 %empty, label %exit, label %loop",
        "loop:",
        "  %p = phi i64 [ %start, %entry ], [ %next, %loop ]",
        *loads, *emitter.lines, *stores,
        "  %next = add nsw i64 %p, 1",
        "  %more = icmp slt i64 %next, %stop",
        "  br i1 %more, label %loop, label %exit" + (", !llvm.loop !0" if own else ""),
        "exit:",
        "  ret void",
        "}",
        # with our math inlined, the last points run in the vector loop under a mask:
        # no scalar copy of the body (which would double the code and compile time)
        *(["!0 = distinct !{!0, !1}",
            '!1 = !{!"llvm.loop.vectorize.predicate.enable", i1 true}'] if own else []),
        "",
    ])
    return Lowered(ir, [tuple(s) for s in input_shapes], output_shapes, len(emitter.lines))
