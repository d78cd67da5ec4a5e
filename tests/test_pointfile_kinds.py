"""One typing rule for every point format (`gradcli.pointfiles.kinds`), tested 5 x 5.

Each case is one column of values written natively in every format that can hold it
(CSV text, JSON values, Parquet and Arrow typed columns, NPZ arrays), read with
`--points`, and written back in every output format. What counts as a number, a boolean,
text, a null and a ragged vector must give the same records whatever the two formats.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.test_batch import run
from tests.test_batch_data import FORMATS, read_records

BAD = "bad"
#: case -> (values, what each row gives: a number or BAD, the formats that cannot hold it)
CASES = {
    "numbers": ([1.5, -2.0, 0.0, 1e-310], [1.5, -2.0, 0.0, 1e-310], ()),
    "integers": ([1, -7, 2**53 + 1], [1.0, -7.0, float(2**53)], ()),
    "non-finite": ([math.nan, math.inf, -math.inf], [math.nan, math.inf, -math.inf], ()),
    "booleans": ([True, False], [BAD, BAD], ()),
    "text": (["abc", "2x"], [BAD, BAD], ()),
    "nulls": ([1.0, None, 3.0], [1.0, BAD, 3.0], ("npz",)),
    "vectors": ([[1.0, 2.0], [3.0, 4.0]], [3.0, 7.0], ()),
    "a ragged first row": ([[], [1.0, 2.0], [3.0, 4.0]], [BAD, 3.0, 7.0], ("npz",)),
    "a ragged later row": ([[1.0, 2.0], [3.0], [3.0, 4.0]], [3.0, BAD, 7.0], ("npz",)),
    "a null in a vector": ([[1.0, None], [1.0, 2.0]], [BAD, 3.0], ("npz",)),
    "a boolean in a vector": ([[1.0, True], [1.0, 2.0]], [BAD, 3.0],
                              ("parquet", "arrow", "npz")),
}


def write_column(path, fmt: str, values: list) -> None:
    """`values` as the variable x, in the format's own types."""
    vector = any(isinstance(v, list) for v in values)
    if fmt == "csv":
        def cell(v):
            if v is None:
                return ""
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, list):
                return '"' + json.dumps(v).replace('"', '""') + '"'
            return v if isinstance(v, str) else repr(v)
        # a second column, so that an empty cell is not a blank line (which is skipped)
        path.write_text("x,id\n" + "".join(f"{cell(v)},{k}\n" for k, v in enumerate(values)))
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps({"x": v}) + "\n" for v in values))
    elif fmt == "npz":
        np.savez(path, x=np.array(values))
    else:
        table = pa.table({"x": pa.array(values)})
        if fmt == "parquet":
            pq.write_table(table, path)
        else:
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
                w.write_table(table)
    assert vector == any(isinstance(v, list) for v in values)


def outcome(value, error) -> object:
    if isinstance(value, str):  # JSON lines' spelling of a non-finite number
        value = float(value)
    if error is not None:
        assert value is None or (isinstance(value, float) and math.isnan(value))
        return BAD
    return "nan" if isinstance(value, float) and math.isnan(value) else value


@pytest.mark.parametrize("fmt_in", FORMATS)
@pytest.mark.parametrize("case", list(CASES))
def test_a_value_means_the_same_in_every_format(capsys, tmp_path, case, fmt_in):
    values, expected, cannot = CASES[case]
    if fmt_in in cannot:
        return  # this format has no way to write the case (NPZ has no null, no ragged rows)
    source = tmp_path / f"in.{fmt_in}"
    write_column(source, fmt_in, values)
    expression = "sum(x)" if any(isinstance(v, list) for v in values) else "x"
    want = ["nan" if isinstance(e, float) and math.isnan(e) else e for e in expected]
    for fmt_out in FORMATS:
        out = tmp_path / f"out.{fmt_out}"
        code, _, err = run(capsys, "eval", expression, "--points", source, "--out", out)
        assert code == (1 if BAD in expected else 0), err
        _, columns = read_records(out, fmt_out)
        blank = [None] * len(columns["line"])  # JSON lines leave out keys no record has
        got = [outcome(v, e) for v, e in zip(columns.get("value", blank),
                                              columns.get("error", blank), strict=True)]
        assert got == want, (fmt_in, fmt_out, columns["error"])
        assert columns["line"] == list(range(2 if fmt_in == "csv" else 1,
                                             len(values) + (2 if fmt_in == "csv" else 1)))


