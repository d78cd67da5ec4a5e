"""Batch work on a Dask cluster: units, part files, the manifest, and faults.

The cluster tests share one LocalCluster (2 worker processes, 1 thread each),
started once per test session (under `pytest -n 2`, once per xdist worker that
runs any of them: xdist's `loadgroup` does not group tests under pytest 9).
Workers import this module to run the fault-injecting tasks below, so it has no
side effects at import time. Dask reads its configuration when it is
first imported, so the fixture sets the environment before importing it.
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gradcli.batch.cluster.parts import SUCCESS
from gradcli.batch.cluster.run import UnitFailedError
from gradcli.batch.cluster.units import DEFAULT_UNIT_BYTES, PlannedUnit
from gradcli.batch.cluster.units import plan_units as plan_sources
from gradcli.cli import _run
from gradcli.errors import GradcliError
from gradcli.pointfiles.sources import resolve
from tests.terminal import signals_as_on_a_terminal

ROOT = Path(__file__).resolve().parent.parent
EXPRESSION = "sin(x)*y + exp(x*y/4) - x^2"


# -- fixtures --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 on a free port of 127.0.0.1 for the session (no network)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def scheduler(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Iterator[str]:
    """The address of a LocalCluster shared by the session's cluster tests.

    Its workers inherit the environment: Dask's settings, and moto's S3 endpoint
    with test credentials, so they can write parts to `s3://` URLs."""
    os.environ.update({
        # a unit that kills one worker is retried once; a second death is KilledWorker
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
        "DASK_TEMPORARY_DIRECTORY": str(tmp_path_factory.mktemp("dask-workers")),
        "DASK_LOGGING__DISTRIBUTED": "critical",
        "AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
    })
    import logging

    import dask
    import distributed

    dask.config.refresh()
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.CRITICAL)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture
def own_cluster(scheduler: str) -> Iterator[tuple[str, object]]:
    """A cluster of its own, for a test that kills workers: the shared one is never left
    short of a worker, so no later test waits on a restart (under load a restarted worker
    can take over a minute to import numpy, pyarrow and gradcli). The shared cluster's
    fixture has set the environment the workers inherit."""
    import logging

    import distributed

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.CRITICAL)
    try:
        with distributed.Client(cluster) as c:
            yield cluster.scheduler_address, c
    finally:
        cluster.close()


@pytest.fixture
def client(scheduler: str) -> Iterator[object]:
    """A client of the shared cluster with both workers up (a fault test may have just
    killed one)."""
    import distributed

    with distributed.Client(scheduler) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


# -- inputs and references -------------------------------------------------------------
def write_csv(path: Path, rows: int, seed: int = 0, bad: tuple[int, ...] = ()) -> None:
    """x,y rows; row k in `bad` holds a cell that is not a number; a blank line early on."""
    values = np.random.default_rng(seed).normal(size=(rows, 2))
    lines = ["x,y"]
    for k, (x, y) in enumerate(values.tolist()):
        lines.append(f"oops,{y!r}" if k in bad else f"{x!r},{y!r}")
        if k == 3:
            lines.append("")
    path.write_text("\n".join(lines) + "\n")


def write_parquet(path: Path, rows: int, seed: int, row_group: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = np.random.default_rng(seed).normal(size=(rows, 2))
    pq.write_table(pa.table({"x": values[:, 0], "y": values[:, 1]}), path,
                   row_group_size=row_group)


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    """`gradcli grad EXPRESSION ARGS...` in this process: the exit code and stderr."""
    code = _run(["grad", EXPRESSION, *map(str, args)])
    return code, capsys.readouterr().err


def local_csv(tmp_path: Path, points: Path, name: str = "local.csv") -> list[str]:
    """The records of the ordinary (one-process) run, as CSV lines without the header."""
    out = tmp_path / name
    code = _run(["grad", EXPRESSION, "--points", str(points), "--out", str(out), "--quiet"])
    assert code in (0, 1)
    return out.read_text().splitlines()[1:]


def parts_csv(directory: Path) -> list[str]:
    """The records of a cluster run's CSV parts, in part order, without their headers."""
    manifest = json.loads((directory / SUCCESS).read_text())
    rows: list[str] = []
    for part in manifest["parts"]:
        rows += (directory / part["name"]).read_text().splitlines()[1:]
    return rows


