"""Batch work: many points in one pass, files in and out, bad rows, and job files."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcli import compute
from gradcli.batch.kernel import chunk_columns
from gradcli.cli import _run
from gradcli.cli.render import record_columns
from gradcli.language import parse
from tests.terminal import signals_as_on_a_terminal


def run(capsys, *args):
    code = _run([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows_of(text):
    return list(csv.DictReader(io.StringIO(text)))


# -- one pass equals point by point -----------------------------------------------------
TERMS = ["sin(x)", "x^2", "m[0]*x", "sum(m*m)", "mean(m)^2", "norm(m)", "exp(m[1]-x)",
         "max(m)", "logsumexp(m)", "m[2]/(1+x^2)", "prod(m)", "dot(m, m)", "sum(m[1:])",
         "softmax(m)[0]", "var(m)", "([m[0], x] @ [[1, 2], [3, 4]])[1]"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TERMS), min_size=1, max_size=4),
       st.lists(st.sampled_from(["+", "-", "*"]), min_size=3, max_size=3),
       st.integers(1, 6), st.randoms(use_true_random=False))
def test_one_pass_equals_each_point_alone(terms, ops, count, rng):
    text = terms[0] + "".join(f" {op} {t}" for op, t in zip(ops, terms[1:], strict=False))
    program = parse(text)
    xs = np.array([rng.uniform(-1, 1) for _ in range(count)])
    ms = np.array([[rng.uniform(0.2, 1.5) for _ in range(3)] for _ in range(count)])
    points = {n: v for n, v in {"x": xs, "m": ms}.items() if n in program.free_variables}
    for command in ("eval", "grad", "hessian"):
        columns = dict(chunk_columns(command, program, points, {}))
        for k in range(count):
            at = {n: v[k] for n, v in points.items()}
            single = {"eval": compute.evaluate, "grad": compute.gradient,
                      "hessian": compute.hessian}[command](text, at)
            for name, value in record_columns(single):
                np.testing.assert_allclose(columns[name][k], value, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_of_vector_output_equals_each_point(mode):
    text = "[cos(a) + 0.5*cos(a+b), sin(a) + 0.5*sin(a+b), sum(v*a)]"
    rng = np.random.default_rng(0)
    points = {"a": rng.uniform(-2, 2, 7), "b": rng.uniform(-2, 2, 7),
              "v": rng.uniform(-1, 1, (7, 2))}
    columns = dict(chunk_columns("jacobian", parse(text), points, {}, mode=mode))
    for k in range(7):
        single = compute.jacobian(text, {n: v[k] for n, v in points.items()})
        for name, value in record_columns(single):
            np.testing.assert_allclose(columns[name][k], value, rtol=1e-12, atol=1e-14)


def test_reductions_reduce_each_points_own_values():
    columns = dict(chunk_columns("eval", parse("sum(m) + mean(m)"), {
        "m": np.array([[1.0, 2.0], [10.0, 20.0]])}, {}))
    assert columns["value"].tolist() == [4.5, 45.0]


def test_constants_from_the_command_line_are_shared():
    columns = dict(chunk_columns("grad", parse("x*k"), {"x": np.array([1.0, 2.0])},
                                 {"k": np.array(3.0)}))
    assert columns["value"].tolist() == [3.0, 6.0] and columns["grad[x]"].tolist() == [3, 3]


# -- files in and out -------------------------------------------------------------------------
@pytest.fixture
def joints(tmp_path):
    path = tmp_path / "joints.csv"
    path.write_text("a,b\n0,0\n0.3,0.5\n1,2\n")
    return path


W1 = "[cos(a) + 0.5*cos(a+b), sin(a) + 0.5*sin(a+b)]"


def test_csv_to_csv_with_documented_columns(capsys, joints, tmp_path):
    out = tmp_path / "J.csv"
    code, stdout, err = run(capsys, "jacobian", W1, "--points", joints, "--out", out)
    assert code == 0 and stdout == "" and "rows read: 3, computed: 3, failed: 0" in err
    rows = rows_of(out.read_text())
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()  # not mkstemp's owner-only
    assert list(rows[0]) == ["line", "value[0]", "value[1]", "jac[f[0],a]", "jac[f[0],b]",
                             "jac[f[1],a]", "jac[f[1],b]", "error"]
    assert [r["line"] for r in rows] == ["2", "3", "4"]
    single = compute.jacobian(W1, {"a": 0.3, "b": 0.5})
    assert float(rows[1]["jac[f[0],a]"]) == single.jacobian[0, 0]


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_vector_columns_json_cells_jsonl_and_npz(capsys, tmp_path):
    expression = "sum(m*m) * x"
    elements = tmp_path / "e.csv"
    elements.write_text("x,m[0],m[1]\n2,1,2\n3,3,4\n")
    cells = tmp_path / "c.csv"
    cells.write_text('x,m\n2,"[1, 2]"\n3,"[3, 4]"\n')
    lines = tmp_path / "p.jsonl"
    lines.write_text('{"x": 2, "m": [1, 2]}\n{"x": 3, "m": [3, 4]}\n')
    arrays = tmp_path / "p.npz"
    np.savez(arrays, x=np.array([2.0, 3.0]), m=np.array([[1.0, 2.0], [3.0, 4.0]]))
    expected = [[10.0, 5.0, 4.0, 8.0], [75.0, 25.0, 18.0, 24.0]]
    for source in (elements, cells, lines, arrays):
        code, out, _ = run(capsys, "grad", expression, "--points", source, "--format", "jsonl")
        assert code == 0
        records = [json.loads(line) for line in out.splitlines()]
        got = [[r["value"], r["grad[x]"], r["grad[m[0]]"], r["grad[m[1]]"]] for r in records]
        assert got == expected, source.name
    npz_out = tmp_path / "g.npz"
    code, _, _ = run(capsys, "grad", expression, "--points", arrays, "--out", npz_out)
    with np.load(npz_out, allow_pickle=False) as result:
        assert result["value"].tolist() == [10.0, 75.0]
        assert result["grad[m[1]]"].tolist() == [8.0, 24.0]
        assert result["line"].tolist() == [1, 2]
        # the error column is sparse in NPZ: messages and positions of records that have one
        assert result["error"].tolist() == [] and result["error_record"].tolist() == []


def test_bad_rows_keep_their_place_and_the_rest_is_computed(capsys, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("x,m\n1,\"[1, 2]\"\nabc,\"[1, 2]\"\n2\n3,\"[1, 2, 3]\"\n4,\"[5, 6]\"\n")
    code, out, err = run(capsys, "grad", "x*sum(m)", "--points", path)
    assert code == 1 and "rows read: 5, computed: 2, failed: 3" in err
    rows = rows_of(out)
    assert [r["line"] for r in rows] == ["2", "3", "4", "5", "6"]
    assert rows[0]["value"] == "3.0" and rows[4]["value"] == "44.0"
    assert "line 3" in rows[1]["error"] and "'abc'" in rows[1]["error"]
    assert "line 4" in rows[2]["error"] and "missing" in rows[2]["error"]
    assert "line 5" in rows[3]["error"] and "shape" in rows[3]["error"]
    assert rows[1]["value"] == ""


def test_a_row_with_extra_cells_is_bad_not_trimmed(capsys, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("a,b\n1,2\n2,3,4\n")
    code, out, _ = run(capsys, "eval", "a*b", "--points", path)
    rows = rows_of(out)
    assert code == 1 and rows[0]["value"] == "2.0"
    assert "extra" in rows[1]["error"] and rows[1]["value"] == ""


def test_fail_fast_stops_at_the_first_bad_row(capsys, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("x\n1\n2\nbad\n4\n")
    code, out, err = run(capsys, "eval", "x^2", "--points", path, "--fail-fast")
    assert code == 1
    assert [r["line"] for r in rows_of(out)] == ["2", "3", "4"]
    assert "failed: 1" in err


def test_strict_turns_non_finite_points_into_bad_rows(capsys, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("x\n1\n-1\n4\n")
    code, out, _ = run(capsys, "eval", "log(x)", "--points", path)
    assert code == 0 and np.isnan(float(rows_of(out)[1]["value"]))
    code, out, err = run(capsys, "eval", "log(x)", "--points", path, "--strict")
    rows = rows_of(out)
    assert code == 1 and "non-finite" in rows[1]["error"] and rows[0]["error"] == ""


def test_chunks_do_not_change_results(capsys, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("x\n" + "\n".join(str(v / 10) for v in range(25)) + "\nbad\n0.5\n")
    outputs = []
    for size in ("1", "7", "4096"):
        code, out, _ = run(capsys, "grad", "sin(x)*x", "--points", path, "--chunk-size", size)
        outputs.append(out)
    assert outputs[0] == outputs[1] == outputs[2]


@pytest.mark.parametrize("content,name,words", [
    (None, "missing.csv", "no such point file"),
    ("", "empty.csv", "empty"),
    ("p,q\n1,2\n", "cols.csv", "no column for any variable"),
    ("x\n1\n", "points.txt", "cannot tell the format"),
])
def test_input_errors_exit_2(capsys, tmp_path, content, name, words):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    code, out, err = run(capsys, "eval", "x+1", "--points", path)
    assert code == 2 and words in err and "Traceback" not in err


def test_a_variable_from_both_places_is_an_error(capsys, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("x\n1\n")
    code, _, err = run(capsys, "eval", "x+1", "x=2", "--points", path)
    assert code == 2 and "both" in err


def test_npz_never_loads_pickles(capsys, tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    code, _, err = run(capsys, "eval", "x+1", "--points", path)
    assert code == 2 and "Traceback" not in err


def test_interrupted_run_leaves_no_output_file(tmp_path):
    points = tmp_path / "big.csv"
    with points.open("w") as f:
        f.write("a,b\n")
        for start in range(0, 400_000, 50_000):
            block = np.random.default_rng(start).uniform(-1, 1, (50_000, 2))
            np.savetxt(f, block, delimiter=",", fmt="%.6f")
    out = tmp_path / "J.csv"
    process = subprocess.Popen(
        [sys.executable, "-c", "from gradcli.cli import main; main()", "hessian",
         "sin(a)*cos(b) + a^2*b", "--points", str(points), "--out", str(out),
         "--chunk-size", "256"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=signals_as_on_a_terminal)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until it is writing its temporary file
        if any(p.name.startswith(".J.csv.") for p in tmp_path.iterdir()):
            break
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".J.csv.")]


# -- job files ---------------------------------------------------------------------------------
def test_jobs_give_exactly_the_single_command_json(capsys, tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"id": "a", "command": "hessian", "expression": "x*x*y",
                                "at": {"x": 2, "y": 3}}) + "\n")
    code, out, err = run(capsys, "batch", jobs)
    assert code == 0 and "succeeded: 1" in err
    single = _run(["hessian", "x*x*y", "x=2", "y=3", "--format", "json"])
    alone = json.loads(capsys.readouterr().out)
    assert single == 0 and json.loads(out) == {"id": "a", **alone}


def test_ten_thousand_jobs_with_malformed_lines(capsys, tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    lines = []
    for k in range(10_000):
        if k % 997 == 0:
            lines.append("{not json")
        elif k % 1009 == 0:
            lines.append("")
        else:
            lines.append(json.dumps({"id": k, "command": "grad", "expression": "x^2*y",
                                     "at": {"x": k % 7, "y": 2}, "wrt": ["x"]}))
    jobs.write_text("\n".join(lines) + "\n")
    out_file = tmp_path / "results.jsonl"
    code, _, err = run(capsys, "batch", jobs, "--out", out_file)
    results = [json.loads(line) for line in out_file.read_text().splitlines()]
    # a blank line holds no job (it is skipped); every other line gives one result
    kept = [k for k in range(10_000) if k % 997 == 0 or k % 1009 != 0]
    assert len(results) == len(kept) and code == 1
    bad = [k for k in kept if k % 997 == 0]
    for k, result in zip(kept, results, strict=True):
        if k in bad:
            assert result["error"]["line"] == k + 1
        else:
            assert result["id"] == k and result["gradient"]["x"] == 2 * (k % 7) * 2
    assert f"failed: {len(bad)}" in err


def test_jobs_sample_file(capsys):
    os.chdir(Path(__file__).resolve().parent.parent)
    code, out, err = run(capsys, "batch", "samples/jobs.jsonl")
    results = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(results) == 8
    assert results[0]["gradient"] == {"x": 7.0}
    assert results[6]["error"]["kind"] == "unknown-function"
    assert results[7]["error"]["line"] == 8