@pytest.mark.parametrize("fmt_in", ["jsonl", "parquet", "arrow", "npz"])
def test_text_that_looks_like_a_number_is_text_where_the_format_has_types(capsys, tmp_path,
                                                                        fmt_in):
    """Only CSV, which has no types, reads the text "1" as the number 1."""
    source = tmp_path / f"in.{fmt_in}"
    write_column(source, fmt_in, ["1", "2.5"])
    code, out, _ = run(capsys, "eval", "x", "--points", source, "--format", "jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and all("value" not in r for r in records)
    assert 'x is the text "1", not a number' in records[0]["error"]
    (tmp_path / "in.csv").write_text("x\n1\n2.5\n")
    code, out, _ = run(capsys, "eval", "x", "--points", tmp_path / "in.csv")
    assert code == 0 and out.splitlines()[1:] == ["2,1.0,", "3,2.5,"]


@pytest.mark.parametrize(("fmt", "text"), [("csv", "x\n1e309\n2\n-1e400\ninf\n"),
                                           ("jsonl", '{"x": 1e309}\n{"x": 2}\n'
                                                     '{"x": -1e400}\n{"x": Infinity}\n')])
def test_a_number_beyond_a_double_is_a_bad_row_not_infinity(capsys, tmp_path, fmt, text):
    source = tmp_path / f"in.{fmt}"
    source.write_text(text)
    code, out, _ = run(capsys, "eval", "x", "--points", source, "--format", "jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r.get("value") for r in records] == [None, 2.0, None, "inf"]
    assert "beyond the range of a double" in records[0]["error"] and code == 1


def test_a_huge_json_integer_is_a_bad_row(capsys, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"x": 1' + "0" * 400 + '}\n{"x": 1' + "0" * 5000 + '}\n{"x": 3}\n')
    code, out, _ = run(capsys, "eval", "x", "--points", source, "--format", "jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r.get("value") for r in records] == [None, None, 3.0] and code == 1
    assert all("beyond the range of a double" in r["error"] for r in records[:2])


def test_a_key_given_twice_is_a_bad_row(capsys, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"x": 1, "x": 2}\n{"x": 5}\n')
    code, out, _ = run(capsys, "eval", "x", "--points", source, "--format", "jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    assert "x is given twice in the object (1.0 and 2.0)" in records[0]["error"]
    assert records[1]["value"] == 5.0 and code == 1


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_deeply_nested_json_is_a_bad_row(capsys, tmp_path, fmt):
    """Sweep 3, finding 10: 3,000 levels in a JSON lines cell were exit 70."""
    deep = "[" * 3000 + "1" + "]" * 3000
    source = tmp_path / f"in.{fmt}"
    if fmt == "jsonl":
        source.write_text(f'{{"x": {deep}}}\n{{"x": [1, 2]}}\n')
    else:
        source.write_text(f'x\n"{deep}"\n"[1, 2]"\n')
    code, out, err = run(capsys, "eval", "sum(x)", "--points", source, "--format", "jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1, err
    assert "nested more than 64 deep" in records[0]["error"] and records[1]["value"] == 3.0


def test_nesting_beyond_numpys_axes_is_a_bad_row(capsys, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"x": ' + "[" * 70 + "1" + "]" * 70 + '}\n{"x": 2}\n')
    code, out, _ = run(capsys, "eval", "sum(x)", "--points", source, "--format", "jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    assert "nested more than 64 deep" in records[0]["error"] and records[1]["value"] == 2.0


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_a_null_inside_a_list_is_a_bad_row(capsys, tmp_path, fmt):
    """Sweep 3, finding 3: it was computed as NaN."""
    source = tmp_path / f"ln.{fmt}"
    write_column(source, fmt, [[1.0, None], [1.0, 2.0]])
    code, out, _ = run(capsys, "eval", "x[1]", "--points", source, "--format", "jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and "value" not in records[0] and "x holds null" in records[0]["error"]
    assert records[1]["value"] == 2.0
