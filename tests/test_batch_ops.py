"""Every op of the table under batch work, generated from the table itself.

Each public op is called from the language at points drawn from its entry's
sample intervals (shapes from its core signature where it has one), and its
values and derivatives over many points at once must equal the same points
one at a time: through `--points`, through the engine, and through a
recorded plan. A new op is tested here without anyone adding it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradcli.batch.kernel import BatchKernel, chunk_columns
from gradcli.cli import _run
from gradcli.cli.render import record_columns
from gradcli.cli.spec import compute_command
from gradcli.language import parse
from tests.opcases import call_arguments, call_text, language_ops

COUNT = 4


def _points(op, seed=0):
    rng = np.random.default_rng(seed)
    arguments = call_arguments(op)
    names = [f"a{i}" for i in range(len(arguments))]
    points = {n: rng.uniform(*interval, size=(COUNT, *shape))
              for n, (shape, interval) in zip(names, arguments, strict=True)}
    return call_text(op, names), points


def _one_at_a_time(command, text, points):
    rows = []
    for k in range(COUNT):
        single = compute_command(command, text, {n: v[k] for n, v in points.items()})
        rows.append(dict(record_columns(single)))
    return rows


def _assert_rows(columns, rows, where):
    for k, row in enumerate(rows):
        assert set(row) <= set(columns), where
        for name, value in row.items():
            np.testing.assert_allclose(columns[name][k], value, rtol=1e-10, atol=1e-12,
                                       err_msg=f"{where}: {name} at point {k}")


@pytest.mark.parametrize("op", language_ops(), ids=lambda op: op.name)
@pytest.mark.parametrize("command", ["jacobian", "hessian"])
def test_op_over_many_points_equals_each_point(op, command, tmp_path, capsys):
    text, points = _points(op)
    if command == "hessian":
        text = f"sum({text})"
    rows = _one_at_a_time(command, text, points)
    program = parse(text)

    engine = dict(chunk_columns(command, program, points, {}, replay=False))
    _assert_rows(engine, rows, "engine")

    kernel = BatchKernel(command, program, {}, block=3)
    _assert_rows(dict(kernel.columns(points)), rows, "plan")

    source = tmp_path / "points.jsonl"
    source.write_text("".join(json.dumps({n: v[k].tolist() for n, v in points.items()}) + "\n"
                              for k in range(COUNT)))
    code = _run([command, text, "--points", str(source), "--format", "jsonl"])
    out = capsys.readouterr().out
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    columns = {name: np.array([r[name] for r in records], dtype=float)
               for name in records[0] if name not in ("line", "error")}
    _assert_rows(columns, rows, "--points")
