"""One chunk of points, one pass: values and derivatives at every point as columns.

The columns are named as the single-point CSV output names them (`value`,
`grad[x]`, `grad[m[0]]`, `jac[f[0],x]`, `hess[x,y]`), each an array with one
entry per point. Gradients come from one backward pass over the batched graph
(the points are independent, so the gradient of the sum is every point's own
gradient); Jacobians and Hessians push one tangent per input element through
the batched graph, all points at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcli import columns as names
from gradcli.batch.vectorise import evaluate_batched
from gradcli.compute import NotScalarError
from gradcli.engine.autograd import grad
from gradcli.engine.mode import enable_grad
from gradcli.engine.tensor import Tensor
from gradcli.engine.trace import recording
from gradcli.errors import ArgumentError, Span
from gradcli.language.program import Program
from gradcli.plans import engines
from gradcli.plans.plan import Plan, build_plan, padded

Columns = names.Columns

if TYPE_CHECKING:
    from gradcli.plans.compiled import CompiledPlan


def _value_columns(out: np.ndarray) -> Columns:
    return names.result_columns(out)


def _labels(chosen: Sequence[str], shapes: Mapping[str, tuple[int, ...]]) -> list[str]:
    return [label for n in chosen for label in names.element_labels(n, shapes[n])]


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


MAX_REPLAYED_PASSES = 64
"""Jacobians and Hessians needing more backward passes than this skip the replay."""
DEFAULT_BLOCK = 16384
"""Points per replayed block: small enough that a block's working set stays in cache."""


def chunk_columns(command: str, program: Program, points: Mapping[str, np.ndarray],
                  constants: Mapping[str, Any], wrt: Sequence[str] | None = None,
                  mode: str = "auto", replay: bool = True) -> Columns:
    """Every output column for this chunk of points (all arrays of length `size`)."""
    kernel = BatchKernel(command, program, constants, wrt, mode, replay=replay)
    return kernel.columns(points)


