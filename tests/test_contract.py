"""The CI contract (issue 12): JSON errors, exit codes that mean one thing, options
checked whoever parses them, stdout failures and signals, batch jobs that never take
the run down. One test per finding, named after it."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gradcli.cli import _run
from tests.terminal import signals_as_on_a_terminal

README = Path(__file__).resolve().parent.parent / "README.md"


def strict_json(text):
    def reject(token):
        raise ValueError(f"non-standard JSON constant {token}")

    return json.loads(text, parse_constant=reject)


def run(capsys, *args):
    code = _run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def readme_error_examples():
    """The README's table of JSON errors: (command line, exit code, JSON) per kind."""
    rows = []
    for line in README.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `([\w-]+)` \| (\d+) \| `gradcli (.+?)` → `(\{.*\})` \|$", line)
        if match:
            kind, code, command, obj = match.groups()
            rows.append((kind, int(code), shlex.split(command), obj))
    return rows


EXAMPLES = readme_error_examples()


def test_the_readme_has_an_error_example_for_each_kind_the_cli_reaches():
    kinds = {kind for kind, *_ in EXAMPLES}
    assert {"syntax", "unknown-function", "unbound-variable", "name-conflict", "argument",
            "usage", "axis", "not-scalar", "input", "points", "job"} <= kinds