def run_cluster(scheduler: str, points: str | list[str], out: Path | str,
                **options: object) -> int:
    from gradcli.batch.cluster.run import run_on_cluster

    return run_on_cluster("grad", EXPRESSION, {}, points, scheduler=scheduler,
                          out_dir=str(out), err=io.StringIO(), **options)


def plan_units(paths: list[str], unit_bytes: int) -> list[PlannedUnit]:
    return plan_sources(resolve(paths, None), unit_bytes)


def leftovers(directory: Path) -> list[str]:
    return sorted(os.listdir(directory)) if directory.exists() else []


# -- tasks that fail, run on the workers ---------------------------------------------------
def kill_worker_on(index: int, job, unit, staging):  # type: ignore[no-untyped-def]
    """A unit task whose unit `index` kills the worker process running it, every time."""
    from gradcli.batch.cluster.task import run_unit

    if unit.index == index:
        os.kill(os.getpid(), signal.SIGKILL)
    return run_unit(job, unit, staging)


def raise_on(index: int, job, unit, staging):  # type: ignore[no-untyped-def]
    """A unit task whose unit `index` fails with an I/O error (a fault, not bad data)."""
    from gradcli.batch.cluster.task import run_unit

    if unit.index == index:
        raise OSError(5, "Input/output error (injected)")
    return run_unit(job, unit, staging)


# -- planning units (no cluster) ---------------------------------------------------------
def test_csv_units_split_on_newlines_with_exact_line_numbers(tmp_path: Path) -> None:
    points = tmp_path / "p.csv"
    write_csv(points, 3000, bad=(10,))
    planned = plan_units([str(points)], unit_bytes=8000)
    assert len(planned) > 5
    data = points.read_bytes()
    lines = data.decode().splitlines(keepends=True)
    units = [p.unit for p in planned]
    assert units[0].start == len(lines[0].encode()) and units[-1].stop == len(data)
    for one, following in itertools.pairwise(planned):
        assert following.unit.start == one.unit.stop
        assert following.unit.first_line == one.last_line + 1
    for p in planned:
        assert p.unit.stop is not None and p.last_line is not None
        chunk = data[p.unit.start:p.unit.stop].decode().splitlines(keepends=True)
        assert chunk == lines[p.unit.first_line - 1:p.last_line]
        assert chunk[-1].endswith("\n")


def test_a_csv_with_a_quoted_newline_stays_one_unit(tmp_path: Path) -> None:
    points = tmp_path / "p.csv"
    write_csv(points, 3000)
    with points.open("a") as f:
        f.write('"1.5\n",2\n')
    (planned,) = plan_units([str(points)], unit_bytes=8000)
    assert planned.unit.whole and planned.describe() == f"unit 0 ({points}, the whole file)"


def test_jsonl_units_count_lines_from_one(tmp_path: Path) -> None:
    points = tmp_path / "p.jsonl"
    points.write_text("".join(f'{{"x": {k}}}\n' for k in range(2000)))
    planned = plan_units([str(points)], unit_bytes=5000)
    assert planned[0].unit.first_line == 1 and planned[0].unit.start == 0
    assert planned[-1].last_line == 2000
    text = points.read_bytes()
    for p in planned:
        first = json.loads(text[p.unit.start:p.unit.stop].decode().splitlines()[0])
        assert first["x"] == p.unit.first_line - 1


