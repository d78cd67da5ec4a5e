"""The whole command line fuzzed, generated from the CLI spec's rows (`cli/spec.py`).

Every command and every option the spec declares is drawn, with values chosen by the
option's own row: its kind, its choices, its check. An option added to the spec is
fuzzed with no edit here. Options that name files get files: `--points` gets point
files of every format (CSV, JSONL, Parquet, Arrow, NPZ), clean or corrupted (bad
bytes, truncation, CR and CR/LF line ends, NUL bytes, deep nesting), a directory, a
glob, standard input, or nothing there; the options that write (`--out`, `--render`,
and any other FILE option) get new files, existing files, symlinks, devices, a
missing or read-only folder. Job files for `gradcli batch` are random and mutated.

Properties, whatever comes in:
- no traceback, and an exit code from the README's table (70 is a bug: never);
- with --format json or jsonl, stdout is strict JSON objects, one a line, and an
  exit 2 is exactly one {"error": ...} object;
- nothing outside the output targets is touched (every other file keeps its bytes,
  nothing new appears, no temporary file is left);
- every input row is computed or reported: a clean point file of N records gives
  N records out, and the summary's read = computed + failed.

A subprocess part sends SIGINT, SIGTERM and SIGHUP at random moments, and writes
into pipes, /dev/stdout and /dev/full. In CI the fuzzer runs for well under a
minute; GRADCLI_FUZZ_SECONDS=N runs it for about N seconds (the count of command
lines tried is printed, and appended to $GRADCLI_FUZZ_REPORT if set).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, seed, settings
from hypothesis import strategies as st

from gradcli.cli import _run
from gradcli.cli.spec import COMMANDS, JSON_FORMATS, Option
from tests.terminal import signals_as_on_a_terminal, wait_until_gradcli_runs

#: the README's exit-code table; 70 (a bug) is left out on purpose
DOCUMENTED = {0, 1, 2, 74, 129, 130, 143}
FUZZ_SECONDS = float(os.environ.get("GRADCLI_FUZZ_SECONDS", "0") or 0)
TRIED = {"command lines": 0}

EXPRESSIONS = ["x^2 + y", "sin(x)*exp(y)", "x*y", "[x, x*y]", "log(x)", "1/x",
               "where(x > 0, x, 0)", "sqrt(x^2+y^2)", "a = x+1; a*a", "x +", "sine(x)", "(x",
               "x y", "exp(x>0)", "sum(m*m) + x", "m[0]*y", "tanh(x)/x", "x!", "|x| - y",
               "max(x, y, 1)", "sum(diag(ones(100000)))", "polygamma(1, x)", "x % 2"]
BINDINGS = ["x=2", "y=-1", "m=[1,2]", "x=0", "x=[1,2", "x=y", "y=nan", "x=1e999",
            "m=[]", "m=[[1],[2,3]]", "z=3", "x=pi/4", "=", "x==1", "θ=1", "x=abc"]
GOOD_BINDINGS = ["x=0.5", "y=-1", "m=[1,2]"]
MUTATION_ALPHABET = "xym()[]+-*/^,;=.0123456789 \t\n#@|!%<>" + "θ²\x00\x07"
TEXT_VALUES = ["x", "x,y", "", ",", "[1,1]", "1", "z", "auto", "json", "-1", "nan", "1e300",
               "abc", "0", "local:0", "bogus"]
NUMBER_VALUES = {"int": ["-1", "0", "1", "2", "3", "abc", "1e3", "17", "5", "40"],
                 "float": ["-1", "nan", "inf", "0", "1e-5", "x", "1e300", "0.5"]}
#: good values for options whose kind alone says little (the spec's rows say the rest)
GOOD_VALUES = {"--wrt": ["x", "x,y", "m"], "--seed": ["1", "[1,1]"], "--over": ["x=0:1"],
               "--at": ["x=0.5", "y=2"], "--samples": ["50", "7"], "--width": ["60"],
               "--height": ["10"], "--precision": ["3", "10"], "--rtol": ["1e-4"],
               "--atol": ["1e-6"], "--chunk-size": ["1", "2", "1000"]}
POINT_FORMATS = ("csv", "jsonl", "parquet", "arrow", "npz")


def spec_options(command):
    """The command's options, straight from its spec row."""
    return {option.flag: option for option in command.options}


def reads_file(option: Option) -> bool:
    return option.flag == "--points"


def writes_file(option: Option) -> bool:
    """An option naming a file that gradcli writes (--out, --render, --history, ...)."""
    return option.metavar in ("FILE", "ADDRESS") and not reads_file(option) and \
        option.flag != "--scheduler"


