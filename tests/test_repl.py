"""`gradcli repl`: a command typed at the prompt prints what the same command prints in
the shell; bindings, ans, views and errors; the real prompt on a terminal."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gradcli.cli import _run
from gradcli.cli.prompt import PromptSession, split_words, substitute, value_text
from gradcli.cli.spec import BY_NAME
from tests.terminal import signals_as_on_a_terminal

GRADCLI = shutil.which("gradcli", path=os.path.dirname(sys.executable))
SAMPLES = Path(__file__).resolve().parent.parent / "samples"

#: one line per command of the spec: (what the shell is given, the same at the prompt)
SAME_AS_SHELL = {
    "eval": (["eval", "m @ m", "m=[[1,2],[3,4]]"], "eval m @ m m=[[1,2],[3,4]]"),
    "grad": (["grad", "(x+1)*(x+2)", "x=2"], "grad (x+1)*(x+2) x=2"),
    "hessian": (["hessian", "x*x*y", "x=2", "y=3", "--eig"], "hessian x*x*y x=2 y=3 --eig"),
    "jacobian": (["jacobian", "[cos(a)+cos(a+b), sin(a)+sin(a+b)]", "a=0.5", "b=0.25"],
                 "jacobian [cos(a)+cos(a+b), sin(a)+sin(a+b)] a=0.5 b=0.25"),
    "graph": (["graph", "x*x*y", "x=2", "y=3"], "graph x*x*y x=2 y=3"),
    "plot": (["plot", "sin(x)", "--over", "x=0:3", "--width", "60", "--height", "10"],
             "plot sin(x) --over x=0:3 --width 60 --height 10"),
    "check": (["check", "sin(x)*y", "x=1", "y=2"], "check sin(x)*y x=1 y=2"),
    "diff": (["diff", "x*x*y", "--order", "2"], "diff x*x*y --order 2"),
    "batch": (["batch", str(SAMPLES / "jobs.jsonl")], f"batch {SAMPLES / 'jobs.jsonl'}"),
    "functions": (["functions", "sin"], "functions sin"),
    "taylor": (["taylor", "exp(sin(x))", "x=0.5", "--order", "4"],
               "taylor exp(sin(x)) x=0.5 --order 4"),
}


def shell(capsys, argv):
    code = _run(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def prompt(lines, session=None):
    session = session or PromptSession()
    out, err = io.StringIO(), io.StringIO()
    codes = [session.handle(line, out, err) for line in lines]
    return codes, out.getvalue(), err.getvalue(), session


def test_every_command_of_the_spec_has_a_same_as_shell_case():
    assert set(SAME_AS_SHELL) == set(BY_NAME) - {"repl"}


@pytest.mark.parametrize("name", sorted(SAME_AS_SHELL))
@pytest.mark.parametrize("view", [None, "json"])
def test_a_command_at_the_prompt_prints_what_the_shell_prints(capsys, name, view):
    argv, line = SAME_AS_SHELL[name]
    if view is not None and "--format" not in argv:
        assert view in BY_NAME[name].option("format").choices
        argv = [*argv, "--format", view]
    code, out, err = shell(capsys, argv)
    codes, p_out, p_err, _ = prompt([line], PromptSession(view=view))
    assert (codes[0], p_out, p_err) == (code, out, err)


def test_bindings_carry_over_and_expressions_expand(capsys):
    codes, out, err, session = prompt(["x = 2", "f = (x+1)*(x+2)", "grad f"])
    assert codes == [0, 0, 0] and err == ""
    assert out == shell(capsys, ["grad", "(x+1)*(x+2)", "x=2"])[1]
    assert session.bindings["f"].expression and not session.bindings["x"].expression


def test_an_expression_binding_is_evaluated_at_the_current_values(capsys):
    _, out, _, _ = prompt(["x = 2", "f = x^2", "x = 3", "f"])
    assert out == shell(capsys, ["eval", "x^2", "x=3"])[1]


def test_only_the_values_an_expression_uses_are_passed(capsys):
    _, out, _, _ = prompt(["x = 2", "y = 3", "z = 4", "hessian x*x*y"])
    assert out == shell(capsys, ["hessian", "x*x*y", "x=2", "y=3"])[1]


def test_a_binding_on_the_line_wins_over_the_session(capsys):
    _, out, _, _ = prompt(["x = 2", "grad x^3 x=1"])
    assert out == shell(capsys, ["grad", "x^3", "x=1"])[1]


def test_ans_is_the_last_answer():
    _, _, _, session = prompt(["grad x^2 x=3"])
    assert session.bindings["ans"].text == "6"  # the gradient
    _, _, _, session = prompt(["hessian x*x*y x=2 y=3"], session)
    assert session.bindings["ans"].text == "[[6, 4], [4, 0]]"
    codes, out, _, _ = prompt(["eval ans[0][0] + 1"], session)
    assert codes == [0] and out.endswith("value = 7\n")


def test_a_definition_may_use_its_own_old_value_and_ans():
    _, _, _, session = prompt(["x = 2", "x = x + 1", "eval 10", "y = ans * x"])
    assert session.bindings["x"].text == "3"
    assert session.bindings["y"].expression  # y depends on x; ans is taken as it is now
    _, out, _, _ = prompt(["eval 0", "y"], session)
    assert out.endswith("value = 30\n")


def test_values_keep_full_precision():
    assert value_text(np.array([0.1, 1 / 3, 1e300, -0.0])) == \
        "[0.1, 0.3333333333333333, 1e+300, -0]"
    _, _, _, session = prompt(["t = pi/7"])
    assert float(session.bindings["t"].text) == 3.141592653589793 / 7


def test_vars_lists_the_bindings():
    _, out, _, _ = prompt(["x = 2", "f = x + 1", "vars"])
    assert out == "x = 2    (value)\nf = x + 1    (expression)\n"


def test_format_switches_the_view():
    codes, out, _, _ = prompt([":format json", "grad x^2 x=3"])
    assert codes == [0, 0] and json.loads(out)["gradient"] == {"x": 6.0}
    codes, out, err, _ = prompt([":format yaml"])
    assert codes == [2] and "one of table, json, csv" in err


def test_help_shows_the_op_table_entry(capsys):
    _, out, _, _ = prompt(["help sin"])
    assert out == shell(capsys, ["functions", "sin"])[1]
    assert "sine" in out
    codes, _, err, _ = prompt(["help sinn"])
    assert codes == [2] and "did you mean sin" in err


def test_errors_print_the_shells_message_and_the_prompt_goes_on(capsys):
    codes, out, err, session = prompt(["grad (x+1 x=2", "x = 2", "grad x^2"])
    assert codes[0] == 2 and codes[1:] == [0, 0]
    assert err == shell(capsys, ["grad", "(x+1", "x=2"])[2]
    assert "∂/∂x = 4" in out


def test_errors_in_a_binding_point_into_the_line():
    codes, _, err, _ = prompt(["x = (2"])
    assert codes == [2]
    assert err.splitlines()[1:3] == ["  x = (2", "      ^"]
    codes, _, err, _ = prompt(["sin = 2"])
    assert codes == [2] and "function or command name" in err
    codes, _, err, _ = prompt(["y = y + 1"])
    assert codes == [2] and "in terms of itself" in err


def test_a_bracket_keeps_its_spaces_and_keywords_stay_inside():
    words = [w.text for w in split_words("grad norm(A, ord='fro') A=[[1, 2], [3, 4]] --wrt A")]
    assert words == ["grad", "norm(A, ord='fro')", "A=[[1, 2], [3, 4]]", "--wrt", "A"]
    assert substitute("f(x) + x*xy + 'x' + g(x=1)", lambda n: "Q" if n == "x" else None) == \
        "f(Q) + Q*xy + 'x' + g(x=1)"


def test_quit_ends_the_session():
    _, _, _, session = prompt(["quit"])
    assert session.finished == 0


def test_completion_reads_the_spec_the_table_and_the_bindings():
    session = PromptSession()
    prompt(["alpha = 2"], session)
    functions = ["sin", "sinh", "sqrt"]
    assert session.completions("gr", "gr", functions) == ["grad", "graph"]
    assert "--eig" not in session.completions("grad x --e", "--e", functions)
    assert "--eig" in session.completions("hessian x --e", "--e", functions)
    assert session.completions("grad si", "si", functions) == ["sin", "sinh"]
    assert session.completions("eval al", "al", functions) == ["alpha"]
    assert session.completions(":format j", "j", functions) == ["json"]


# -- the real entry point -----------------------------------------------------------------
def gradcli(*args, stdin="", env=None):
    return subprocess.run([GRADCLI, *args], input=stdin,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_a_script_on_standard_input_runs_line_by_line():
    done = gradcli("repl", stdin="x = 2\nf = (x+1)*(x+2)\ngrad f\nbogus(\ngrad f --format json\n")
    assert done.returncode == 0
    assert "∂/∂x = 7" in done.stdout
    assert json.loads(done.stdout.splitlines()[-1])["gradient"] == {"x": 7.0}
    assert "'(' is never closed" in done.stderr and "Traceback" not in done.stderr


def read_until(fd, marker, timeout=60.0):
    buffer = b""
    deadline = time.monotonic() + timeout
    while marker not in buffer:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} in {buffer!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buffer += chunk
    return buffer


@pytest.mark.slow
def test_the_terminal_prompt_completes_keeps_history_and_leaves_on_ctrl_d(tmp_path):
    history = tmp_path / "history"
    # a user's environment, not whatever earlier tests in this worker left behind
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "TERM": "xterm",
           "NO_COLOR": "1", "INPUTRC": os.devnull, "LANG": "C.UTF-8"}
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        # a terminal's start: no signal blocked or ignored by whatever ran in this worker
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        signals_as_on_a_terminal()
        os.execve(GRADCLI, [GRADCLI, "repl", "--history", str(history)], env)
    try:
        read_until(fd, b"gradcli> ")
        os.write(fd, b"x = 2\r")
        read_until(fd, b"gradcli> ")
        os.write(fd, b"grad sqr\t(x) + x\r")  # Tab completes sqrt
        out = re.sub(rb"\x1b\[[0-9;]*m", b"", read_until(fd, b"gradcli> ")).decode()
        assert "grad sqrt(x) + x  at x = 2" in out and "1.35355" in out
        os.write(fd, b"\x04")  # Ctrl-D leaves
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.close(fd)
    assert history.read_text().splitlines()[-2:] == ["x = 2", "grad sqrt(x) + x"]
