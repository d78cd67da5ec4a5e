"""What kind of point a Hessian makes: minimum, maximum, saddle, degenerate, or none."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def classify(matrix: np.ndarray, grads: Sequence[np.ndarray]) -> tuple[np.ndarray, str]:
    """Eigenvalues of the Hessian, and what kind of point that makes a critical point."""
    if not np.all(np.isfinite(matrix)):
        return np.full(matrix.shape[0], np.nan), "undetermined (the Hessian is not finite)"
    eigenvalues = np.linalg.eigvalsh((matrix + matrix.T) / 2)
    scale = max(1.0, float(np.max(np.abs(eigenvalues))) if eigenvalues.size else 1.0)
    tol = 1e-9 * scale
    gradient_norm = max((float(np.max(np.abs(g))) for g in grads if g.size), default=0.0)
    if gradient_norm > 1e-9 * max(1.0, scale):
        return eigenvalues, "not a critical point (the gradient is not zero)"
    if np.all(eigenvalues > tol):
        return eigenvalues, "local minimum"
    if np.all(eigenvalues < -tol):
        return eigenvalues, "local maximum"
    if np.any(eigenvalues > tol) and np.any(eigenvalues < -tol):
        return eigenvalues, "saddle point"
    return eigenvalues, "degenerate (a zero eigenvalue: the second-order test cannot tell)"
