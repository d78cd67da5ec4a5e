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
    assert code == 2 and "r.jsonl" in err and "JSON lines" in err


# -- finding 21: messages -------------------------------------------------------------------
def test_a_ragged_list_names_its_shapes_in_the_order_written(capsys):
    code, _, err = run(capsys, "eval", "A", "A=[[1,2],[3]]")
    assert code == 2 and "(2,), (1,)" in err


# -- B10: --help and --version with stdout full or closed ---------------------------------
def _entry():
    import os
    import shutil
    import sys

    entry = shutil.which("gradcli", path=os.path.dirname(sys.executable))
    assert entry is not None
    return entry


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["grad", "--help"]])
def test_help_and_version_into_a_full_or_closed_stdout_are_one_line_and_exit_74(args):
    import subprocess

    with open("/dev/full", "w") as full:
        done = subprocess.run([_entry(), *args], stdout=full, stderr=subprocess.PIPE,
                              text=True)
    assert done.returncode == 74 and "Traceback" not in done.stderr
    assert done.stderr == "error: cannot write to standard output: No space left on device\n"
    done = subprocess.run([_entry(), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, pass_fds=(), close_fds=True,
                          preexec_fn=lambda: __import__("os").close(1))
    assert done.returncode == 74 and done.stderr == "error: standard output is closed\n"


# -- finding 12: a signal during start-up -------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name,code", [("SIGINT", 130), ("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_signal_during_start_up_is_one_line_and_the_documented_code(name, code):
    """From the console script's first instruction on (gradcli_entry), whatever gradcli
    is importing: the signal comes 0 to 0.1 s after the entry started importing."""
    import os
    import signal
    import subprocess
    import time

    from tests.terminal import holds_signals, signals_as_on_a_terminal

    for delay in (0.0, 0.01, 0.03, 0.06, 0.1):
        child = subprocess.Popen([_entry(), "grad", "x*x", "x=1"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True,
                                 preexec_fn=signals_as_on_a_terminal)
        deadline = time.monotonic() + 20
        while not holds_signals(child.pid) and child.poll() is None and \
                time.monotonic() < deadline:
            time.sleep(0.0005)
        assert holds_signals(child.pid), "the entry holds the signals while it imports"
        time.sleep(delay)
        os.kill(child.pid, getattr(signal, name))
        out, err = child.communicate(timeout=30)
        assert "Traceback" not in err, (delay, err)
        if child.returncode == 0:  # it finished first: a whole result
            assert out.endswith("∂/∂x = 2\n")
        else:
            assert (child.returncode, err) == (code, f"gradcli: interrupted ({name})\n"), delay


# -- finding 24: what --quiet means ---------------------------------------------------------
def test_quiet_leaves_only_what_says_something_went_wrong(capsys, tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x\n1\nzz\n")
    code, out, err = run(capsys, "eval", "x", "--points", str(points), "--quiet")
    assert code == 1 and out.count("\n") == 3 and err == ""
    code, out, err = run(capsys, "eval", "x", "--points", str(points))
    assert "rows read: 2, computed: 1, failed: 1" in err
    code, _, err = run(capsys, "eval", "x", "--points", str(points), "--quiet", "--fail-fast")
    assert code == 1 and "--fail-fast stopped" in err and "rows read" not in err


# -- found by the fuzzer: an NPZ whose member header is corrupt -------------------------------
def test_an_npz_with_a_corrupt_member_header_is_exit_2(capsys, tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, x=np.arange(5.0))
    data = bytearray(path.read_bytes())
    data[1] = 0xFF  # the local file header's magic number
    path.write_bytes(bytes(data))
    code, out, err = run(capsys, "eval", "x", "--points", str(path), "--format", "jsonl")
    assert code == 2 and "this is a bug" not in err
    assert set(strict_json(out)) == {"error"}


# -- §2 F5: a shape mismatch is said once, in gradcli's words --------------------------------
@pytest.mark.parametrize("expression, bindings, subject", [
    ("m@[1,2]", ["m=[[1,2,3,4,5],[1,2,3,4,5],[1,2,3,4,5]]"], "'@': shapes (3, 5) and (2,)"),
    ("v + w", ["v=[1,2]", "w=[1,2,3]"], "'+': shapes (2,) and (3,)"),
    ("[1,2]+[1,2,3]", [], "'+': shapes (2,) and (3,)"),
    ("matmul(m, v)", ["m=[[1,2],[3,4]]", "v=[1,2,3]"], "matmul: shapes (2, 2) and (3,)"),
])
@pytest.mark.parametrize("points", [False, True])
def test_a_shape_mismatch_carries_no_numpy_words(capsys, tmp_path, expression, bindings,
                                                 subject, points):
    extra = []
    if points:
        (tmp_path / "p.csv").write_text("t\n1\n2\n")
        extra = ["--points", str(tmp_path / "p.csv")]
    code, out, err = run(capsys, "eval", f"({expression})*t" if points else expression,
                         *bindings, *([] if points else ["t=1"]), *extra, "--format", "json")
    assert code == 2, (out, err)
    error = strict_json(out)["error"]
    assert error["kind"] == "shape"
    assert error["message"] == f"{subject} do not fit together", error
    for numpy_words in ("gufunc", "operand", "broadcast", "mismatch"):
        assert numpy_words not in error["message"] + str(error["hint"])


# -- finding 21: the min of an empty array ---------------------------------------------------
@pytest.mark.parametrize("name", ["min", "max"])
def test_the_min_or_max_of_an_empty_array_says_it_has_no_value(capsys, name):
    code, out, err = run(capsys, "eval", f"{name}(ones(0))", "--format", "json")
    assert code == 2, (out, err)
    error = strict_json(out)["error"]
    assert error["kind"] == "shape"
    assert error["message"].startswith(f"{name}: ") and "empty array" in error["message"]
    assert "has no value" in error["message"]
    assert "zero-size" not in error["message"] and "identity" not in error["message"]


# -- §2 F7: a list nested deeper than an array can be ----------------------------------------
@pytest.mark.parametrize("where", ["expression", "binding"])
def test_a_list_nested_65_deep_is_one_clear_message_with_a_caret(capsys, where):
    deep = "[" * 65 + "1" + "]" * 65
    args = ["sum(x)", f"x={deep}"] if where == "binding" else [f"sum({deep})"]
    code, out, err = run(capsys, "eval", *args, "--format", "json")
    assert code == 2, (out, err)
    error = strict_json(out)["error"]
    assert error["kind"] == "shape"
    assert "nest at most 64 deep" in error["message"], error
    assert "numpy" not in error["message"] and "indexing result" not in error["message"]
    assert "(1, 1, 1" not in error["message"]
    source = args[-1] if where == "binding" else args[0]
    start, end = error["span"]
    assert source[start:end] == deep
    code, out, err = run(capsys, "eval", *args)
    assert code == 2 and "^" in err and len(err.splitlines()) <= 4, err


def test_a_list_nested_64_deep_still_works(capsys):
    deep = "[" * 64 + "2" + "]" * 64
    code, out, _ = run(capsys, "eval", f"sum({deep})", "--format", "json")
    assert code == 0 and strict_json(out)["value"] == 2.0


# -- §2 F9: no Python or numpy warning reaches the user ---------------------------------------
@pytest.mark.parametrize("args", [
    ["eval", "mean(ones(0))"],
    ["grad", "x*mean(ones(0))", "x=1"],
    ["eval", "mean(ones(0, 3), axis=0)"],
    ["hessian", "x*x*mean(ones(0))", "x=1"],
    ["eval", "t*mean(ones(0))", "--points", "POINTS"],
    ["taylor", "x*mean(ones(0))", "x=1"],
])
def test_only_gradcli_warning_lines_reach_stderr(tmp_path, args):
    import subprocess

    points = tmp_path / "p.csv"
    points.write_text("t\n1\n2\n")
    args = [str(points) if a == "POINTS" else a for a in args]
    done = subprocess.run([_entry(), *args], capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONWARNINGS": "default"})
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and ".py:" not in done.stderr, done.stderr
    assert done.stderr, "gradcli itself says the value is not finite"
    for line in done.stderr.splitlines():
        assert line.startswith(("warning: ", "rows read")), done.stderr


# -- §2 F11: a carriage return inside an expression is whitespace, as a tab is ----------------
@pytest.mark.parametrize("blank, shown", [("\r", "\\r"), ("\t", "\\t"), ("\f", "\\f")])
def test_a_carriage_return_is_whitespace_and_shown_escaped_in_the_title(capsys, blank, shown):
    code, out, _ = run(capsys, "grad", f"x{blank}+1", "x=2")
    assert code == 0
    assert out.splitlines() == [f"grad x{shown}+1  at x = 2", "value = 3", "∂/∂x = 1"]


def test_a_program_over_crlf_lines_is_titled_as_its_statements(capsys):
    code, out, _ = run(capsys, "eval", "y = x*2 # double\r\ny+1\r\n", "x=2")
    assert code == 0 and out.splitlines()[0] == "eval y = x*2; y+1  at x = 2"


# -- §2 F15: warnings show numbers as the tables do, each on one line -------------------------
def test_a_domain_warning_shows_the_point_as_the_table_does(capsys):
    code, out, err = run(capsys, "eval", "log(v)", "v=[1,-2,3]")
    assert code == 0 and "at v = [1, -2, 3]" in out
    assert err == ("warning: log(v) at v = [1, -2, 3]: argument [1, -2, 3] outside the domain "
                   "(x > 0) gave a non-finite value\n")


def test_a_derivative_warning_shows_a_matrix_on_one_line(capsys):
    code, _, err = run(capsys, "grad", "sum(m^0.5)", "m=[[0,2],[2,4]]")
    assert code == 0 and len(err.splitlines()) == 1, err
    assert "(values seen: [[0, 2], [2, 4]], -0.5)" in err


def test_a_warning_shows_a_long_array_in_brief(capsys):
    code, out, err = run(capsys, "eval", "log(v-3)", "v=[1,2,3,4,5,6,7,8,9,10]", "--format",
                         "json")
    assert code == 0
    (warning,) = strict_json(out)["warnings"]
    assert "at v = [1, 2, 3, …, 8, 9, 10]" in warning
    assert "argument [-2, -1, 0, …, 5, 6, 7]" in warning


# -- §2 F12: the graph's pictures --------------------------------------------------------------
def test_a_mermaid_title_is_a_readable_yaml_string(capsys):
    code, out, _ = run(capsys, "graph", "where(x>0,x,0)", "x=1", "--format", "mermaid")
    assert code == 0
    assert out.splitlines()[:3] == ["---", 'title: "graph of where(x>0,x,0)"', "---"]
    assert "#gt;" in out.split("---", 2)[2]  # labels keep Mermaid's entity codes


def test_a_long_label_keeps_its_op_name(capsys):
    expression = "*".join(["x"] * 24)
    code, out, _ = run(capsys, "graph", expression, "x=1", "--format", "dot")
    assert code == 0
    labels = [line for line in out.splitlines() if "[mul]" in line]
    assert len(labels) == 23, out


def test_dot_values_use_the_tables_number_formatting(capsys):
    code, out, _ = run(capsys, "graph", "sum(v*v)", "v=[1,2]", "--format", "dot")
    assert code == 0
    assert "value [1, 2]" in out and "grad [2, 4]" in out and "1." not in out


# -- §2 A11: JSON carries the expression as the table's title shows it -------------------------
@pytest.mark.parametrize("command, extra", [("hessian", ["--eig"]), ("eval", []),
                                            ("grad", []), ("diff", [])])
def test_json_expression_of_a_program_file_is_the_titles_bare_expression(capsys, command,
                                                                          extra):
    source = "samples/rosenbrock.expr"
    code, table, _ = run(capsys, command, f"@{source}", "x=[1,1,1]", *extra)
    assert code == 0
    title = table.splitlines()[0]
    code, out, _ = run(capsys, command, f"@{source}", "x=[1,1,1]", *extra, "--format", "json")
    assert code == 0
    expression = strict_json(out)["expression"]
    assert "#" not in expression and "\n" not in expression
    assert title == f"{command} {expression}  at x = [1, 1, 1]"


# -- §2 F13: the --at note is wrapped at the plot's width, never cut ---------------------------
@pytest.mark.parametrize("width", [30, 40, 60, 200])
def test_the_plot_note_is_wrapped_not_cut(capsys, width):
    code, out, _ = run(capsys, "plot", "x^2", "--over", "x=-1:1", "--at", "x=0.5",
                       "--width", str(width))
    assert code == 0
    lines = out.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("at x = 0.5"))
    note = " ".join(lines[start:])
    assert note == "at x = 0.5: f = 0.25, slope f' = 1 (the dotted line is the tangent)"
    assert all(len(line) <= max(width, 30) for line in lines[start:])


# -- finding 21: every error has a kind from the README's table -------------------------------
def test_plot_errors_have_a_documented_kind(capsys, tmp_path):
    code, out, _ = run(capsys, "plot", "x", "--over", "x=0:1", "--out",
                       str(tmp_path / "p.xyz"), "--format", "json")
    assert code == 2 and strict_json(out)["error"]["kind"] == "argument"


# -- finding 21: max() says what max takes ---------------------------------------------------
@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("call", ["{}()", "{}(axis=0)"])
def test_max_with_no_argument_says_it_takes_one_tensor_or_several_values(capsys, name, call):
    code, out, _ = run(capsys, "eval", call.format(name), "--format", "json")
    assert code == 2
    error = strict_json(out)["error"]
    assert error["kind"] == "argument"
    assert "1 to 3" not in error["message"]
    assert error["message"] == f"{name} needs at least one argument, got none", error
    assert f"{name}(a, b, ...)" in error["hint"] and f"{name}(v, axis=0)" in error["hint"]
    code, out, _ = run(capsys, "eval", f"{name}(1,2,3,4,5)", "--format", "json")
    assert code == 0  # the form the message names works


# -- finding 21: a name in a value is a bad value, not an unbound variable ---------------------
@pytest.mark.parametrize("args, source, span", [
    (["eval", "x", "x=abc"], "x=abc", "abc"),
    (["grad", "[x, x]", "x=1", "--seed", "abc"], "abc", "abc"),
    (["eval", "x", "x=[1, b, c]"], "x=[1, b, c]", "b"),
])
def test_a_name_inside_a_value_is_an_argument_error(capsys, args, source, span):
    code, out, _ = run(capsys, *args, "--format", "json")
    assert code == 2
    error = strict_json(out)["error"]
    assert error["kind"] == "argument", error
    start, end = error["span"]
    assert source[start:end] == span
    assert error["message"].endswith(f"not the name{'s' * (span == 'b')} "
                                     f"{'b, c' if span == 'b' else 'abc'}"), error


# -- finding 21: point-file messages ------------------------------------------------------------
def test_a_columnar_file_with_no_variable_column_reads_as_english(capsys, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "struct.parquet"
    pq.write_table(pa.table({"a": [1.0, 2.0]}), path)
    code, out, _ = run(capsys, "eval", "x", "--points", str(path), "--format", "json")
    assert code == 2
    message = strict_json(out)["error"]["message"]
    assert message == f"{path} has no column for any variable of the expression"


@pytest.mark.parametrize("suffix, what", [(".arrow", "Arrow IPC"), (".parquet", "Parquet")])
def test_a_truncated_columnar_file_says_it_is_not_a_complete_file(capsys, tmp_path, suffix,
                                                                   what):
    import pyarrow as pa
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    path = tmp_path / f"p{suffix}"
    table = pa.table({"x": np.arange(1000.0)})
    if suffix == ".parquet":
        pq.write_table(table, path)
    else:
        feather.write_feather(table, path, compression="uncompressed")
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 3] + b"ORIGIN" * 8 + data[-200:])
    code, out, _ = run(capsys, "eval", "x", "--points", str(path), "--format", "json")
    assert code in (1, 2), out
    error = strict_json(out)["error"] if code == 2 else None
    if error is not None:
        assert "not a valid or complete " + what + " file" in error["message"], error
        assert "Expected to read" not in error["message"]
        assert error["hint"]


# -- finding 21: a back-end option on one point is refused, as --out and --scheduler are ---------
@pytest.mark.parametrize("option", [["--engine", "compiled"], ["--engine", "numpy"],
                                    ["--math", "libm"]])
@pytest.mark.parametrize("command", ["eval", "grad"])
def test_a_points_back_end_option_on_one_point_is_refused(capsys, command, option):
    code, out, _ = run(capsys, command, "x*x", "x=1", *option, "--format", "json")
    assert code == 2
    error = strict_json(out)["error"]
    assert error["kind"] == "argument"
    assert error["message"] == f"{option[0]} goes with --points (a file of points)"
    assert error["hint"]


# -- finding 19: domain warnings agree with the domain they print ------------------------------
@pytest.mark.parametrize("expression, point, words", [
    ("erfinv(x)", "x=1", "argument 1 is an end of the domain (-1 <= x <= 1), where the value "
                         "is infinite"),
    ("erfinv(x)", "x=-1", "argument -1 is an end of the domain"),
    ("erfcinv(x)", "x=0", "argument 0 is an end of the domain (0 <= x <= 2)"),
    ("erfcinv(x)", "x=2", "argument 2 is an end of the domain (0 <= x <= 2)"),
    ("gamma(x)", "x=172", "gamma(x) at x = 172: the value overflows a double"),
    ("x!", "x=171", "x! at x = 171: the value overflows a double"),
    ("erfinv(x)", "x=1.0000001", "at x = 1.0000001: argument 1.0000001 outside the domain "
                                 "(-1 <= x <= 1)"),
    ("gamma(x)", "x=-2", "argument -2 outside the domain (x not 0, -1, -2, ...)"),
])
def test_a_domain_warning_agrees_with_the_domain(capsys, expression, point, words):
    code, _, err = run(capsys, "eval", expression, point)
    assert code == 0
    assert words in err, err
    if "outside" not in words:
        assert "outside" not in err, err


# -- §2 A12: a terminal gets the README's shape; NO_COLOR means no escape codes ------------------
def _on_a_terminal(args, no_color):
    import os
    import pty
    import subprocess

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["TERM"] = "xterm-256color"
    env["COLUMNS"] = "100"
    if no_color:
        env["NO_COLOR"] = "1"
    try:
        child = subprocess.Popen([_entry(), *args], stdout=slave, stderr=subprocess.PIPE,
                                 env=env)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal's other end
                break
            if not data:
                break
            chunks.append(data)
        child.wait(timeout=60)
    finally:
        os.close(master)
    return child.returncode, b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.mark.parametrize("args, lines", [
    (["eval", "12"], ["eval 12", "value = 12"]),
    (["grad", "x*y", "x=2", "y=3"], ["grad x*y  at x = 2, y = 3", "value = 6", "∂/∂x = 3",
                                     "∂/∂y = 2"]),
])
def test_a_terminal_gets_the_plain_shape_and_no_color_has_no_escapes(args, lines):
    code, text = _on_a_terminal(args, no_color=True)
    assert code == 0
    assert "\x1b" not in text, repr(text)
    assert text.splitlines() == lines
    code, text = _on_a_terminal(args, no_color=False)
    assert code == 0
    import re
    assert re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines() == lines, repr(text)


@pytest.mark.parametrize("args", [["graph", "x*x", "x=1", "--format", "tree"],
                                  ["plot", "x*x", "--over", "x=0:1", "--width", "40",
                                   "--height", "8"]])
def test_no_color_pictures_on_a_terminal_have_no_escapes(args):
    code, text = _on_a_terminal(args, no_color=True)
    assert code == 0 and "\x1b" not in text, repr(text)
