"""The installed package works without the source checkout: the grammar ships in the wheel,
and the README's commands are the ones CI runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_the_grammar_and_parses_when_installed(tmp_path):
    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheel_dir), str(ROOT)], check=True, capture_output=True, text=True)
    (wheel,) = wheel_dir.glob("gradcli-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "gradcli/grammar/gradcli.lark" in names
    assert "gradcli_entry.py" in names  # the console script's module

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True, text=True)
    probe = (
        "import gradcli, pathlib\n"
        "from gradcli.language.parser import grammar_path\n"
        f"assert pathlib.Path(gradcli.__file__).is_relative_to(pathlib.Path(r'{target}'))\n"
        f"assert pathlib.Path(grammar_path()).is_relative_to(pathlib.Path(r'{target}'))\n"
        "x = gradcli.tensor(2.0, requires_grad=True)\n"
        "y = gradcli.parse('(x+1)*(x+2)').evaluate({'x': x}); y.backward()\n"
        "print(y.item(), x.grad.item())\n")
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["12.0", "7.0"]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    command = re.search(r"^TEST_COMMAND='(.*)'$", ci, re.M)
    assert command is not None
    assert command.group(1) in (ROOT / "README.md").read_text()
