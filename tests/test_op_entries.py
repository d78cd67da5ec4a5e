"""The op table's promises about entries: batch rules are required, det is one entry."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gradcli as g
from gradcli.cli import _run
from gradcli.engine.op import OPS
from gradcli.ops._define import defop, fn


def run(capsys, *args):
    code = _run([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_an_op_without_a_batch_rule_is_refused_when_defined():
    with pytest.raises(ValueError, match="no batch rule"):
        defop("made_up_op", np.negative, vjp=None, jvp=None, kind="array", help="x")
    assert "made_up_op" not in OPS


def test_every_op_with_inputs_has_a_batch_rule():
    assert [op.name for op in OPS.values() if op.nin != 0 and op.batch is None] == []


def test_det_and_its_derivatives_match_closed_forms():
    a = np.array([[2.0, 1.0, 0.5], [0.3, 3.0, 1.0], [1.0, 0.2, 1.5]])
    x = g.tensor(a, requires_grad=True)
    d = fn.det(x)
    (gx,) = g.grad(d, x, create_graph=True)
    # Jacobi: d det / dA = det(A) inv(A)^T
    np.testing.assert_allclose(gx.data, np.linalg.det(a) * np.linalg.inv(a).T, rtol=1e-12)
    # second derivative along a direction E: d/dt <G(A + tE), E> = det(A) (tr(A^-1 E)^2
    # - tr(A^-1 E A^-1 E))
    e = np.array([[0.1, -0.2, 0.3], [0.0, 0.5, -0.1], [0.2, 0.1, 0.0]])
    (h,) = g.grad((gx * g.tensor(e)).sum(), x)
    ia = np.linalg.inv(a)
    expected_dir = np.linalg.det(a) * (np.trace(ia @ e) ** 2 - np.trace(ia @ e @ ia @ e))
    np.testing.assert_allclose((h.data * e).sum(), expected_dir, rtol=1e-10)


def test_det_over_a_stack_is_each_matrix_alone():
    stack = np.random.default_rng(1).normal(size=(4, 3, 3))
    x = g.tensor(stack, requires_grad=True)
    fn.det(x).sum().backward()
    for k in range(4):
        np.testing.assert_allclose(x.grad.data[k],
                                   np.linalg.det(stack[k]) * np.linalg.inv(stack[k]).T,
                                   rtol=1e-10)


def test_det_in_the_cli_points_and_functions(capsys, tmp_path):
    code, out, _ = run(capsys, "grad", "det([[x, y], [1, x]])", "x=2", "y=3", "--format",
                       "json")
    assert code == 0
    result = json.loads(out)
    assert result["value"] == 1.0
    assert result["gradient"] == {"x": 4.0, "y": -1.0}
    source = tmp_path / "p.jsonl"
    source.write_text('{"A": [[1, 2], [3, 4]]}\n{"A": [[2, 0], [0, 2]]}\n')
    code, out, _ = run(capsys, "grad", "det(A)", "--points", source, "--format", "jsonl")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["value"] for r in records] == pytest.approx([-2.0, 4.0])
    assert records[0]["grad[A[0,0]]"] == pytest.approx(4.0)
    assert records[0]["grad[A[0,1]]"] == pytest.approx(-3.0)
    code, out, _ = run(capsys, "functions")
    assert code == 0 and "det(A)" in out and "determinant" in out


def test_det_of_a_non_square_matrix_is_a_clear_error(capsys):
    code, _, err = run(capsys, "eval", "det([[1, 2, 3], [4, 5, 6]])")
    assert code == 2 and "square matrix" in err and "(2, 3)" in err
