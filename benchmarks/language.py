"""Language benchmark: parse + compile + gradient, per term and per nesting level.

(1) A flat sum of K terms, (x*1 + y)^2/2 + (x*2 + y)^2/3 + ..., about 12 tokens
    a term, at K = 1,000, 10,000 and 100,000: time per term for parse,
    compile (evaluation on the engine) and backward, each and together.
    Target: at most 60 us per term at every K, and linear growth in K.
    Where PyTorch is installed, the same sum built and backpropagated by torch
    eager from Python (no parsing), runs interleaved with gradcli's. Target: at
    K = 10,000, gradcli's parse + compile + backward at most 1.5x torch's.
(2) Nesting depth D = 1,000, 10,000, 100,000 of sin(sin(...(x)...)): time per level.

Run: python benchmarks/language.py [--repeats R] [--max-k K]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import gradcli as g
from gradcli.language import parse


def flat_sum(k: int) -> str:
    return " + ".join(f"(x*{i} + y)^2/{i + 1}" for i in range(1, k + 1))


def nested(depth: int) -> str:
    return "sin(" * depth + "x" + ")" * depth


def timed(text: str, names: tuple[str, ...]) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    program = parse(text)
    t1 = time.perf_counter()
    leaves = {n: g.tensor(0.5, requires_grad=True) for n in names}
    out = program.evaluate(leaves)
    t2 = time.perf_counter()
    out.backward()
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def median_of(text: str, names: tuple[str, ...], repeats: int) -> tuple[float, float, float]:
    runs = [timed(text, names) for _ in range(repeats)]
    return tuple(statistics.median(r[i] for r in runs) for i in range(3))  # type: ignore[return-value]


def torch_flat_sum(k: int) -> float:
    """Seconds for torch to build and backpropagate `flat_sum(k)`, written as Python."""
    import torch

    start = time.perf_counter()
    x = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    total = (x * 1 + y) ** 2 / 2
    for i in range(2, k + 1):
        total = total + (x * i + y) ** 2 / (i + 1)
    total.backward()
    return time.perf_counter() - start


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _lark_tree_parser() -> Any:
    """Plain Lark on the same grammar, building a parse tree: the baseline any Lark-based
    front end is measured against, taken in the same run on the same machine."""
    from lark import Lark, Token

    from gradcli.language.tables import read_grammar

    class Implicit:
        """The same IMPLICIT insertion gradcli's post-lexer does, on Lark's tokens."""

        always_accept = ("_NL",)

        def process(self, stream: Any) -> Any:
            previous = None
            for token in stream:
                if previous is not None and (
                        (previous.type == "NUMBER" and token.type in ("NAME", "LPAR"))
                        or (previous.type == "RPAR" and token.type == "LPAR")):
                    yield Token.new_borrow_pos("IMPLICIT", "", token)
                yield token
                previous = token

    return Lark(read_grammar(), parser="lalr", lexer="basic", postlex=Implicit(),
                maybe_placeholders=False)


def _time(action: Any) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-k", type=int, default=100_000)
    args = parser.parse_args()
    parse("x")  # build the parser once, outside the timings
    baseline = _lark_tree_parser()

    print("(1) flat sum of K terms: microseconds per term (median of repeats)")
    print(f"{'K':>8} {'parse':>8} {'compile':>8} {'backward':>9} {'total':>8} {'target':>8}"
          f"  {'lark tree parse alone':>22} {'total/lark':>10}")
    per_term = {}
    with_torch = _torch_available()
    torch_us: dict[int, float] = {}
    for k in (1_000, 10_000, 100_000):
        if k > args.max_k:
            continue
        repeats = args.repeats if k < 100_000 else 1
        runs, torch_runs = [], []
        for _ in range(repeats):  # interleaved, so that load hits both alike
            runs.append(timed(flat_sum(k), ("x", "y")))
            if with_torch:
                torch_runs.append(torch_flat_sum(k))
        p, c, b = (statistics.median(r[i] for r in runs) for i in range(3))
        if with_torch:
            torch_us[k] = statistics.median(torch_runs) / k * 1e6
        total = (p + c + b) / k * 1e6
        per_term[k] = total
        verdict = "ok" if total <= 60 else "MISS"
        text = flat_sum(k)
        lark_alone = statistics.median(
            _time(lambda text=text: baseline.parse(text)) for _ in range(repeats))
        lark_us = lark_alone / k * 1e6
        print(f"{k:>8} {p / k * 1e6:>8.1f} {c / k * 1e6:>8.1f} {b / k * 1e6:>9.1f} "
              f"{total:>8.1f} {'<=60':>8} {verdict:>4} {lark_us:>17.1f} {total / lark_us:>10.2f}")
    if len(per_term) > 1:
        ks = sorted(per_term)
        growth = per_term[ks[-1]] / per_term[ks[0]]
        print(f"per-term cost at K={ks[-1]} / K={ks[0]}: {growth:.2f} (1.0 = linear growth)")
    if with_torch:
        print("\n    torch eager, build + backward of the same sum from Python (no parsing)")
        print(f"{'K':>8} {'torch us/term':>14} {'gradcli total/torch':>20} {'target':>7}")
        for k, t in torch_us.items():
            ratio = per_term[k] / t
            verdict = ("ok" if ratio <= 1.5 else "MISS") if k == 10_000 else ""
            print(f"{k:>8} {t:>14.1f} {ratio:>20.2f} {'<=1.5' if k == 10_000 else '':>7} "
                  f"{verdict}")
    else:
        print("(torch not installed: pip install torch==2.13.0 for the torch comparison)")

    print("\n(2) nesting depth D: microseconds per level")
    print(f"{'D':>8} {'parse':>8} {'compile':>8} {'backward':>9} {'total':>8}")
    for depth in (1_000, 10_000, 100_000):
        if depth > args.max_k:
            continue
        p, c, b = median_of(nested(depth), ("x",), 1 if depth == 100_000 else args.repeats)
        print(f"{depth:>8} {p / depth * 1e6:>8.1f} {c / depth * 1e6:>8.1f} "
              f"{b / depth * 1e6:>9.1f} {(p + c + b) / depth * 1e6:>8.1f}")


if __name__ == "__main__":
    main()
