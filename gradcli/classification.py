"""What kind of point a Hessian makes: minimum, maximum, saddle, degenerate, or none.

Both tests are relative to the numbers themselves; there is no absolute floor,
so multiplying f by any power of ten (which scales the gradient, its terms and
the Hessian alike) never changes the answer. With ε = 2⁻⁵² and n variables:

* the gradient counts as zero when every component obeys
  |gᵢ| ≤ γ·Σ|termsᵢ| + 16·n·ε·Σⱼ |Hᵢⱼ|·|xⱼ|. The first part is the running error
  bound of this gradient (`gradcli.rounding`): Σ|termsᵢ| is the sum of the
  absolute values of the terms that were added up to make gᵢ, and γ a small
  multiple of ε times the number of roundings each term met. A least-squares
  gradient 2·Σ rₖ∇rₖ at a minimiser with nonzero residuals is zero only to
  that. The second part is what the rounding of the point itself (ε·|xⱼ|)
  moves the gradient by. At x = 0 with nothing cancelling that asks for an
  exactly zero gradient;
* with a tolerance of the user's own (`gtol`, as SciPy's minimisers take it),
  the gradient counts as zero when ‖g‖∞ ≤ gtol instead;
* an eigenvalue counts as zero when |λ| ≤ 16·n·ε·max|λ|: the accuracy of a
  backward-stable symmetric eigensolver. If every eigenvalue is zero the
  point is degenerate.

The README quotes these rules; keep the two in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SAFETY = 16.0
EPS = float(np.finfo(np.float64).eps)


@dataclass
class Verdict:
    """The classification, and the numbers it was decided on."""

    eigenvalues: np.ndarray
    classification: str
    #: ‖g‖∞ at the point
    gradient_norm: float
    #: per gradient component, the largest |gᵢ| that still counts as zero (or gtol)
    gradient_bound: np.ndarray | float
    #: "rounding" (the bound above) or "gtol"
    bound_from: str


def classify(matrix: np.ndarray, grads: Sequence[np.ndarray], point: np.ndarray,
             rounding: np.ndarray | None = None, gtol: float | None = None) -> Verdict:
    """Eigenvalues of the Hessian, and what kind of point that makes a critical point.

    `point` is the flattened variables, in the Hessian's row order; `rounding` the
    gradient's running error bound per component, flattened the same way (None: 0)."""
    n = matrix.shape[0]
    gradient = np.concatenate([np.asarray(g, dtype=np.float64).reshape(-1) for g in grads]) \
        if grads else np.zeros(0)
    norm = float(np.max(np.abs(gradient), initial=0.0))
    relative = SAFETY * max(n, 1) * EPS
    with np.errstate(over="ignore", invalid="ignore"):
        bound: np.ndarray | float = relative * (
            np.abs(matrix) @ np.abs(np.asarray(point, dtype=np.float64)))
        if rounding is not None:
            bound = bound + np.asarray(rounding, dtype=np.float64).reshape(-1)
    source = "rounding"
    if gtol is not None:
        bound, source = float(gtol), "gtol"

    def verdict(eigenvalues: np.ndarray, text: str) -> Verdict:
        return Verdict(eigenvalues, text, norm, bound, source)

    if not np.all(np.isfinite(matrix)):
        return verdict(np.full(n, np.nan), "undetermined (the Hessian is not finite)")
    eigenvalues = np.linalg.eigvalsh((matrix + matrix.T) / 2)
    if not np.all(np.isfinite(gradient)):
        return verdict(eigenvalues, "undetermined (the gradient is not finite)")
    if np.any(np.abs(gradient) > bound):
        return verdict(eigenvalues, "not a critical point (the gradient is not zero)")
    tol = relative * float(np.max(np.abs(eigenvalues))) if n else 0.0
    positive, negative = eigenvalues > tol, eigenvalues < -tol
    if np.all(positive):
        return verdict(eigenvalues, "local minimum")
    if np.all(negative):
        return verdict(eigenvalues, "local maximum")
    if np.any(positive) and np.any(negative):
        return verdict(eigenvalues, "saddle point")
    return verdict(eigenvalues,
                   "degenerate (a zero eigenvalue: the second-order test cannot tell)")
