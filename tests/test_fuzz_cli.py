"""Hypothesis over the whole command line: commands, options (from the spec, valid and
not), bindings, expressions (seeds and mutations of them) and batch job files (random
and mutated). Whatever comes in: never a traceback, exit codes only from the documented
set, and with --format json, stdout is exactly one strict JSON object."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcli.cli import _run
from gradcli.cli.spec import COMMANDS

#: what a fuzzed run may end with (70 is a bug, 74/129/130/143 need a broken stdout or a
#: signal, which these runs do not have)
DOCUMENTED = {0, 1, 2}

EXPRESSIONS = ["x^2 + y", "sin(x)*exp(y)", "sum(v*v)", "[x, x*y]", "m @ v", "log(x)",
               "where(x > 0, x, 0)", "norm(v)^3", "v[0] + v[-1]", "1/x", "a = x+1; a*a",
               "x +", "sine(x)", "(x", "x y", "detach(x)*y", "mean(m, axis=0)",
               "relu(x) + abs(y)", "x**y", "softmax(v)[1]", "tanh(x)/x", "[[x, y], [y, x]]"]
BINDINGS = ["x=2", "y=-1", "v=[1,2]", "m=[[1,2],[3,4]]", "x=0", "x=[1,2", "x=y", "y=nan",
            "x=1e308", "v=[]", "m=[[1],[2,3]]", "z=3", "x=pi/4", "=", "x==1", "θ=1"]
#: the options a fuzzed single-point run leaves out: they read or write files, or start
#: a cluster; their own tests cover them
OFF_LIMITS = {"--points", "--out", "--chunk-size", "--fail-fast", "--points-format", "--quiet",
              "--scheduler", "--overwrite", "--engine", "--render"}
VALUES = {"int": ["-1", "0", "1", "2", "3", "abc", "1e3", "17", "5"],
          "float": ["-1", "nan", "inf", "0", "1e-5", "x", "1e300"],
          "text": ["x", "x,y", "", ",", "[1,1]", "1", "z", "auto", "json"]}
FLAGS = [*sorted({o.flag for c in COMMANDS for o in c.options} - OFF_LIMITS),
         "--bogus", "--fromat", "--wrtt"]
#: values for every variable the expressions use (unused ones are only a warning)
GOOD_BINDINGS = ["x=0.5", "y=-1", "v=[1,2]", "m=[[1,2],[3,4]]"]
GOOD_VALUES = {"--wrt": ["x", "x,y", "v"], "--seed": ["1", "[1,1]"], "--over": ["x=0:1"],
               "--at": ["x=0.5", "y=2"], "--samples": ["50"], "--width": ["60"],
               "--height": ["10"], "--precision": ["3", "10"], "--rtol": ["1e-4"],
               "--atol": ["1e-6"]}
MUTATION_ALPHABET = "xyvm()[]+-*/^,;=.0123456789 \t\n#@|!%<>" + "θ²\x00\x07\udcff"


def options_of(name):
    return {o.flag: o for c in COMMANDS if c.name == name for o in c.options}


def values_for(flag, options, good):
    option = options.get(flag)
    if good and option is not None and option.kind != "flag":
        return st.sampled_from([str(c) for c in option.choices or ()] +
                               GOOD_VALUES.get(flag, []) or VALUES["text"])
    if option is None:
        return st.sampled_from(VALUES["text"] + BINDINGS)
    if option.kind == "flag":
        return st.none()
    if option.kind == "list":
        return st.sampled_from([*BINDINGS, "x=0:1", "x=1:0", "y=-2:2", "x=a:b"])
    pool = [str(c) for c in option.choices or ()] + VALUES["int" if option.kind == "int"
                                                             else option.kind]
    if flag == "--samples":
        pool = ["2", "1", "50", "0", "abc"]
    return st.sampled_from(pool)


@st.composite
def mutated(draw, seeds):
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(0, 9)) // 3):  # no change 1 time in 3
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["insert", "delete", "replace"]))
        char = draw(st.sampled_from(MUTATION_ALPHABET))
        if how == "insert":
            text = text[:at] + char + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + 1:]
        else:
            text = text[:at] + char + text[at + 1:]
    return text


@st.composite
def command_lines(draw):
    name = draw(st.sampled_from([c.name for c in COMMANDS if c.name != "batch"]))
    options = options_of(name)
    argv = [name]
    if name != "functions":
        expression = draw(mutated(EXPRESSIONS))
        if expression.startswith(("-", "@")):
            expression = " " + expression
        argv.append(expression)
        # mostly the values the expression needs; sometimes odd ones too
        if draw(st.integers(0, 5)) != 5:
            argv += [b for b in GOOD_BINDINGS if b[0] in expression and
                     (name != "plot" or b[0] != "x")]  # plot ranges over x
        if draw(st.integers(0, 3)) == 3:
            argv += draw(st.lists(mutated(BINDINGS), min_size=1, max_size=2))
    own = sorted(set(options) - OFF_LIMITS)
    anything = st.sampled_from(own + FLAGS)
    flags = st.sampled_from(own) if own else anything
    for flag in draw(st.lists(st.one_of(flags, flags, flags, anything), max_size=3)):
        value = draw(values_for(flag, options, good=draw(st.integers(0, 3)) != 3))
        if value is None:
            argv.append(flag)
        elif draw(st.booleans()):
            argv += [flag, value]
        else:
            argv.append(f"{flag}={value}")
    if name == "plot" and draw(st.integers(0, 5)) != 5:
        argv += ["--over", draw(st.sampled_from(["x=0:1", "x=-2:2", "y=0:1"]))]
    if draw(st.booleans()):
        argv += ["--format", "json"]
    return argv


def asks_for_json(argv):
    format = None
    for k, arg in enumerate(argv):
        if arg == "--format" and k + 1 < len(argv):
            format = argv[k + 1]
        elif arg.startswith("--format="):
            format = arg.partition("=")[2]
    return format == "json"


def strict_json(text):
    def reject(token):
        raise ValueError(f"non-standard JSON constant {token}")

    return json.loads(text, parse_constant=reject)


def run_in_process(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = _run(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def scratch():
    """A folder of its own to run in: nothing a fuzzed run does lands in the project."""
    folder = tempfile.mkdtemp(prefix="gradcli-fuzz-")
    before = os.getcwd()
    os.chdir(folder)
    yield folder
    os.chdir(before)
    shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(command_lines())
def test_fuzzed_command_lines_keep_the_contract(scratch, argv):
    code, out, err = run_in_process(argv)
    assert code in DOCUMENTED, (argv, code, err)
    assert "Traceback" not in err and "Traceback" not in out, argv
    if asks_for_json(argv):
        assert out.endswith("\n") and out.count("\n") == 1, (argv, out, err)
        obj = strict_json(out)
        assert isinstance(obj, dict), argv
        if code == 2:
            assert set(obj) == {"error"}, argv


GOOD_JOBS = [
    {"id": "a", "command": "grad", "expression": "x*x*y", "at": {"x": 2, "y": 3}},
    {"id": 1, "command": "check", "expression": "sin(x)", "at": {"x": 1}, "order": 2},
    {"command": "hessian", "expression": "x^2 + y^2", "at": {"x": 0, "y": 0}, "eig": True},
    {"command": "jacobian", "expression": "[x*y, x]", "at": {"x": 1, "y": 2},
     "mode": "forward"},
    {"command": "graph", "expression": "(x+1)*x", "at": {"x": 2}, "retain_grad": True},
    {"command": "eval", "expression": "m @ m", "at": {"m": [[1, 2], [3, 4]]}},
]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.floats(allow_nan=False) |
    st.text(max_size=6), lambda inner: st.lists(inner, max_size=3) |
    st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
FIELDS = ["id", "command", "expression", "at", "wrt", "seed", "eig", "mode", "order", "rtol",
          "atol", "retain_grad", "bogus"]


@st.composite
def job_lines(draw):
    kind = draw(st.sampled_from(["good", "field", "bytes", "random"]))
    job = dict(draw(st.sampled_from(GOOD_JOBS)))
    if kind == "good":
        return json.dumps(job).encode()
    if kind == "field":
        job[draw(st.sampled_from(FIELDS))] = draw(JSON_VALUES)
        return json.dumps(job).encode()
    if kind == "bytes":
        data = bytearray(json.dumps(job).encode())
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.sampled_from(b'{}[]",:\\ \xff\xc3\x00nNI0-e'))
        return bytes(data)
    return draw(st.binary(max_size=30)).replace(b"\n", b" ")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(job_lines(), min_size=1, max_size=6), st.booleans(), st.booleans())
def test_fuzzed_job_files_give_one_json_line_per_line(scratch, lines, bom, final_newline):
    content = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines) + (
        b"\n" if final_newline else b"")
    with open("jobs.jsonl", "wb") as f:
        f.write(content)
    code, out, err = run_in_process(["batch", "jobs.jsonl"])
    assert code in {0, 1}, err
    assert "Traceback" not in err
    records = [strict_json(line) for line in out.splitlines()]
    physical = content.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    expected = sum(1 for line in physical if line.strip(b" \t\r"))  # blank lines hold no job
    assert len(records) == expected
    for record in records:
        if "error" in record:
            assert set(record["error"]) == {"kind", "message", "span", "hint", "line"}


def test_a_few_fuzzed_command_lines_through_the_real_entry_point(scratch):
    """The same contract for a real process: what the interpreter does at exit included."""
    entry = shutil.which("gradcli", path=os.path.dirname(sys.executable))
    assert entry is not None
    rng = random.Random(12)
    for _ in range(4):
        name = rng.choice(["grad", "hessian", "check", "eval", "jacobian"])
        argv = [name, rng.choice(EXPRESSIONS), *rng.sample(BINDINGS, 2), "--format", "json"]
        done = subprocess.run([entry, *argv], capture_output=True, text=True)
        assert done.returncode in DOCUMENTED and "Traceback" not in done.stderr, argv
        assert isinstance(strict_json(done.stdout), dict), (argv, done.stdout)
