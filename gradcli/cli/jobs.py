"""`gradcli batch JOBS.jsonl`: a file of jobs, one JSON object a line, one result a line.

Each output line is exactly what the single command prints with --format json
(plus "id" when the job has one); a job that fails, a malformed line included,
gives {"id": ..., "error": {"kind", "message", "line"}}. There is always one
output line per input line, in order.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

import numpy as np

from gradcli.batch.output import Writer
from gradcli.errors import EXIT_NOT_GOOD, EXIT_OK, GradcliError, JobError

COMMANDS = ("eval", "grad", "hessian", "jacobian", "check")
FIELDS = {"id", "command", "expression", "at", "wrt", "seed"}


def run_job(job: Any) -> dict[str, Any]:
    from gradcli import compute
    from gradcli.cli.render import to_json_object

    if not isinstance(job, dict):
        raise JobError("a job is a JSON object")
    unknown = set(job) - FIELDS
    if unknown:
        raise JobError(f"unknown field(s): {', '.join(sorted(unknown))}",
                       hint=f"a job has: {', '.join(sorted(FIELDS))}")
    command = job.get("command")
    if command not in COMMANDS:
        raise JobError(f"command must be one of {', '.join(COMMANDS)}, not {command!r}")
    expression = job.get("expression")
    if not isinstance(expression, str):
        raise JobError("expression must be a string")
    at = job.get("at", {})
    if not isinstance(at, dict):
        raise JobError('"at" must be an object of values, e.g. {"x": 2, "m": [2, 3]}')
    values = {}
    for name, value in at.items():
        try:
            values[name] = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise JobError(f'"at": {name} must be a number or an array of numbers') from None
    wrt = job.get("wrt")
    if wrt is not None and (not isinstance(wrt, list) or
                            not all(isinstance(w, str) for w in wrt)):
        raise JobError('"wrt" must be a list of variable names')
    seed = job.get("seed")
    if seed is not None:
        try:
            seed = np.asarray(seed, dtype=np.float64)
        except (TypeError, ValueError):
            raise JobError('"seed" must be a number or an array of numbers') from None
    result = compute.run_command(command, expression, values, wrt,
                                 seed if command == "grad" else None)
    obj = to_json_object(result)
    return ({"id": job["id"]} if "id" in job else {}) | obj


def run_jobs(path: str, out_path: str | None, out: TextIO | None = None,
             err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if not os.path.isfile(path):
        raise JobError(f"no such job file: {path}")
    writer = Writer(out_path, out)
    target = writer._open_text()
    done = failed = 0
    try:
        with open(path, encoding="utf-8") as source:
            for number, text in enumerate(source, start=1):
                job_id: Any = None
                try:
                    try:
                        job = json.loads(text)
                    except json.JSONDecodeError as exc:
                        raise JobError(f"not valid JSON: {exc.msg} (column {exc.colno})") \
                            from None
                    job_id = job.get("id") if isinstance(job, dict) else None
                    obj = run_job(job)
                    if obj.get("ok") is False:  # check found a mismatch: exit 1, as alone
                        failed += 1
                except GradcliError as error:
                    failed += 1
                    message = error.message + (f" ({error.hint})" if error.hint else "")
                    obj = {"id": job_id, "error": {"kind": error.kind, "message": message,
                                                   "line": number}}
                done += 1
                target.write(json.dumps(obj, ensure_ascii=False, allow_nan=False) + "\n")
        if target is not out:
            target.close()
        writer.finish()
    except BaseException:
        if target is not out:
            target.close()
        writer.abort()
        raise
    err.write(f"jobs read: {done}, succeeded: {done - failed}, failed: {failed}\n")
    return EXIT_NOT_GOOD if failed else EXIT_OK
