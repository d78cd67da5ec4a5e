"""gradcli: exact derivatives from the shell, on an autograd engine of its own.

The Python API follows PyTorch's names: `tensor`, `Tensor`, `grad`,
`Tensor.backward`, `no_grad`, and one module-level function per op in the
table (`gradcli.sin`, `gradcli.sum`, `gradcli.matmul`, ...).
"""

from __future__ import annotations

from typing import Any

from gradcli.engine import (
    Tensor,
    as_tensor,
    backward,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
    tensor,
    watch_nonfinite,
)
from gradcli.errors import GradcliError
from gradcli.ops import OPS, fn, public_ops

__version__ = "0.1.0"

# one module-level function per public op, generated from the table
for _op in public_ops():
    for _name in (_op.name, *_op.aliases):
        globals()[_name] = getattr(fn, _op.name)
del _op, _name


def __getattr__(name: str) -> Any:
    # the language is imported lazily: plain engine use need not load lark
    if name in ("parse", "Program"):
        from gradcli import language

        return getattr(language, name)
    if name == "functional":
        import importlib

        return importlib.import_module("gradcli.functional")
    raise AttributeError(f"module 'gradcli' has no attribute {name!r}")


__all__ = [
    "OPS", "GradcliError", "Tensor", "as_tensor", "backward", "enable_grad", "functional",
    "grad", "is_grad_enabled", "no_grad", "set_grad_enabled", "tensor", "watch_nonfinite",
    *(op.name for op in public_ops()),
]
