"""THE op table: every function gradcli knows, one entry each.

Importing this package fills `gradcli.engine.op.OPS` and attaches the Tensor
operators and methods. The grammar, the help listing and the tests all read
that one table.
"""

from gradcli.engine.batching import apply_batched
from gradcli.engine.op import OPS, OpDef, lookup, public_ops
from gradcli.ops import (  # noqa: F401
    activations,
    arrays,
    binary,
    constructors,
    elementwise,
    linalg,
    matrices,
    matrix_structure,
    reductions,
    special_functions,
    structural,
)
from gradcli.ops._define import BINDERS, fn

__all__ = ["BINDERS", "OPS", "OpDef", "apply_batched", "fn", "lookup", "public_ops"]
