"""The third reliability sweep's command-line findings (issue 23), each as it was
reproduced: the command the report ran, and what a user should get instead."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gradcli
from gradcli.cli import _run


def run(capsys, *args):
    code = _run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def strict_json(text):
    def reject(token):
        raise ValueError(f"non-standard JSON constant {token}")

    return json.loads(text, parse_constant=reject)


# -- finding 2: a comparison is a condition, never a number computed in float16 ---------------
@pytest.mark.parametrize("expression", [
    "exp(x>0)", "cos(x>0)", "sigmoid(x>0)", "neg(x>0)", "gelu(x>0)", "max(x>0, 1)",
    "sum(softmax(v>0))*x", "where(x>0, x>1, 0)", "stack(x>0, x)", "heaviside(x>0, 1)"])
@pytest.mark.parametrize("command", ["eval", "grad", "check"])
def test_a_comparison_as_a_number_is_refused_in_a_call_as_outside_one(capsys, command,
                                                                      expression):
    code, out, err = run(capsys, command, expression, "x=1", "v=[1,-2,3]", "--format", "json")
    assert code == 2, (out, err)
    error = strict_json(out)["error"]
    assert error["kind"] == "argument" and "condition" in error["message"]
    start, end = error["span"]
    assert expression[start:end] == ">"
    assert "where(x > 0, 1, 0)" in error["hint"]


def test_a_comparison_still_fits_where_a_condition_is_expected(capsys):
    code, out, _ = run(capsys, "eval", "where(v>0, exp(v), 0)", "v=[1,-2]", "--format", "json")
    assert code == 0
    assert strict_json(out)["value"] == [np.exp(1.0), 0.0]


def test_the_library_takes_a_boolean_tensor_as_float64_zero_and_one():
    t = gradcli.tensor([1.0, -2.0, 3.0])
    assert gradcli.exp(t > 0).data.tolist() == [np.e, 1.0, np.e]  # not float16's 2.71875
    assert gradcli.exp(t > 0).data.dtype == np.float64
    assert (-(t > 0)).data.tolist() == [-1.0, -0.0, -1.0]
    assert gradcli.sigmoid(t > 0).data.tolist() == [1 / (1 + np.exp(-1.0)), 0.5,
                                                    1 / (1 + np.exp(-1.0))]


# -- finding 5: polygamma of a bad order has no finite derivative -----------------------------
def test_polygamma_of_a_bad_order_has_a_nan_derivative_as_its_nan_value(capsys):
    code, out, _ = run(capsys, "grad", "polygamma(n,x)", "n=-1", "x=1", "--format", "json")
    result = strict_json(out)
    assert code == 0 and result["value"] == "nan" and result["gradient"]["x"] == "nan"
    code, out, _ = run(capsys, "grad", "polygamma(n,x)", "n=1", "x=1", "--format", "json")
    assert strict_json(out)["gradient"]["x"] == pytest.approx(-2.404113806319188, rel=1e-14)


# -- finding 9 (and B12, H6): diag and kron check the element budget first --------------------
@pytest.mark.parametrize("expression,shape", [
    ("sum(diag(ones(100000)))", "(100000, 100000)"),
    ("sum(diag(ones(10000)))", "(10000, 10000)"),
    ("sum(kron(ones(100000),ones(100000)))", "(10000000000,)"),
    ("sum(kron(ones(300,300),ones(300,300)))", "(90000, 90000)")])
def test_diag_and_kron_past_the_element_budget_are_refused_before_allocating(capsys,
                                                                             expression, shape):
    code, out, err = run(capsys, "eval", expression, "--format", "json")
    assert code == 2, err
    error = strict_json(out)["error"]
    assert error["kind"] == "resource-limit" and shape in error["message"]


def test_diag_and_kron_under_the_budget_still_work(capsys):
    code, out, _ = run(capsys, "grad", "sum(kron(v,v)) + sum(diag(v))", "v=[1,2]",
                       "--format", "json")
    assert code == 0 and strict_json(out)["gradient"]["v"] == [7.0, 7.0]


# -- finding 14: --strict applies to the graph's pictures as to its table ---------------------
@pytest.mark.parametrize("format", ["tree", "dot", "mermaid", "table", "json"])
@pytest.mark.parametrize("order", ["1", "2"])
def test_strict_applies_to_graph_pictures(capsys, format, order):
    code, _, err = run(capsys, "graph", "log(x)", "x=0", "--strict", "--format", format,
                       "--order", order)
    assert code == 1, err
    assert "outside the domain" in err
    code, _, _ = run(capsys, "graph", "x*x", "x=1", "--strict", "--format", format,
                     "--order", order)
    assert code == 0


# -- finding 18: a blank line in a job file holds no job --------------------------------------
def test_blank_lines_in_a_job_file_are_skipped(capsys, tmp_path):
    jobs = tmp_path / "t.jsonl"
    jobs.write_bytes(b'{"id":1,"command":"eval","expression":"1"}\n\n  \r\n'
                     b'{"id":2,"command":"eval","expression":"x +"}\n\n')
    code, out, err = run(capsys, "batch", str(jobs))
    records = [strict_json(line) for line in out.splitlines()]
    assert [r["id"] for r in records] == [1, 2]
    assert records[1]["error"]["line"] == 4  # lines still counted as in the file
    assert code == 1 and "jobs read: 2, succeeded: 1, failed: 1" in err


# -- H4: an --out named for another format --------------------------------------------------
def test_batch_refuses_an_out_named_for_another_format(capsys, tmp_path):
    jobs = tmp_path / "t.jsonl"
    jobs.write_text('{"command":"eval","expression":"1"}\n')
    for name in ("x.csv", "x.parquet", "x.npz"):
        code, out, err = run(capsys, "batch", str(jobs), "--out", str(tmp_path / name))
        assert code == 2 and "batch writes JSON lines" in err and not (tmp_path / name).exists()
    code, _, _ = run(capsys, "batch", str(jobs), "--out", str(tmp_path / "x.jsonl"))
    assert code == 0


def test_points_out_json_names_the_jsonl_it_needs(capsys, tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x\n1\n")
    code, _, err = run(capsys, "eval", "x", "--points", str(points), "--out",
                       str(tmp_path / "r.json"))
    assert code == 2 and ".jsonl" in err and "one JSON document" in err


# -- finding 21: messages -------------------------------------------------------------------
def test_a_ragged_list_names_its_shapes_in_the_order_written(capsys):
    code, _, err = run(capsys, "eval", "A", "A=[[1,2],[3]]")
    assert code == 2 and "(2,), (1,)" in err
