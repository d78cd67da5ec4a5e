"""Point files on Arrow: every format in and out, exact numbers, bad rows in place,
unusable inputs and outputs, many inputs, URLs, and units for distributed work."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcli import compute
from gradcli.batch.run import BatchJob, run_unit
from gradcli.cli import _run
from gradcli.cli.render import record_columns
from gradcli.pointfiles.units import Unit
from tests.terminal import signals_as_on_a_terminal
from tests.test_batch import rows_of, run

W1 = "[cos(a) + 0.5*cos(a+b), sin(a) + 0.5*sin(a+b)]"
VECTOR = "sum(m*m) * x + sin(m[1])"
FORMATS = ["csv", "jsonl", "parquet", "arrow", "npz"]


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-c", "from gradcli.cli import main; main()",
                           *map(str, args)], capture_output=True, text=True, **kwargs)


# -- writing points in every format, reading records back from every format ------------------
def write_points(path: Path, points: dict[str, np.ndarray], fmt: str, vectors: str = "list"):
    """Points as `fmt`; vectors as element columns ("elements") or list columns / arrays."""
    n = len(next(iter(points.values())))
    flat: dict[str, np.ndarray] = {}
    for name, values in points.items():
        if values.ndim == 1 or (vectors == "list" and fmt in ("jsonl", "parquet", "arrow",
                                                             "npz")):
            flat[name] = values
        else:
            for k in range(values.shape[1]):
                flat[f"{name}[{k}]"] = values[:, k]
    if fmt == "csv":
        with path.open("w") as f:
            f.write(",".join(flat) + "\n")
            for i in range(n):
                f.write(",".join(repr(float(v[i])) for v in flat.values()) + "\n")
    elif fmt == "jsonl":
        with path.open("w") as f:
            for i in range(n):
                f.write(json.dumps({k: v[i].tolist() for k, v in flat.items()}) + "\n")
    elif fmt == "npz":
        np.savez(path, **flat)
    else:
        table = pa.table({k: pa.array(list(v)) if v.ndim > 1 else pa.array(v)
                          for k, v in flat.items()})
        if fmt == "parquet":
            pq.write_table(table, path, row_group_size=max(1, n // 3))
        else:
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
                w.write_table(table)


def read_records(path: Path, fmt: str) -> tuple[list[str], dict[str, list]]:
    """Column names and columns of a records file (None for an empty cell)."""
    if fmt == "csv":
        with path.open(newline="") as f:
            reader = csv.reader(f)
            names = next(reader)
            rows = list(reader)
        columns = {}
        for k, name in enumerate(names):
            cells = [r[k] for r in rows]
            if name == "error":
                columns[name] = [c or None for c in cells]
            else:
                columns[name] = [None if c == "" else (int(c) if name in ("line", "file")
                                                        else float(c)) for c in cells]
        return names, columns
    if fmt == "jsonl":
        records = [json.loads(line) for line in path.read_text().splitlines()]
        names = list(dict.fromkeys(k for r in records for k in r))
        return names, {n: [r.get(n) for r in records] for n in names}
    if fmt == "npz":
        with np.load(path, allow_pickle=False) as arrays:
            names = [n for n in arrays.files if n != "error_record"]
            columns = {n: arrays[n].tolist() for n in names if n != "error"}
            errors = [None] * len(columns["line"])
            for k, message in zip(arrays["error_record"].tolist(), arrays["error"].tolist(),
                                  strict=True):
                errors[k] = message
            columns["error"] = errors
        return names, columns
    table = pq.read_table(path) if fmt == "parquet" else \
        pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    return table.schema.names, {n: table.column(n).to_pylist() for n in table.schema.names}


def single_point(command: str, text: str, point: dict[str, np.ndarray]) -> dict[str, float]:
    call = {"eval": compute.evaluate, "grad": compute.gradient, "hessian": compute.hessian,
            "jacobian": compute.jacobian}[command]
    return dict(record_columns(call(text, point)))


def same_bits(a: float, b: float) -> bool:
    return np.float64(a).tobytes() == np.float64(b).tobytes()


@pytest.fixture(scope="module")
def vector_points():
    rng = np.random.default_rng(5)
    return {"x": rng.uniform(-2, 2, 7), "m": rng.uniform(-1, 1, (7, 2))}


@pytest.mark.parametrize("fmt_in", FORMATS)
@pytest.mark.parametrize("fmt_out", FORMATS)
def test_every_format_in_and_out_bit_identical_to_single_points(capsys, tmp_path, fmt_in,
                                                                 fmt_out, vector_points):
    source = tmp_path / f"p.{fmt_in}"
    write_points(source, vector_points, fmt_in, vectors="elements" if fmt_in == "csv"
                 else "list")
    out = tmp_path / f"r.{fmt_out}"
    code, _, err = run(capsys, "grad", VECTOR, "--points", source, "--out", out)
    assert code == 0, err
    names, columns = read_records(out, fmt_out)
    for k in range(7):
        single = single_point("grad", VECTOR, {n: v[k] for n, v in vector_points.items()})
        if fmt_out != "jsonl":  # JSON lines leave out the empty error key
            assert names == ["line", *single, "error"]
        for name, value in single.items():
            assert same_bits(columns[name][k], value), (name, k)
    assert columns["error"] == [None] * 7 if fmt_out != "jsonl" else "error" not in columns


@pytest.mark.parametrize("fmt_out", FORMATS)
def test_vectors_as_element_columns_in_columnar_files(capsys, tmp_path, fmt_out,
                                                      vector_points):
    source = tmp_path / "p.parquet"
    write_points(source, vector_points, "parquet", vectors="elements")
    out = tmp_path / f"r.{fmt_out}"
    code, _, _ = run(capsys, "jacobian", "[m[0]*x, m[1]]", "--points", source, "--out", out)
    _, columns = read_records(out, fmt_out)
    single = single_point("jacobian", "[m[0]*x, m[1]]",
                          {n: v[3] for n, v in vector_points.items()})
    assert code == 0 and all(same_bits(columns[n][3], v) for n, v in single.items())


@pytest.mark.parametrize("fmt_out", FORMATS)
@pytest.mark.parametrize("content", ["a,b\n", "a,b\nx,1\n,2\n"])
def test_schema_is_the_same_when_no_row_computes(capsys, tmp_path, fmt_out, content):
    good = tmp_path / "good.csv"
    good.write_text("a,b\n0.1,0.2\n")
    code, _, _ = run(capsys, "jacobian", W1, "--points", good, "--out", tmp_path / f"g.{fmt_out}")
    expected, _ = read_records(tmp_path / f"g.{fmt_out}", fmt_out)
    source = tmp_path / "p.csv"
    source.write_text(content)
    out = tmp_path / f"r.{fmt_out}"
    code, _, _ = run(capsys, "jacobian", W1, "--points", source, "--out", out)
    names, columns = read_records(out, fmt_out)
    if fmt_out == "jsonl":  # JSON lines carry what each record has: bad ones line and error
        assert all(set(n) <= set(expected) | {"error"} for n in [names])
    else:
        assert names == expected
    assert code == (0 if content == "a,b\n" else 1)
    assert len(columns.get("line", [])) == content.count("\n") - 1


# -- CSV read with a real parser --------------------------------------------------------------
def test_csv_with_a_bom_and_crlf(capsys, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfx,y\r\n1.5,2\r\n3,4\r\n")
    code, out, _ = run(capsys, "eval", "x*y", "--points", path)
    rows = rows_of(out)
    assert code == 0 and [r["value"] for r in rows] == ["3.0", "12.0"]
    assert [r["line"] for r in rows] == ["2", "3"]


def test_quoted_newlines_keep_true_line_numbers(capsys, tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text('x,note\n1,"two\nlines"\n2,plain\nbad,"three\nmore\nlines"\n4,x\n')
    code, out, _ = run(capsys, "eval", "x*10", "--points", path)
    rows = rows_of(out)
    assert [r["line"] for r in rows] == ["2", "4", "5", "8"]
    assert [r["value"] for r in rows] == ["10.0", "20.0", "", "40.0"]
    assert rows[2]["error"].startswith("line 5:") and code == 1


def test_hash_is_data_not_a_comment(capsys, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("a,b\n4#5,1\n#2,3\n2,2\n")
    code, out, err = run(capsys, "eval", "a*b", "--points", path)
    rows = rows_of(out)
    assert code == 1 and "Traceback" not in err
    assert "'4#5'" in rows[0]["error"] and rows[0]["value"] == ""
    assert "'#2'" in rows[1]["error"] and rows[2]["value"] == "4.0"


def test_invalid_utf8_is_a_bad_row_with_its_line(capsys, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"a\n1\n\xff\xfe\n3\n")
    code, out, _ = run(capsys, "eval", "a+1", "--points", path)
    rows = rows_of(out)
    assert code == 1 and [r["value"] for r in rows] == ["2.0", "", "4.0"]
    assert rows[1]["error"].startswith("line 3:") and "UTF-8" in rows[1]["error"]


@pytest.mark.parametrize("header,words", [("a,b,a", "appears twice"), ("a,,b", "empty name")])
def test_duplicate_or_empty_header_names_exit_2(capsys, tmp_path, header, words):
    path = tmp_path / "p.csv"
    path.write_text(header + "\n1,2,3\n")
    code, out, err = run(capsys, "eval", "a+b", "--points", path)
    assert code == 2 and words in err and out == ""


def test_a_bad_cell_in_a_later_chunk_does_not_end_the_stream(capsys, tmp_path):
    path = tmp_path / "p.csv"
    lines = [str(k) for k in range(1000)]
    lines[777] = "oops"
    path.write_text("x\n" + "\n".join(lines) + "\n")
    code, out, err = run(capsys, "eval", "x", "--points", path, "--chunk-size", "100")
    rows = rows_of(out)
    assert len(rows) == 1000 and rows[777]["line"] == "779" and "'oops'" in rows[777]["error"]
    assert rows[999]["value"] == "999.0" and "computed: 999, failed: 1" in err


# -- JSON lines: only JSON numbers are numbers -------------------------------------------------
def test_jsonl_types_and_a_bad_first_line(capsys, tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"x": "2.5"}\n{"x": null}\n{"x": true}\n{"x": 2}\n[1]\nnot json\n'
                    '{"y": 1}\n{"x": [1, 2]}\n{"x": 4}\n')
    code, out, _ = run(capsys, "eval", "x*2", "--points", path, "--format", "jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["line"] for r in records] == list(range(1, 10))
    assert [r.get("value") for r in records] == [None, None, None, 4.0, None, None, None,
                                                 None, 8.0]
    assert '"2.5"' in records[0]["error"] and "null" in records[1]["error"]
    assert "true" in records[2]["error"] and "not a JSON object" in records[4]["error"]
    assert "no value for x" in records[6]["error"] and "shape" in records[7]["error"]
    assert code == 1


@pytest.mark.parametrize(("bad", "reason"), [
    (b'{"x": "2.5", "m": [1, 2]}', '"2.5"'), (b'{"x": true, "m": [1, 2]}', "true"),
    (b'{"x": null, "m": [1, 2]}', "null"), (b'{"x": 1, "m": [1, "2"]}', '"2"'),
    (b'{"x": 1, "m": [true, 2]}', "true"), (b'{"x": 1}', "no value for m"),
    (b'{"x": 1, "m": [1, 2, 3]}', "shape"), (b'{"x": 1, "m": [1, 2]}{"x": 2, "m": [1, 2]}',
                                             "not JSON"),
    (b'{"x": 1, "m": [1, 2], "note": "\xff"}', "UTF-8"), (b'{"x": 1, "x": "a", "m": [1, 2]}',
                                                          '"a"')])
def test_jsonl_bad_line_in_a_block_of_numbers(capsys, tmp_path, bad, reason):
    """Blocks of plain numbers are parsed at once; one bad line in the middle of such a
    block is found in place, and every other record keeps its exact value."""
    rng = np.random.default_rng(7)
    x, m = rng.standard_normal(501), rng.standard_normal((501, 2))
    lines = [json.dumps({"x": float(x[i]), "m": [float(v) for v in m[i]], "id": "a"}).encode()
             for i in range(501)]
    lines[250] = bad
    path = tmp_path / "p.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    code, out, _ = run(capsys, "eval", "x + m[1]", "--points", path, "--format", "jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["line"] for r in records] == list(range(1, 502)) and code == 1
    assert "value" not in records[250] and reason in records[250]["error"]
    assert records[250]["error"].startswith("line 251: ")
    expected = x + m[:, 1]
    assert all(records[i]["value"] == expected[i] and "error" not in records[i]
               for i in range(501) if i != 250)


def test_jsonl_blocks_of_numbers_are_exact(capsys, tmp_path):
    """Numbers Python's json reads one way (big integers, long decimals, exponents, nested
    arrays) come out bit for bit as json.loads gives them."""
    texts = ['{"x": 12345678901234567891, "m": [[1e-310, -0.0], [2.5E+3, 1]]}',
             '{"m": [[0.1, 0.2], [0.30000000000000004, 7]], "x": -1.7976931348623157e308}',
             '{"x": 3, "m": [[4, 5], [6, 7]]}'] * 40
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(texts) + "\n")
    code, out, _ = run(capsys, "eval", "[x, m[0][0], m[0][1], m[1][0]]", "--points", path,
                       "--format", "jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    for text, record in zip(texts, records, strict=True):
        given = json.loads(text)
        expected = [float(given["x"]), *map(float, given["m"][0]), float(given["m"][1][0])]
        got = [record[f"value[{k}]"] for k in range(4)]
        assert np.array(got).tobytes() == np.array(expected).tobytes()
    assert code == 0


# -- NPZ ---------------------------------------------------------------------------------------
def test_npz_is_streamed_member_by_member(capsys, tmp_path):
    path = tmp_path / "p.npz"
    x = np.linspace(-1, 1, 1001)
    np.savez_compressed(path, x=x, m=np.stack([x, x * 2], axis=1))
    code, out, _ = run(capsys, "eval", "x + m[1]", "--points", path, "--chunk-size", "64")
    rows = rows_of(out)
    assert code == 0 and len(rows) == 1001
    assert all(same_bits(float(r["value"]), v) for r, v in zip(rows, x + x * 2, strict=True))


@pytest.mark.parametrize("case,words", [("0-d", "0-d"), ("truncated", "truncated"),
                                        ("npy", "not an NPZ"), ("object", "not numeric")])
def test_malformed_npz_exit_2(capsys, tmp_path, case, words):
    path = tmp_path / "p.npz"
    if case == "0-d":
        np.savez(path, x=np.array(2.0))
    elif case == "truncated":
        np.savez(path, x=np.arange(100.0))
        data = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("x.npy")
        # a member that says it holds fewer bytes than its header promises
        path.write_bytes(bytes(data))
        with zipfile.ZipFile(path, "w") as z:
            buffer = io.BytesIO()
            np.save(buffer, np.arange(100.0))
            z.writestr("x.npy", buffer.getvalue()[:info.file_size - 80])
    elif case == "npy":
        np.save(tmp_path / "p.npy", np.arange(3.0))
        os.replace(tmp_path / "p.npy", path)
    else:
        np.savez(path, x=np.array([{"a": 1}], dtype=object))
    code, out, err = run(capsys, "eval", "x+1", "--points", path)
    assert code == 2 and words in err and "Traceback" not in err and out == ""


def test_npz_error_column_is_sparse(capsys, tmp_path):
    path = tmp_path / "p.npz"
    x = np.linspace(0.5, 2.0, 200_000)
    x[[1, 3]] = [-1.0, 0.0]
    np.savez(path, x=x)
    out = tmp_path / "r.npz"
    code, _, _ = run(capsys, "eval", "log(x)", "--points", path, "--out", out, "--strict")
    with np.load(out, allow_pickle=False) as result:
        assert result["error_record"].tolist() == [1, 3]
        assert ["non-finite" in e for e in result["error"].tolist()] == [True, True]
        assert result["line"].tolist()[:5] == [1, 2, 3, 4, 5] and code == 1
    # two bad rows cost two messages: the file is the two numeric columns and a little more
    assert out.stat().st_size < 2 * 8 * len(x) + 4096


# -- Parquet and Arrow cells ----------------------------------------------------------------------
def test_columnar_nulls_and_ragged_lists_are_bad_rows(capsys, tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"x": pa.array([1.0, None, 3.0, 4.0]),
                             "m": pa.array([[1.0, 2.0], [1.0, 2.0], [1.0], [0.5, 0.5]])}),
                   path)
    code, out, _ = run(capsys, "eval", "x*sum(m)", "--points", path)
    rows = rows_of(out)
    assert [r["value"] for r in rows] == ["3.0", "", "", "4.0"]
    assert "null" in rows[1]["error"] and "shape" in rows[2]["error"] and code == 1


# -- unusable inputs: exit 2, one line, before computing -------------------------------------
def test_a_directory_without_point_files(capsys, tmp_path):
    (tmp_path / "d").mkdir()
    code, out, err = run(capsys, "eval", "x", "--points", tmp_path / "d")
    assert code == 2 and "directory" in err and out == ""


def test_no_permission_is_exit_2(capsys, tmp_path, monkeypatch):
    path = tmp_path / "p.csv"
    path.write_text("x\n1\n")
    real_access = os.access
    # as root every file is readable, so the refusal is simulated where it is asked
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(path)
                        else real_access(p, mode))
    code, out, err = run(capsys, "eval", "x", "--points", path)
    assert code == 2 and "permission denied" in err and out == ""


def test_a_fifo_is_read_as_a_stream(tmp_path):
    fifo = tmp_path / "points.csv"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "w") as f:
            f.write("x\n1\n2\n")
    threading.Thread(target=feed, daemon=True).start()
    done = cli("eval", "x*3", "--points", fifo, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [r["value"] for r in rows_of(done.stdout)] == ["3.0", "6.0"]


def test_stdin_needs_points_format(tmp_path):
    done = cli("eval", "x*3", "--points", "-", "--points-format", "jsonl",
               input='{"x": 1}\n{"x": 2}\n', timeout=60)
    assert done.returncode == 0 and [r["value"] for r in rows_of(done.stdout)] == ["3.0", "6.0"]
    done = cli("eval", "x*3", "--points", "-", input="x\n1\n", timeout=60)
    assert done.returncode == 2 and "--points-format" in done.stderr


def test_parquet_from_stdin(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0]}), path)
    done = cli("eval", "x*3", "--points", "-", "--points-format", "parquet",
               stdin=path.open("rb"), timeout=60)
    assert done.returncode == 0 and [r["value"] for r in rows_of(done.stdout)] == ["3.0", "6.0"]


# -- safe output ----------------------------------------------------------------------------------
def test_a_device_is_written_straight_through(capsys, tmp_path, joints):
    device = tmp_path / "null"
    try:  # a copy of /dev/null, as the issue reproduced it
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        device = Path("/dev/null")
    code, _, _ = run(capsys, "jacobian", W1, "--points", joints, "--out", device)
    assert code == 0 and stat.S_ISCHR(os.stat(device).st_mode)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_symlink_is_followed_and_a_mode_kept(capsys, tmp_path, joints):
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    target.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    code, _, _ = run(capsys, "jacobian", W1, "--points", joints, "--out", link)
    assert code == 0 and link.is_symlink() and os.readlink(link) == str(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_text().startswith("line,")


def test_a_missing_output_directory_fails_before_computing(capsys, tmp_path, joints):
    code, out, err = run(capsys, "jacobian", W1, "--points", joints, "--out",
                         tmp_path / "nowhere" / "J.csv")
    assert code == 2 and "does not exist" in err and "rows read" not in err


@pytest.fixture
def joints(tmp_path):
    path = tmp_path / "joints.csv"
    path.write_text("a,b\n0,0\n0.3,0.5\n1,2\n")
    return path


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
@pytest.mark.parametrize("fmt", ["csv", "npz"])
def test_signals_leave_no_temporary_files(tmp_path, signum, fmt):
    """The run cannot end before the signal comes: its points arrive on a pipe that this
    test keeps open, so once the first block is read gradcli waits for more input (no
    timing involved: a sleep that is long enough on a quiet machine is not on a busy one)."""
    from gradcli.pointfiles.read_text import BLOCK_BYTES

    rng = np.random.default_rng(1)
    text = io.StringIO()
    text.write("a,b\n")
    np.savetxt(text, rng.uniform(-1, 1, (BLOCK_BYTES // 18 + 10_000, 2)), delimiter=",",
               fmt="%.6f")
    data = text.getvalue().encode()
    assert len(data) > BLOCK_BYTES + (1 << 16)  # a whole first block, then a wait
    out = tmp_path / f"H.{fmt}"
    process = subprocess.Popen(
        [sys.executable, "-c", "from gradcli.cli import main; main()", "hessian",
         "sin(a)*cos(b) + a^2*b", "--points", "-", "--points-format", "csv",
         "--out", str(out), "--chunk-size", "4096", "--quiet"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=signals_as_on_a_terminal)
    assert process.stdin is not None
    feeder = threading.Thread(target=_feed, args=(process.stdin, data), daemon=True)
    feeder.start()
    deadline = time.time() + 120
    while time.time() < deadline:  # it writes its temporary file after its first chunk
        if any(p.name.startswith(".") for p in tmp_path.iterdir()):
            break
        time.sleep(0.02)
    assert process.poll() is None  # still running: the input is not finished
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    feeder.join(timeout=60)
    assert process.returncode == 128 + signum, err
    assert b"Traceback" not in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def _feed(stdin, data: bytes) -> None:
    """Write the points and keep the pipe open (communicate closes it after the signal)."""
    with contextlib.suppress(BrokenPipeError, ValueError, OSError):
        stdin.write(data)
        stdin.flush()


# -- many inputs --------------------------------------------------------------------------------
def test_a_directory_a_glob_and_several_files(capsys, tmp_path):
    folder = tmp_path / "poses"
    folder.mkdir()
    for k, values in enumerate(([1.0, 2.0], [3.0], [4.0, 5.0])):
        write_points(folder / f"p{2 - k}.parquet", {"x": np.array(values)}, "parquet")
    (folder / "_SUCCESS").write_text("{}")
    expected_files = ["0", "0", "1", "2", "2"]
    for spec in ([folder], [folder / "*.parquet"],
                 [folder / "p0.parquet", folder / "p1.parquet", folder / "p2.parquet"]):
        args = [a for s in spec for a in ("--points", s)]
        code, out, err = run(capsys, "eval", "x*2", *args)
        rows = rows_of(out)
        assert code == 0 and list(rows[0]) == ["file", "line", "value", "error"]
        assert [r["file"] for r in rows] == expected_files
        assert [r["value"] for r in rows] == ["8.0", "10.0", "6.0", "2.0", "4.0"]
        assert [r["line"] for r in rows] == ["1", "2", "1", "1", "2"]
        assert f"file 0: {folder / 'p0.parquet'}" in err and "rows read: 5" in err


def test_an_input_without_a_variable_stops_before_computing(capsys, tmp_path):
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.csv").write_text("y\n1\n")
    code, out, err = run(capsys, "eval", "x", "--points", tmp_path / "*.csv")
    assert code == 2 and "b.csv" in err and "no column" in err and out == ""


def test_a_glob_matching_nothing(capsys, tmp_path):
    code, _, err = run(capsys, "eval", "x", "--points", tmp_path / "*.csv")
    assert code == 2 and "matches" in err


# -- URLs -----------------------------------------------------------------------------------------
def test_memory_and_file_urls(capsys, tmp_path):
    import fsspec

    with fsspec.open("memory://gradcli-test/p.csv", "w") as f:
        f.write("x\n1\n2\n")
    code, out, _ = run(capsys, "eval", "x+1", "--points", "memory://gradcli-test/p.csv")
    assert code == 0 and [r["value"] for r in rows_of(out)] == ["2.0", "3.0"]
    write_points(tmp_path / "p.parquet", {"x": np.array([5.0])}, "parquet")
    code, out, _ = run(capsys, "eval", "x+1", "--points", f"file://{tmp_path}/p.parquet")
    assert code == 0 and rows_of(out)[0]["value"] == "6.0"


@pytest.fixture
def http_folder(tmp_path):
    """A folder served over HTTP on a free port of 127.0.0.1 by a thread, for one test."""
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    folder = tmp_path / "served"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_http_urls_read_like_the_local_file(capsys, http_folder, fmt):
    folder, base = http_folder
    rng = np.random.default_rng(3)
    write_points(folder / f"p.{fmt}", {"a": rng.standard_normal(300),
                                       "b": rng.standard_normal(300)}, fmt)
    local = run(capsys, "jacobian", W1, "--points", folder / f"p.{fmt}",
                "--format", "csv")
    remote = run(capsys, "jacobian", W1, "--points", f"{base}/p.{fmt}",
                 "--format", "csv")
    assert local[0] == remote[0] == 0
    assert remote[1] == local[1] and len(rows_of(remote[1])) == 300
    code, _, err = run(capsys, "eval", "a", "--points", f"{base}/missing.{fmt}")
    assert code == 2 and "missing" in err


def test_a_missing_extra_names_it(capsys):
    code, _, err = run(capsys, "eval", "x", "--points", "gs://bucket/points.csv")
    assert code == 2 and "gradcli[gcs]" in err


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3 on a free port of 127.0.0.1, for this module's tests."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_s3_through_moto(tmp_path, s3_server):
    import boto3

    env = {**os.environ, "AWS_ENDPOINT_URL": s3_server, "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    client = boto3.client("s3", endpoint_url=s3_server, aws_access_key_id="test",
                          aws_secret_access_key="test", region_name="us-east-1")
    client.create_bucket(Bucket="poses")
    for k in range(2):
        buffer = io.BytesIO()
        pq.write_table(pa.table({"x": [float(k), k + 0.5]}), buffer)
        client.put_object(Bucket="poses", Key=f"day/p{k}.parquet", Body=buffer.getvalue())
    done = cli("eval", "x*2", "--points", "s3://poses/day/*.parquet", env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [r["value"] for r in rows_of(done.stdout)] == ["0.0", "1.0", "2.0", "3.0"]


# -- units: what distributed work runs on each worker ----------------------------------------------
def test_units_of_a_csv_and_of_parquet_row_groups_give_the_whole_run(tmp_path):
    path = tmp_path / "p.csv"
    body = "".join(f"{k / 7!r},{k}\n" for k in range(50))
    path.write_text("a,b\n" + body.replace("0.0,0\n", "0.0,bad\n"))
    data = path.read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 1
    first_line = data[:cut].count(b"\n") + 1
    job = BatchJob("jacobian", W1)
    whole = run_unit(job, Unit(str(path), "csv"), str(tmp_path / "whole.parquet"), "parquet")
    header_end = data.index(b"\n") + 1
    one = run_unit(job, Unit(str(path), "csv", header_end, cut, 2), str(tmp_path / "1.parquet"),
                   "parquet")
    two = run_unit(job, Unit(str(path), "csv", cut, None, first_line),
                   str(tmp_path / "2.parquet"), "parquet")
    assert (whole.read, whole.failed) == (50, 1)
    assert one.read + two.read == 50 and one.failed + two.failed == 1
    joined = pa.concat_tables([pq.read_table(tmp_path / "1.parquet"),
                               pq.read_table(tmp_path / "2.parquet")])
    assert joined.equals(pq.read_table(tmp_path / "whole.parquet"))

    grouped = tmp_path / "g.parquet"
    pq.write_table(pa.table({"a": np.arange(30.0), "b": np.ones(30)}), grouped,
                   row_group_size=10)
    parts = [pq.read_table(p) for p in (tmp_path / "g1.parquet", tmp_path / "g2.parquet")
             if run_unit(job, Unit(str(grouped), "parquet",
                                   row_groups=(1,) if p.name == "g1.parquet" else (2,)),
                         str(p), "parquet", file_index=3).read == 10]
    assert parts[0].column("line").to_pylist() == list(range(11, 21))
    assert parts[1].column("file").to_pylist() == [3] * 10


def test_a_unit_with_no_good_row_keeps_the_given_columns(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("a,b\nx,y\n")
    names = ["value[0]", "value[1]", "jac[f[0],a]", "jac[f[0],b]", "jac[f[1],a]",
             "jac[f[1],b]"]
    counts = run_unit(BatchJob("jacobian", W1), Unit(str(path), "csv"),
                      str(tmp_path / "r.parquet"), "parquet", columns=names)
    assert (counts.read, counts.computed, counts.failed) == (1, 0, 1)
    assert pq.read_table(tmp_path / "r.parquet").schema.names == ["line", *names, "error"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(st.floats(allow_nan=False, width=64), min_size=1, max_size=300),
       st.sampled_from(["csv", "jsonl", "parquet"]))
def test_numbers_pass_through_exactly(tmp_path_factory, values, fmt):
    folder = tmp_path_factory.mktemp("exact")
    source = folder / "p.csv"
    source.write_text("x\n" + "".join(f"{v!r}\n" for v in values))
    out = folder / f"r.{fmt}"
    assert _run(["eval", "x", "--points", str(source), "--out", str(out), "--quiet"]) == 0
    _, columns = read_records(out, fmt)
    assert all(same_bits(a, b) for a, b in zip(columns["value"], values, strict=True))


def _parquet_with_a_corrupt_row_group(path):
    """Two row groups of 50 records; the second group's data pages garbled."""
    pq.write_table(pa.table({"x": np.arange(100.0)}), path, row_group_size=50,
                   compression="snappy", use_dictionary=False)
    column = pq.ParquetFile(path).metadata.row_group(1).column(0)
    start = column.data_page_offset
    data = bytearray(path.read_bytes())
    for k in range(start + 24, start + column.total_compressed_size - 8):
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))


def test_a_corrupt_parquet_row_group_is_bad_rows_in_place_and_the_rest_computed(tmp_path):
    points = tmp_path / "points.parquet"
    _parquet_with_a_corrupt_row_group(points)
    out = tmp_path / "out.csv"
    done = subprocess.run([sys.executable, "-c", "from gradcli.cli import main; main()",
                           "eval", "x+1", "--points", str(points), "--out", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "bug" not in done.stderr
    rows = list(csv.DictReader(out.open()))
    assert [int(r["line"]) for r in rows] == list(range(1, 101))
    assert [float(r["value"]) for r in rows[:50]] == [k + 1.0 for k in range(50)]
    assert all(r["value"] == "" and "row group 1" in r["error"] for r in rows[50:])
    assert "failed: 50" in done.stderr
