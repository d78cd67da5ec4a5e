"""The command line is declared once (cli/spec.py): both front ends, the help and the
batch job fields are generated from it, so these tests are generated from it too."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from gradcli.cli import app as app_module
from gradcli.cli.app import app
from gradcli.cli.fast import parse_argv
from gradcli.cli.jobs import job_fields, run_job
from gradcli.cli.spec import BY_NAME, COMMANDS, JOB_COMMANDS, Command, Option

runner = CliRunner()

#: a value of each option that its row accepts, as the user would type it
TYPED = {"wrt": "x", "seed": "1", "render": "g.svg", "points": "p.csv", "out": "o.csv",
         "points_format": "csv", "at": "x=1", "over": "x=0:1"}


def sample_text(option: Option) -> str:
    if option.choices:
        return str(option.choices[-1])
    if option.field in TYPED:
        return TYPED[option.field]
    return {"int": "7", "float": "0.5", "text": "a"}[option.kind]


def argv_for(command: Command, options: list[Option], inline: bool = False) -> list[str]:
    argv = [command.name]
    for argument in command.arguments:
        argv += ["y.jsonl"] if argument.field == "jobs" else (
            ["x*2"] if not argument.repeat else ["x=1"])
    for option in options:
        if option.kind == "flag":
            argv.append(option.flag)
        elif inline:
            argv.append(f"{option.flag}={sample_text(option)}")
        else:
            argv += [option.flag, sample_text(option)]
    return argv


def typer_invocation(monkeypatch, argv):
    """What the Typer app hands to execute for argv (None if it refuses it)."""
    seen = []
    monkeypatch.setattr(app_module, "execute", lambda invocation: seen.append(invocation) or 0)
    result = runner.invoke(app, argv)
    return (seen[0] if seen else None), result.exit_code


CASES = [(command, option) for command in COMMANDS for option in command.options]


@pytest.mark.parametrize("command,option", CASES,
                         ids=[f"{c.name}{o.flag}" for c, o in CASES])
def test_both_front_ends_accept_every_option_of_the_spec_alike(monkeypatch, command, option):
    for inline in (False, True):
        argv = argv_for(command, [option], inline=inline and option.kind != "flag")
        lean = parse_argv(argv)
        assert lean is not None, argv
        typed, code = typer_invocation(monkeypatch, argv)
        assert code == 0 and typed == lean, (argv, typed, lean)


OTHERS = [(command, option) for command in COMMANDS for other in COMMANDS
          for option in other.options if option.flag not in command.flags]


@pytest.mark.parametrize("command,option", sorted(
    {(c.name, o.flag): (c, o) for c, o in OTHERS}.values(), key=lambda p: (p[0].name,
                                                                          p[1].flag)),
    ids=lambda v: v.name if isinstance(v, Command) else v.flag)
def test_both_front_ends_refuse_an_option_the_command_lacks(monkeypatch, command, option):
    argv = argv_for(command, [option])
    assert parse_argv(argv) is None
    typed, code = typer_invocation(monkeypatch, argv)
    assert typed is None and code == 2


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.sampled_from(COMMANDS).flatmap(
    lambda c: st.tuples(st.just(c), st.lists(st.sampled_from(c.options), max_size=5,
                                             unique_by=lambda o: o.flag), st.booleans())))
def test_both_front_ends_agree_on_combinations_of_options(monkeypatch, case):
    command, options, inline = case
    argv = argv_for(command, options, inline)
    lean = parse_argv(argv)
    typed, code = typer_invocation(monkeypatch, argv)
    assert lean is not None and typed == lean


@pytest.mark.parametrize("command", COMMANDS, ids=[c.name for c in COMMANDS])
def test_help_is_built_from_the_spec(command):
    result = runner.invoke(app, [command.name, "--help"],
                           env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert result.exit_code == 0
    assert command.summary.split(";")[0].rstrip(".") in " ".join(result.output.split())
    for option in command.options:
        assert re.search(rf"{option.flag}\b", result.output), option.flag


def test_the_top_level_help_lists_every_command():
    result = runner.invoke(app, ["--help"], env={"NO_COLOR": "1", "COLUMNS": "200"})
    for command in COMMANDS:
        assert re.search(rf"\b{command.name}\b", result.output)


JOB_VALUES = {"wrt": ["x"], "seed": 1.0, "eig": True, "mode": "reverse", "retain_grad": True,
              "order": 2, "rtol": 1e-4, "atol": 1e-6, "gtol": 1e-8, "sparse": "on"}
JOB_CASES = [(name, option) for name in JOB_COMMANDS
             for option in BY_NAME[name].job_options]


@pytest.mark.parametrize("name,option", JOB_CASES,
                         ids=[f"{n}-{o.field}" for n, o in JOB_CASES])
def test_a_job_may_set_every_option_its_command_passes(name, option):
    job = {"id": 1, "command": name, "expression": "x^3", "at": {"x": 2.0},
           option.field: JOB_VALUES[option.field]}
    result = run_job(json.loads(json.dumps(job)))
    assert result["command"] == name and result["id"] == 1


def test_job_fields_are_the_commands_passed_options():
    for name in JOB_COMMANDS:
        command = BY_NAME[name]
        assert set(job_fields(command)) == {"id", "command", "expression", "at",
                                            *(o.field for o in command.options if o.passed)}
    assert "graph" in JOB_COMMANDS
