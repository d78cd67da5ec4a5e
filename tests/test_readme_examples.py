"""Every transcript in the README (a ``$ gradcli ...`` line and what follows it) is what
gradcli prints today: the README is the first thing a user reads, and sweep 3 found it had
drifted (a sample file not shipped, a plot at a height that is not the default, a table's
column widths). A line of ``...`` in a transcript stands for lines left out; the others
must appear, in order. `gradcli repl` is a session at a prompt, checked by test_repl."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GRADCLI = [sys.executable, "-c", "from gradcli.cli import main; main()"]


def _transcripts() -> list[tuple[str, list[str]]]:
    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", (ROOT / "README.md").read_text(), re.S):
        lines = block.rstrip("\n").split("\n")
        if not lines[0].startswith("$ gradcli"):
            continue
        for line in lines:
            if line.startswith("$ "):
                found.append((line[2:], []))
            else:
                found[-1][1].append(line)
    return [(command, "\n".join(shown).rstrip("\n").split("\n")) for command, shown in found
            if command != "gradcli repl"]


TRANSCRIPTS = _transcripts()


def test_the_readme_has_transcripts():
    assert len(TRANSCRIPTS) >= 15


@pytest.mark.parametrize("command,shown", TRANSCRIPTS, ids=[c for c, _ in TRANSCRIPTS])
def test_a_readme_transcript_is_what_gradcli_prints(tmp_path, command, shown):
    """Run where a user would be after the clone (samples/ at hand), in a scratch folder:
    a transcript that writes a file (--render graph.svg) writes it there."""
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    words = shlex.split(command)
    assert words[0] == "gradcli"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADCLI_", "COLUMNS"))}
    done = subprocess.run([*GRADCLI, *words[1:]], capture_output=True, text=True, cwd=tmp_path,
                          env={**env, "NO_COLOR": "1"}, timeout=120)
    printed = (done.stdout + done.stderr).rstrip("\n").split("\n")
    if "--render" in words and shutil.which("dot") is None:  # no Graphviz: its own message
        assert done.returncode == 2 and "Graphviz" in done.stderr
        return
    if "..." not in shown:
        assert printed == shown
        return
    position = 0
    for line in shown:
        if line == "...":
            continue
        assert line in printed[position:], line
        position = printed.index(line, position) + 1