def test_parquet_units_are_row_groups_from_the_footer(tmp_path: Path) -> None:
    for k in range(2):
        write_parquet(tmp_path / f"p{k}.parquet", 1000, seed=k, row_group=250)
    paths = [str(tmp_path / f"p{k}.parquet") for k in range(2)]
    planned = plan_units(paths, unit_bytes=1)
    assert [(p.file_index, p.unit.row_groups, p.unit.first_line, p.last_line)
            for p in planned] == [
        (f, (g,), 250 * g + 1, 250 * (g + 1)) for f in range(2) for g in range(4)]
    assert planned[5].describe() == f"unit 5 ({paths[1]}, rows 251-500)"
    assert [p.unit.whole for p in plan_units(paths, DEFAULT_UNIT_BYTES)] == [True, True]


# -- options and the output directory (no cluster) ----------------------------------------
def test_without_a_scheduler_nothing_of_dask_is_imported(tmp_path: Path) -> None:
    points = tmp_path / "p.csv"
    write_csv(points, 50)
    probe = ("import sys\n"
             "from gradcli.cli import _run\n"
             f"_run(['grad', {EXPRESSION!r}, '--points', {str(points)!r}, '--out', "
             f"{str(tmp_path / 'o.csv')!r}])\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('dask', 'distributed')))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_without_distributed_scheduler_is_exit_2_with_the_install_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    points = tmp_path / "p.csv"
    write_csv(points, 10)
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    code, err = cli(capsys, "--points", points, "--scheduler", "local:2", "--out",
                    tmp_path / "out")
    assert code == 2
    assert "pip install 'gradcli[dask]'" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("options", "message"), [
    (["--scheduler", "local:0", "--out", "o"], "local:N"),
    (["--scheduler", "local:two", "--out", "o"], "local:N"),
    (["--scheduler", "local:2"], "--out DIR"),
    (["--scheduler", "local:2", "--out", "o", "--fail-fast"], "--fail-fast"),
    (["--overwrite", "--out", "o.csv"], "--overwrite goes with --scheduler"),
    (["--scheduler", "local:2", "--out", "o", "--format", "npz"],
     "does not go with --scheduler"),
])
def test_bad_cluster_options_are_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        options: list[str], message: str) -> None:
    points = tmp_path / "p.csv"
    write_csv(points, 10)
    code, err = cli(capsys, "--points", points,
                    *(tmp_path / o if o.startswith("o") else o for o in options))
    assert code == 2, err
    assert message in err
    assert leftovers(tmp_path) == ["p.csv"]


