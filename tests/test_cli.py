"""The command line: every command, format, option and exit code, through both front ends."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from gradcli.cli import _run
from gradcli.cli.app import app
from gradcli.cli.fast import parse_argv
from gradcli.cli.spec import BY_NAME

ESCAPE = re.compile(r"\x1b\[")


def run(capsys, *args):
    code = _run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys, *args):
    code, out, err = run(capsys, *args, "--format", "json")
    assert code == 0, err
    return strict_json(out)


def strict_json(text):
    def reject(token):
        raise ValueError(f"non-standard JSON constant {token}")

    return json.loads(text, parse_constant=reject)


# -- the spec's section 8, exactly -------------------------------------------------------
def test_grad_of_the_product(capsys):
    code, out, _ = run(capsys, "grad", "(x+1)*(x+2)", "x=2")
    assert code == 0 and "∂/∂x = 7\n" in out
    assert run_json(capsys, "grad", "(x+1)*(x+2)", "x=2")["gradient"] == {"x": 7.0}


def test_grad_of_two_variables(capsys):
    code, out, _ = run(capsys, "grad", "x*x*y", "x=2", "y=3")
    assert "∂/∂x = 12\n" in out and "∂/∂y = 4\n" in out
    assert run_json(capsys, "grad", "x*x*y", "x=2", "y=3")["gradient"] == {"x": 12.0, "y": 4.0}


def test_hessian_matrix(capsys):
    result = run_json(capsys, "hessian", "x*x*y", "x=2", "y=3")
    assert result["hessian"] == [[6.0, 4.0], [4.0, 0.0]]
    assert result["labels"] == ["x", "y"]
    _, out, _ = run(capsys, "hessian", "x*x*y", "x=2", "y=3")
    assert "  x  6  4\n" in out and "  y  4  0\n" in out


def test_grad_of_a_vector_output_is_an_error_pointing_to_seed_and_jacobian(capsys):
    code, out, err = run(capsys, "grad", "x+1", "x=[1,2]")
    assert code == 2 and out == ""
    assert "scalar" in err and "--seed" in err and "jacobian" in err
    assert "Traceback" not in err


def test_grad_of_sum(capsys):
    assert run_json(capsys, "grad", "sum(x*x)", "x=[1,2]")["gradient"] == {"x": [2.0, 4.0]}


def test_grad_of_mean(capsys):
    result = run_json(capsys, "grad", "mean(3*(a+3)^2)", "a=[2,3]")
    assert result["value"] == 91.5 and result["gradient"] == {"a": [15.0, 18.0]}


def test_grad_with_seed(capsys):
    result = run_json(capsys, "grad", "[m[0]^2, m[1]^3]", "m=[2,3]", "--seed", "[1,1]")
    assert result["gradient"] == {"m": [4.0, 27.0]} and result["seed"] == [1.0, 1.0]


def test_jacobian_convention(capsys):
    result = run_json(capsys, "jacobian", "[m[0]^2 + 3*m[1], m[1]^2 + 2*m[0]]", "m=[2,3]")
    assert result["jacobian"] == [[4.0, 3.0], [2.0, 6.0]]
    assert result["outputs"] == ["f[0]", "f[1]"] and result["labels"] == ["m[0]", "m[1]"]


def test_graph_rows(capsys):
    result = run_json(capsys, "graph", "a = x+1; b = x+2; a*b", "x=2")
    rows = {row["label"]: row for row in result["nodes"]}
    assert rows["x"]["is_leaf"] and rows["x"]["grad"] == 7.0
    assert rows["a"]["grad_fn"] == "AddBackward0" and rows["a"]["grad"] is None
    assert rows["a*b"]["grad_fn"] == "MulBackward0" and rows["a*b"]["value"] == 12.0
    assert set(rows["x"]) == {"label", "op", "grad_fn", "shape", "value", "requires_grad",
                              "is_leaf", "grad"}


def test_grad_of_matrix_variable_keeps_its_shape(capsys):
    result = run_json(capsys, "grad", "mean(3*(x+2)^2)", "x=[[1,2],[3,4]]")
    assert result["gradient"] == {"x": [[4.5, 6.0], [7.5, 9.0]]}
    _, out, _ = run(capsys, "grad", "mean(3*(x+2)^2)", "x=[[1,2],[3,4]]")
    assert "∂/∂x = [[4.5, 6], [7.5, 9]]" in out


# -- every command, every format ------------------------------------------------------------
COMMANDS = [
    ("eval", ["sin(x)*y", "x=1", "y=2"]),
    ("grad", ["sin(x)*y", "x=1", "y=2"]),
    ("hessian", ["sin(x)*y", "x=1", "y=2"]),
    ("jacobian", ["[sin(x)*y, x]", "x=1", "y=2"]),
    ("graph", ["sin(x)*y", "x=1", "y=2"]),
    ("check", ["sin(x)*y", "x=1", "y=2"]),
]
KEYS = {
    "eval": set(),
    "grad": {"gradient"},
    "hessian": {"gradient", "labels", "hessian"},
    "jacobian": {"outputs", "labels", "jacobian"},
    "graph": {"nodes"},
    "check": {"components", "ok", "order"},
}


@pytest.mark.parametrize("command,args", COMMANDS, ids=[c for c, _ in COMMANDS])
def test_json_is_strict_and_has_the_documented_keys(capsys, command, args):
    result = run_json(capsys, command, *args)
    assert {"command", "expression", "at", "value"} | KEYS[command] <= set(result)
    assert result["command"] == command and result["at"] == {"x": 1.0, "y": 2.0}


@pytest.mark.parametrize("command,args", COMMANDS, ids=[c for c, _ in COMMANDS])
def test_csv_has_a_header_and_rows(capsys, command, args):
    code, out, _ = run(capsys, command, *args, "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert len(rows) >= 2 and all(len(r) == len(rows[0]) for r in rows)


@pytest.mark.parametrize("command,args", COMMANDS, ids=[c for c, _ in COMMANDS])
def test_table_without_a_terminal_has_no_escape_codes(capsys, command, args):
    code, out, _ = run(capsys, command, *args)
    assert code == 0 and out and not ESCAPE.search(out)


def test_csv_columns_use_the_batch_names(capsys):
    _, out, _ = run(capsys, "hessian", "x*x*y", "x=2", "y=3", "--format", "csv")
    header, values = list(csv.reader(io.StringIO(out)))
    assert header == ["value", "grad[x]", "grad[y]", "hess[x,x]", "hess[x,y]", "hess[y,x]",
                      "hess[y,y]"]
    assert [float(v) for v in values] == [12, 12, 4, 6, 4, 4, 0]
    _, out, _ = run(capsys, "jacobian", "[m[0]^2, m[1]]", "m=[2,3]", "--format", "csv")
    header, _ = list(csv.reader(io.StringIO(out)))
    assert header == ["value[0]", "value[1]", "jac[f[0],m[0]]", "jac[f[0],m[1]]",
                      "jac[f[1],m[0]]", "jac[f[1],m[1]]"]


def test_non_finite_numbers_in_json_are_strings(capsys):
    result = run_json(capsys, "grad", "sqrt(x)", "x=0")
    assert result["gradient"] == {"x": "inf"}
    assert run_json(capsys, "eval", "log(x)", "x=-1")["value"] == "nan"
    assert run_json(capsys, "eval", "-1/x", "x=0")["value"] == "-inf"


# -- options ---------------------------------------------------------------------------------
def test_wrt_picks_variables(capsys):
    assert run_json(capsys, "grad", "x*y", "x=2", "y=3", "--wrt", "y")["gradient"] == {"y": 2.0}
    code, _, err = run(capsys, "grad", "x*y", "x=2", "y=3", "--wrt", "z")
    assert code == 2 and "'z'" in err


def test_at_option_and_positional_bindings_mix(capsys):
    result = run_json(capsys, "grad", "x*y", "x=2", "--at", "y=3")
    assert result["gradient"] == {"x": 3.0, "y": 2.0}


def test_precision(capsys):
    _, out, _ = run(capsys, "eval", "pi", "--precision", "3")
    assert "value = 3.14\n" in out


def test_hessian_eig_classifies(capsys):
    result = run_json(capsys, "hessian", "(x-1)^2 + 3*(y+2)^2", "x=1", "y=-2", "--eig")
    assert result["eigenvalues"] == [2.0, 6.0] and result["classification"] == "local minimum"
    assert run_json(capsys, "hessian", "-(x^2) - y^2", "x=0", "y=0", "--eig")[
        "classification"] == "local maximum"
    assert run_json(capsys, "hessian", "x^4 + y^2", "x=0", "y=0", "--eig")[
        "classification"].startswith("degenerate")
    assert run_json(capsys, "hessian", "x^2", "x=1", "--eig")[
        "classification"].startswith("not a critical point")


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_jacobian_modes_agree(capsys, mode):
    result = run_json(capsys, "jacobian", "[sin(a)*b, a^2, b]", "a=0.5", "b=2", "--mode", mode)
    np.testing.assert_allclose(
        result["jacobian"], [[2 * np.cos(0.5), np.sin(0.5)], [1.0, 0.0], [0.0, 1.0]],
        rtol=1e-15)


def test_graph_retain_grad_shows_non_leaf_gradients(capsys):
    result = run_json(capsys, "graph", "a = x+1; b = x+2; a*b", "x=2", "--retain-grad")
    rows = {row["label"]: row for row in result["nodes"]}
    assert rows["a"]["grad"] == 4.0 and rows["b"]["grad"] == 3.0


def test_graph_of_vector_output_needs_seed(capsys):
    code, _, err = run(capsys, "graph", "x*2", "x=[1,2]")
    assert code == 2 and "--seed" in err
    result = run_json(capsys, "graph", "x*2", "x=[1,2]", "--seed", "[1,1]")
    assert {row["label"]: row for row in result["nodes"]}["x"]["grad"] == [2.0, 2.0]


def test_check_agrees_and_disagrees(capsys):
    code, out, _ = run(capsys, "check", "sin(x)*exp(y)", "x=0.5", "y=1")
    assert code == 0 and "all agree" in out
    result = run_json(capsys, "check", "norm(v)^3", "v=[1,2,3]", "--order", "2")
    assert result["ok"] and len(result["components"]) == 9
    # at relu's kink autodiff says 0 (PyTorch's choice), central differences say 0.5
    code, out, _ = run(capsys, "check", "relu(x)", "x=0")
    assert code == 1 and "MISMATCH" in out
    code, _, _ = run(capsys, "check", "relu(x)", "x=0", "--atol", "1")
    assert code == 0


def test_strict_turns_non_finite_into_exit_1(capsys):
    code, out, err = run(capsys, "eval", "log(x - 3)", "x=1")
    assert code == 0
    assert "log(x - 3) at x = 1" in err and "-2" in err and "x > 0" in err
    code, _, err = run(capsys, "eval", "log(x - 3)", "x=1", "--strict")
    assert code == 1 and "--strict" in err
    code, _, err = run(capsys, "grad", "sqrt(x)", "x=0", "--strict")
    assert code == 1 and "derivative of sqrt(x)" in err


def test_detached_variable_gets_zero_and_a_warning(capsys):
    code, out, err = run(capsys, "grad", "detach(x)*y", "x=2", "y=3")
    assert code == 0 and "∂/∂x = 0\n" in out and "no gradient reached x" in err


def test_unused_binding_is_a_warning(capsys):
    code, _, err = run(capsys, "eval", "x+1", "x=1", "y=2")
    assert code == 0 and "y is not used" in err


def test_expression_from_stdin_and_from_a_file(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "stdin", io.StringIO("x^2 + 1\n"))
    assert run_json(capsys, "grad", "-", "x=3")["gradient"] == {"x": 6.0}
    program = tmp_path / "f.expr"
    program.write_text("a = x + 1  # a step\na^2\n")
    assert run_json(capsys, "grad", f"@{program}", "x=1")["gradient"] == {"x": 4.0}
    code, _, err = run(capsys, "grad", f"@{tmp_path / 'missing.expr'}", "x=1")
    assert code == 2 and "no such file" in err


# -- errors: one message, a caret, exit 2, no traceback ------------------------------------
@pytest.mark.parametrize("args,words,caret_line", [
    (["grad", "sine(x)", "x=1"], "unknown function 'sine'", "  ^^^^"),
    (["grad", "x +", "x=1"], "ends with the operator '+'", "    ^"),
    (["grad", "x*y", "x=1"], "no value for variable y", "    ^"),
    (["grad", "x", "x=[1,2"], "never closed", "    ^"),
    (["grad", "[1,2] + x", "x=[1,2,3]"], "shapes (2,) and (3,)", "        ^"),
    (["grad", "x", "x=1", "x=2"], "given a value twice", None),
    (["grad", "x", "x=1", "--seed", "[1,"], "--seed", None),
    (["eval", "x", "x=1", "--format", "yaml"], "--format", None),
    (["grad", "x", "x=y"], "only use numbers", "    ^"),
])
def test_bad_input_exits_2_with_a_caret(capsys, args, words, caret_line):
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert words in err and "Traceback" not in err
    assert err.startswith("error: ")
    if caret_line is not None:
        assert caret_line in err.splitlines()


# -- the Typer app ------------------------------------------------------------------------
runner = CliRunner()


@pytest.mark.parametrize("command", ["eval", "grad", "hessian", "jacobian", "graph", "check",
                                     "functions"])
def test_every_command_has_help_with_two_examples(command):
    result = runner.invoke(app, [command, "--help"], env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert result.exit_code == 0
    assert len(re.findall(rf"gradcli {command}\b", result.output)) >= 2


def test_version_and_unknown_option():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("gradcli ")
    result = runner.invoke(app, ["grad", "x", "x=1", "--bogus"])
    assert result.exit_code == 2


def test_typer_path_computes_like_the_fast_path():
    result = runner.invoke(app, ["grad", "(x+1)*(x+2)", "x=2", "--format", "json"])
    assert result.exit_code == 0
    assert strict_json(result.stdout)["gradient"] == {"x": 7.0}
    result = runner.invoke(app, ["hessian", "x*x*y", "x=2", "y=3", "--eig"])
    assert result.exit_code == 0 and "hessian" in result.stdout
    result = runner.invoke(app, ["grad", "sine(x)", "x=1"])
    assert result.exit_code == 2


def test_functions_lists_the_op_table():
    result = runner.invoke(app, ["functions", "--format", "json"])
    listed = strict_json(result.stdout)["functions"]
    names = {f["name"] for f in listed} | {a for f in listed for a in f["aliases"]}
    from gradcli.language.builder import language_functions

    assert names == set(language_functions())
    assert len({f["name"] for f in listed}) == len(listed)  # each function once
    groups = [f["group"] for f in listed]
    assert groups == sorted(groups) and "special functions" in groups
    result = runner.invoke(app, ["functions"])
    assert "sin(x)" in result.stdout and "x > 0" in result.stdout
    assert "log (ln)" in result.stdout and "asin (arcsin)" in result.stdout


def test_expression_may_start_with_a_minus(capsys):
    assert run_json(capsys, "eval", "-x^2", "x=3")["value"] == -9.0


def test_fast_front_end_defers_what_it_does_not_know():
    assert parse_argv(["grad", "x", "x=1", "--help"]) is None
    assert parse_argv(["--version"]) is None
    assert parse_argv(["grad"]) is None
    assert parse_argv(["grad", "x", "notabinding"]) is None
    assert parse_argv(["grad", "x", "x=1", "--eig"]) is None  # not a grad option
    parsed = parse_argv(["grad", "x*y", "x=1", "--at", "y=2", "--wrt=x", "--format", "json"])
    assert parsed is not None
    assert parsed.command is BY_NAME["grad"]
    assert parsed.arguments == {"expression": "x*y", "bindings": ["x=1"]}
    assert parsed.given == {"at": ["y=2"], "wrt": "x", "format": "json"}


# -- the installed entry point ----------------------------------------------------------------
GRADCLI = shutil.which("gradcli", path=os.path.dirname(sys.executable))


def test_installed_entry_point_runs():
    assert GRADCLI is not None, "pip install -e . installs the gradcli console script"
    done = subprocess.run([GRADCLI, "grad", "(x+1)*(x+2)", "x=2"], capture_output=True,
                          text=True, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0 and "∂/∂x = 7" in done.stdout and not ESCAPE.search(done.stdout)
    done = subprocess.run([GRADCLI, "grad", "sine(x)", "x=1"], capture_output=True, text=True)
    assert done.returncode == 2 and "unknown function" in done.stderr
    assert "Traceback" not in done.stderr
    done = subprocess.run([GRADCLI, "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "grad" in done.stdout
    done = subprocess.run([GRADCLI, "check", "relu(x)", "x=0", "--format", "json"],
                          capture_output=True, text=True)
    assert done.returncode == 1 and strict_json(done.stdout)["ok"] is False
