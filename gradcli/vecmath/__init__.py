"""Our own math functions for compiled plans: vectorizable, within 1 ulp.

The C library's `sin`, `exp`, ... are scalar calls, and a loop that calls
them cannot be vectorized. The functions here are written as branch-free
scalar LLVM IR (selects instead of branches, polynomials with fma), marked
alwaysinline and defined in the kernel's own module, so once LLVM inlines
them the plan's point loop is vectorized at the host's width: AVX-512,
AVX2 or SSE lanes, whatever the target machine (the host CPU) offers, or
left scalar where vectorizing does not pay. Rare arguments that need a long
computation (sin of a huge x) take a real branch to a scalar function
through masked vector variants (`gradcli.vecmath.lanes`).

Accuracy: at most 1 ulp against mpmath, checked on a sample by the tests
and on 10^6 points per function by `benchmarks/vecmath.py`. The algorithms
are the public ones (Cody-Waite and Payne-Hanek reduction, Taylor series
with error-free transformations); the code is ours.

`definitions(names)` is the module text a kernel that calls
`@gradcli_vm_<name>` needs; `finish(llvm, module)` is the pass that inlines
the vector variants once the loop vectorizer has placed them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from gradcli.vecmath import exp_log, hyperbolic, trig
from gradcli.vecmath.ir import Function
from gradcli.vecmath.lanes import WIDTHS, variant, variant_name

#: each function by the C library's name, and how to write it
FUNCTIONS: dict[str, Callable[[], Function]] = {
    "sin": lambda: trig.trig("sin"), "cos": lambda: trig.trig("cos"),
    "tan": lambda: trig.trig("tan"),
    "exp": exp_log.exp, "exp2": exp_log.exp2, "expm1": exp_log.expm1,
    "log": exp_log.log, "log2": exp_log.log2, "log10": exp_log.log10,
    "log1p": exp_log.log1p,
    "sinh": hyperbolic.sinh, "cosh": hyperbolic.cosh, "tanh": hyperbolic.tanh,
    "atan": hyperbolic.atan,
}
#: the cold scalar paths, by the name of the function that branches to them
_COLD: dict[str, Callable[[], Function]] = {
    "gradcli_vm_sin_huge": lambda: trig.huge("sin"),
    "gradcli_vm_cos_huge": lambda: trig.huge("cos"),
    "gradcli_vm_tan_huge": lambda: trig.huge("tan"),
}


def symbol(name: str) -> str:
    """The IR name of our function for the C library's `name`."""
    return f"gradcli_vm_{name}"


def definitions(names: Iterable[str]) -> list[str]:
    """The module-level lines (globals, declarations, functions) for these functions."""
    wanted = sorted(set(names))
    texts: list[str] = []
    declarations: set[str] = set()
    globals_: set[str] = set()
    cold: set[str] = set()
    for name in wanted:
        fn = FUNCTIONS[name]()
        texts.append(fn.define())
        declarations |= fn.intrinsics
        globals_ |= fn.globals
        cold |= {u for u in fn.uses if u in _COLD}
    used: list[str] = []
    for name in sorted(cold):
        fn = _COLD[name]()
        texts.append(fn.define("noinline nounwind cold"))
        declarations |= fn.intrinsics
        globals_ |= fn.globals
        for width in WIDTHS:
            texts.append(variant(name, width))
            used.append(f"ptr @{variant_name(name, width)}")
    if used:
        globals_.add(f"@llvm.compiler.used = appending global [{len(used)} x ptr] "
                     f"[{', '.join(used)}], section \"llvm.metadata\"")
    return [*sorted(globals_), *sorted(declarations), *texts]


def finish(llvm: Any, module: Any, machine: Any) -> None:
    """Inline the masked vector variants the vectorizer has called, and tidy up."""
    options = llvm.create_pipeline_tuning_options(speed_level=1)
    builder = llvm.create_pass_builder(machine, options)
    manager = llvm.create_new_module_pass_manager()
    manager.add_always_inliner_pass()
    manager.add_simplify_cfg_pass()
    manager.add_instruction_combine_pass()
    manager.add_global_dead_code_eliminate_pass()
    manager.run(module, builder)


def provides(name: str, math: str, vector_width: int = 8) -> str | None:
    """Our function's IR name for the C library's `name`, where `math` asks for ours.

    The modes are the choices of the CLI's --math (`gradcli.cli.spec.MATH`):
    accurate (ours, the default) and libm (the C library's scalar functions,
    numpy's bits). Ours need fma and at least AVX2's four lanes to beat the C
    library (measured, `benchmarks/vecmath.py`: unvectorized, our exp and log
    are 2-5x slower than glibc's table-driven ones); on a narrower target, or
    where loops are not vectorized, accurate means the C library (within 1 ulp
    too, about 0.5 measured), which is what compiled plans called before."""
    if math != "accurate" or name not in FUNCTIONS or vector_width < 4:
        return None
    return symbol(name)
