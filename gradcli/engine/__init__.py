"""The autograd engine: Tensor, graph vertices, reverse and forward passes.

It knows nothing of particular ops (see `gradcli.ops`), of the expression
language, or of the terminal.
"""

from gradcli.engine.autograd import backward, grad
from gradcli.engine.mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from gradcli.engine.tensor import AccumulateGrad, Node, Tensor, as_tensor, tensor
from gradcli.engine.watch import NonFiniteEvent, watch_nonfinite


def __getattr__(name: str) -> object:
    # forward mode loads on first use: most jobs are reverse mode only
    if name == "push_tangents":
        from gradcli.engine.forward import push_tangents

        return push_tangents
    raise AttributeError(f"module 'gradcli.engine' has no attribute {name!r}")


__all__ = [
    "AccumulateGrad", "Node", "NonFiniteEvent", "Tensor", "as_tensor", "backward",
    "enable_grad", "grad", "is_grad_enabled", "no_grad", "push_tangents",
    "set_grad_enabled", "tensor", "watch_nonfinite",
]
