"""The steps every command shares: parse, bind, choose the variables, check the seed.

Each command in `gradcli.compute` (and `checking`, `sampling`) starts from the
same prepared program and bindings and ends with the same warnings about
non-finite numbers; they live here once so that the commands stay short.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gradcli.engine.autograd import grad
from gradcli.engine.tensor import Tensor
from gradcli.errors import ArgumentError, NotScalarError, ShapeError, Span, option_name
from gradcli.language.program import Program, parse
from gradcli.numbers import fmt_brief


class Point(dict[str, np.ndarray]):
    """The bindings the expression uses, in order of first use (name -> array).

    `unused` keeps the bindings that were given but not used, so that a result can
    still report every binding it was given (JSON's `at` marks them, never drops them)."""

    unused: dict[str, np.ndarray]


def prepare(expression: str, at: Mapping[str, Any], wrt: Sequence[str] | None
             ) -> tuple[Program, dict[str, np.ndarray], list[str], list[str]]:
    program = parse(expression)
    values = {name: np.asarray(v, dtype=np.float64) for name, v in at.items()}
    program.check_bindings(values)
    warnings = [f"{name} is not used by the expression" for name in values
                if name not in program.free_variables]
    free = program.free_variables
    if wrt is None:
        chosen = list(free)
    else:
        chosen = []
        for name in wrt:
            if name not in free:
                known = ", ".join(free) or "none"
                raise ArgumentError(
                    f"{option_name('wrt')} names '{name}', which is not a variable of the "
                    "expression",
                    hint=f"the expression's variables are: {known}")
            if name not in chosen:
                chosen.append(name)
    ordered = Point((name, values[name]) for name in free)
    ordered.unused = {name: value for name, value in values.items() if name not in ordered}
    return program, ordered, chosen, warnings


def make_leaves(at: dict[str, np.ndarray], wrt: Sequence[str]) -> dict[str, Tensor]:
    return {name: Tensor(value, requires_grad=name in wrt) for name, value in at.items()}


def describe_point(at: Mapping[str, np.ndarray]) -> str:
    return ", ".join(f"{name} = {_short(value)}" for name, value in at.items())


def _short(value: Any) -> str:
    """A value inside a warning: the tables' one-line form (never numpy's repr, which
    breaks a matrix across lines and writes 1 as "1.")."""
    return fmt_brief(value, None)


def nonfinite_warnings(program: Program, evaluation: Any, at: Mapping[str, np.ndarray]
                        ) -> list[str]:
    if evaluation.nonfinite is not None:
        return [evaluation.nonfinite.message(describe_point(at))]
    return []


def check_derivatives(named: Mapping[str, np.ndarray], log: Any, what: str) -> list[str]:
    bad = [name for name, value in named.items() if not np.all(np.isfinite(value))]
    if not bad:
        return []
    where = ""
    event = log.first
    if event is not None and event.context is not None:
        label = getattr(event.context, "label", None) or event.context.name()
        seen = ", ".join(_short(np.asarray(a)) for a in event.inputs)
        where = f"; it first appears in the derivative of {label} (values seen: {seen})"
    return [f"{what} with respect to {', '.join(bad)} is not finite{where}"]


def require_scalar(program: Program, output: Tensor, command: str) -> None:
    if output.size != 1:
        raise NotScalarError(
            f"{command} needs a scalar output, but the expression gives shape {output.shape}",
            span=Span(0, len(program.text)),
            hint=f"pass {option_name('seed')} VALUE (of the output's shape) to get seedᵀJ, as "
                 "backward(gradient) does, or use 'gradcli jacobian' for the whole matrix"
            if command in ("grad", "graph") else
            "reduce it to a number (sum, mean, norm, or one element such as f[0]), or use "
            "'gradcli jacobian' for the derivatives of every output")


def seed_for(program: Program, output: Tensor, seed: Any, command: str) -> np.ndarray | None:
    """The seed v of vᵀJ: required (and shape-checked) for a non-scalar output."""
    if seed is None:
        require_scalar(program, output, command)
        return None
    seed_array = np.asarray(seed, dtype=np.float64)
    if seed_array.shape != output.shape:
        raise ShapeError(f"{option_name('seed')} has shape {seed_array.shape} but the output "
                         f"has shape {output.shape}",
                         hint="give a seed of exactly the output's shape")
    return seed_array


def backward(output: Tensor, inputs: list[Tensor], seed: np.ndarray | None
              ) -> tuple[Tensor | None, ...]:
    if not inputs:
        return ()
    if not output.requires_grad:
        return (None,) * len(inputs)
    return grad(output, inputs, grad_outputs=None if seed is None else Tensor._wrap(seed),
                allow_unused=True)


def function_of(program: Program, values: dict[str, np.ndarray], chosen: list[str]
                 ) -> Callable[..., Tensor]:
    constants = {name: Tensor(v) for name, v in values.items() if name not in chosen}

    def f(*xs: Tensor) -> Tensor:
        return program.evaluate({**constants, **dict(zip(chosen, xs, strict=True))})

    return f
