"""Formula sizes: gradcli diff against SymPy's diff, on 20 ordinary expressions.

For each expression, the first derivative as gradcli writes it (read off the
graph create_graph records, then simplified) and as SymPy's `diff` writes it,
their lengths in characters with spaces removed, and the ratio. The targets
(issue 14): gradcli's median no longer than SymPy's, and no formula more than
3 times SymPy's. Then the speed targets: the 4th derivative of exp(sin(x)) and
the Hessian of a 10-variable Rosenbrock function, each printed in under a
second (medians of 5 runs, wall clock, formula text included).

SymPy is a benchmark-only dependency: `pip install -e ".[bench]"`.

    python benchmarks/formulas.py
"""

from __future__ import annotations

import statistics
import sys

from timing import median_time

EXPRESSIONS = [
    "x^3 + 2*x^2 - 5*x + 1",
    "x^5 - 3*x^3 + x",
    "(x+1)*(x+2)",
    "(x^2 + 1)^3",
    "x^2*sin(x)",
    "exp(x)*cos(x)",
    "exp(2*x)*sin(3*x)",
    "sin(x)/x",
    "(x^2 - 1)/(x^2 + 1)",
    "1/(1 + x^2)",
    "exp(sin(x))",
    "log(x^2 + 1)",
    "log(sin(x))",
    "sqrt(x^2 + 1)",
    "x*exp(-x^2)",
    "tan(x)",
    "atan(x)",
    "2^x",
    "x^x",
    "x^sin(x)",
]


def size(text: str) -> int:
    return len(text.replace(" ", ""))


def sympy_formula(expression: str) -> str:
    import sympy

    x = sympy.Symbol("x")
    parsed = sympy.sympify(expression.replace("^", "**"), locals={"x": x})
    return str(sympy.diff(parsed, x))


def main() -> int:
    try:
        import sympy  # noqa: F401
    except ImportError:
        print("needs SymPy: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    from gradcli.formula import diff
    from gradcli.formula.derive import nth_derivative

    rows = []
    for expression in EXPRESSIONS:
        ours = diff(expression).formulas["x"].text
        theirs = sympy_formula(expression)
        rows.append((expression, ours, theirs, size(ours) / size(theirs)))
    width = max(len(e) for e in EXPRESSIONS)
    print(f"{'expression':<{width}}  {'ratio':>5}  gradcli | sympy")
    for expression, ours, theirs, ratio in rows:
        print(f"{expression:<{width}}  {ratio:5.2f}  {ours} | {theirs}")
    ours_sizes = [size(r[1]) for r in rows]
    theirs_sizes = [size(r[2]) for r in rows]
    ratios = [r[3] for r in rows]
    print()
    print(f"median size: gradcli {statistics.median(ours_sizes):g}, "
          f"sympy {statistics.median(theirs_sizes):g} characters (spaces removed)")
    print(f"ratio gradcli/sympy: median {statistics.median(ratios):.2f}, "
          f"max {max(ratios):.2f} (target: median <= 1, max <= 3)")

    fourth = median_time(lambda: nth_derivative("exp(sin(x))", "x", 4).text, 5)
    rosenbrock = " + ".join(f"100*(x{i + 1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(9))
    hessian = median_time(lambda: diff(rosenbrock, order=2), 5)
    print(f"4th derivative of exp(sin(x)): {fourth * 1000:.0f} ms; "
          f"Hessian of a 10-variable Rosenbrock: {hessian * 1000:.0f} ms (target: < 1000 ms)")
    ok = statistics.median(ours_sizes) <= statistics.median(theirs_sizes) and max(ratios) <= 3
    return 0 if ok and fourth < 1 and hessian < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