def test_a_non_empty_output_directory_is_exit_2_without_overwrite(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    points = tmp_path / "p.csv"
    write_csv(points, 10)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    for overwrite in ([], ["--overwrite"]):
        code, err = cli(capsys, "--points", points, "--out", out, "--scheduler", "local:1",
                        *overwrite)
        assert code == 2
        assert ("did not write" if overwrite else "not empty") in err
    assert leftovers(out) == ["notes.txt"]


# -- on the cluster ------------------------------------------------------------------------
@pytest.mark.slow
def test_multi_unit_csv_equals_the_local_run(tmp_path: Path, scheduler: str) -> None:
    points = tmp_path / "p.csv"
    write_csv(points, 4000, bad=(7, 2500))
    out = tmp_path / "out"
    assert run_cluster(scheduler, str(points), out, requested_format="csv",
                       unit_bytes=20_000) == 1  # two bad rows
    manifest = json.loads((out / SUCCESS).read_text())
    assert len(manifest["parts"]) > 3
    assert sorted(leftovers(out)) == sorted([SUCCESS, *(p["name"] for p in manifest["parts"])])
    assert parts_csv(out) == local_csv(tmp_path, points)
    assert manifest["totals"] == {"parts": len(manifest["parts"]), "rows": 4000,
                                  "computed": 3998, "failed": 2}
    assert manifest["inputs"] == [str(points)]
    assert [c["name"] for c in manifest["schema"]] == ["line", "value", "grad[x]", "grad[y]",
                                                       "error"]
    first = manifest["parts"][0]
    assert (first["name"], first["first_line"], first["failed"]) == ("part-00000.csv", 2, 1)


@pytest.mark.slow
def test_many_parquet_files_equal_the_local_run(tmp_path: Path, scheduler: str) -> None:
    import pyarrow.parquet as pq

    for k in range(5):
        write_parquet(tmp_path / f"in-{k}.parquet", 1200, seed=k, row_group=400)
    inputs = str(tmp_path / "in-*.parquet")
    local = tmp_path / "local.parquet"
    assert _run(["grad", EXPRESSION, "--points", inputs, "--out", str(local), "--quiet"]) == 0
    out = tmp_path / "out"
    assert run_cluster(scheduler, inputs, out, unit_bytes=1) == 0
    manifest = json.loads((out / SUCCESS).read_text())
    assert len(manifest["parts"]) == 15
    assert [(p["input"], p["first_line"], p["last_line"]) for p in manifest["parts"]] == [
        (f, 400 * g + 1, 400 * (g + 1)) for f in range(5) for g in range(3)]
    parts = pq.read_table([str(out / p["name"]) for p in manifest["parts"]])
    assert parts.equals(pq.read_table(local))  # the file column included, bit for bit
    assert [c["name"] for c in manifest["schema"]] == parts.schema.names


@pytest.mark.slow
def test_a_worker_killed_mid_run_still_gives_complete_identical_output(
        tmp_path: Path, own_cluster: tuple[str, object]) -> None:
    scheduler, client = own_cluster
    points = tmp_path / "p.csv"
    write_csv(points, 30_000, bad=(100,))
    out = tmp_path / "out"
    finished: list[int] = []
    run = threading.Thread(target=lambda: finished.append(run_cluster(
        scheduler, str(points), out, requested_format="csv", unit_bytes=40_000)))
    run.start()
    pids = client.run(os.getpid)  # type: ignore[attr-defined]
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline and run.is_alive():
        busy = [w for w, keys in client.processing().items()  # type: ignore[attr-defined]
                if any("gradcli-unit" in str(k) for k in keys)]
        if busy and any(n.startswith("part-") for n in leftovers(out)):
            killed = pids[busy[0]]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.01)
    run.join(120)
    assert killed is not None, "the run ended before a worker could be killed"
    assert finished == [1]  # one bad row
    assert parts_csv(out) == local_csv(tmp_path, points)
    manifest = json.loads((out / SUCCESS).read_text())
    assert manifest["totals"]["rows"] == 30_000


@pytest.mark.slow
@pytest.mark.parametrize(("task", "message"), [
    (functools.partial(kill_worker_on, 2), "kept killing the workers"),
    (functools.partial(raise_on, 2), "OSError"),
])
def test_a_failing_unit_ends_the_run_with_nothing_committed(
        tmp_path: Path, own_cluster: tuple[str, object], task: object, message: str) -> None:
    scheduler, _ = own_cluster
    points = tmp_path / "p.csv"
    write_csv(points, 3000)
    units = plan_units([str(points)], unit_bytes=15_000)
    out = tmp_path / "out"
    with pytest.raises(UnitFailedError) as failure:
        run_cluster(scheduler, str(points), out, requested_format="csv", unit_bytes=15_000,
                    task=task)
    assert failure.value.exit_code == 1
    text = str(failure.value)
    assert message in text
    assert f"unit 2 ({points}, lines {units[2].unit.first_line}-{units[2].last_line})" in text
    assert leftovers(out) == []  # no parts, no _SUCCESS, no staging


