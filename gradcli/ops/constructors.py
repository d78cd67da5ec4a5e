"""Arrays made from sizes alone: ones, zeros, eye, arange, linspace, full.

They take no tensor inputs, so they are constants: nothing to differentiate.
Sizes may arrive as Python numbers or as 0-d tensors (from the language).
Every size is checked against the element budget (`gradcli.limits`) before
anything is allocated.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli.engine.tensor import Tensor
from gradcli.errors import ArgumentError
from gradcli.limits import check_elements, check_shape
from gradcli.ops._define import as_int, defop

_DIMS = (("n", None), ("d1", None), ("d2", None), ("d3", None))


def _number(value: Any, what: str) -> float:
    if isinstance(value, Tensor):
        if value.size != 1:
            raise ArgumentError(f"{what} must be a single number, got shape {value.shape}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ArgumentError(f"{what} must be a number, got {value!r}")
    return float(value)


def _shape(params: dict[str, Any], names: tuple[str, ...]) -> tuple[int, ...]:
    dims = []
    for name in names:
        value = params.pop(name)
        if value is None:
            continue
        size = as_int(value, "a size")
        if size < 0:
            raise ArgumentError(f"sizes must be >= 0, got {size}")
        dims.append(size)
    if not dims:
        raise ArgumentError("give at least one size, e.g. ones(3) or ones(2, 2)")
    check_shape(dims)
    return tuple(dims)


def _shaped(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    return tensors, {"shape": _shape(params, ("n", "d1", "d2", "d3"))}


defop("ones", lambda shape: np.ones(shape), vjp=None, jvp=None, nin=0, params=_DIMS,
      kind="constructor", differentiable=False, prepare=_shaped,
      help="an array of ones of the given sizes, e.g. ones(2, 2)")
defop("zeros", lambda shape: np.zeros(shape), vjp=None, jvp=None, nin=0, params=_DIMS,
      kind="constructor", differentiable=False, prepare=_shaped,
      help="an array of zeros of the given sizes, e.g. zeros(3)")


def _eye(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    n = as_int(params["n"], "n") if params["n"] is not None else None
    if n is None:
        raise ArgumentError("eye needs a size, e.g. eye(3)")
    m = n if params["m"] is None else as_int(params["m"], "m")
    if n < 0 or m < 0:
        raise ArgumentError(f"eye: sizes must be >= 0, got {n} x {m}")
    check_shape((n, m))
    return tensors, {"n": n, "m": m}


defop("eye", lambda n, m: np.eye(n, m), vjp=None, jvp=None, nin=0,
      params=(("n", None), ("m", None)), kind="constructor", differentiable=False,
      prepare=_eye, help="the identity matrix (n x n, or n x m)")


def _arange(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    start = _number(params["start"], "start")
    if params["stop"] is None:
        start, stop = 0.0, start
    else:
        stop = _number(params["stop"], "stop")
    step = _number(params["step"], "step")
    if step == 0:
        raise ArgumentError("arange: step must not be 0")
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise ArgumentError("arange: start, stop and step must be finite numbers")
    count = max(0.0, math.ceil((stop - start) / step))
    check_elements(count, (count,))
    return tensors, {"start": start, "stop": stop, "step": step}


defop("arange", lambda start, stop, step: np.arange(start, stop, step, dtype=np.float64),
      vjp=None, jvp=None, nin=0, params=(("start", None), ("stop", None), ("step", 1)),
      kind="constructor", differentiable=False, prepare=_arange,
      help="evenly spaced values from start (default 0) up to, not including, stop")


def _linspace(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    if params["start"] is None or params["stop"] is None:
        raise ArgumentError("linspace needs start and stop, e.g. linspace(0, 1, 5)")
    num = as_int(params["num"], "num")
    if num < 0:
        raise ArgumentError("linspace: num must be >= 0")
    check_shape((num,))
    return tensors, {"start": _number(params["start"], "start"),
                     "stop": _number(params["stop"], "stop"), "num": num}


defop("linspace", lambda start, stop, num: np.linspace(start, stop, num), vjp=None, jvp=None,
      nin=0, params=(("start", None), ("stop", None), ("num", 50)), kind="constructor",
      differentiable=False, prepare=_linspace,
      help="num evenly spaced values from start to stop, both included")


def _full(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    # full(2, 3, 7): every argument but the last is a size, the last is the value
    given = [params[name] for name in ("n", "d1", "d2", "d3", "value")
             if params[name] is not None]
    if len(given) < 2:
        raise ArgumentError("full needs sizes and a value, e.g. full(2, 3, 7)")
    *sizes, value = given
    shape = tuple(as_int(s, "a size") for s in sizes)
    if any(size < 0 for size in shape):
        raise ArgumentError(f"sizes must be >= 0, got {shape}")
    check_shape(shape)
    return tensors, {"shape": shape, "value": _number(value, "the value")}


defop("full", lambda shape, value: np.full(shape, value), vjp=None, jvp=None, nin=0,
      params=(*_DIMS, ("value", None)), kind="constructor", differentiable=False,
      prepare=_full, help="an array of the given sizes filled with the last argument")
