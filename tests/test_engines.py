"""Choosing the batch back end, with and without the `fast` extra.

The runs without the extra block llvmlite in a child process, so these tests
say the same whether or not this environment has it installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gradcli.batch
from gradcli.errors import ArgumentError

_WITHOUT_EXTRA = textwrap.dedent("""
    import sys

    class NoFastExtra:
        def find_spec(self, name, path=None, target=None):
            if name == "llvmlite" or name.startswith("llvmlite."):
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None

    sys.meta_path.insert(0, NoFastExtra())
""")


def _without_extra(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _WITHOUT_EXTRA + textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=120)


def test_without_the_extra_auto_is_the_numpy_replay(tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("x\n" + "\n".join(str(v) for v in np.linspace(-1, 1, 50)) + "\n")
    done = _without_extra("""
        import sys
        from gradcli.cli import _run
        sys.exit(_run(["grad", "sin(x)*x", "--points", sys.argv[1], "--quiet"]))
    """, str(points))
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()
    assert rows[0] == "line,value,grad[x],error"
    x = -1.0  # the first point
    assert float(rows[1].split(",")[2]) == pytest.approx(np.sin(x) + x * np.cos(x), rel=1e-15)


def test_without_the_extra_the_compiled_engine_is_exit_2_naming_it(tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("x\n1\n2\n")
    done = _without_extra("""
        import sys
        from gradcli.cli import _run
        sys.exit(_run(["grad", "x^2", "--points", sys.argv[1]]))
    """, str(points))
    assert done.returncode == 0, done.stderr  # auto, the default
    for setting in ("compiled", " Compiled "):
        done = _without_extra(f"""
            import os, sys
            os.environ["GRADCLI_ENGINE"] = {setting!r}
            from gradcli.cli import _run
            sys.exit(_run(["grad", "x^2", "--points", sys.argv[1]]))
        """, str(points))
        assert done.returncode == 2
        assert "gradcli[fast]" in done.stderr
        assert "Traceback" not in done.stderr
    done = _without_extra("""
        import sys
        from gradcli.cli import _run
        sys.exit(_run(["grad", "x^2", "--points", sys.argv[1], "--engine", "compiled",
                       "--format", "json"]))
    """, str(points))
    assert done.returncode == 2
    assert "gradcli[fast]" in done.stderr


def test_without_the_extra_the_python_api_names_it():
    done = _without_extra("""
        import json, numpy as np, gradcli.batch
        print(json.dumps({k: v.tolist() for k, v in gradcli.batch.compute(
            "grad", "x^3", {"x": np.array([1.0, 2.0])}).items()}))
        try:
            gradcli.batch.compute("grad", "x^3", {"x": np.array([1.0])}, engine="compiled")
        except gradcli.GradcliError as exc:
            print(exc)
    """)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert json.loads(lines[0]) == {"value": [1.0, 8.0], "grad[x]": [3.0, 12.0]}
    assert "gradcli[fast]" in lines[1]


def test_an_unknown_engine_is_a_clear_error(monkeypatch):
    with pytest.raises(ArgumentError, match="unknown engine 'fastest'"):
        gradcli.batch.compute("eval", "x", {"x": np.ones(2)}, engine="fastest")
    monkeypatch.setenv("GRADCLI_ENGINE", "gpu")
    with pytest.raises(ArgumentError, match="unknown engine 'gpu'"):
        gradcli.batch.compute("eval", "x", {"x": np.ones(2)})


def test_the_engine_option_takes_three_values(tmp_path, capsys):
    from gradcli.cli import _run

    points = tmp_path / "points.csv"
    points.write_text("x\n1\n2\n")
    assert _run(["grad", "x^2", "--points", str(points), "--engine", "numpy"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["2,1.0,2.0,", "3,4.0,4.0,"]
    assert _run(["grad", "x^2", "--points", str(points), "--engine", "fastest"]) == 2
    assert "fastest" in capsys.readouterr().err


def test_the_numpy_engine_never_needs_the_extra():
    result = gradcli.batch.compute("hessian", "x*y^2", {"x": np.array([1.0, 2.0]),
                                                        "y": np.array([3.0, 4.0])},
                                   engine="numpy")
    assert result["hess[x,y]"].tolist() == [6.0, 8.0]
    assert result["hess[y,y]"].tolist() == [2.0, 4.0]


@pytest.mark.parametrize("points, message", [
    ({}, "points is empty"),
    ({"x": np.ones(3), "y": np.ones(4)}, "same number of points"),
    ({"x": 1.0}, "same number of points"),
])
def test_the_public_api_checks_its_points(points, message):
    with pytest.raises(ArgumentError, match=message):
        gradcli.batch.compute("eval", "x + y", points)