class BatchKernel:
    """One command on one program over many chunks of points.

    The first chunk is run through the engine with a recorder attached; the
    recording becomes a `Plan` that later chunks replay (see `batch.plan`), or
    that the compiled back end turns into one native loop (`batch.compiled`;
    `engine` and `points_hint`, the expected number of points in all, choose,
    see `batch.engines`). Where a recording cannot be replayed (a rule built a
    mask from its inputs' data, or too many backward passes), every chunk goes
    through the engine instead: slower, same results.
    """

    def __init__(self, command: str, program: Program, constants: Mapping[str, Any],
                 wrt: Sequence[str] | None = None, mode: str = "auto",
                 block: int = DEFAULT_BLOCK, replay: bool = True, engine: str | None = None,
                 points_hint: int | None = None, math: str = "accurate"):
        if mode not in ("auto", "forward", "reverse"):
            raise ArgumentError(f"--mode must be auto, forward or reverse, not '{mode}'")
        if math not in ("accurate", "libm"):
            raise ArgumentError(f"--math must be accurate or libm, not '{math}'")
        self.command = command
        self.program = program
        self.constants = constants
        self.wrt = wrt
        self.mode = mode
        self.block = block
        self.replay = replay
        self._compiled: dict[Any, tuple[Plan, Assemble] | None] = {}
        self.replayed = False  # whether the last chunk came from a plan (for tests)
        self.engine = engines.requested(engine)
        self.points_hint = points_hint
        #: where a compiled plan's transcendentals come from (--math)
        self.math = math
        self._fused: dict[Any, CompiledPlan | None] = {}
        #: the back end that computed the last chunk: "compiled", "numpy" or "engine"
        self.engine_used = ""
        #: where its compiled kernel came from: "compiled", "disk cache" or "memory"
        self.compiled_from: str | None = None
        #: the compiled kernel (`gradcli.plans.jit.Kernel`) of the last chunk, if any
        self.compiled_kernel: Any = None

    def _chosen(self, points: Mapping[str, np.ndarray]) -> list[str]:
        chosen = list(self.wrt) if self.wrt is not None else [
            n for n in self.program.free_variables if n in points]
        for name in chosen:
            if name not in points:
                raise ArgumentError(f"--wrt names '{name}', which does not come from the "
                                    "point file", hint="derivatives are taken with respect "
                                    "to the variables in the point file")
        return chosen

    def columns(self, points: Mapping[str, np.ndarray]) -> Columns:
        chosen = self._chosen(points)
        names = list(points)
        size = points[names[0]].shape[0]
        key = tuple((n, points[n].shape[1:]) for n in names)
        if self.replay and size > 0 and self.engine != "numpy":
            if key not in self._fused:
                self._fused[key] = self._fuse(points, chosen)
            fused = self._fused[key]
            if fused is not None:
                self.replayed = True
                self.engine_used = "compiled"
                self.compiled_from = fused.kernel.source
                self.compiled_kernel = fused.kernel
                return fused.columns([points[n] for n in names], size)
        expected = None
        if self.replay and size > 0 and key not in self._compiled:
            compiled = self._compile(points, chosen)
            self._compiled[key] = None if compiled is None else compiled[:2]
            expected = None if compiled is None else compiled[2]
        stored = self._compiled.get(key) if self.replay else None
        if stored is not None:
            plan, assemble = stored
            arrays = plan.run([np.asarray(points[n], dtype=np.float64) for n in names], size)
            # the recording was made on the first block in reverse order, so a value that
            # entered it without going through an op would show up here
            if expected is None or all(_agrees(a[:len(e)], e)
                                       for a, e in zip(arrays, expected, strict=True)):
                self.replayed = True
                self.engine_used = "numpy"
                return assemble(arrays, size)
            self._compiled[key] = None
        self.replayed = False
        self.engine_used = "engine"
        return _eager_columns(self.command, self.program, points, self.constants, chosen,
                              self.mode)

    def _fuse(self, points: Mapping[str, np.ndarray], chosen: list[str]
              ) -> CompiledPlan | None:
        """The compiled plan, where the engine choice asks for one and the plan allows it."""
        work = self.points_hint or next(iter(points.values())).shape[0]
        if self.engine == "auto" and not (
                engines.compiled_available() and engines.worth_compiling(work, 1)):
            return None
        from gradcli.plans import compiled

        decide = None if self.engine == "compiled" else \
            lambda steps: engines.worth_compiling(work, steps)
        return compiled.build(lambda block: self._compile(points, chosen, block), points,
                              decide, self.math)

    def _compile(self, points: Mapping[str, np.ndarray], chosen: list[str],
                 block: int | None = None) -> tuple[Plan, Assemble, list[np.ndarray]] | None:
        """A plan recorded on this chunk's first block reversed, and what it must give.

        Returns the recorded outputs, put back in the chunk's order, to check the
        plan against on the chunk itself."""
        size = next(iter(points.values())).shape[0]
        block = max(1, min(self.block, size)) if block is None else block
        differentiate = self.command != "eval"
        leaves = {n: Tensor(padded(np.asarray(v[:block], dtype=np.float64), block)[::-1],
                            requires_grad=differentiate and n in chosen)
                  for n, v in points.items()}
        with recording() as recorder, enable_grad(), np.errstate(all="ignore"):
            requested, assemble = _recorded_stage(self.command, self.program, leaves,
                                                  self.constants, block, chosen)
        if requested is None:
            return None
        outputs = [t.data for t in requested if t is not None]
        if any(np.shape(o)[:1] != (block,) for o in outputs):
            return None
        plan = build_plan(recorder.entries, [leaves[n].data for n in points], outputs,
                          block)
        expected = [o[::-1][:min(block, size)] for o in outputs]
        return plan, _filling(requested, assemble), expected


Assemble = Callable[[list[np.ndarray], int], Columns]