# -- point files ---------------------------------------------------------------------------
def point_table(rng: random.Random, rows: int) -> dict[str, np.ndarray]:
    return {"x": np.round(np.array([rng.uniform(-3, 3) for _ in range(rows)]), 3),
            "y": np.round(np.array([rng.uniform(-3, 3) for _ in range(rows)]), 3)}


def write_points(path: str, fmt: str, table: dict[str, np.ndarray], with_m: bool) -> None:
    rows = len(table["x"])
    if fmt == "csv":
        lines = ["x,y"] + [f"{float(a)!r},{float(b)!r}"
                           for a, b in zip(table["x"], table["y"], strict=True)]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
    elif fmt == "jsonl":
        with open(path, "w") as f:
            for a, b in zip(table["x"], table["y"], strict=True):
                record = {"x": float(a), "y": float(b)}
                if with_m:
                    record["m"] = [float(a), float(b)]
                f.write(json.dumps(record) + "\n")
    elif fmt in ("parquet", "arrow"):
        import pyarrow as pa

        columns = {"x": pa.array(table["x"]), "y": pa.array(table["y"])}
        if with_m:
            columns["m"] = pa.array([[float(a), float(b)] for a, b in
                                     zip(table["x"], table["y"], strict=True)])
        data = pa.table(columns)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(data, path, row_group_size=max(1, rows // 3 or 1))
        else:
            import pyarrow.feather as feather

            feather.write_feather(data, path)
    else:
        arrays = dict(table)
        if with_m:
            arrays["m"] = np.stack([table["x"], table["y"]], axis=1)
        np.savez(path, **arrays)


def corrupt(data: bytes, how: str, rng: random.Random) -> bytes:
    if not data:
        return data
    if how == "bytes":
        out = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            out[rng.randrange(len(out))] = rng.choice(b'\xff\xfe\x00",\n\r[]{}:e-+.9 ')
        return bytes(out)
    if how == "truncate":
        return data[:rng.randrange(len(data))]
    if how == "cr":
        return data.replace(b"\n", b"\r")
    if how == "crlf-mix":
        parts = data.split(b"\n")
        return b"".join(p + rng.choice([b"\n", b"\r\n", b"\r"]) for p in parts[:-1]) + parts[-1]
    if how == "nul":
        at = rng.randrange(len(data))
        return data[:at] + b"\x00" * rng.randint(1, 3) + data[at:]
    if how == "nesting":
        return data + b'{"x": ' + b"[" * 3000 + b"1" + b"]" * 3000 + b', "y": 1}\n'
    if how == "quote":
        at = rng.randrange(len(data))
        return data[:at] + b'"' + data[at:]
    return data


class Scratch:
    """A folder of one fuzzed run's files, and a fingerprint to see what changed in it."""

    def __init__(self, root: str):
        self.root = root

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def fingerprint(self) -> dict[str, tuple]:
        seen: dict[str, tuple] = {}
        for folder, dirs, files in os.walk(self.root, followlinks=False):
            for name in dirs + files:
                full = os.path.join(folder, name)
                info = os.lstat(full)
                if stat.S_ISREG(info.st_mode):
                    with open(full, "rb") as f:
                        content = f.read()
                    seen[full] = ("file", content, stat.S_IMODE(info.st_mode))
                elif stat.S_ISLNK(info.st_mode):
                    seen[full] = ("link", os.readlink(full))
                else:
                    seen[full] = ("dir", stat.S_IMODE(info.st_mode))
        return seen


@st.composite
def point_inputs(draw, scratch: Scratch):
    """A --points value, the files behind it, and the record count it must give if clean."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    kind = draw(st.sampled_from(["file"] * 6 + ["dir", "glob", "stdin", "missing", "empty",
                                                "two"]))
    fmt = draw(st.sampled_from(POINT_FORMATS))
    rows = draw(st.sampled_from([0, 1, 3, 7, 50]))
    how = draw(st.sampled_from(["clean"] * 4 + ["bytes", "truncate", "cr", "crlf-mix", "nul",
                                                "nesting", "quote"]))
    with_m = draw(st.booleans()) and fmt != "csv"
    inputs = scratch.path("in")
    os.makedirs(inputs, exist_ok=True)
    name = os.path.join(inputs, f"p{rng.randrange(10**6)}.{fmt}")
    write_points(name, fmt, point_table(rng, rows), with_m)
    if how != "clean":
        with open(name, "rb") as f:
            data = f.read()
        with open(name, "wb") as f:
            f.write(corrupt(data, how, rng))
    expected = rows if how == "clean" else None
    stdin = None
    if kind == "dir":
        value = inputs
        expected = None  # the folder may hold earlier examples' files
    elif kind == "glob":
        value = os.path.join(inputs, f"*.{fmt}")
        expected = None
    elif kind == "stdin":
        value = "-"
        with open(name, "rb") as f:
            stdin = f.read()
    elif kind == "missing":
        value, expected = scratch.path("nothere.csv"), None
    elif kind == "empty":
        open(name, "wb").close()
        value, expected = name, None
    elif kind == "two":
        value = [name, name]
        expected = None if expected is None else 2 * expected
    else:
        value = name
    values = value if isinstance(value, list) else [value]
    extra = ["--points-format", fmt] if kind == "stdin" and draw(st.integers(0, 5)) else []
    return values, extra, stdin, expected, with_m


OUT_KINDS = ["new", "new", "new", "existing", "symlink", "dangling", "devnull", "devfull",
             "nodir", "readonly", "directory", "odd-extension"]


def out_target(draw, scratch: Scratch, flag: str, extensions: list[str]) -> str:
    kind = draw(st.sampled_from(OUT_KINDS))
    extension = draw(st.sampled_from(extensions))
    out = scratch.path("out")
    os.makedirs(out, exist_ok=True)
    base = os.path.join(out, f"{flag.strip('-')}{draw(st.integers(0, 9))}.{extension}")
    if kind == "existing":
        with open(base, "w") as f:
            f.write("old content\n")
    elif kind == "symlink":
        target = os.path.join(out, f"target{draw(st.integers(0, 9))}.{extension}")
        with contextlib.suppress(FileExistsError):
            os.symlink(target, base + ".link")
        return base + ".link"
    elif kind == "dangling":
        with contextlib.suppress(FileExistsError):
            os.symlink(os.path.join(out, "gone", "x"), base + ".dangling")
        return base + ".dangling"
    elif kind == "devnull":
        return "/dev/null"
    elif kind == "devfull":
        return "/dev/full"
    elif kind == "nodir":
        return os.path.join(out, "no", "such", f"o.{extension}")
    elif kind == "readonly":
        folder = os.path.join(out, "ro")
        os.makedirs(folder, exist_ok=True)
        os.chmod(folder, 0o555)
        return os.path.join(folder, f"o.{extension}")
    elif kind == "directory":
        return out
    elif kind == "odd-extension":
        return base.rsplit(".", 1)[0] + ".xyz"
    return base


def option_value(draw, option: Option, good: bool) -> str | None:
    """A value for an option, by its spec row: kind, choices, check."""
    if option.kind == "flag":
        return None
    pool: list[str] = [str(c) for c in option.choices or ()]
    if good:
        pool += GOOD_VALUES.get(option.flag, [])
    if not pool or not good:
        pool += NUMBER_VALUES.get(option.kind, TEXT_VALUES)
        if option.kind == "list":
            pool += [*BINDINGS, "x=0:1", "x=1:0", "y=-2:2", "x=a:b"]
    return draw(st.sampled_from(pool))


@st.composite
def mutated(draw, seeds):
    text = draw(st.sampled_from(seeds))
    for _ in range(max(0, draw(st.integers(-6, 6)))):  # no change about half the time
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


class Case:
    """One fuzzed command line and what its checks need to know."""

    def __init__(self) -> None:
        self.argv: list[str] = []
        self.stdin: bytes | None = None
        self.targets: set[str] = set()  # paths the run may write
        self.expected_records: int | None = None


@st.composite
def command_lines(draw, scratch: Scratch, allow_cluster: bool = False):
    case = Case()
    names = [c.name for c in COMMANDS if c.name not in ("batch", "repl")]
    name = draw(st.sampled_from(names))
    command = next(c for c in COMMANDS if c.name == name)
    options = spec_options(command)
    argv = [command.name]
    if any(a.field == "expression" for a in command.arguments):
        expression = draw(mutated(EXPRESSIONS))
        if expression.startswith(("-", "@")):
            expression = " " + expression
        argv.append(expression)
    uses_points = "--points" in options and draw(st.integers(0, 2)) != 2
    if any(a.repeat for a in command.arguments) and (not uses_points or
                                                      draw(st.integers(0, 9)) == 9):
        if draw(st.integers(0, 5)) != 5:
            argv += [b for b in GOOD_BINDINGS if b[0] in argv[-1] and
                     (command.name != "plot" or b[0] != "x")]
        if draw(st.integers(0, 3)) == 3:
            argv += draw(st.lists(mutated(BINDINGS), min_size=1, max_size=2))
    if uses_points:
        values, extra, case.stdin, case.expected_records, with_m = draw(point_inputs(scratch))
        for value in values:
            argv += ["--points", value]
        argv += extra
        if "m" in argv[1] and not with_m:
            case.expected_records = None  # m is unbound: exit 2
    plain = [flag for flag, option in options.items() if not reads_file(option)]
    for flag in draw(st.lists(st.sampled_from([*plain, "--bogus", "--fromat"]), max_size=4)):
        option = options.get(flag)
        if option is None:
            argv.append(flag)
            continue
        if writes_file(option):
            extensions = ["csv", "jsonl", "parquet", "arrow", "npz", "json", "svg", "png",
                          "txt"]
            value = out_target(draw, scratch, flag, extensions)
            case.targets.add(value)
        elif option.flag == "--scheduler":
            value = "local:1" if allow_cluster else draw(st.sampled_from(
                ["local:0", "local:abc", "", "bogus", "tcp://127.0.0.1:1"]))
            if value == "tcp://127.0.0.1:1":
                value = "local:-1"  # an unreachable one costs a 10 s timeout
        else:
            value = option_value(draw, option, good=draw(st.integers(0, 5)) != 5)
        if value is None:
            argv.append(flag)
        elif draw(st.booleans()):
            argv += [flag, value]
        else:
            argv.append(f"{flag}={value}")
    if command.name == "plot" and draw(st.integers(0, 5)) != 5:
        argv += ["--over", draw(st.sampled_from(["x=0:1", "x=-2:2", "y=0:1"]))]
    if "--format" in options and draw(st.booleans()):
        argv += ["--format", draw(st.sampled_from(["json", "jsonl", "csv"]))]
    case.argv = argv
    return case


# -- what every run must keep -------------------------------------------------------------
def asks_for_json(argv: list[str]) -> bool:
    format = None
    for k, arg in enumerate(argv):
        if arg == "--format" and k + 1 < len(argv):
            format = argv[k + 1]
        elif arg.startswith("--format="):
            format = arg.partition("=")[2]
    return format in JSON_FORMATS


def strict_json(text: str):
    def reject(token):
        raise ValueError(f"non-standard JSON constant {token}")

    return json.loads(text, parse_constant=reject)


SUMMARY = re.compile(r"rows read: (\d+), computed: (\d+), failed: (\d+)")


def json_lines(out: str) -> list[str]:
    """JSON lines end at "\n" only: str.splitlines would also split at U+0085 and other
    separators that JSON keeps inside its strings."""
    return out.split("\n")[:-1] if out.endswith("\n") else out.split("\n") if out else []


def check_contract(case: Case, code: int, out: str, err: str) -> None:
    argv = case.argv
    assert code in DOCUMENTED, (argv, code, err[-2000:])
    assert "Traceback" not in err and "Traceback" not in out, (argv, err[-3000:])
    assert "this is a bug" not in err, (argv, err[-2000:])
    if asks_for_json(argv) and "--out" not in " ".join(argv):
        lines = json_lines(out)
        objects = [strict_json(line) for line in lines]
        assert all(isinstance(o, dict) for o in objects), argv
        if code == 2:
            assert len(objects) == 1 and set(objects[0]) == {"error"}, (argv, out[:500])
    summary = SUMMARY.search(err)
    if summary:
        read, computed, failed = map(int, summary.groups())
        assert read == computed + failed, (argv, err)
        if case.expected_records is not None and code in (0, 1) and \
                "--fail-fast" not in argv and "stopped early" not in err:
            assert read == case.expected_records, (argv, err)
    if case.expected_records is not None and code in (0, 1) and "--out" not in argv and \
            "--fail-fast" not in argv and not any(a.startswith("--out=") for a in argv):
        fmt = next((argv[k + 1] for k, a in enumerate(argv[:-1]) if a == "--format"), "csv")
        if fmt == "csv" and argv[0] != "plot":
            records = out.count("\n") - 1 if out else 0
            assert records >= case.expected_records, (argv, records, err[-500:])
        elif fmt in JSON_FORMATS and argv[0] != "plot":
            assert len(out.splitlines()) == case.expected_records, (argv, err[-500:])


def check_untouched(case: Case, before: dict, after: dict) -> None:
    allowed = set()
    for target in case.targets:
        allowed.add(target)
        if os.path.islink(target):
            allowed.add(os.path.realpath(target))
        if target.endswith(os.sep + "out"):  # a folder (--scheduler's parts)
            allowed.update(p for p in after if p.startswith(target + os.sep))
    for path, print_ in before.items():
        if path in allowed or print_[0] == "dir":
            continue
        assert after.get(path) == print_, (case.argv, "changed", path)
    for path in set(after) - set(before):
        if path in allowed or any(path.startswith(a + os.sep) for a in allowed
                                  if os.path.isdir(a)):
            continue
        assert path in allowed, (case.argv, "new", path, sorted(case.targets))


def run_in_process(case: Case) -> tuple[int, str, str]:
    out_bytes = io.BytesIO()
    out = io.TextIOWrapper(out_bytes, encoding="utf-8", write_through=True)
    err = io.StringIO()
    # standard input as a real file (it has a file descriptor), outside the scratch folder
    with tempfile.TemporaryFile() as raw:
        raw.write(case.stdin or b"")
        raw.seek(0)
        saved = sys.stdin
        sys.stdin = io.TextIOWrapper(raw, encoding="utf-8")
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = _run(case.argv)
            out.flush()
        finally:
            sys.stdin.detach()
            sys.stdin = saved
    return code, out_bytes.getvalue().decode("utf-8", "replace"), err.getvalue()


@pytest.fixture(scope="module")
def scratch():
    """A folder of its own to run in: nothing a fuzzed run does lands in the project."""
    folder = tempfile.mkdtemp(prefix="gradcli-fuzz-")
    before = os.getcwd()
    os.chdir(folder)
    yield Scratch(folder)
    os.chdir(before)
    for path, dirs, _ in os.walk(folder):  # read-only folders the runs made
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(path, name), 0o755)
    shutil.rmtree(folder, ignore_errors=True)


def _fresh(scratch: Scratch) -> None:
    """Each example starts from an empty folder, so 'nothing else touched' is exact."""
    for path, dirs, _ in os.walk(scratch.root):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(path, name), 0o755)
    for name in os.listdir(scratch.root):
        full = scratch.path(name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full, ignore_errors=True)
        else:
            os.unlink(full)


def _repeat(test, budget_seconds: float, examples: int) -> None:
    """Run a Hypothesis test once as CI does, or again and again with new seeds until
    GRADCLI_FUZZ_SECONDS have passed."""
    test = settings(FUZZ, max_examples=examples)(test)
    if budget_seconds <= 0:
        test()
        return
    deadline = time.monotonic() + budget_seconds
    k = 0
    while time.monotonic() < deadline:
        seed(random.randrange(2**32) + k)(test)()
        k += 1


def _report(name: str) -> None:
    line = f"{name}: {TRIED['command lines']} command lines tried"
    print(line)
    report = os.environ.get("GRADCLI_FUZZ_REPORT")
    if report:
        with open(report, "a") as f:
            f.write(line + "\n")


FUZZ = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))


def test_fuzzed_command_lines_from_the_spec_keep_the_contract(scratch):
    TRIED["command lines"] = 0

    @given(st.data())
    def one(data):
        _fresh(scratch)
        case = data.draw(command_lines(scratch))
        before = scratch.fingerprint()
        code, out, err = run_in_process(case)
        TRIED["command lines"] += 1
        check_contract(case, code, out, err)
        check_untouched(case, before, scratch.fingerprint())

    _repeat(one, FUZZ_SECONDS * 0.6, examples=150)
    _report("in-process")


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


def job_fields() -> list[str]:
    """Every field a job may have, from the spec's rows, and one it may not."""
    from gradcli.cli.jobs import job_fields as fields

    return [*sorted({f for c in COMMANDS if c.job for f in fields(c)}), "bogus"]


@st.composite
def job_lines(draw):
    kind = draw(st.sampled_from(["good", "field", "bytes", "random", "blank"]))
    job = dict(draw(st.sampled_from(GOOD_JOBS)))
    if kind == "good":
        return json.dumps(job).encode()
    if kind == "blank":
        return draw(st.sampled_from([b"", b" ", b"\t", b"\r"]))
    if kind == "field":
        job[draw(st.sampled_from(job_fields()))] = draw(JSON_VALUES)
        return json.dumps(job).encode()
    if kind == "bytes":
        data = bytearray(json.dumps(job).encode())
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.sampled_from(b'{}[]",:\\ \xff\xc3\x00nNI0-e\r'))
        return bytes(data)
    return draw(st.binary(max_size=30)).replace(b"\n", b" ")


def test_fuzzed_job_files_give_one_json_line_per_job_line(scratch):
    @given(st.lists(job_lines(), min_size=1, max_size=6), st.booleans(), st.booleans())
    def one(lines, bom, final_newline):
        _fresh(scratch)
        content = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines) + (
            b"\n" if final_newline else b"")
        with open("jobs.jsonl", "wb") as f:
            f.write(content)
        case = Case()
        case.argv = ["batch", "jobs.jsonl"]
        code, out, err = run_in_process(case)
        TRIED["command lines"] += 1
        check_contract(case, code, out, err)
        assert code in {0, 1}, err
        records = [strict_json(line) for line in json_lines(out)]
        physical = content.removeprefix(b"\xef\xbb\xbf").split(b"\n")
        # a line holds a job unless it is blank; a lone \r inside a line is part of it
        expected = sum(1 for line in physical if line.strip(b" \t\r"))
        assert len(records) == expected
        for record in records:
            if "error" in record:
                assert set(record["error"]) == {"kind", "message", "span", "hint", "line"}

    _repeat(one, FUZZ_SECONDS * 0.1, examples=40)