@pytest.mark.slow
def test_ctrl_c_cancels_removes_the_parts_and_exits_130(
        tmp_path: Path, scheduler: str, client: object) -> None:
    for k in range(24):
        write_parquet(tmp_path / f"in-{k:02d}.parquet", 20_000, seed=k, row_group=20_000)
    out = tmp_path / "out"
    command = [sys.executable, "-c", "from gradcli.cli import main; main()", "hessian",
               EXPRESSION, "--points", str(tmp_path / "in-*.parquet"), "--scheduler",
               scheduler, "--out", str(out)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                               preexec_fn=signals_as_on_a_terminal)
    deadline = time.monotonic() + 60
    while not any(n.startswith("part-") for n in leftovers(out)):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert leftovers(out) == []


@pytest.mark.slow
def test_parts_go_straight_to_an_object_store(tmp_path: Path, scheduler: str,
                                              s3_endpoint: str) -> None:
    """`--out s3://...`: each part one object, `_SUCCESS` last."""
    import boto3
    import pyarrow as pa
    import pyarrow.parquet as pq

    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket="results")
    for k in range(3):
        write_parquet(tmp_path / f"in-{k}.parquet", 500, seed=k, row_group=500)
    inputs = str(tmp_path / "in-*.parquet")
    local = tmp_path / "local.parquet"
    assert _run(["grad", EXPRESSION, "--points", inputs, "--out", str(local)]) == 0
    assert run_cluster(scheduler, inputs, "s3://results/day1") == 0
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="results")["Contents"])
    assert keys == ["day1/_SUCCESS", *(f"day1/part-{k:05d}.parquet" for k in range(3))]
    parts = [pq.read_table(io.BytesIO(s3.get_object(Bucket="results", Key=key)["Body"].read()))
             for key in keys[1:]]
    assert pa.concat_tables(parts).equals(pq.read_table(local))
    manifest = json.loads(s3.get_object(Bucket="results", Key="day1/_SUCCESS")["Body"].read())
    assert manifest["totals"]["rows"] == 1500
    with pytest.raises(GradcliError, match="not empty"):
        run_cluster(scheduler, inputs, "s3://results/day1")
    with pytest.raises(UnitFailedError):
        run_cluster(scheduler, inputs, "s3://results/day1", overwrite=True,
                    task=functools.partial(raise_on, 1))
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="results").get("Contents", [])]
    assert keys == []  # the old output went first (--overwrite), this run's parts after


