"""Drawing a PlotResult: a line plot in the terminal (plotext), or an image (matplotlib).

The numbers come from `gradcli.sampling.plot`; this module only draws them.
Non-finite samples are gaps: a curve is split into its finite runs, and the
axes are fitted to the finite values only, so one pole cannot flatten the rest.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from gradcli.errors import ArgumentError, MissingExtraError, WriteError

COLOURS = {"f": "blue", "f'": "red", "f''": "green"}
NAMES = {"f": "f", "f'": "f' (first derivative)", "f''": "f'' (second derivative)"}


def finite_runs(xs: np.ndarray, ys: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The maximal stretches where y is finite: what is drawn, with gaps between them."""
    finite = np.isfinite(ys)
    runs = []
    start = None
    for i, ok in enumerate([*finite.tolist(), False]):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            runs.append((xs[start:i], ys[start:i]))
            start = None
    return runs


def value_range(series: dict[str, np.ndarray]) -> tuple[float, float]:
    """The y range to show: the bulk of the finite values, so a pole cannot flatten the rest.

    Values beyond it are cut off (drawn as gaps in the terminal, clipped in images).
    """
    finite = np.concatenate([v[np.isfinite(v)] for v in series.values()] or [np.zeros(0)])
    if finite.size == 0:
        return -1.0, 1.0
    lo, hi = (float(q) for q in np.percentile(finite, [2, 98]))
    full_lo, full_hi = float(finite.min()), float(finite.max())
    # keep the whole range when it is not much wider than the bulk
    if full_hi - full_lo <= 3 * (hi - lo):
        lo, hi = full_lo, full_hi
    if hi == lo:
        lo, hi = lo - 1.0, hi + 1.0
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


def caption(result: Any) -> str:
    if not result.mark:
        return ""
    name = result.over[0][0]
    m = result.mark
    return (f"at {name} = {m['x']:.6g}: f = {m['value']:.6g}, slope f' = {m['slope']:.6g} "
            "(the dotted line is the tangent)")


def terminal_plot(result: Any, width: int, height: int, colour: bool) -> str:
    """A line plot with axes, ticks and a legend, exactly `width` columns wide at most."""
    if result.grid is not None:
        raise ArgumentError("a plot over two variables is an image (a heat map with the "
                           "gradient field)", hint="add --out FILE.png or --out FILE.svg")
    import plotext

    figure = plotext.figure
    figure.clear()
    xs = result.samples
    drawn = result.drawn()
    lo, hi = value_range(drawn)
    for key, ys in drawn.items():
        shown = np.where((ys >= lo) & (ys <= hi), ys, np.nan)
        for k, (run_x, run_y) in enumerate(finite_runs(xs, shown)):
            signal = figure.signal(run_x.tolist(), run_y.tolist()).lines()
            if k == 0:
                signal.label(NAMES[key])
            figure.draw(signal)
    if result.mark:
        m = result.mark
        span = (xs[-1] - xs[0]) / 8
        tx = (m["x"] - span, m["x"] + span)
        tangent = figure.segment(tx, (m["value"] - m["slope"] * span,
                                      m["value"] + m["slope"] * span), marker=".")
        figure.draw(tangent)
        figure.draw(figure.signal([m["x"]], [m["value"]], marker="x"))
    figure.title(result.expression.strip())
    figure.label(result.over[0][0])
    figure.plot_size(max(width, 30), max(height, 8))
    text = figure.build().string(colorless=not colour)
    lines = [line.rstrip() for line in text.splitlines()]
    note = caption(result)
    if note:  # wrapped at the plot's width, so that no word of it is lost
        import textwrap

        lines += textwrap.wrap(note, max(width, 30))
    return "\n".join(lines) + "\n"


def save_image(result: Any, path: str) -> None:
    """An image file (png, svg or pdf, by the file's extension), with matplotlib."""
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    if extension not in ("png", "svg", "pdf"):
        raise ArgumentError(f"--out {path}: the image must be .png, .svg or .pdf")
    try:
        import matplotlib
    except ImportError:
        raise MissingExtraError(
            "image output needs matplotlib, which comes with the 'plot' extra",
            hint="pip install 'gradcli[plot]', or leave out --out for a terminal plot") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    try:
        if result.grid is not None:
            _surface(result, figure, axes)
        else:
            _curves(result, axes)
        axes.set_title(result.expression.strip())
        figure.tight_layout()
        figure.savefig(path)
    except OSError as exc:  # a write that failed (a full disk): exit 74, as for --points
        raise WriteError(f"cannot write --out {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(figure)


def _curves(result: Any, axes: Any) -> None:
    xs = result.samples
    drawn = result.drawn()
    for key, ys in drawn.items():
        shown = np.where(np.isfinite(ys), ys, np.nan)  # matplotlib leaves gaps at nan
        axes.plot(xs, shown, color=COLOURS[key], label=NAMES[key], linewidth=1.6)
    axes.set_ylim(*value_range(drawn))
    if result.mark:
        m = result.mark
        span = (xs[-1] - xs[0]) / 8
        tx = np.array([m["x"] - span, m["x"] + span])
        axes.plot(tx, m["value"] + m["slope"] * (tx - m["x"]), ":", color="black",
                  label="tangent")
        axes.plot([m["x"]], [m["value"]], "o", color="black")
        axes.annotate(caption(result), xy=(0.01, 0.01), xycoords="axes fraction",
                      fontsize=8)
    axes.axhline(0, color="#bbbbbb", linewidth=0.8)
    axes.set_xlabel(result.over[0][0])
    axes.legend()
    axes.grid(True, alpha=0.3)


def _surface(result: Any, figure: Any, axes: Any) -> None:
    gx, gy = result.samples
    z = np.where(np.isfinite(result.grid["z"]), result.grid["z"], np.nan)
    mesh = axes.pcolormesh(gx, gy, z, shading="auto", cmap="viridis")
    figure.colorbar(mesh, ax=axes, label="f")
    step = max(1, gx.shape[0] // 20)
    u, v = result.grid["u"][::step, ::step], result.grid["v"][::step, ::step]
    axes.quiver(gx[::step, ::step], gy[::step, ::step], u, v, color="white", alpha=0.8)
    (nx, _, _), (ny, _, _) = result.over
    axes.set_xlabel(nx)
    axes.set_ylabel(ny)
