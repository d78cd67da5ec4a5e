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
@pytest.mark.parametrize("suffix,text,expression,bindings,said", [
    ("jsonl", '{"x": 1}\n', "0 % 2", [], "no variable for --points"),
    ("csv", "x\n1\n", "0 % 2", [], "no variable for --points"),
    ("jsonl", '{"y": 1}\n', "x", ["x=2"], "no variable for --points"),
    ("csv", "y\n1\n", "x", ["x=2"], "no column for any variable"),
    ("jsonl", '{"x": 1}\n', "x", ["x=2"], "x comes both from the point file"),
    ("csv", "x\n1\n", "x", ["x=2"], "x comes both from the point file")])
def test_an_expression_with_nothing_to_take_from_points_is_exit_2(capsys, tmp_path, suffix,
                                                                   text, expression,
                                                                   bindings, said):
    points = tmp_path / f"p.{suffix}"
    points.write_text(text)
    code, out, err = run(capsys, "eval", expression, *bindings, "--points", points,
                         "--format", "json")
    assert code == 2, err
    error = json.loads(out)["error"]
    assert said in error["message"] and "bug" not in err


def test_json_lines_naming_no_variable_leave_constants_to_the_command_line(capsys, tmp_path):
    points = tmp_path / "p.jsonl"
    points.write_text('{"z": 1}\n')
    code, out, err = run(capsys, "eval", "x + y", "x=2", "--points", points)
    assert code == 1
    assert "no value for y" in out and "no value for x" not in out


# -- new 20 (last bullet): a number beyond a double's range is never a silent inf -----------------
@pytest.mark.parametrize("args,span", [(["eval", "1e999 + x", "x=1"], [0, 5]),
                                       (["eval", "x", "x=1e999"], [2, 7]),
                                       (["grad", "x", "x=-1e400"], [3, 8]),
                                       (["eval", "x", "x=" + "9" * 400], [2, 402])])
def test_a_number_beyond_a_double_is_refused_with_its_span(capsys, args, span):
    code, out, err = run(capsys, *args, "--format", "json")
    assert code == 2, err
    error = json.loads(out)["error"]
    assert "beyond the range of a double" in error["message"] and error["span"] == span
    assert "inf" in error["hint"]


def test_the_largest_double_and_inf_itself_still_work(capsys):
    code, out, _ = run(capsys, "eval", "x + inf*0*y", "x=1.7976931348623157e308", "y=0",
                       "--format", "json")
    assert code == 0 and json.loads(out)["at"]["x"] == 1.7976931348623157e308


@pytest.mark.parametrize("number", ["1e999", "-1e999", "9" * 400, "9" * 5000])
def test_a_batch_job_number_beyond_a_double_is_a_failed_job(capsys, tmp_path, number):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"id": 1, "command": "eval", "expression": "x", "at": {"x": 2}}\n'
                    f'{{"id": 2, "command": "eval", "expression": "x", "at": {{"x": {number}}}}}\n')
    code, out, err = run(capsys, "batch", jobs)
    first, second = (json.loads(line) for line in out.splitlines())
    assert code == 1 and first["value"] == 2.0, err
    assert "beyond the range of a double" in second["error"]["message"]
    assert second["error"]["line"] == 2


# -- §2 E6: plot's numbers are grad's numbers, also where f is undefined -------------------------
@pytest.mark.parametrize("expression", ["log(x)", "sqrt(x)*x", "log(x)^2"])
def test_plot_csv_derivatives_equal_grad_at_every_sample(capsys, expression):
    code, out, _ = run(capsys, "plot", expression, "--over", "x=-1:1", "--samples", "5",
                       "--format", "csv")
    assert code == 0
    rows = [line.split(",") for line in out.splitlines()[1:]]
    for x, _, slope in rows:
        code, single_out, _ = run(capsys, "grad", expression, f"x={x}", "--format", "json")
        gradient = json.loads(single_out)["gradient"]["x"]
        assert str(gradient) == slope or float(gradient) == float(slope), (x, slope)