def _agrees(replayed: np.ndarray, recorded: np.ndarray) -> bool:
    """Equal wherever the engine's value is finite (a structural zero may replace a NaN)."""
    replayed = np.broadcast_to(replayed, recorded.shape)
    finite = np.isfinite(recorded)
    return bool(np.allclose(replayed[finite], recorded[finite], rtol=1e-12, atol=0.0))


def _filling(requested: list[Tensor | None], assemble: Callable[..., Columns]) -> Assemble:
    """Put None back where a requested derivative was unused (zero)."""
    present = [t is not None for t in requested]

    def fill(arrays: list[np.ndarray], size: int) -> Columns:
        values = iter(arrays)
        return assemble([next(values) if p else None for p in present], size)
    return fill


def _one_hot_seeds(size: int, shape: tuple[int, ...]) -> list[np.ndarray]:
    """For each element e of a per-point shape: 1 at e, 0 elsewhere, at every point."""
    count = int(np.prod(shape, dtype=np.int64))
    seeds = []
    for e in range(count):
        seed = np.zeros((size, count))
        seed[:, e] = 1.0
        seeds.append(seed.reshape((size, *shape)))
    return seeds


def _require_scalar(command: str, out: Tensor, program: Program) -> None:
    if out.ndim != 1:
        raise NotScalarError(
            f"{command} needs a scalar output at each point, but the expression "
            f"gives shape {out.shape[1:]}", span=Span(0, len(program.text)),
            hint="use jacobian for vector outputs")


def _recorded_stage(command: str, program: Program, leaves: Mapping[str, Tensor],
                    constants: Mapping[str, Any], size: int, chosen: list[str]
                    ) -> tuple[list[Tensor | None] | None, Callable[..., Columns]]:
    """The values and derivatives as engine tensors, every step an op (for recording).

    Derivatives are all reverse mode with `create_graph`, one pass per output
    element (Jacobians) or per gradient element (Hessians), so that the whole
    computation is recorded; the plan merges what the passes share.
    """
    shapes = {n: tuple(leaves[n].shape[1:]) for n in leaves}
    out = evaluate_batched(program, leaves, constants, size)
    requested: list[Tensor | None] = [out]
    if command == "eval" or not chosen:
        return requested, lambda arrays, n: _value_columns(arrays[0])
    inputs = [leaves[n] for n in chosen]
    counts = [int(np.prod(shapes[n], dtype=np.int64)) for n in chosen]
    total = sum(counts)

    def rows_of(target: Tensor, seeds: list[np.ndarray]) -> list[Tensor | None]:
        rows: list[Tensor | None] = []
        for seed in seeds:
            if target.requires_grad:
                rows += grad(target, inputs, grad_outputs=Tensor._wrap(seed),
                             retain_graph=True, create_graph=True, allow_unused=True)
            else:
                rows += [None] * len(inputs)
        return rows

    def matrix(arrays: list[np.ndarray | None], n_rows: int, n: int
               ) -> list[list[np.ndarray]]:
        """Entry [r][j]: the derivative of element r by input element j, at every point.

        Views into the replayed arrays, not copies: a chunk's Jacobian is written
        out column by column anyway."""
        zeros = np.zeros(n)
        rows = []
        for r in range(n_rows):
            row: list[np.ndarray] = []
            for a, c in zip(arrays[r * len(inputs):(r + 1) * len(inputs)], counts, strict=True):
                flat = None if a is None else np.reshape(a, (n, c))
                row += [zeros if flat is None else flat[:, e] for e in range(c)]
            rows.append(row)
        return rows

    if command in ("grad", "hessian"):
        _require_scalar(command, out, program)
        grads = list(grad(out, inputs, grad_outputs=Tensor._wrap(np.ones(size)),
                          allow_unused=True, create_graph=True)) if out.requires_grad \
            else [None] * len(inputs)
        requested += grads
        if command == "hessian":
            if total > MAX_REPLAYED_PASSES:
                return None, _value_columns
            for g, count, name in zip(grads, counts, chosen, strict=True):
                if g is None:
                    requested += [None] * (len(inputs) * count)
                else:
                    requested += rows_of(g, _one_hot_seeds(size, shapes[name]))

        def assemble_gradient(arrays: list[np.ndarray | None], n: int) -> Columns:
            gradients = [(name, np.zeros((n, *shapes[name])) if g is None
                          else np.reshape(g, (n, *shapes[name])))
                         for name, g in zip(chosen, arrays[1:1 + len(chosen)], strict=True)]
            hessian = matrix(arrays[1 + len(chosen):], total, n) \
                if command == "hessian" else None
            value: np.ndarray = arrays[0]  # type: ignore[assignment]
            return names.result_columns(value, gradients=gradients,
                                        labels=_labels(chosen, shapes), hessian=hessian)
        return requested, assemble_gradient

    out_shape = tuple(out.shape[1:])
    m = int(np.prod(out_shape, dtype=np.int64))
    if m > MAX_REPLAYED_PASSES:
        return None, _value_columns
    requested += rows_of(out, _one_hot_seeds(size, out_shape))

    def assemble_jacobian(arrays: list[np.ndarray | None], n: int) -> Columns:
        value: np.ndarray = arrays[0]  # type: ignore[assignment]
        return names.result_columns(value, labels=_labels(chosen, shapes),
                                    jacobian=matrix(arrays[1:], m, n))
    return requested, assemble_jacobian


