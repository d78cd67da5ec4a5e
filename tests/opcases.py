"""Test points for every op in the table, read from the table itself.

Unary, binary and reduction entries get their points from their `sample`
intervals and a set of broadcasting shapes. Ops with structure of their own
(matmul, indexing, ...) have explicit cases below; `cases_for` fails loudly for
an op that has neither, so a new op cannot slip in untested.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import gradcli as g
from gradcli.ops import OPS, OpDef, fn


@dataclass
class Case:
    label: str
    func: Callable[..., Any]
    inputs: list[np.ndarray]


def _uniform(rng: np.random.Generator, interval: tuple[float, float], shape: tuple[int, ...]):
    lo, hi = interval
    return rng.uniform(lo, hi, size=shape)


UNARY_SHAPES = [(), (3,), (2, 3)]
BINARY_SHAPES = [((), ()), ((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 2))]
REDUCTION_PARAMS = [
    ((3, 4), {}), ((3, 4), {"axis": 0}), ((3, 4), {"axis": -1, "keepdims": True}),
    ((2, 3, 2), {"axis": (0, 2)}), ((4,), {}),
]


def _call(op: OpDef, params: dict[str, Any]) -> Callable[..., Any]:
    function = getattr(fn, op.name)
    return lambda *xs: function(*xs, **params)


def _explicit(rng: np.random.Generator) -> dict[str, list[Case]]:
    r = lambda *shape: rng.uniform(-2, 2, size=shape)
    pos = lambda *shape: rng.uniform(0.5, 2, size=shape)
    cond = rng.uniform(size=(2, 3)) > 0.5
    return {
        "matmul": [
            Case("mat@mat", fn.matmul, [r(2, 3), r(3, 4)]),
            Case("vec@mat", fn.matmul, [r(3), r(3, 4)]),
            Case("mat@vec", fn.matmul, [r(2, 3), r(3)]),
            Case("vec@vec", fn.matmul, [r(3), r(3)]),
            Case("batch@mat", fn.matmul, [r(2, 2, 3), r(3, 2)]),
            Case("mat@batch", fn.matmul, [r(2, 3), r(2, 3, 2)]),
            Case("vec@batch", fn.matmul, [r(3), r(2, 3, 2)]),
        ],
        "dot": [
            Case("vec.vec", fn.dot, [r(3), r(3)]),
            Case("mat.vec", fn.dot, [r(2, 3), r(3)]),
            Case("mat.mat", fn.dot, [r(2, 3), r(3, 2)]),
            Case("scalar.vec", fn.dot, [r(), r(3)]),
        ],
        "outer": [Case("outer", fn.outer, [r(3), r(2)]),
                  Case("outer2d", fn.outer, [r(2, 2), r(2)])],
        "trace": [Case("trace", fn.trace, [r(3, 3)]), Case("trace-rect", fn.trace, [r(2, 3)])],
        "reshape": [Case("reshape", lambda x: fn.reshape(x, (3, 2)), [r(2, 3)]),
                    Case("reshape-1", lambda x: fn.reshape(x, (-1,)), [r(2, 3)])],
        "transpose": [Case("T", fn.transpose, [r(2, 3)]),
                      Case("axes", lambda x: fn.transpose(x, axes=(1, 0, 2)), [r(2, 3, 2)])],
        "stack": [Case("stack0", lambda a, b: fn.stack([a, b]), [r(3), r(3)]),
                  Case("stack1", lambda a, b: fn.stack([a, b], axis=1), [r(2, 2), r(2, 2)]),
                  Case("stack-scalars", lambda a, b, c: fn.stack([a, b, c]), [r(), r(), r()])],
        "concatenate": [
            Case("cat0", lambda a, b: fn.concatenate([a, b]), [r(3), r(2)]),
            Case("cat1", lambda a, b: fn.concatenate([a, b], axis=1), [r(2, 2), r(2, 1)])],
        "softmax": [Case("softmax", fn.softmax, [r(4)]),
                    Case("softmax0", lambda x: fn.softmax(x, axis=0), [r(3, 2)])],
        "log_softmax": [Case("log_softmax", fn.log_softmax, [r(4)]),
                        Case("log_softmax0", lambda x: fn.log_softmax(x, axis=0), [r(3, 2)])],
        "getitem": [
            Case("int", lambda x: x[1], [r(3)]),
            Case("slice", lambda x: x[1:], [r(4)]),
            Case("neg-slice", lambda x: x[:-1], [r(4)]),
            Case("2d", lambda x: x[0, 1], [r(2, 3)]),
            Case("column", lambda x: x[:, 0], [r(2, 3)]),
            Case("fancy-repeat", lambda x: x[np.array([0, 2, 0])], [r(3)]),
        ],
        "scatter_add": [
            Case("basic", lambda x: fn.scatter_add(x, (4,), (slice(1, 3),)), [r(2)]),
            Case("repeat", lambda x: fn.scatter_add(x, (3,), (np.array([0, 0, 2]),)), [r(3)]),
        ],
        "sum_to": [Case("sum_to", lambda x: fn.sum_to(x, (3,)), [r(2, 3)]),
                   Case("sum_to_keep", lambda x: fn.sum_to(x, (2, 1)), [r(2, 3)])],
        "broadcast_to": [Case("broadcast", lambda x: fn.broadcast_to(x, (2, 3)), [r(3)]),
                         Case("broadcast1", lambda x: fn.broadcast_to(x, (2, 3)), [r(2, 1)])],
        "clone": [Case("clone", fn.clone, [r(2, 2)])],
        "prod_others": [Case("prod_others", lambda x: fn.prod_others(x, axis=None), [pos(4)]),
                        Case("prod_others0", lambda x: fn.prod_others(x, axis=0), [pos(3, 2)])],
        "prod_pairs": [
            Case("prod_pairs", lambda x, v: fn.prod_pairs(x, v, axis=None), [pos(4), r(4)]),
            Case("prod_pairs0", lambda x, v: fn.prod_pairs(x, v, axis=0), [pos(3, 2), r(3, 2)])],
        "where": [Case("where", lambda x, y: fn.where(g.tensor(cond), x, y), [r(2, 3), r(3)])],
        "clip": [Case("clip", lambda x, lo, hi: fn.clip(x, lo, hi),
                      [rng.uniform(-2, 2, size=(5,)), rng.uniform(-3, -2.5, size=()),
                       rng.uniform(2.5, 3, size=())]),
                 Case("clip-active", lambda x: fn.clip(x, -0.5, 0.5),
                      [np.array([-1.3, -0.2, 0.3, 1.1])])],
        "var": [Case("var-ddof1", lambda x: fn.var(x, ddof=1), [r(4)]),
                Case("var-axis", lambda x: fn.var(x, axis=0), [r(3, 2)])],
        "std": [Case("std-ddof1", lambda x: fn.std(x, ddof=1), [r(4)]),
                Case("std-axis", lambda x: fn.std(x, axis=1, keepdims=True), [r(2, 3)])],
        "polygamma": [Case(f"polygamma-{n}", lambda x, n=n: fn.polygamma(float(n), x),
                           [rng.uniform(0.3, 4.0, size=(3,))]) for n in (0, 1, 3)]
        + [Case("polygamma-negative-x", lambda x: fn.polygamma(1.0, x),
                [rng.uniform(-1.8, -1.2, size=(2,))])],
        "sinc_derivative": [
            Case(f"sinc-d{k}", lambda x, k=k: fn.sinc_derivative(x, order=k),
                 [np.array([-2.7, -0.6, 0.0, 0.3, 0.999, 1.001, 4.2])]) for k in (1, 2, 3)],
        "sinc": [Case("sinc-at-0", fn.sinc, [np.array([0.0, 1e-9])])],
        "elu": [Case("elu-alpha", lambda x: fn.elu(x, alpha=0.5), [r(4)])],
        **_matrix_cases(rng),
        "norm": [Case(f"norm-{o}", lambda x, o=o: fn.norm(x, ord=o), [r(5)])
                 for o in (2, 1, math.inf, 3, -math.inf)]
        + [Case("norm-axis", lambda x: fn.norm(x, axis=1), [r(2, 3)])]
        + [Case(f"norm-matrix-{o}", lambda x, o=o: fn.norm(x, ord=o), [r(3, 2)])
           for o in ("fro", "nuc", 2)]
        + [Case("norm-stack-nuc", lambda x: fn.norm(x, ord="nuc", axis=(-2, -1)), [r(2, 3, 3)])],
    }


#: the size of every named core dimension in generated cases
CORE_SIZE = 3


def _core_cases(op: OpDef, rng: np.random.Generator) -> list[Case]:
    """Points for an op declared by its gufunc core signature: one item, and a stack."""
    from gradcli.engine.batching import parse_signature

    inputs, _ = parse_signature(op.core or "")
    intervals = op.sample or tuple((-2.0, 2.0) for _ in inputs)
    cases = []
    for lead in ((), (2,)):
        arrays = [_uniform(rng, interval, (*lead, *(CORE_SIZE for _ in dims)))
                  for interval, dims in zip(intervals, inputs, strict=True)]
        cases.append(Case(f"{op.name}{lead}", _call(op, {}), arrays))
    return cases


def _spd(rng: np.random.Generator, *lead: int) -> np.ndarray:
    m = rng.uniform(-1, 1, size=(*lead, 3, 3))
    return m @ np.swapaxes(m, -1, -2) + 2 * np.eye(3)


def _symmetric(rng: np.random.Generator, *lead: int) -> np.ndarray:
    m = rng.uniform(-2, 2, size=(*lead, 3, 3))
    return m + np.swapaxes(m, -1, -2)


def _matrix_cases(rng: np.random.Generator) -> dict[str, list[Case]]:
    r = lambda *shape: rng.uniform(-2, 2, size=shape)
    return {
        "solve": [Case("solve-vector", fn.solve, [r(3, 3), r(3)]),
                  Case("solve-matrix", fn.solve, [r(3, 3), r(3, 2)]),
                  Case("solve-stack-vector", fn.solve, [r(2, 3, 3), r(3)]),
                  Case("solve-stack", fn.solve, [r(2, 3, 3), r(2, 3, 1)])],
        "cholesky": [Case("cholesky", fn.cholesky, [_spd(rng)]),
                     Case("cholesky-stack", fn.cholesky, [_spd(rng, 2)])],
        "eigvalsh": [Case("eigvalsh", fn.eigvalsh, [_symmetric(rng)]),
                     Case("eigvalsh-stack", fn.eigvalsh, [_symmetric(rng, 2)]),
                     Case("eigvalsh-unsymmetric", fn.eigvalsh, [r(3, 3)])],
        # eigenvectors have arbitrary signs; their squares do not
        "eigh_vectors": [Case("eigh_vectors^2", lambda a: fn.eigh_vectors(a) ** 2.0,
                              [_symmetric(rng)])],
        "svdvals": [Case("svdvals", fn.svdvals, [r(3, 3)]),
                    Case("svdvals-wide", fn.svdvals, [r(2, 3)]),
                    Case("svdvals-tall-stack", fn.svdvals, [r(2, 3, 2)])],
        "matrix_power": [Case(f"matrix_power{k}", lambda a, k=k: fn.matrix_power(a, k),
                              [r(3, 3)]) for k in (0, 1, 3, -2)]
        + [Case("matrix_power-stack", lambda a: fn.matrix_power(a, 2), [r(2, 3, 3)])],
        "diag": [Case("diag-vector", fn.diag, [r(3)]), Case("diag-matrix", fn.diag, [r(3, 3)]),
                 Case("diag-wide", fn.diag, [r(2, 3)])],
        "triu": [Case(f"triu{k}", lambda a, k=k: fn.triu(a, k=k), [r(3, 4)]) for k in (0, 1, -1)],
        "tril": [Case(f"tril{k}", lambda a, k=k: fn.tril(a, k=k), [r(2, 3, 3)])
                 for k in (0, 1, -1)],
        "kron": [Case("kron-matrix", fn.kron, [r(2, 2), r(2, 3)]),
                 Case("kron-vector", fn.kron, [r(3), r(2)])],
        "cumsum": [Case("cumsum", fn.cumsum, [r(4)]),
                   Case("cumsum0", lambda x: fn.cumsum(x, axis=0), [r(3, 2)])],
        "cumprod": [Case("cumprod", fn.cumprod, [rng.uniform(0.5, 2, size=4)]),
                    Case("cumprod0", lambda x: fn.cumprod(x, axis=0), [r(3, 2)])],
    }


def cases_for(op: OpDef, seed: int = 0) -> list[Case]:
    rng = np.random.default_rng(seed)
    explicit = _explicit(rng)
    cases = list(explicit.get(op.name, []))
    if op.kind == "elementwise":
        interval = op.sample[0] if op.sample else (-2.0, 2.0)
        cases += [Case(f"{op.name}{shape}", _call(op, {}), [_uniform(rng, interval, shape)])
                  for shape in UNARY_SHAPES]
    elif op.kind == "binary" and op.nin == 2 and op.name not in explicit:
        intervals = op.sample or ((-2.0, 2.0), (-2.0, 2.0))
        cases += [Case(f"{op.name}{sx}{sy}", _call(op, {}),
                       [_uniform(rng, intervals[0], sx), _uniform(rng, intervals[1], sy)])
                  for sx, sy in BINARY_SHAPES]
    elif op.kind == "reduction" and op.public:
        interval = op.sample[0] if op.sample else (-2.0, 2.0)
        if op.name == "prod":
            interval = (0.5, 1.5)
        cases += [Case(f"{op.name}{shape}{params}", _call(op, params),
                       [_uniform(rng, interval, shape)]) for shape, params in REDUCTION_PARAMS]
    elif op.core is not None and op.name not in explicit:
        cases += _core_cases(op, rng)
    if not cases:
        raise AssertionError(f"op {op.name!r} has no test points: add a case in tests/opcases.py")
    return cases


def differentiable_ops() -> list[OpDef]:
    return [op for op in OPS.values() if op.differentiable and op.nin != 0]


# -- calls from the language: one per public op, shapes from the table ----------------
#: per op whose argument shapes its entry does not say: the shapes of its tensor arguments
CALL_SHAPES = {"trace": [(3, 3)], "matmul": [(2, 3), (3, 2)], "dot": [(3,), (3,)],
               "stack": [(3,), (3,)], "concatenate": [(3,), (2,)], "diag": [(3,)],
               "kron": [(2, 2), (2, 3)], "cumsum": [(3,)], "cumprod": [(3,)],
               "solve": [(3, 3), (3,)]}
#: extra argument text for ops whose defaults would not exercise them
CALL_EXTRA = {"reshape": ", [3, 1]", "stack": ", axis=1", "norm": ", ord=1", "sum": ", axis=0",
              "log": ", base=10", "var": ", ddof=1"}
#: ops whose sample points must be built, not drawn: the whole call, {0} the argument
CALL_TEXT = {"cholesky": "cholesky({0} @ transpose({0}) + 3*eye(3))"}


def language_ops() -> list[OpDef]:
    return [op for op in OPS.values() if op.public and op.nin != 0]


def call_arguments(op: OpDef) -> list[tuple[tuple[int, ...], tuple[float, float]]]:
    """Per tensor argument of a call from the language: its shape and sample interval."""
    from gradcli.engine.batching import parse_signature

    n = op.nin if op.nin > 0 else 2
    shapes = CALL_SHAPES.get(op.name, [(3,)] * n)
    if op.name not in CALL_SHAPES and op.core:  # shapes from the entry's core signature
        shapes = [tuple(CORE_SIZE for _ in dims) for dims in parse_signature(op.core)[0]]
    intervals = list(op.sample or [(-2.0, 2.0)] * n)
    return [(shape, intervals[min(i, len(intervals) - 1)]) for i, shape in enumerate(shapes)]


def call_extra(op: OpDef) -> str:
    return CALL_EXTRA.get(op.name, "")


def call_text(op: OpDef, names: list[str]) -> str:
    if op.name in CALL_TEXT:
        return CALL_TEXT[op.name].format(*names)
    return f"{op.name}({', '.join(names)}{call_extra(op)})"
