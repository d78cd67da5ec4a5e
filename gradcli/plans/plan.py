"""A recorded batch computation, simplified once and replayed on block after block.

The engine builds a graph on every call, which is what a single point needs
and what makes derivatives of derivatives work. Over a million points the
same graph, with the same shapes, would be rebuilt for every chunk. Instead
the batch runner records one block's computation (the program, then its
derivatives with `create_graph`, so that every step is an op) and keeps the
flat list of op applications. Before replaying it, the list is simplified:

* steps whose inputs are all constants are folded (the recording already
  holds their values);
* repeated steps (the same op on the same values, such as the `sin(a)` of the
  forward pass and the `sin(a)` inside cos's derivative) are merged;
* multiplications by one, additions of zero, reshapes to the same shape and
  the like become the value itself, and products with a structural zero (a
  derivative seed that is zero along this row) become zero;
* steps no output needs are dropped, and every register is released after
  its last use, so a block's working set stays in cache.

A block has a fixed number of points (the recorded shapes mention it), so the
last block of a chunk is padded with copies of its last point and trimmed
afterwards. Blocks are independent, so they run on a thread pool: numpy
releases the GIL inside its loops.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from gradcli.engine.op import OpDef
from gradcli.engine.trace import Entry

Step = tuple[Callable[..., Any], tuple[int, ...], dict[str, Any] | None, int, tuple[int, ...]]

_ELEMENTWISE_IDENTITIES = {"add", "sub", "mul", "div"}
_SAME_SHAPE_IDENTITIES = {"reshape", "broadcast_to", "sum_to", "clone", "detach"}


def _params_key(params: dict[str, Any]) -> Any:
    """A hashable stand-in for an op's settings; distinct unless plainly equal."""
    if not params:
        return ()
    items = []
    for name, value in sorted(params.items()):
        if isinstance(value, np.ndarray):
            value = ("array", value.dtype.str, value.shape, value.tobytes()) \
                if value.size <= 64 else ("id", id(value))
        else:
            try:
                hash(value)
            except TypeError:
                value = ("id", id(value))
        items.append((name, value))
    return tuple(items)