@pytest.mark.slow
def test_a_unit_whose_pages_do_not_read_keeps_its_records_as_bad_rows(
        tmp_path: Path, scheduler: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A Parquet file whose footer reads but whose pages do not: its records stay, as bad
    rows with the reason (the footer gives their count), as in a local run; the other
    files are computed and the output is committed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for k in range(3):
        pq.write_table(pa.table({"x": np.arange(100.0) + k, "y": np.ones(100)}),
                       tmp_path / f"in-{k}.parquet", compression="none")
    broken = tmp_path / "in-1.parquet"
    data = bytearray(broken.read_bytes())
    data[4:60] = b"\xff" * 56  # the first page header, after the magic number
    broken.write_bytes(bytes(data))
    out = tmp_path / "out"
    code, err = cli(capsys, "--points", tmp_path / "in-*.parquet", "--scheduler", scheduler,
                    "--out", out)
    assert code == 1
    assert "Traceback" not in err and "failed: 100" in err
    table = pa.concat_tables(pq.read_table(part) for part in sorted(out.glob("part-*")))
    assert table.num_rows == 300
    errors = table.column("error").to_pylist()
    assert all(e and "row group 0" in e and "cannot be read" in e for e in errors[100:200])
    assert not any(errors[:100]) and not any(errors[200:])
    manifest = json.loads((out / "_SUCCESS").read_text())
    assert manifest["totals"]["failed"] == 100


@pytest.mark.slow
def test_multi_unit_jsonl_equals_the_local_run(tmp_path: Path, scheduler: str) -> None:
    points = tmp_path / "p.jsonl"
    values = np.random.default_rng(3).normal(size=(3000, 2)).tolist()
    rows = [f'{{"x": {x!r}, "y": {y!r}}}' for x, y in values]
    rows[0] = '{"x": null, "y": 1}'  # the first record bad: the schema still has every column
    points.write_text("\n".join(rows) + "\n")
    local = tmp_path / "local.jsonl"
    assert _run(["grad", EXPRESSION, "--points", str(points), "--out", str(local)]) == 1
    out = tmp_path / "out"
    assert run_cluster(scheduler, str(points), out, requested_format="jsonl",
                       unit_bytes=20_000) == 1
    manifest = json.loads((out / SUCCESS).read_text())
    assert len(manifest["parts"]) > 3
    assert manifest["parts"][1]["first_line"] == manifest["parts"][0]["last_line"] + 1
    records = [line for p in manifest["parts"]
               for line in (out / p["name"]).read_text().splitlines()]
    assert records == local.read_text().splitlines()
    assert [c["name"] for c in manifest["schema"]] == ["line", "value", "grad[x]", "grad[y]",
                                                       "error"]


@pytest.mark.slow
def test_dask_scheduler_address_picks_the_cluster_without_the_option(
        tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    points = tmp_path / "p.csv"
    write_csv(points, 200)
    reference = local_csv(tmp_path, points)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", scheduler)
    code, err = cli(capsys, "--points", points, "--out", tmp_path / "out", "--format", "csv")
    assert code == 0, err
    assert parts_csv(tmp_path / "out") == reference


@pytest.mark.slow
def test_an_unreachable_scheduler_is_exit_2_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    from gradcli.batch.cluster import scheduler as connecting

    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setattr(connecting, "CONNECT_TIMEOUT", "1s")
    points = tmp_path / "p.csv"
    write_csv(points, 20)
    code, err = cli(capsys, "--points", points, "--out", tmp_path / "out", "--scheduler",
                    f"tcp://127.0.0.1:{port}")
    assert code == 2
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in err
    assert leftovers(tmp_path) == ["p.csv"]


@pytest.mark.slow
def test_scheduler_local_starts_and_stops_a_cluster_of_its_own(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    points = tmp_path / "p.csv"
    write_csv(points, 300, bad=(5,))
    reference = local_csv(tmp_path, points)
    code, err = cli(capsys, "--points", points, "--scheduler", "local:1", "--out",
                    tmp_path / "out.csv")
    assert code == 1, err  # one bad row
    assert "wrote 1 part and _SUCCESS" in err
    assert parts_csv(tmp_path / "out.csv") == reference  # parts named by the directory: CSV


def _own_terminal_session() -> None:
    """`preexec_fn`: a new session (a shell job of its own), with a terminal's signals."""
    os.setsid()
    signals_as_on_a_terminal()


@pytest.mark.slow
@pytest.mark.parametrize("name,code", [("SIGINT", 130), ("SIGHUP", 129)])
def test_a_signal_to_the_whole_job_of_a_local_cluster_run_is_one_line(
        tmp_path: Path, name: str, code: int) -> None:
    """Sweep 3's finding 13: Ctrl-C and a hang-up reach the terminal's whole process group,
    workers included; each worker printed its own traceback (KeyboardInterrupt, the resource
    tracker's KeyErrors). Now gradcli alone gets them: one line, its code, no process left."""
    for k in range(24):
        write_parquet(tmp_path / f"in-{k:02d}.parquet", 20_000, seed=k, row_group=20_000)
    out = tmp_path / "out"
    command = [sys.executable, "-c", "from gradcli.cli import main; main()", "hessian",
               EXPRESSION, "--points", str(tmp_path / "in-*.parquet"), "--scheduler",
               "local:2", "--out", str(out)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_own_terminal_session)
    deadline = time.monotonic() + 120
    while not any(n.startswith("part-") for n in leftovers(out)):  # the workers are at work
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(process.pid, getattr(signal, name))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    assert stderr.splitlines() == [f"gradcli: interrupted ({name})"]
    assert leftovers(out) == []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the cluster's processes left with gradcli
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("a worker process outlived the run")
