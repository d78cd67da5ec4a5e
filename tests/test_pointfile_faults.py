"""One rule per fault class, for point files and outputs (README, "Exit codes").

A bad input or an unusable path or URL is exit 2 before anything is computed; a failed
write (a full disk, a pipe whose reader left) is exit 74 with the operating system's
words and nothing partial left under --out's name; exit 70 is kept for real bugs. Each
test reproduces a finding of reliability sweep 3 first.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_batch import rows_of, run

GRADCLI = [sys.executable, "-c", "from gradcli.cli import main; main()"]
OUT_FORMATS = ["csv", "jsonl", "parquet", "arrow", "npz"]


def cli(*args, **kwargs):
    return subprocess.run([*GRADCLI, *map(str, args)], capture_output=True, text=True,
                          **kwargs)


@pytest.fixture
def points(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("x,y\n" + "".join(f"{k * 0.5},{k}\n" for k in range(3000)))
    return path


@contextlib.contextmanager
def full_folder(tmp_path: Path):
    """A 64 KiB tmpfs (a full disk after a few writes), or None where mounting is not
    allowed (then the tests use /dev/full)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    try:
        yield folder if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


# -- a failed write is exit 74, in the system's words, leaving nothing ------------------------
@pytest.mark.parametrize("fmt", OUT_FORMATS)
def test_a_full_device_is_exit_74_with_the_systems_words(points, fmt):
    done = cli("grad", "x*y", "--points", points, "--out", "/dev/full", "--format", fmt)
    assert done.returncode == 74, done.stderr
    assert "cannot write --out /dev/full: No space left on device" in done.stderr
    assert "Traceback" not in done.stderr and "bug" not in done.stderr


@pytest.mark.parametrize("fmt", OUT_FORMATS)
def test_a_full_disk_is_exit_74_and_leaves_the_old_file(tmp_path, points, fmt):
    with full_folder(tmp_path) as tiny:
        if tiny is None:  # no mounting here: the device stands for the disk
            done = cli("grad", "x*y", "--points", points, "--out", "/dev/full",
                       "--format", fmt)
            assert done.returncode == 74
            return
        old = tiny / f"pre.{fmt}"
        old.write_bytes(b"old")
        for target in (tiny / f"new.{fmt}", old):
            done = cli("grad", "x*y", "--points", points, "--out", target)
            assert done.returncode == 74, done.stderr
            assert f"cannot write --out {target}: No space left on device" in done.stderr
            assert sorted(p.name for p in tiny.iterdir()) == [old.name]
        assert old.read_bytes() == b"old"


def test_a_full_disk_under_batch_is_exit_74_and_leaves_nothing(tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps({"id": k, "command": "eval", "expression": "x*2",
                                        "at": {"x": k}}) + "\n" for k in range(2000)))
    with full_folder(tmp_path) as tiny:
        target = tiny / "b.jsonl" if tiny is not None else "/dev/full"
        done = cli("batch", jobs, "--out", target)
        assert done.returncode == 74, done.stderr
        assert "No space left on device" in done.stderr and "bug" not in done.stderr
        if tiny is not None:
            assert list(tiny.iterdir()) == []


