"""The rest of the third reliability sweep's findings (issue 23), each reproduced as the
report ran it, with what a user should get instead."""

from __future__ import annotations

import json

import pytest

from gradcli.cli import _run


def run(capsys, *args):
    code = _run([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- a constant expression over --points: exit 2 in every format (was exit 70 for JSONL) -------
@pytest.mark.parametrize("suffix,text", [("jsonl", '{"x": 1}\n'), ("csv", "x\n1\n"),
                                         ("jsonl", "{\"y\": 1}\n")])
@pytest.mark.parametrize("expression,bindings", [("0 % 2", []), ("x", ["x=2"])])
def test_an_expression_with_nothing_to_take_from_points_is_exit_2(capsys, tmp_path, suffix,
                                                                   text, expression,
                                                                   bindings):
    points = tmp_path / f"p.{suffix}"
    points.write_text(text)
    code, out, err = run(capsys, "eval", expression, *bindings, "--points", points,
                         "--format", "json")
    assert code == 2, err
    error = json.loads(out)["error"]
    assert "no variable for --points" in error["message"] and "bug" not in err
    assert "drop --points" in error["hint"]
