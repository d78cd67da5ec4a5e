"""THE op table: every function gradcli knows, one entry each.

Importing this package fills `gradcli.engine.op.OPS` and attaches the Tensor
operators and methods. The grammar, the help listing and the tests all read
that one table.
"""

from gradcli.engine.op import OPS, OpDef, lookup, public_ops
from gradcli.ops import (  # noqa: F401
    arrays,
    binary,
    constructors,
    elementwise,
    reductions,
    structural,
)
from gradcli.ops._define import fn

__all__ = ["OPS", "OpDef", "fn", "lookup", "public_ops"]
