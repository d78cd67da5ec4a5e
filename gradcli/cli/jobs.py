"""`gradcli batch JOBS.jsonl`: a file of jobs, one JSON object a line, one result a line.

Each output line is exactly what the single command prints with --format json
(plus "id" when the job has one). A job's fields come from the spec: `id`,
`command`, `expression`, `at`, and every option the command passes to its
library call (`wrt`, `seed`, `eig`, `mode`, `retain_grad`, `order`, `rtol`,
`atol`), checked by the same rows as on the command line, with messages that
name the job field. Whatever goes wrong inside a job (a bad line, a line that
is not UTF-8, a computation that fails in any way) gives that line's error
record, {"id", "error": {"kind", "message", "span", "hint", "line"}}, and every
other job is still computed: one output line per job line, in order, always. A
blank line (only spaces, tabs or a line end) holds no job and is skipped, as in
`--points` JSONL; "line" in an error still counts every line of the file.
The job file is read as UTF-8 (a leading BOM is skipped); `-` is standard
input, and a pipe or FIFO (`gradcli batch <(...)`) works like a file.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

from gradcli.cli.boundary import Session, error_object, internal_error
from gradcli.cli.spec import BY_NAME, JOB_COMMANDS, Command, Invocation, Option
from gradcli.errors import (
    EXIT_NOT_GOOD,
    EXIT_OK,
    ArgumentError,
    GradcliError,
    JobError,
    options_named_as_job_fields,
)

#: the fields every job may have, whatever its command
BASE_FIELDS = ("id", "command", "expression", "at")
_JSON_TYPES = {"text": (str,), "int": (int,), "float": (int, float), "flag": (bool,)}
_KIND_WORDS = {"text": "a string", "int": "an integer", "float": "a number",
               "flag": "true or false"}


def job_fields(command: Command) -> tuple[str, ...]:
    return BASE_FIELDS + tuple(option.field for option in command.job_options)


def _reject_constant(token: str) -> Any:
    raise JobError(f"not valid JSON: {token} is not a JSON number",
                   hint="JSON has no NaN or Infinity; write the value as a finite number")


def _finite_float(token: str) -> float:
    value = float(token)
    if value in (float("inf"), float("-inf")):
        raise JobError(f"{token[:40]} is beyond the range of a double (about 1.8e308)",
                       hint="write a finite number (JSON has no Infinity)")
    return value


def _bounded_int(token: str) -> int | float:
    """An integer as big as a double can hold (a float; a JSON integer is a number)."""
    if len(token.lstrip("-")) > 309 and math.isinf(float(token)):
        return _finite_float(token)
    return int(token)


def parse_job(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float,
                          parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise JobError(f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise JobError("not valid JSON: nested too deeply") from None


def _option_value(option: Option, value: Any) -> Any:
    from gradcli.cli.run import checked

    if option.convert_job is None:
        types = _JSON_TYPES[option.kind]
        if not isinstance(value, types) or (option.kind != "flag" and isinstance(value, bool)):
            raise JobError(f"{option.field} must be {_KIND_WORDS[option.kind]}, not "
                           f"{json.dumps(value)[:40]}")
    return checked(option, value, job=True)


def _at(value: Any) -> dict[str, Any]:
    import numpy as np

    if not isinstance(value, dict):
        raise JobError('at must be an object of values, e.g. {"x": 2, "m": [2, 3]}')
    values = {}
    for name, item in value.items():
        try:
            array = np.asarray(item)
        except (TypeError, ValueError, OverflowError):
            array = np.asarray(None)  # ragged: rejected just below
        if array.dtype.kind not in "iuf":
            raise JobError(f"at: {name} must be a number or an array of numbers "
                           "(of one shape)")
        values[name] = array.astype(np.float64)
    return values


def run_job(job: Any) -> dict[str, Any]:
    """One job to its JSON result object: the same library call and view as the CLI."""
    from gradcli.cli.render import to_json_object
    from gradcli.cli.spec import resolve

    if not isinstance(job, dict):
        raise JobError("a job is a JSON object, e.g. {\"command\": \"grad\", "
                       "\"expression\": \"x^2\", \"at\": {\"x\": 3}}")
    name = job.get("command")
    if name not in JOB_COMMANDS:
        raise JobError(f"command must be one of {', '.join(JOB_COMMANDS)}, not "
                       f"{json.dumps(name)[:40]}")
    command = BY_NAME[name]
    unknown = sorted(set(job) - set(job_fields(command)))
    if unknown:
        raise JobError(f"unknown field(s) for a {name} job: {', '.join(unknown)}",
                       hint=f"a {name} job has: {', '.join(job_fields(command))}")
    expression = job.get("expression")
    if not isinstance(expression, str):
        raise JobError("expression must be a string")
    at = _at(job.get("at", {}))
    with options_named_as_job_fields():
        library = {option.field: (_option_value(option, job[option.field])
                                  if option.field in job else option.default)
                   for option in command.job_options}
        if name == "graph":
            library["picture"] = False
        assert command.call is not None
        result = resolve(command.call)(expression, at, **library)
    obj = to_json_object(result)
    return ({"id": job["id"]} if "id" in job else {}) | obj


def _lines(source: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """The job lines, numbered as in the file; blank lines hold no job."""
    for number, raw in enumerate(source, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if raw.strip(b" \t\r\n"):
            yield number, raw


def _one_line(number: int, raw: bytes) -> tuple[dict[str, Any], bool]:
    """The output object for one input line, and whether it failed."""
    job_id: Any = None
    try:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JobError(f"the line is not valid UTF-8 (byte {exc.start + 1})",
                           hint="save the job file as UTF-8") from None
        job = parse_job(text)
        if isinstance(job, dict):
            job_id = job.get("id")
        obj = run_job(job)
        json.dumps(obj, allow_nan=False)  # a result that cannot be written is this job's
        return obj, obj.get("ok") is False  # check found a mismatch: failed, as alone
    except GradcliError as error:
        record = error_object(error)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # anything at all: this job's record, not the run's end
        record = error_object(internal_error(exc, f"job on line {number}"))
    return {"id": job_id, "error": {**record, "line": number}}, True


def run_jobs(path: str, out_path: str | None, out: Any = None, err: Any = None,
             stdin: BinaryIO | None = None) -> int:
    from gradcli.pointfiles.output import Writer

    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    source = _open(path, stdin)
    _check_out_name(out_path)
    writer = Writer(out_path, out)
    done = failed = 0
    try:
        with writer.writing():
            target = writer.open_text()
        for number, raw in _lines(source):
            obj, bad = _one_line(number, raw)
            failed += bad
            done += 1
            with writer.writing():
                target.write(json.dumps(obj, ensure_ascii=False, allow_nan=False) + "\n")
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    finally:
        if source is not stdin and source is not getattr(sys.stdin, "buffer", None):
            source.close()
    err.write(f"jobs read: {done}, succeeded: {done - failed}, failed: {failed}\n")
    return EXIT_NOT_GOOD if failed else EXIT_OK


def _check_out_name(out_path: str | None) -> None:
    """Job results are JSON lines: an --out named for another format is refused."""
    from gradcli.pointfiles.formats import extension_format

    fmt = extension_format(out_path) if out_path not in (None, "-") else None
    if fmt not in (None, "jsonl"):
        stem = os.path.splitext(str(out_path))[0]
        raise ArgumentError(f"gradcli batch writes JSON lines, but --out {out_path} names a "
                            f"{fmt} file", hint=f"name it {stem}.jsonl")


def _open(path: str, stdin: BinaryIO | None) -> BinaryIO:
    if path == "-":
        if stdin is not None:
            return stdin
        if sys.stdin is None:
            raise JobError("the job file is - (standard input), but standard input is closed")
        return sys.stdin.buffer
    try:
        return open(path, "rb")  # a file, a pipe or a FIFO alike
    except FileNotFoundError:
        raise JobError(f"no such job file: {path}") from None
    except IsADirectoryError:
        raise JobError(f"{path} is a directory, not a job file") from None
    except OSError as exc:
        raise JobError(f"cannot read the job file {path}: {exc.strerror}") from None


def run_batch(invocation: Invocation, values: dict[str, Any], session: Session) -> int:
    return run_jobs(invocation.arguments["jobs"], values["out"], session.out, session.err)
