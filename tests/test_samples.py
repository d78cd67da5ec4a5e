"""Every file in samples/ runs as its header says and gives the result written there."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest

from gradcli.cli import _run

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "samples").glob("*.expr"))


def _header(path: Path, key: str) -> str:
    for line in path.read_text().splitlines():
        if line.startswith(f"# {key}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{path.name} has no '# {key}:' line")


def _matches(got, want):
    if isinstance(want, dict):
        assert isinstance(got, dict)
        for key, value in want.items():
            assert key in got, key
            _matches(got[key], value)
    elif isinstance(want, str) or isinstance(got, str) or (
            isinstance(want, list) and any(isinstance(w, str) for w in want)):
        assert got == want
    elif isinstance(want, list):
        np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                                   rtol=1e-6, atol=1e-9)
    else:
        assert got == pytest.approx(want, rel=1e-6, abs=1e-9)


def test_there_are_samples():
    assert len(SAMPLES) >= 5


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_gives_its_documented_result(path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    words = shlex.split(_header(path, "run"))
    assert words[0] == "gradcli"
    args = [w for w in words[1:] if w not in ("--format", "json")] + ["--format", "json"]
    code = _run(args)
    out = capsys.readouterr().out
    assert code == 0
    _matches(json.loads(out), json.loads(_header(path, "expect")))