class Plan:
    """A straight-line program over registers: constants, inputs, steps, outputs."""

    def __init__(self, block: int, registers: int, constants: dict[int, np.ndarray],
                 inputs: list[int], steps: list[Step], outputs: list[int],
                 output_shapes: list[tuple[int, ...]]):
        self.block = block
        self.output_shapes = output_shapes  # per point
        self.registers = registers
        self.constants = constants
        self.inputs = inputs
        self.steps = steps
        self.outputs = outputs

    def run_block(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The outputs for one block of exactly `block` points."""
        regs: list[Any] = [None] * self.registers
        for r, value in self.constants.items():
            regs[r] = value
        for r, value in zip(self.inputs, arrays, strict=True):
            regs[r] = value
        with np.errstate(all="ignore"):
            for function, args, params, out, frees in self.steps:
                if params is None:
                    if len(args) == 2:
                        regs[out] = function(regs[args[0]], regs[args[1]])
                    elif len(args) == 1:
                        regs[out] = function(regs[args[0]])
                    else:
                        regs[out] = function(*[regs[a] for a in args])
                else:
                    regs[out] = function(*[regs[a] for a in args], **params)
                for r in frees:
                    regs[r] = None
        return [regs[r] for r in self.outputs]

    def run(self, arrays: Sequence[np.ndarray], size: int) -> list[np.ndarray]:
        """The outputs for `size` points, block by block, the blocks shared among threads.

        Each thread takes one contiguous run of blocks: one hand-off per thread
        per call, rather than one per block, keeps the threads from queueing on
        the GIL between numpy calls."""
        block = self.block
        results = [np.empty((size, *shape)) for shape in self.output_shapes]

        def blocks(share: list[int]) -> None:
            for start in share:
                stop = min(start + block, size)
                values = self.run_block([padded(a[start:stop], block) for a in arrays])
                for target, value in zip(results, values, strict=True):
                    target[start:stop] = value[:stop - start]

        starts = list(range(0, size, block))
        workers = min(_workers(), len(starts))
        if workers > 1:
            per = -(-len(starts) // workers)
            shares = [starts[k * per:(k + 1) * per] for k in range(workers)]
            futures = [_pool().submit(blocks, share) for share in shares[1:]]
            blocks(shares[0])
            for future in futures:
                future.result()
        else:
            blocks(starts)
        return results


def padded(part: np.ndarray, block: int) -> np.ndarray:
    """`part` filled up to `block` points with copies of its last point."""
    missing = block - part.shape[0]
    if missing == 0:
        return part
    filler = np.repeat(part[-1:], missing, axis=0)
    return np.concatenate([part, filler])


_POOL: ThreadPoolExecutor | None = None


def _workers() -> int:
    setting = os.environ.get("GRADCLI_THREADS", "")
    if setting.isdigit() and int(setting) > 0:
        return int(setting)
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="gradcli")
    return _POOL


class _Builder:
    """Turns a recording into a Plan, simplifying as it goes."""

    def __init__(self) -> None:
        self.registers: dict[int, int] = {}  # id(array) -> register
        self.shapes: list[tuple[int, ...]] = []
        self.constants: dict[int, np.ndarray] = {}
        self.steps: list[tuple[Callable[..., Any], tuple[int, ...], dict[str, Any] | None,
                               int]] = []
        self.merged: dict[Any, int] = {}

    def new(self, shape: tuple[int, ...], constant: np.ndarray | None = None) -> int:
        r = len(self.shapes)
        self.shapes.append(shape)
        if constant is not None:
            self.constants[r] = constant
        return r

    def of(self, array: np.ndarray) -> int:
        r = self.registers.get(id(array))
        if r is None:  # entered from outside any op: a constant of the recording
            r = self.registers[id(array)] = self.new(np.shape(array), np.asarray(array))
        return r

    def is_const(self, r: int, value: float | None = None) -> bool:
        if r not in self.constants:
            return False
        if value is None:
            return True
        c = self.constants[r]
        return c.size > 0 and bool(np.all(c == value))

    def add_step(self, function: Callable[..., Any], args: tuple[int, ...],
                 params: dict[str, Any] | None, shape: tuple[int, ...], key: Any) -> int:
        if key in self.merged:
            return self.merged[key]
        r = self.new(shape)
        self.steps.append((function, args, params or None, r))
        self.merged[key] = r
        return r

    def entry(self, op: OpDef, arrays: tuple[np.ndarray, ...], params: dict[str, Any],
              out: np.ndarray) -> None:
        args = tuple(self.of(a) for a in arrays)
        shape = np.shape(out)
        if all(self.is_const(a) for a in args):
            result = self.new(shape, np.asarray(out))
        else:
            simpler = self.simplify(op.name, args, params, shape, out)
            result = simpler if simpler is not None else self.add_step(
                op.forward, args, params, shape, (op.name, args, _params_key(params)))
        self.registers[id(out)] = result

    def simplify(self, name: str, args: tuple[int, ...], params: dict[str, Any],
                 shape: tuple[int, ...], out: np.ndarray) -> int | None:
        """A register equal to the op's result without running it, or None."""
        same = [a for a in args if self.shapes[a] == shape]
        if name in _SAME_SHAPE_IDENTITIES and same == [args[0]]:
            return args[0]
        if name in _ELEMENTWISE_IDENTITIES and len(args) == 2:
            x, y = args
            zero_x, zero_y = self.is_const(x, 0.0), self.is_const(y, 0.0)
            if (name == "mul" and (zero_x or zero_y)) or (name == "div" and zero_x):
                # a structural zero: this derivative path carries nothing
                return self.new(shape, np.zeros(shape))
            if name in ("add", "sub") and zero_y and x in same:
                return x
            if name == "add" and zero_x and y in same:
                return y
            if name == "sub" and zero_x and y in same:
                return self.add_step(np.negative, (y,), None, shape, ("neg", (y,), ()))
            if name in ("mul", "div") and self.is_const(y, 1.0) and x in same:
                return x
            if name == "mul" and self.is_const(x, 1.0) and y in same:
                return y
        if name == "neg" and self.is_const(args[0], 0.0):
            return self.new(shape, np.zeros(shape))
        if name == "where" and self.is_const(args[0]):
            condition = self.constants[args[0]]
            branch = args[1] if np.all(condition) else args[2] if not np.any(condition) \
                else None
            if branch is not None and branch in same:
                return branch
        if name == "pow" and self.is_const(args[1]) and self.constants[args[1]].ndim == 0 \
                and args[0] in same:
            k = float(self.constants[args[1]])
            if k == 1.0:
                return args[0]
            if k == 2.0:
                return self.add_step(np.square, (args[0],), None, shape,
                                     ("square", (args[0],), ()))
        return None


def build_plan(entries: Sequence[Entry], inputs: Sequence[np.ndarray],
               outputs: Sequence[np.ndarray], block: int) -> Plan:
    """The plan replaying `entries` from `inputs` to `outputs` (all as recorded)."""
    builder = _Builder()
    input_registers = []
    for array in inputs:
        r = builder.new(np.shape(array))
        builder.registers[id(array)] = r
        input_registers.append(r)
    for op, arrays, params, out in entries:
        builder.entry(op, arrays, params, out)
    output_registers = [builder.of(a) for a in outputs]

    # keep only the steps some output needs, and free each register after its last use
    needed = set(output_registers)
    kept = []
    for step in reversed(builder.steps):
        if step[3] in needed:
            kept.append(step)
            needed.update(step[1])
    kept.reverse()
    last_use: dict[int, int] = {}
    for k, (_, args, _, _) in enumerate(kept):
        for a in args:
            last_use[a] = k
    keep_alive = set(output_registers) | set(builder.constants)
    frees: list[list[int]] = [[] for _ in kept]
    for r, k in last_use.items():
        if r not in keep_alive:
            frees[k].append(r)
    steps: list[Step] = [(function, args, params, out, tuple(frees[k]))
                         for k, (function, args, params, out) in enumerate(kept)]
    constants = {r: c for r, c in builder.constants.items()
                 if r in needed or r in output_registers}
    return Plan(block, len(builder.shapes), constants, input_registers, steps,
                output_registers, [np.shape(a)[1:] for a in outputs])
