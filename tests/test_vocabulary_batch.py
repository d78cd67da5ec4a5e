"""Every alias in the table, run over many points at once (`--points`), equals the same
function at each point alone; `gradcli batch` runs the new functions too.

(tests/test_batch_ops.py does the same for every op under its own name.) The
expressions are generated from the op table, with points from each entry's
`sample` intervals, so a new alias is covered without being named here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradcli.batch.kernel import chunk_columns
from gradcli.cli import _run
from gradcli.cli.render import record_columns
from gradcli.cli.spec import compute_command
from gradcli.language import parse
from gradcli.ops import public_ops

VARIABLES = ("x", "y", "z")


def _expressions():
    for op in public_ops():
        if op.kind not in ("elementwise", "binary") or op.nin < 1:
            continue
        for spelling in op.aliases:
            yield pytest.param(op, spelling, id=spelling)


def _points(op, rng, count=3):
    intervals = op.sample or ((-2.0, 2.0),) * op.nin
    points = {}
    for name, (lo, hi) in zip(VARIABLES, intervals, strict=False):
        values = rng.uniform(lo, hi, size=count)
        points[name] = values
    return points


@pytest.mark.parametrize("op,spelling", list(_expressions()))
def test_many_points_at_once_equal_each_point_alone(op, spelling):
    names = VARIABLES[:op.nin]
    text = f"{spelling}({', '.join(names)})"
    program = parse(text)
    points = _points(op, np.random.default_rng(5))
    for command in ("eval", "grad", "hessian"):
        columns = dict(chunk_columns(command, program, points, {}))
        for k in range(3):
            at = {n: v[k] for n, v in points.items()}
            single = compute_command(command, text, at)
            for name, value in record_columns(single):
                np.testing.assert_allclose(columns[name][k], value, rtol=1e-12, atol=1e-13,
                                           err_msg=f"{text} {command} {name}")


def test_batch_jobs_run_the_new_functions(tmp_path, capsys):
    jobs = tmp_path / "jobs.jsonl"
    lines = [
        {"id": "gamma", "command": "grad", "expression": "gamma(x) + ln(x)", "at": {"x": 3}},
        {"id": "mod", "command": "hessian", "expression": "x % y + fmod(x, y) * beta(x, y) + x!",
         "at": {"x": 2.5, "y": 1.5}},
        {"id": "act", "command": "grad", "expression": "gelu(x) + silu(x) + elu(x, alpha=2)",
         "at": {"x": -0.5}},
        {"id": "linalg", "command": "hessian",
         "expression": "det([[x, y], [1, x*y]]) + logabsdet([[x, 1], [y, 2]]) + "
                       "eigvalsh([[x, y], [y, 1]])[1] + svdvals([[x, y], [1, 2]])[0] + "
                       "sum(solve([[x, 1], [y, 3]], [1, 2])) + sum(cumsum([x, y]))",
         "at": {"x": 1.5, "y": 0.5}},
    ]
    jobs.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    code = _run(["batch", str(jobs), "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0, out
    results = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(results) == len(lines)
    for job, result in zip(lines, results, strict=True):
        single = compute_command(job["command"], job["expression"],
                                     {k: float(v) for k, v in job["at"].items()})
        assert json.dumps(result).count("error") == 0, result
        np.testing.assert_allclose(float(np.ravel(result["value"])[0]),
                                   float(np.ravel(single.value)[0]), rtol=1e-12)


def test_the_readme_lists_every_function_and_alias():
    from pathlib import Path

    readme = Path(__file__).resolve().parent.parent.joinpath("README.md").read_text()
    section = readme[readme.index("- **Functions**, by group"):readme.index("- **Calls**")]
    for op in public_ops():
        for name in (op.name, *op.aliases):
            if op.kind != "constructor":
                assert f"`{name}" in section, name


def test_every_function_runs_as_a_batch_job(tmp_path, capsys):
    """One `gradcli batch` job per public op of the table, against the same call alone."""
    from tests.opcases import call_arguments, call_text

    rng = np.random.default_rng(3)
    jobs = []
    for op in public_ops():
        if op.nin == 0:
            continue
        arguments = call_arguments(op)
        names = [f"a{i}" for i in range(len(arguments))]
        at = {n: rng.uniform(*interval, size=shape).tolist()
              for n, (shape, interval) in zip(names, arguments, strict=True)}
        jobs.append({"id": op.name, "command": "eval", "expression": call_text(op, names),
                     "at": at})
    path = tmp_path / "jobs.jsonl"
    path.write_text("".join(json.dumps(job) + "\n" for job in jobs))
    code = _run(["batch", str(path), "--format", "json"])
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if line.strip()]
    assert code == 0
    assert [r["id"] for r in results] == [job["id"] for job in jobs]
    for job, result in zip(jobs, results, strict=True):
        assert "error" not in result, result
        single = compute_command("eval", job["expression"],
                                 {k: np.array(v) for k, v in job["at"].items()})
        got = np.array(result["value"], dtype=float)
        np.testing.assert_allclose(got, np.asarray(single.value, dtype=float), rtol=1e-12,
                                   err_msg=job["expression"])