def _eager_columns(command: str, program: Program, points: Mapping[str, np.ndarray],
                   constants: Mapping[str, Any], chosen: list[str], mode: str) -> Columns:
    """Every output column for this chunk, straight through the engine."""
    size = next(iter(points.values())).shape[0]
    shapes = {n: points[n].shape[1:] for n in points}
    leaves = {n: Tensor(v, requires_grad=(command != "eval" and n in chosen))
              for n, v in points.items()}
    with enable_grad(), np.errstate(all="ignore"):
        out = evaluate_batched(program, leaves, constants, size)
        if command == "eval" or not chosen:
            return _value_columns(out.data)
        inputs = [leaves[n] for n in chosen]
        labels = _labels(chosen, shapes)
        if command in ("grad", "hessian"):
            _require_scalar(command, out, program)
            ones = Tensor._wrap(np.ones(size))
            grads = grad(out, inputs, grad_outputs=ones, allow_unused=True,
                         create_graph=command == "hessian") if out.requires_grad \
                else (None,) * len(inputs)
            gradients = [(n, np.zeros(points[n].shape) if g is None else g.data)
                         for n, g in zip(chosen, grads, strict=True)]
            hessian = _hessian(chosen, points, shapes, grads, inputs) \
                if command == "hessian" else None
            return names.result_columns(out.data, gradients=gradients, labels=labels,
                                        hessian=hessian)
        return names.result_columns(out.data, labels=labels, jacobian=_jacobian(
            out, inputs, chosen, points, shapes, mode))


def _hessian(chosen: list[str], points: Mapping[str, np.ndarray],
             shapes: Mapping[str, tuple[int, ...]], grads: Sequence[Tensor | None],
             inputs: list[Tensor]) -> np.ndarray:
    """Forward-over-reverse: one tangent per input element through the recorded gradient:
    H[b, i, j] at every point b."""
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
    return np.concatenate(rows, axis=1)  # (size, n, n): H[b, i, j]


def _jacobian(out: Tensor, inputs: list[Tensor], chosen: list[str],
              points: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]],
              mode: str) -> np.ndarray:
    """J[b, i, j]: output element i by input element j at every point b."""
    from gradcli.engine.forward import push_tangents

    size = out.shape[0]
    out_shape = out.shape[1:]
    m = int(np.prod(out_shape, dtype=np.int64))
    n = sum(int(np.prod(shapes[c], dtype=np.int64)) for c in chosen)
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
    return matrix
