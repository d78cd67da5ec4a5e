"""One column layout: single-point CSV, every batch format and the cluster's manifest agree."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest

from gradcli.batch.cluster.schema import describe_part
from gradcli.cli import _run

CASES = [
    ("eval", "[x*m[0], x+m[1]]"),
    ("grad", "x*sum(m*m)"),
    ("hessian", "x*x*m[0] + m[1]^3"),
    ("jacobian", "[x*m[0], sin(x)*m[1], m[0]]"),
]


def _out(capsys, *args: str) -> str:
    code = _run(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


@pytest.mark.parametrize(("command", "text"), CASES)
def test_single_point_and_batch_outputs_name_the_same_columns(tmp_path, capsys, command, text):
    header = next(csv.reader(io.StringIO(_out(capsys, command, text, "x=2", "m=[1,3]",
                                              "--format", "csv"))))
    points = tmp_path / "points.csv"
    points.write_text("x,m[0],m[1]\n2,1,3\n0.5,2,-1\n")
    written = {}
    for fmt in ("csv", "jsonl", "parquet"):
        written[fmt] = tmp_path / f"out.{fmt}"
        _out(capsys, command, text, "--points", str(points), "--out", str(written[fmt]),
             "--quiet")
    batch_header = next(csv.reader(written["csv"].open()))
    assert batch_header == ["line", *header, "error"]
    first = json.loads(written["jsonl"].read_text().splitlines()[0])
    assert list(first) == ["line", *header]  # a good row: no error
    parquet = pq.read_schema(written["parquet"])
    assert parquet.names == batch_header
    assert [str(t) for t in parquet.types] == ["int64", *["double"] * len(header), "string"]
    # the manifest's schema of a part, read back from each format, is the same layout
    schemas = {fmt: describe_part(str(path), fmt)[0] for fmt, path in written.items()}
    assert schemas["csv"] == schemas["jsonl"]
    assert [n for n, _ in schemas["parquet"]] == [n for n, _ in schemas["csv"]]
    assert schemas["csv"] == (("line", "int64"), *((h, "float64") for h in header),
                              ("error", "string"))


def test_a_part_whose_first_records_are_bad_rows_shows_the_layout_of_its_good_rows(tmp_path):
    part = tmp_path / "part.jsonl"
    part.write_text('{"file": 0, "line": 2, "error": "line 2: bad"}\n'
                    '{"file": 0, "line": 3, "value": 1.5, "grad[x]": 2.0}\n')
    schema, first = describe_part(str(part), "jsonl")
    assert first == 2
    assert schema == (("file", "int32"), ("line", "int64"), ("value", "float64"),
                      ("grad[x]", "float64"), ("error", "string"))
