"""Pictures: the graph as DOT, Mermaid and a tree, rendered by Graphviz; plots of f and
its derivatives in the terminal and as images."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from gradcli import compute, sampling
from gradcli.cli import _run
from gradcli.drawing.graph import dot_quote, mermaid_text, to_dot, to_mermaid
from gradcli.drawing.plot import finite_runs, terminal_plot

ESCAPE = re.compile(r"\x1b\[")


def run(capsys, *args):
    code = _run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- the graph -----------------------------------------------------------------------------
def test_dot_has_one_node_per_vertex_and_data_flow_edges():
    model = compute.graph_picture("(x+1)*(x+2)", {"x": 2.0}).model
    dot = to_dot(model, "title")
    # x, the constants 1 and 2, two additions, the product
    assert len(re.findall(r"^  n\d+ \[label=", dot, re.M)) == 6
    edges = re.findall(r"^  n(\d+) -> n(\d+);", dot, re.M)
    assert len(edges) == 6
    kinds = {v.id: v for v in model.vertices}
    for _, target in edges:  # data flows from inputs into the ops that use them
        assert kinds[int(target)].kind == "op"
    labels = {v.label for v in model.vertices}
    assert {"x", "1", "2", "x+1", "x+2", "f = (x+1)*(x+2)"} == labels


def test_leaves_constants_and_output_look_different():
    dot = to_dot(compute.graph_picture("(x+1)*(x+2)", {"x": 2.0}).model, "t")
    styles = {line.split("[", 1)[1].split(",", 1)[1] for line in dot.splitlines()
              if "[label=" in line}
    assert len(styles) == 4  # variable, constant, operation, output


def test_awkward_labels_are_escaped():
    assert dot_quote('a "b" \\ c\nd') == '"a \\"b\\" \\\\ c\\nd"'
    assert mermaid_text('where(x > 0, "a" & b)') == "where(x #gt; 0, #quot;a#quot; #amp; b)"
    model = compute.graph_picture("where(x > 0, x, 0) + θ", {"x": 1.0, "θ": 2.0}).model
    mermaid = to_mermaid(model, 'a "title" <here>')
    for line in mermaid.splitlines():
        if line.strip().startswith("n") and ("(" in line or "[" in line):
            inner = line.split('"', 1)[1].rsplit('"', 1)[0]
            assert '"' not in inner and "<" not in inner.replace("<br/>", "")
    assert "θ" in mermaid


def test_dot_output_is_valid_graphviz():
    dot = to_dot(compute.graph_picture("where(x > 0, x, 0) + x^2", {"x": 1.0}).model,
                 'quotes " and \\ backslash')
    if shutil.which("dot") is not None:  # CI installs Graphviz; then dot itself checks it
        done = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "<svg" in done.stdout
    # without Graphviz: the statement structure, and every quoted string closed
    body = dot.strip().splitlines()
    assert body[0] == "digraph gradcli {" and body[-1] == "}"
    for line in body[1:-1]:
        assert line.endswith(";"), line
        unescaped = re.sub(r'\\.', "", line)
        assert unescaped.count('"') % 2 == 0, line


def test_mermaid_flowchart_counts():
    model = compute.graph_picture("(x+1)*(x+2)", {"x": 2.0}).model
    mermaid = to_mermaid(model, "t")
    assert "flowchart LR" in mermaid
    assert len(re.findall(r"^  n\d+ --> n\d+$", mermaid, re.M)) == 6


def test_second_order_graph_is_larger():
    first = compute.graph_picture("x*x*y", {"x": 2.0, "y": 3.0}).model
    second = compute.graph_picture("x*x*y", {"x": 2.0, "y": 3.0}, order=2).model
    assert len(second.vertices) > len(first.vertices)
    assert len(second.edges) > len(first.edges)
    assert {v.label.split(" = ")[0] for v in second.vertices if v.output} == {"∂f/∂x", "∂f/∂y"}


def test_tree_shows_shared_subexpressions_once(capsys):
    code, out, _ = run(capsys, "graph", "a = sin(x); a*a + a", "x=1", "--format", "tree")
    assert code == 0 and not ESCAPE.search(out)
    assert out.count("a  [sin]") == 1 and out.count("(shown above)") == 2


def test_cli_graph_formats(capsys):
    code, out, _ = run(capsys, "graph", "(x+1)*(x+2)", "x=2", "--format", "dot")
    assert code == 0 and out.startswith("digraph gradcli {")
    code, out, _ = run(capsys, "graph", "(x+1)*(x+2)", "x=2", "--format", "mermaid")
    assert code == 0 and "flowchart LR" in out
    code, out, _ = run(capsys, "graph", "x*x*y", "x=2", "y=3", "--order", "2",
                       "--format", "json")
    result = json.loads(out)
    assert result["order"] == 2 and len(result["nodes"]) > 6 and result["edges"]


def test_render_writes_a_non_empty_svg(capsys, tmp_path):
    if shutil.which("dot") is None:
        code, _, err = run(capsys, "graph", "x^2", "x=1", "--render", str(tmp_path / "g.svg"))
        assert code == 2 and "--format dot" in err
        return
    target = tmp_path / "g.svg"
    code, _, err = run(capsys, "graph", "(x+1)*(x+2)", "x=2", "--render", str(target))
    assert code == 0 and "wrote" in err
    assert target.stat().st_size > 500 and "<svg" in target.read_text()


def test_render_without_dot_says_how_to_install(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    code, out, err = run(capsys, "graph", "x^2", "x=1", "--render", str(tmp_path / "g.svg"))
    assert code == 2 and "graphviz" in err.lower() and "--format dot" in err
    assert not (tmp_path / "g.svg").exists()


# -- the plot ------------------------------------------------------------------------------
def test_sampled_derivatives_match_differences_of_the_samples():
    result = sampling.plot("sin(x)*x", {}, [("x", -6.0, 6.0)], order=2, samples=2001)
    xs, f, d1, d2 = (result.samples, result.series["f"], result.series["f'"],
                     result.series["f''"])
    np.testing.assert_allclose(np.gradient(f, xs)[1:-1], d1[1:-1], atol=2e-4)
    np.testing.assert_allclose(np.gradient(d1, xs)[1:-1], d2[1:-1], atol=2e-4)
    np.testing.assert_allclose(d1, np.sin(xs) + xs * np.cos(xs), rtol=1e-12, atol=1e-12)


def test_non_finite_samples_are_gaps():
    result = sampling.plot("log(x)", {}, [("x", -1.0, 1.0)], order=1, samples=201)
    assert np.isnan(result.series["f"][:100]).all()
    # the picture draws no slope where f is undefined; the numbers stay grad's own (E6)
    assert np.isnan(result.drawn()["f'"][:100]).all()
    np.testing.assert_array_equal(result.series["f'"][:100], 1 / result.samples[:100])
    assert result.nonfinite and "gaps" in result.warnings[0]
    runs = finite_runs(result.samples, result.series["f"])
    assert len(runs) == 1 and runs[0][0][0] > 0
    text = terminal_plot(result, 70, 15, colour=False)
    assert "log(x)" in text


def test_a_pole_does_not_flatten_the_axes():
    result = sampling.plot("1/x", {}, [("x", -1.0, 1.0)], order=0, samples=400)
    text = terminal_plot(result, 70, 15, colour=False)
    ticks = [float(t) for t in re.findall(r"^\s*(-?\d+\.?\d*)┤", text, re.M)]
    assert max(ticks) < 200  # the largest samples (near 400) are cut off, not the scale


@pytest.mark.parametrize("width", [40, 72, 120])
def test_terminal_plot_fits_its_width(width):
    result = sampling.plot("sin(x)*x", {}, [("x", -6.0, 6.0)], order=2, samples=300,
                          mark={"x": 1.5})
    text = terminal_plot(result, width, 16, colour=False)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "f'' (second derivative)" in text or width < 50


def test_cli_plot_in_the_terminal_json_and_csv(capsys):
    code, out, _ = run(capsys, "plot", "sin(x)*x", "--over", "x=-6:6", "--order", "2",
                       "--width", "80", "--at", "x=1.5")
    assert code == 0 and "sin(x)*x" in out and "slope f' = 1.1036" in out
    assert not ESCAPE.search(out)
    code, out, _ = run(capsys, "plot", "x^2", "--over", "x=0:1", "--samples", "5",
                       "--format", "json")
    data = json.loads(out)
    assert data["x"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert data["series"]["f'"] == [0.0, 0.5, 1.0, 1.5, 2.0]
    code, out, _ = run(capsys, "plot", "x^2", "--over", "x=0:1", "--samples", "3",
                       "--format", "csv")
    assert out.splitlines() == ["x,f,f'", "0.0,0.0,0.0", "0.5,0.25,1.0", "1.0,1.0,2.0"]


def test_plot_takes_the_batched_path_so_vector_steps_work(capsys):
    # each sample is one point: sum([x, x^2]) is x + x^2 there, as under --points
    code, out, _ = run(capsys, "plot", "sum([x, x^2])", "--over", "x=0:1", "--samples", "3",
                       "--format", "csv")
    assert code == 0
    assert out.splitlines() == ["x,f,f'", "0.0,0.0,1.0", "0.5,0.75,2.0", "1.0,2.0,3.0"]
    # det(x, 1; 1, x) = x^2 - 1: f' = 2x, f'' = 2 (x = 1 is singular, so not sampled)
    code, out, _ = run(capsys, "plot", "det([[x, 1], [1, x]])", "--over", "x=2:3",
                       "--samples", "3", "--order", "2", "--format", "csv")
    assert code == 0
    rows = np.array([[float(v) for v in line.split(",")] for line in out.splitlines()[1:]])
    x = np.array([2.0, 2.5, 3.0])
    np.testing.assert_allclose(rows, np.stack([x, x * x - 1, 2 * x, 2 + 0 * x], axis=1),
                               rtol=1e-12)


def test_cli_plot_errors(capsys):
    code, _, err = run(capsys, "plot", "[x, x^2]", "--over", "x=0:1")
    assert code == 2 and "single number at each sample" in err
    code, _, err = run(capsys, "plot", "x^2", "--over", "x=1:0")
    assert code == 2 and "LO < HI" in err
    code, _, err = run(capsys, "plot", "x^2", "--over", "y=0:1")
    assert code == 2 and "not a variable" in err
    code, _, err = run(capsys, "plot", "x*y", "--over", "x=0:1", "--over", "y=0:1")
    assert code == 2 and "--out" in err


@pytest.mark.parametrize("name,magic", [("plot.png", b"\x89PNG"), ("plot.svg", b"<?xml"),
                                        ("plot.pdf", b"%PDF")])
def test_image_output_is_a_valid_file(capsys, tmp_path, name, magic):
    target = tmp_path / name
    code, _, err = run(capsys, "plot", "sin(x)*x", "--over", "x=-6:6", "--order", "2",
                       "--at", "x=1.5", "--out", str(target))
    assert code == 0, err
    assert target.read_bytes().startswith(magic) and target.stat().st_size > 1000


def test_two_variables_make_a_heat_map_image(capsys, tmp_path):
    target = tmp_path / "bump.png"
    code, _, err = run(capsys, "plot", "exp(-(x^2+y^2))*x", "--over", "x=-2:2",
                       "--over", "y=-2:2", "--out", str(target))
    assert code == 0, err
    assert target.read_bytes().startswith(b"\x89PNG")


def test_missing_extra_names_it(capsys, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    code, _, err = run(capsys, "plot", "x^2", "--over", "x=0:1", "--out",
                       str(tmp_path / "p.png"))
    assert code == 2 and "gradcli[plot]" in err