@pytest.mark.parametrize("out", ["/dev/stdout", "/dev/fd/1"])
def test_out_into_a_pipe_is_written_through(points, out):
    done = cli("eval", "x", "--points", points, "--out", out, "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert len(rows_of(done.stdout)) == 3000


def test_out_into_a_process_substitution(points):
    done = subprocess.run(["bash", "-c", f"{' '.join(map(repr, GRADCLI))} eval x --points "
                                         f"{points} --out >(wc -l > {points}.count); wait"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "bug" not in done.stderr


def test_out_into_a_pipe_whose_reader_left_is_quiet_for_stdout(points):
    """--out /dev/stdout | head is standard output's own rule: the reader left, exit 0."""
    command = f"{' '.join(map(repr, GRADCLI))} eval x --points {points} --out /dev/stdout"
    for _ in range(5):  # the reader leaves at a different moment each time
        done = subprocess.run(["bash", "-c", f"set -o pipefail; {command} | head -c 10"],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "bug" not in done.stderr


def test_batch_out_into_a_pipe(tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"id": 1, "command": "eval", "expression": "2*x", "at": {"x": 1}}\n')
    done = cli("batch", jobs, "--out", "/dev/stdout")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["value"] == 2.0


# -- --fail-fast leaves nothing partial and says it stopped (D11) -------------------------------
def test_fail_fast_writes_no_cut_file_and_says_so(capsys, tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x\n1\n2\nzz\n4\n5\n")
    out = tmp_path / "ff.csv"
    code, _, err = run(capsys, "eval", "x", "--points", points, "--fail-fast", "--out", out)
    assert code == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [points]
    assert "--fail-fast stopped at the first bad row (line 4: x is 'zz'" in err
    assert f"--out {out} was not written" in err
    assert "stopped early" in err
    code, stdout, err = run(capsys, "eval", "x", "--points", points, "--fail-fast")
    assert code == 1 and [r["line"] for r in rows_of(stdout)] == ["2", "3", "4"]
    assert "stopped early" in err


# -- the output's format is said once (17, H4) ---------------------------------------------------
@pytest.mark.parametrize(("out", "given"), [("o1.csv", "npz"), ("o2.npz", "csv"),
                                            ("o3.parquet", "jsonl"), ("o4.csv", "json")])
def test_a_format_contradicting_the_extension_is_exit_2(capsys, tmp_path, points, out, given):
    code, _, err = run(capsys, "eval", "x", "--points", points, "--out", tmp_path / out,
                       "--format", given)
    assert code == 2 and "contradicts --out" in err
    assert not (tmp_path / out).exists()


def test_a_format_agreeing_with_the_extension(capsys, tmp_path, points):
    code, _, _ = run(capsys, "eval", "x", "--points", points, "--out", tmp_path / "o.jsonl",
                     "--format", "json")
    assert code == 0 and (tmp_path / "o.jsonl").exists()


def test_a_json_out_names_json_lines(capsys, tmp_path, points):
    code, _, err = run(capsys, "eval", "x", "--points", points, "--out",
                       tmp_path / "results.json")
    assert code == 2 and "JSON lines" in err and "results.jsonl" in err


def test_batch_out_named_for_another_format(capsys, tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"id": 1, "command": "eval", "expression": "1"}\n')
    code, _, err = run(capsys, "batch", jobs, "--out", tmp_path / "x.csv")
    assert code == 2 and "writes JSON lines" in err and not (tmp_path / "x.csv").exists()


# -- URLs that cannot be used are exit 2 (8) -----------------------------------------------------
@pytest.mark.parametrize("url", ["ftp://x/p.csv", "bogus://x/p.csv", "sftp://h/p.csv"])
def test_an_unread_url_scheme_is_exit_2(url):
    done = cli("eval", "x*y", "--points", url, "--format", "json")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert json.loads(done.stdout)["error"]["kind"] == "points"


def test_s3_without_credentials_is_exit_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true",
               HOME=str(tmp_path))
    done = cli("eval", "x*y", "--points", "s3://nobucket/p.parquet", env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "cannot read s3://nobucket/p.parquet" in done.stderr
    assert "credentials" in done.stderr.lower() and "bug" not in done.stderr


# -- line ends: CR, LF and CRLF each end a line, mixed or not (1) ------------------------------
@pytest.mark.parametrize("text", ["x,y\r1,2\r3,4\r", "x,y\r1,2\r3,4", "x,y\r1,2\r3,4\r\n5,6\n",
                                  "x,y\r\n1,2\r3,4\n5,6\r"])
def test_carriage_returns_alone_end_lines(capsys, tmp_path, text):
    """Sweep 3, finding 1: an old-Mac CSV read 0 rows and exited 0."""
    path = tmp_path / "cr.csv"
    path.write_bytes(text.encode())
    expected = [2.0, 12.0, 30.0][:text.count("\r") + text.count("\n") - text.count("\r\n")
                                   - 1 + (not text.endswith(("\r", "\n")))]
    code, out, err = run(capsys, "eval", "x*y", "--points", path)
    assert code == 0, err
    assert [float(r["value"]) for r in rows_of(out)] == expected
    assert [int(r["line"]) for r in rows_of(out)] == list(range(2, 2 + len(expected)))


def test_carriage_returns_in_a_stream_and_in_json_lines(tmp_path):
    done = cli("eval", "x*y", "--points", "-", "--points-format", "csv",
               input="x,y\r1,2\r3,4\r")
    assert done.returncode == 0 and [r["value"] for r in rows_of(done.stdout)] == ["2.0",
                                                                                    "12.0"]
    path = tmp_path / "cr.jsonl"
    path.write_bytes(b'{"x": 1}\r{"x": 2}\r')
    done = cli("eval", "x", "--points", path)
    assert done.returncode == 0 and [r["line"] for r in rows_of(done.stdout)] == ["1", "2"]


def test_carriage_returns_in_a_unit_of_distributed_work(tmp_path):
    from gradcli.batch.run import BatchJob, run_unit
    from gradcli.pointfiles.units import Unit

    path = tmp_path / "cr.csv"
    path.write_bytes(b"x,y\r1,2\r3,4\r")
    counts = run_unit(BatchJob("eval", "x*y"), Unit(str(path), "csv"),
                      str(tmp_path / "part.csv"), "csv")
    assert (counts.read, counts.computed) == (2, 2)


def test_a_crlf_split_across_blocks_is_one_line_end():
    import io

    from gradcli.pointfiles.read_text import LineEnds

    data = b"a\r\nb\rc\r\r\nd\r"
    for size in range(1, 6):
        stream, out = LineEnds(io.BytesIO(data)), b""
        while chunk := stream.read(size):
            out += chunk
        assert out == b"a\r\nb\nc\n\r\nd\n"


# -- an unterminated quote is named (22) ---------------------------------------------------------
def test_an_unterminated_quote_is_named_with_its_lines(capsys, tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('x,y\n5,6\n"1,2\n3,4\n')
    code, out, _ = run(capsys, "eval", "x+y", "--points", path)
    rows = rows_of(out)
    assert code == 1 and rows[0]["value"] == "11.0" and len(rows) == 2
    assert rows[1]["error"].startswith("line 3: a quote opened in this record is never "
                                       "closed") and "(line 4)" in rows[1]["error"]
    path.write_text('"x,y\n1,2\n')
    code, _, err = run(capsys, "eval", "x+y", "--points", path)
    assert code == 2 and "opens a quote that is never closed" in err


# -- a corrupt NPZ is exit 2 before anything is written (4) -------------------------------------
@pytest.mark.parametrize("save", ["savez", "savez_compressed"])
def test_a_corrupt_npz_member_writes_nothing_first(tmp_path, save):
    import numpy as np

    path = tmp_path / "big.npz"
    getattr(np, save)(path, x=np.arange(100000.0))
    data = bytearray(path.read_bytes())
    data[5000:5010] = bytes(10)
    path.write_bytes(bytes(data))
    done = cli("eval", "x", "--points", path)
    assert done.returncode == 2 and done.stdout == ""
    assert "(the file is corrupt)" in done.stderr
    out = tmp_path / "out.csv"  # renamed into place only when whole: checked at the end
    done = cli("eval", "x", "--points", path, "--out", out)
    assert done.returncode == 2 and "Bad CRC-32" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npz"]



# -- damaged columnar and NPZ files: exit 2, never a crash --------------------------------------
def test_arrow_list_offsets_outside_the_file_are_exit_2_not_a_crash(tmp_path):
    """Found by corrupting files of every format: pyarrow uses IPC buffers as they lie, so
    an offset pointing outside them killed the process (SIGSEGV)."""
    import numpy as np
    import pyarrow as pa

    path = tmp_path / "badoff.arrow"
    table = pa.table({"x": pa.array([1.0, 2.0]), "m": pa.array([[1.0, 2.0], [3.0, 4.0]])})
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    data = bytearray(path.read_bytes())
    offsets = np.array([0, 2, 4], dtype=np.int32).tobytes()
    at = data.find(offsets)
    assert at >= 0 and data.find(offsets, at + 1) < 0
    data[at:at + 12] = np.array([0, -100_000_000, 400_000_000], dtype=np.int32).tobytes()
    path.write_bytes(bytes(data))
    done = cli("eval", "x+sum(m)", "--points", path)
    assert done.returncode == 2, done.stderr
    assert "not a valid or complete Arrow IPC file" in done.stderr and "offset" in done.stderr


def test_an_npz_member_with_a_damaged_local_header_is_exit_2(tmp_path):
    import numpy as np

    path = tmp_path / "p.npz"
    np.savez(path, x=np.arange(10.0))
    data = bytearray(path.read_bytes())
    data[0:4] = b"XXXX"  # the first member's local header signature
    path.write_bytes(bytes(data))
    done = cli("eval", "x", "--points", path)
    assert done.returncode == 2, done.stderr
    assert "(the file is corrupt)" in done.stderr and "bug" not in done.stderr


def test_a_plot_image_that_cannot_be_written_is_exit_74(tmp_path):
    image = tmp_path / "full.png"
    image.symlink_to("/dev/full")  # an image name on a device that is always full
    done = cli("plot", "sin(x)", "--over", "x=0:1", "--out", image)
    assert done.returncode == 74, done.stderr
    assert f"cannot write --out {image}: No space left on device" in done.stderr


# -- a signal the instant a temporary name is made leaves nothing (the NPZ signal test's race)
@pytest.mark.parametrize(("fmt", "made"), [("csv", ".partial"), ("npz", ".partial"),
                                           ("npz", ".gradcli-")])
def test_a_signal_as_a_temporary_name_is_made_leaves_nothing(capsys, monkeypatch, tmp_path,
                                                             fmt, made):
    """Ctrl-C (or TERM/HUP, which raise the same exception) arriving just after the file or
    scratch folder exists, before the writer could note its name: the cleanup knows it."""
    source = tmp_path / "p.csv"
    source.write_text("x,y\n1,2\n3,4\n")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    real_open, real_mkdir = os.open, os.mkdir
    signalled = []

    def interrupted_after(real):
        def create(name, *args, **kwargs):
            result = real(name, *args, **kwargs)
            if made in os.path.basename(str(name)) and not signalled:
                signalled.append(name)
                raise KeyboardInterrupt
            return result
        return create

    monkeypatch.setattr(os, "open", interrupted_after(real_open))
    monkeypatch.setattr(os, "mkdir", interrupted_after(real_mkdir))
    code, _, err = run(capsys, "hessian", "x*y", "--points", source,
                       "--out", out_dir / f"H.{fmt}")
    monkeypatch.undo()
    assert signalled and code == 130, err
    assert list(out_dir.iterdir()) == []