@pytest.mark.parametrize("kind,code,argv,obj", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_readme_error_examples_are_true(capsys, monkeypatch, tmp_path, kind, code, argv, obj):
    monkeypatch.chdir(tmp_path)
    got, out, err = run(capsys, *argv)
    assert got == code
    assert strict_json(out) == strict_json(obj)
    assert strict_json(out)["error"]["message"] in err


# -- the JSON contract ----------------------------------------------------------------------
def error_of(out):
    obj = strict_json(out)
    assert set(obj) == {"error"}
    assert set(obj["error"]) == {"kind", "message", "span", "hint"}
    return obj["error"]


def test_with_format_json_an_error_is_one_json_object_on_stdout(capsys):
    code, out, err = run(capsys, "grad", "sine(x)", "x=1", "--format", "json")
    assert code == 2
    error = error_of(out)
    assert error == {"kind": "unknown-function", "message": "unknown function 'sine'",
                     "span": [0, 4], "hint": error["hint"]}
    assert out.count("\n") == 1
    assert "error: unknown function 'sine'" in err  # the message also goes to stderr


@pytest.mark.parametrize("args", [
    ["eval", "x", "x=[1,2"], ["grad", "x", "x=1", "--seed", "[1,"],
    ["grad", "x", "x=1", "--bogus"], ["check", "x", "x=1", "--order", "abc"],
    ["plot", "x"], ["functions", "--format", "xml"], ["batch", "missing.jsonl"],
    ["eval", "@missing.txt"], ["eval", "x", "--points", "missing.csv"],
])
def test_every_error_path_speaks_json_with_format_json(capsys, monkeypatch, tmp_path, args):
    monkeypatch.chdir(tmp_path)
    format = ["--format", "json"] if "--format" not in args else []
    code, out, err = run(capsys, *args, *format)
    if "xml" in args:  # the bad option is --format itself: stderr only
        assert code == 2 and out == ""
        return
    assert code == 2
    assert error_of(out)["message"] in err


def test_the_span_is_the_carets_range(capsys):
    code, out, err = run(capsys, "grad", "x + yy", "x=1", "--format", "json")
    start, end = error_of(out)["span"]
    caret = next(line for line in err.splitlines() if set(line.strip()) == {"^"})
    assert caret.index("^") - 2 == start and caret.count("^") == end - start


# -- exit codes that mean one thing --------------------------------------------------------
def test_an_internal_failure_exits_70_with_one_line(capsys, monkeypatch):
    from gradcli import compute

    def broken(*args, **kwargs):
        raise ValueError("an invariant broke\nsecond line")

    monkeypatch.setattr(compute, "gradient", broken)
    monkeypatch.delenv("GRADCLI_DEBUG", raising=False)
    code, out, err = run(capsys, "grad", "x", "x=1")
    assert code == 70 and out == ""
    assert "Traceback" not in err
    first, *rest = err.splitlines()
    assert "gradcli grad failed (ValueError: an invariant broke)" in first
    assert "this is a bug; please report it" in first
    assert rest == ["hint: run again with GRADCLI_DEBUG=1 to see the traceback"]
    code, out, _ = run(capsys, "grad", "x", "x=1", "--format", "json")
    assert code == 70 and error_of(out)["kind"] == "internal"


def test_gradcli_debug_shows_the_traceback_of_an_internal_failure(capsys, monkeypatch):
    from gradcli import compute

    monkeypatch.setattr(compute, "evaluate", lambda *a, **k: 1 / 0)
    monkeypatch.setenv("GRADCLI_DEBUG", "1")
    code, _, err = run(capsys, "eval", "x", "x=1")
    assert code == 70 and "Traceback" in err and "ZeroDivisionError" in err


@pytest.mark.parametrize("args,words", [
    (["check", "x^2", "x=1", "--rtol", "-1"], "--rtol must be a finite number >= 0"),
    (["check", "x^2", "x=1", "--rtol", "nan"], "--rtol must be a finite number >= 0"),
    (["check", "x^2", "x=1", "--atol", "-1"], "--atol must be a finite number >= 0"),
    (["check", "x^2", "x=1", "--atol", "inf"], "--atol must be a finite number >= 0"),
    (["graph", "x", "x=1", "--order", "3"], "--order must be one of 1, 2, not 3"),
    (["functions", "--format", "xml"], "--format must be one of table, json, csv"),
    (["eval", "x", "--points", "p.csv", "--format", "npz"], "--format npz needs --out"),
    (["eval", "x", "--points", "p.csv", "--format", "table"], "--format table does not go"),
    (["eval", "x", "x=1", "--format", "npz"], "--format npz goes with --points"),
    (["eval", "x", "x=1", "--precision", "0"], "--precision must be between 1 and 17"),
    (["plot", "x", "--over", "x=0:1", "--samples", "1"], "--samples must be between"),
])
def test_bad_options_exit_2_whoever_parses_them(capsys, monkeypatch, tmp_path, args, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.csv").write_text("x\n1\n")
    code, out, err = run(capsys, *args)
    assert code == 2 and words in err and out == "" and "Traceback" not in err
    # the Typer app (what handles help and anything unusual) gives the same answer
    from typer.testing import CliRunner

    from gradcli.cli.app import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and words in result.output


def test_typer_suggests_the_closest_real_option_or_none():
    from typer.testing import CliRunner

    from gradcli.cli.app import app

    result = CliRunner().invoke(app, ["grad", "x", "x=1", "--bogus"])
    assert result.exit_code == 2
    assert "--bogus" in result.output and "did you mean" not in result.output
    assert "--out" not in result.output.replace("--bogus", "")
    result = CliRunner().invoke(app, ["grad", "x", "x=1", "--fromat", "json"])
    assert result.exit_code == 2 and "did you mean --format?" in result.output
    result = CliRunner().invoke(app, ["check", "x", "x=1", "--rtl", "1"])
    assert "did you mean --rtol?" in result.output


def test_gradcli_with_no_arguments_prints_help_to_stderr(capsys):
    code, out, err = run(capsys)
    assert code == 2 and out == ""
    assert "Usage" in err and "grad" in err and "batch" in err


# -- signals and stdout ---------------------------------------------------------------------
GRADCLI = shutil.which("gradcli", path=os.path.dirname(sys.executable))


def gradcli(*args, **kwargs):
    return subprocess.run([GRADCLI, *args], capture_output=True, text=True, **kwargs)


def write_points(path, rows):
    with open(path, "w") as f:
        f.write("x,y\n")
        f.writelines(f"{k * 1e-5},{k * 2e-5}\n" for k in range(rows))


def write_jobs(path, count):
    job = {"command": "hessian", "expression": "sum(exp(v)*sin(v))", "at": {"v": [1, 2, 3]}}
    with open(path, "w") as f:
        f.writelines(json.dumps({"id": k, **job}) + "\n" for k in range(count))


def stop_when_started(args, folder, signum):
    """Start gradcli, wait until its temporary output exists, send the signal."""
    before = set(os.listdir(folder))
    process = subprocess.Popen([GRADCLI, *args], cwd=folder, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=signals_as_on_a_terminal)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if set(os.listdir(folder)) - before:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be stopped"
    time.sleep(0.2)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err, before


SIGNALS = [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)]


@pytest.mark.slow
@pytest.mark.parametrize("signum,code", SIGNALS, ids=[s.name for s, _ in SIGNALS])
@pytest.mark.parametrize("target", ["out.csv", "out.npz", "jobs"])
def test_term_hup_and_int_on_a_long_batch_leave_nothing_behind(tmp_path, signum, code,
                                                                target):
    if target == "jobs":
        write_jobs(tmp_path / "jobs.jsonl", 200_000)
        args = ["batch", "jobs.jsonl", "--out", "results.jsonl"]
    else:
        write_points(tmp_path / "points.csv", 300_000)
        args = ["hessian", "sin(x)*exp(y)", "--points", "points.csv", "--out", target,
                "--chunk-size", "100", "--quiet"]
    returncode, out, err, before = stop_when_started(args, tmp_path, signum)
    assert returncode == code
    assert err.splitlines() == [f"gradcli: interrupted ({signum.name})"]
    assert set(os.listdir(tmp_path)) == before  # no .partial file, no .gradcli-* folder


@pytest.mark.parametrize("args", [["plot", "sin(x)", "--over", "x=0:1"],
                                  ["batch", "jobs.jsonl"], ["eval", "1"]])
def test_batch_and_plot_print_the_same_interrupt_line_as_the_others(
        capsys, monkeypatch, tmp_path, args):
    from gradcli import compute, sampling
    from gradcli.cli import jobs
    from gradcli.errors import Interrupted

    def stop(*a, **k):
        raise Interrupted(signal.SIGINT, "SIGINT")

    monkeypatch.chdir(tmp_path)
    write_jobs(tmp_path / "jobs.jsonl", 3)
    monkeypatch.setattr(sampling, "plot", stop)
    monkeypatch.setattr(jobs, "run_job", stop)
    monkeypatch.setattr(compute, "evaluate", stop)
    code, out, err = run(capsys, *args)
    assert code == 130 and err == "gradcli: interrupted (SIGINT)\n"
    assert set(os.listdir(tmp_path)) == {"jobs.jsonl"}


@pytest.mark.parametrize("args", [["eval", "1"], ["functions", "--format", "json"],
                                  ["plot", "sin(x)", "--over", "x=0:1"]])
def test_a_full_disk_on_stdout_is_one_clean_line_and_exit_74(args):
    with open("/dev/full", "w") as full:
        done = subprocess.run([GRADCLI, *args], stdout=full, stderr=subprocess.PIPE,
                              text=True)
    assert done.returncode == 74
    assert done.stderr.splitlines() == [
        "error: cannot write the results to standard output: No space left on device"]


def test_a_closed_stdout_is_one_clean_line_and_exit_74():
    done = subprocess.run([GRADCLI, "eval", "1"], stderr=subprocess.PIPE, text=True,
                          pass_fds=(), preexec_fn=lambda: os.close(1))
    assert done.returncode == 74
    assert done.stderr.splitlines() == [
        "error: cannot write the results: standard output is closed"]


def test_a_closed_pipe_stays_quiet(tmp_path):
    write_points(tmp_path / "points.csv", 200_000)
    process = subprocess.Popen([GRADCLI, "grad", "x*y", "--points", "points.csv"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    assert process.stdout is not None
    process.stdout.readline()
    process.stdout.close()  # what `| head -1` does
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0 and err == b""


# -- batch jobs never take the run down -----------------------------------------------------
def run_batch(capsys, tmp_path, content: bytes, *extra):
    path = tmp_path / "jobs.jsonl"
    path.write_bytes(content)
    code, out, err = run(capsys, "batch", str(path), *extra)
    return code, [strict_json(line) for line in out.splitlines()], err


GOOD = b'{"id": "good", "command": "grad", "expression": "x^2", "at": {"x": 3}}\n'


def test_a_job_that_runs_out_of_memory_is_its_own_error_record(capsys, tmp_path):
    big = b'{"id": "big", "command": "eval", "expression": "sum(ones(1000000,1000000))"}\n'
    code, records, _ = run_batch(capsys, tmp_path, GOOD + big + GOOD)
    assert code == 1 and len(records) == 3
    assert records[0]["gradient"] == {"x": 6.0} and records[2]["gradient"] == {"x": 6.0}
    assert records[1]["id"] == "big" and records[1]["error"]["line"] == 2


def test_any_failure_inside_a_job_is_that_jobs_record(capsys, tmp_path, monkeypatch):
    from gradcli import compute

    real = compute.evaluate

    def flaky(expression, at, **kwargs):
        if expression == "boom":
            raise MemoryError("no room")
        return real(expression, at, **kwargs)

    monkeypatch.setattr(compute, "evaluate", flaky)
    boom = b'{"id": 7, "command": "eval", "expression": "boom"}\n'
    code, records, err = run_batch(capsys, tmp_path, GOOD + boom + GOOD)
    assert code == 1 and [r.get("id") for r in records] == ["good", 7, "good"]
    assert set(records[1]["error"]) == {"kind", "message", "span", "hint", "line"}
    assert records[1]["error"]["kind"] == "internal" and "MemoryError" in \
        records[1]["error"]["message"]
    assert "jobs read: 3, succeeded: 2, failed: 1" in err


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity"])
def test_an_id_that_is_nan_or_infinity_is_an_error_record(capsys, tmp_path, token):
    bad = b'{"id": ' + token + b', "command": "eval", "expression": "1"}\n'
    out_file = tmp_path / "out.jsonl"
    code, _, _ = run_batch(capsys, tmp_path, GOOD + bad + GOOD, "--out", str(out_file))
    records = [strict_json(line) for line in out_file.read_text().splitlines()]
    assert code == 1 and len(records) == 3 and records[2]["id"] == "good"
    assert records[1]["error"]["kind"] == "job" and records[1]["error"]["line"] == 2


def test_an_invalid_utf8_byte_is_an_error_record_for_its_line(capsys, tmp_path):
    bad = b'{"id": "b", "command": "eval", "expression": "x\xff"}\n'
    code, records, _ = run_batch(capsys, tmp_path, GOOD + bad + GOOD)
    assert code == 1 and len(records) == 3
    assert records[1]["error"]["line"] == 2 and "UTF-8" in records[1]["error"]["message"]
    assert records[2]["gradient"] == {"x": 6.0}


def test_a_job_file_with_a_bom_is_read_as_utf8(capsys, tmp_path):
    job = '{"id": "θ", "command": "eval", "expression": "θ*2", "at": {"θ": 2}}\n'
    code, records, _ = run_batch(capsys, tmp_path, b"\xef\xbb\xbf" + job.encode())
    assert code == 0 and records == [{"id": "θ", "command": "eval", "expression": "θ*2",
                                      "at": {"θ": 2.0}, "value": 4.0}]


def test_job_error_records_carry_the_json_error_fields_and_the_line(capsys, tmp_path):
    bad = b'{"command": "grad", "expression": "sine(x)", "at": {"x": 1}}\n'
    _, records, _ = run_batch(capsys, tmp_path, bad)
    assert records == [{"id": None, "error": {
        "kind": "unknown-function", "message": "unknown function 'sine'", "span": [0, 4],
        "hint": records[0]["error"]["hint"], "line": 1}}]


def test_messages_inside_jobs_name_job_fields(capsys, tmp_path):
    jobs = (b'{"command": "grad", "expression": "x", "at": {"x": 1}, "wrt": ["z"]}\n'
            b'{"command": "check", "expression": "x", "at": {"x": 1}, "rtol": -1}\n'
            b'{"command": "grad", "expression": "[x, x]", "at": {"x": 1}, "seed": [1]}\n'
            b'{"command": "graph", "expression": "x", "at": {"x": 1}, "retain_grad": 1}\n')
    _, records, _ = run_batch(capsys, tmp_path, jobs)
    messages = [r["error"]["message"] for r in records]
    assert messages[0].startswith("wrt names 'z'")
    assert messages[1].startswith("rtol must be a finite number")
    assert messages[2].startswith("seed has shape (1,)")
    assert messages[3].startswith("retain_grad must be true or false")
    assert not any("--" in m for m in messages)


def test_jobs_accept_the_options_of_their_command(capsys, tmp_path):
    jobs = [
        {"command": "check", "expression": "x^3", "at": {"x": 1}, "order": 2, "rtol": 1e-4,
         "atol": 1e-6},
        {"command": "jacobian", "expression": "[x*y, x]", "at": {"x": 1, "y": 2},
         "mode": "forward"},
        {"command": "hessian", "expression": "x^2 + y^2", "at": {"x": 0, "y": 0},
         "eig": True},
        {"command": "graph", "expression": "(x+1)*x", "at": {"x": 2}, "retain_grad": True},
        {"command": "grad", "expression": "[x, 2*x]", "at": {"x": 2}, "seed": [1, 1],
         "wrt": ["x"]},
    ]
    content = "".join(json.dumps(j) + "\n" for j in jobs).encode()
    code, records, _ = run_batch(capsys, tmp_path, content)
    assert code == 0, records
    assert records[0]["order"] == 2 and records[0]["rtol"] == 1e-4
    assert records[1]["mode"] == "forward"
    assert records[2]["classification"] == "local minimum"
    inner = [node for node in records[3]["nodes"] if not node["is_leaf"]]
    assert inner and all(node["grad"] is not None for node in inner)
    assert records[4]["gradient"] == {"x": 3.0}


def test_a_job_file_may_be_standard_input(capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(GOOD + GOOD)))
    code, out, _ = run(capsys, "batch", "-")
    assert code == 0 and len(out.splitlines()) == 2


def test_a_job_file_may_be_a_pipe_or_a_fifo(tmp_path):
    done = subprocess.run(["bash", "-c", f"{GRADCLI} batch <(printf '%s' '{GOOD.decode()}')"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert strict_json(done.stdout)["gradient"] == {"x": 6.0}
    fifo = tmp_path / "jobs.fifo"
    os.mkfifo(fifo)
    process = subprocess.Popen([GRADCLI, "batch", str(fifo)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    with open(fifo, "wb") as writer:
        writer.write(GOOD * 3)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and len(out.splitlines()) == 3, err


def test_a_full_disk_under_points_records_is_exit_74_too(tmp_path):
    write_points(tmp_path / "points.csv", 1000)
    for format in ("csv", "jsonl", "parquet", "arrow"):
        with open("/dev/full", "w") as full:
            done = subprocess.run([GRADCLI, "grad", "x*y", "--points", "points.csv",
                                   "--format", format], stdout=full, stderr=subprocess.PIPE,
                                  text=True, cwd=tmp_path)
        assert done.returncode == 74, done.stderr
        assert "No space left on device" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("format", ["parquet", "arrow"])
def test_binary_records_on_stdout_are_written_whole_and_fail_cleanly(tmp_path, format):
    import pyarrow as pa
    import pyarrow.parquet as pq

    write_points(tmp_path / "points.csv", 5000)
    target = tmp_path / f"records.{format}"
    args = [GRADCLI, "grad", "x*y", "--points", "points.csv", "--format", format, "--quiet"]
    with open(target, "wb") as sink:
        done = subprocess.run(args, stdout=sink, stderr=subprocess.PIPE, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    table = pq.read_table(target) if format == "parquet" else \
        pa.ipc.open_file(target).read_all()
    assert table.num_rows == 5000
    closed = subprocess.run(args, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            preexec_fn=lambda: os.close(1))
    assert closed.returncode == 74 and "Traceback" not in closed.stderr
    assert closed.stderr.splitlines() == [
        "error: cannot write the results: standard output is closed"]
