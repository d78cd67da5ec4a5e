"""The autograd engine: Tensor, graph vertices, reverse and forward passes.

It knows nothing of particular ops (see `gradcli.ops`), of the expression
language, or of the terminal.
"""

from gradcli.engine.autograd import backward, grad
from gradcli.engine.forward import push_tangents
from gradcli.engine.mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from gradcli.engine.tensor import AccumulateGrad, Node, Tensor, as_tensor, tensor
from gradcli.engine.watch import NonFiniteEvent, watch_nonfinite

__all__ = [
    "AccumulateGrad", "Node", "NonFiniteEvent", "Tensor", "as_tensor", "backward",
    "enable_grad", "grad", "is_grad_enabled", "no_grad", "push_tangents",
    "set_grad_enabled", "tensor", "watch_nonfinite",
]
