"""Masked vector variants of the cold scalar paths, for the loop vectorizer.

A math function whose rare arguments need a long computation (sin of
|x| > 2^27) branches to a scalar function for them. LLVM's loop vectorizer
can keep such a loop vectorized only if the call has a masked vector variant
(the `vector-function-abi-variant` attribute, VFABI names); the variants here
test the mask once, so a vector of ordinary arguments costs one test and one
branch, and call the scalar function lane by lane otherwise. They are inlined
after vectorization (`gradcli.vecmath.optimise`).
"""

from __future__ import annotations

WIDTHS = (2, 4, 8, 16)


def variant_name(scalar: str, width: int) -> str:
    return f"{scalar}_v{width}"


def variants_attribute(scalar: str) -> str:
    """The call-site attribute naming the masked variants of `scalar`."""
    names = ",".join(f"_ZGV_LLVM_M{w}v_{scalar}({variant_name(scalar, w)})" for w in WIDTHS)
    return f' "vector-function-abi-variant"="{names}"'


def variant(scalar: str, width: int) -> str:
    """`<width x double> f(<width x double> x, <width x i1> mask)`: scalar where masked.

    The mask test is inlined; the lanes are visited by a separate function, so
    each call site stays small (compile time) and pays a call only when needed."""
    vector, mask = f"<{width} x double>", f"<{width} x i1>"
    lanes = f"{variant_name(scalar, width)}_lanes"
    test = [f"define internal {vector} @{variant_name(scalar, width)}({vector} %x, "
            f"{mask} %m) alwaysinline nounwind {{",
            "entry:",
            f"  %bits = bitcast {mask} %m to i{width}",
            f"  %none = icmp eq i{width} %bits, 0",
            "  br i1 %none, label %done, label %some",
            "some:",
            f"  %some_result = call {vector} @{lanes}({vector} %x, {mask} %m)",
            "  br label %done",
            "done:",
            f"  %result = phi {vector} [ %x, %entry ], [ %some_result, %some ]",
            f"  ret {vector} %result", "}"]
    lines = [f"define internal {vector} @{lanes}({vector} %x, {mask} %m) noinline cold "
             "nounwind {",
             "entry:",
             "  br label %lane0"]
    current = "%x"
    for k in range(width):
        lines += [f"lane{k}:",
                  f"  %on{k} = extractelement {mask} %m, i64 {k}",
                  f"  br i1 %on{k}, label %call{k}, label %next{k}",
                  f"call{k}:",
                  f"  %in{k} = extractelement {vector} {current}, i64 {k}",
                  f"  %out{k} = call double @{scalar}(double %in{k})",
                  f"  %with{k} = insertelement {vector} {current}, double %out{k}, i64 {k}",
                  f"  br label %next{k}",
                  f"next{k}:",
                  f"  %acc{k} = phi {vector} [ {current}, %lane{k} ], [ %with{k}, %call{k} ]"]
        current = f"%acc{k}"
        following = f"lane{k + 1}" if k + 1 < width else "done"
        lines.append(f"  br label %{following}")
    lines += ["done:", f"  ret {vector} {current}", "}"]
    return "\n".join(test + lines)