# -- real processes: signals at random moments, pipes and devices as stdout ------------------
def _entry() -> str:
    entry = shutil.which("gradcli", path=os.path.dirname(sys.executable))
    assert entry is not None
    return entry


SIGNALS = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}


@pytest.mark.slow
def test_fuzzed_processes_under_signals_pipes_and_devices(scratch):
    @given(st.data(), st.sampled_from(["pipe", "pipe", "devnull", "devfull", "closed-reader"]),
           st.one_of(st.none(), st.none(), st.tuples(st.sampled_from(sorted(SIGNALS)),
                                                     st.floats(0.0, 1.2))),
           st.integers(0, 39))
    def one(data, stdout_kind, signal_at, cluster):
        _fresh(scratch)
        case = data.draw(command_lines(scratch, allow_cluster=cluster == 0))
        # a real command line cannot hold a NUL byte (the in-process fuzzer covers those)
        assume(not any("\x00" in arg for arg in case.argv))
        before = scratch.fingerprint()
        with _stdout_for(stdout_kind) as stdout:
            child = subprocess.Popen(
                [_entry(), *case.argv], stdin=subprocess.PIPE, stdout=stdout,
                stderr=subprocess.PIPE, preexec_fn=signals_as_on_a_terminal)
            try:
                if case.stdin is not None:
                    with contextlib.suppress(BrokenPipeError):
                        child.stdin.write(case.stdin)
                child.stdin.close()
                if signal_at is not None:
                    wait_until_gradcli_runs(child)
                    time.sleep(signal_at[1])
                    with contextlib.suppress(ProcessLookupError):
                        child.send_signal(getattr(signal, signal_at[0]))
                err = child.stderr.read().decode("utf-8", "replace")
                child.wait(timeout=120)
            finally:
                child.kill()
                child.wait()
        TRIED["command lines"] += 1
        code = child.returncode
        assert code >= 0, (case.argv, "killed by a signal", code, err[-500:])
        assert code in DOCUMENTED, (case.argv, code, err[-2000:])
        assert "Traceback" not in err and "this is a bug" not in err, (case.argv, err[-3000:])
        if signal_at is not None and code == SIGNALS[signal_at[0]]:
            assert err.rstrip("\n").endswith(f"gradcli: interrupted ({signal_at[0]})"), \
                (case.argv, err[-500:])
        if stdout_kind == "devfull" and code == 74:
            assert "No space left on device" in err
        check_untouched(case, before, scratch.fingerprint())

    TRIED["command lines"] = 0
    _repeat(one, FUZZ_SECONDS * 0.3, examples=8)
    _report("processes")


@contextlib.contextmanager
def _stdout_for(kind: str):
    if kind == "devnull":
        with open(os.devnull, "wb") as f:
            yield f
    elif kind == "devfull":
        with open("/dev/full", "wb") as f:
            yield f
    elif kind == "closed-reader":
        read, write = os.pipe()
        os.close(read)  # the reader went away before the first byte (| head -0)
        try:
            yield write
        finally:
            os.close(write)
    else:
        read, write = os.pipe()
        drain = subprocess.Popen(["cat"], stdin=read, stdout=subprocess.DEVNULL)
        os.close(read)
        try:
            yield write
        finally:
            os.close(write)
            drain.wait(timeout=60)
