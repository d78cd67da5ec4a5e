"""The CI contract (issue 12): JSON errors, exit codes that mean one thing, options
checked whoever parses them, stdout failures and signals, batch jobs that never take
the run down. One test per finding, named after it."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from gradcli.cli import _run

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
