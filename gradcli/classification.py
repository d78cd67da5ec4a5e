"""What kind of point a Hessian makes: minimum, maximum, saddle, degenerate, or none.

Both tests are relative to the precision of the numbers themselves; there is
no absolute floor, so multiplying f by any power of ten (which scales the
gradient and the Hessian alike) never changes the answer. With ε = 2⁻⁵² and n
variables, and the constant `SAFETY` = 16:

* the gradient counts as zero when every component obeys
  |∂f/∂xᵢ| ≤ 16·n·ε·Σⱼ |Hᵢⱼ|·|xⱼ|: the rounding a gradient picks up at a
  critical point, where it is computed as H·x-sized terms that cancel. At
  x = 0 that asks for an exactly zero gradient;
* an eigenvalue counts as zero when |λ| ≤ 16·n·ε·max|λ|: the accuracy of a
  backward-stable symmetric eigensolver. If every eigenvalue is zero the
  point is degenerate.

The README quotes these rules; keep the two in step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SAFETY = 16.0
EPS = float(np.finfo(np.float64).eps)


def classify(matrix: np.ndarray, grads: Sequence[np.ndarray], point: np.ndarray
             ) -> tuple[np.ndarray, str]:
    """Eigenvalues of the Hessian, and what kind of point that makes a critical point.

    `point` is the flattened variables, in the Hessian's row order."""
    n = matrix.shape[0]
    if not np.all(np.isfinite(matrix)):
        return np.full(n, np.nan), "undetermined (the Hessian is not finite)"
    gradient = np.concatenate([np.asarray(g, dtype=np.float64).reshape(-1) for g in grads]) \
        if grads else np.zeros(0)
    eigenvalues = np.linalg.eigvalsh((matrix + matrix.T) / 2)
    if not np.all(np.isfinite(gradient)):
        return eigenvalues, "undetermined (the gradient is not finite)"
    relative = SAFETY * max(n, 1) * EPS
    with np.errstate(over="ignore", invalid="ignore"):
        rounding = relative * (np.abs(matrix) @ np.abs(np.asarray(point, dtype=np.float64)))
    if np.any(np.abs(gradient) > rounding):
        return eigenvalues, "not a critical point (the gradient is not zero)"
    tol = relative * float(np.max(np.abs(eigenvalues))) if n else 0.0
    positive, negative = eigenvalues > tol, eigenvalues < -tol
    if np.all(positive):
        return eigenvalues, "local minimum"
    if np.all(negative):
        return eigenvalues, "local maximum"
    if np.any(positive) and np.any(negative):
        return eigenvalues, "saddle point"
    return eigenvalues, "degenerate (a zero eigenvalue: the second-order test cannot tell)"
