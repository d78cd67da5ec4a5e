"""Matrix functions: logabsdet, solve, cholesky, eigvalsh, svdvals, matrix_power.

Matrices are the last two axes; every forward, VJP and JVP broadcasts over
the axes before them, so each entry's batch rule is its gufunc core signature.
The VJPs are Tensor code over entries of this table (inv, solve, matmul, the
private `eigh_vectors`), so Hessians work. A matrix outside an op's domain
(singular, not positive definite) gives inf or nan, as numpy's values do,
never an exception.

cholesky and eigvalsh read a symmetric matrix. Rather than ignore one
triangle, as LAPACK does, they act on (A + A^T)/2: for a symmetric A that is
the same value, and the derivative is then the true derivative of what is
computed, the symmetric one that PyTorch also returns.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from gradcli.engine.tensor import Tensor, as_tensor
from gradcli.errors import ShapeError
from gradcli.ops._define import as_int, defop, fn
from gradcli.ops.linalg import _inv, _matrix_of, _square, _swap_last

LINEAR_ALGEBRA = "linear algebra"


def _t(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def _sym(a: Any) -> Any:
    """(A + A^T)/2, for arrays and Tensors alike."""
    return 0.5 * (a + (_t(a) if isinstance(a, np.ndarray) else _swap_last(a)))


def _eye(n: int) -> Tensor:
    # a constant of the shape only (not of the data), so recordings stay replayable
    return as_tensor(np.eye(n))


def _row(t: Tensor) -> Tensor:
    """(..., n) -> (..., 1, n), to scale a matrix's columns."""
    return fn.reshape(t, (*t.shape[:-1], 1, t.shape[-1]))


def _column(t: Tensor) -> Tensor:
    return fn.reshape(t, (*t.shape, 1))


def _last(t: Tensor) -> Tensor:
    """(..., n, 1) -> (..., n)."""
    return fn.getitem(t, (Ellipsis, 0))


def _sum_terms(*terms: Any) -> Any:
    present = [t for t in terms if t is not None]
    total = present[0]
    for t in present[1:]:
        total = total + t
    return total


# -- logabsdet ------------------------------------------------------------------------
def _logabsdet(a: np.ndarray) -> np.ndarray:
    return np.linalg.slogdet(a)[1]


defop("logabsdet", _logabsdet,
      # d log|det A| = tr(inv(A) dA): the VJP is g inv(A)^T
      vjp=(lambda g, out, a: _matrix_of(g) * _swap_last(fn.inv(a)),),
      jvp=lambda ts, out, a: fn.sum(_swap_last(fn.inv(a)) * ts[0], axis=(-2, -1)),
      kind="array", inputs=("A",), core="(m,m)->()", group=LINEAR_ALGEBRA,
      prepare=lambda ts, p: _square(ts, p, "logabsdet"), domain="A not singular",
      help="log |det A|, without overflow",
      note="at a singular matrix the value is -inf and the derivative nan")


# -- solve --------------------------------------------------------------------------------
def _solve_columns(a: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, rhs)
    except np.linalg.LinAlgError:  # a singular matrix somewhere in the stack: nan there
        return _inv(a) @ rhs


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """inv(A) b; b a vector (1-D) or a matrix (a stack of them)."""
    vector = b.ndim == 1
    x = _solve_columns(a, b[:, None] if vector else b)
    return x[..., 0] if vector else x


def _solve_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    a, b = tensors
    _square((a,), params, "solve")
    rows = b.shape[0] if b.ndim == 1 else (b.shape[-2] if b.ndim >= 2 else None)
    if rows != a.shape[-1]:
        raise ShapeError(f"solve: A is {a.shape[-2]}x{a.shape[-1]} but b has shape {b.shape}",
                         hint="b is a vector of length n or a matrix with n rows")
    return tensors, params


def _solve_vjp(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> list[Tensor]:
    # x = inv(A) b:  b-bar = inv(A)^T g,  A-bar = -b-bar x^T
    vector = b.ndim == 1
    gc, xc = (_column(g), _column(out)) if vector else (g, out)
    gb = fn.solve(_swap_last(a), gc)
    ga = -fn.matmul(gb, _swap_last(xc))
    return [ga, _last(gb) if vector else gb]


def _solve_jvp(ts: list[Any], out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    # dx = inv(A) (db - dA x), a vector b taken as one column
    vector = b.ndim == 1
    db, x = (None if ts[1] is None else _column(ts[1]), _column(out)) if vector else (ts[1], out)
    dx = fn.solve(a, _sum_terms(db, None if ts[0] is None else -(ts[0] @ x)))
    return _last(dx) if vector else dx


defop("solve", _solve, vjp=_solve_vjp, jvp=_solve_jvp, nin=2, kind="array",
      inputs=("A", "b"), core="(m,m),(m,n?)->(m,n?)", group=LINEAR_ALGEBRA,
      prepare=_solve_prepare, domain="A not singular",
      help="x with A x = b (b a vector or a matrix), without forming inv(A)",
      note="at a singular A the solution and its derivatives are nan")


# -- cholesky -------------------------------------------------------------------------------
def _cholesky(a: np.ndarray) -> np.ndarray:
    s = _sym(a)
    try:
        return np.linalg.cholesky(s)
    except np.linalg.LinAlgError:  # not positive definite somewhere: nan there
        out = np.full(s.shape, np.nan)
        good = np.linalg.eigvalsh(s)[..., 0] > 0
        with contextlib.suppress(np.linalg.LinAlgError):  # borderline: nan everywhere
            out[good] = np.linalg.cholesky(s[good])
        return out


def _phi(x: Any, eye: Any) -> Any:
    """The lower triangle with the diagonal halved."""
    lower = fn.tril(x) if isinstance(x, Tensor) else np.tril(x)
    return lower - 0.5 * x * eye


def _cholesky_vjp(g: Tensor, out: Tensor, a: Tensor) -> Tensor:
    # Murray (2016): S = L^-T phi(L^T g) L^-1, symmetrised (the forward symmetrises A)
    eye = _eye(a.shape[-1])
    linv = fn.inv(out)
    s = fn.matmul(fn.matmul(_swap_last(linv), _phi(fn.matmul(_swap_last(out), g), eye)), linv)
    return 0.5 * (s + _swap_last(s))


def _cholesky_jvp(ts: list[Any], out: Tensor, a: Tensor) -> Tensor:
    # dL = L phi(L^-1 dA L^-T)
    linv = fn.inv(out)
    return out @ _phi(linv @ _sym(ts[0]) @ _swap_last(linv), _eye(a.shape[-1]))


defop("cholesky", _cholesky, vjp=(_cholesky_vjp,), jvp=_cholesky_jvp, kind="array",
      inputs=("A",), core="(m,m)->(m,m)", group=LINEAR_ALGEBRA,
      prepare=lambda ts, p: _square(ts, p, "cholesky"), sample=((-2.0, 2.0),),
      domain="A symmetric positive definite",
      help="the lower-triangular L with L L^T = A (A symmetric positive definite)",
      note="reads (A + A^T)/2, so the derivative is the symmetric one (as PyTorch); "
           "not positive definite: nan")


# -- eigvalsh and the eigenvectors behind its derivatives ----------------------------------
def _eigvalsh(a: np.ndarray) -> np.ndarray:
    return np.linalg.eigvalsh(_sym(a))


def _eigh_vectors(a: np.ndarray) -> np.ndarray:
    return np.linalg.eigh(_sym(a))[1]


def _eigvalsh_vjp(g: Tensor, out: Tensor, a: Tensor) -> Tensor:
    # d w_i = v_i^T dA v_i: the VJP is V diag(g) V^T (symmetric, whatever the signs of V)
    v = fn.eigh_vectors(a)
    return fn.matmul(v * _row(g), _swap_last(v))


def _eigvalsh_jvp(ts: list[Any], out: Tensor, a: Tensor) -> Tensor:
    # d w_i = v_i^T dA v_i
    v = fn.eigh_vectors(a)
    return fn.sum(v * (_sym(ts[0]) @ v), axis=-2)


def _gaps(w: Any, eye: Any) -> Any:
    """F[i, j] = 1/(w_j - w_i) off the diagonal, 0 on it (no 1/0 even on the diagonal)."""
    diff = _row(w) - _column(w) if isinstance(w, Tensor) else w[..., None, :] - w[..., :, None]
    return (1.0 - eye) / (diff + eye)


def _eigh_vectors_vjp(g: Tensor, out: Tensor, a: Tensor) -> Tensor:
    # dV = V (F o (V^T dA V)), so A-bar = V (F o (V^T g)) V^T, symmetrised
    f = _gaps(fn.eigvalsh(a), _eye(a.shape[-1]))
    inner = f * fn.matmul(_swap_last(out), g)
    s = fn.matmul(fn.matmul(out, inner), _swap_last(out))
    return 0.5 * (s + _swap_last(s))


def _eigh_vectors_jvp(ts: list[Any], out: Tensor, a: Tensor) -> Tensor:
    # dV = V (F o (V^T dA V))
    return out @ (_gaps(fn.eigvalsh(a), _eye(a.shape[-1])) * (_swap_last(out) @ _sym(ts[0]) @ out))


defop("eigvalsh", _eigvalsh, vjp=(_eigvalsh_vjp,), jvp=_eigvalsh_jvp, kind="array",
      inputs=("A",), core="(m,m)->(m)", group=LINEAR_ALGEBRA,
      prepare=lambda ts, p: _square(ts, p, "eigvalsh"), domain="A symmetric",
      help="the eigenvalues of a symmetric matrix, ascending",
      note="reads (A + A^T)/2. Derivatives are exact where the eigenvalues are distinct; "
           "at a repeated eigenvalue the first derivative is one valid choice (that of "
           "the eigenvectors LAPACK returns) and second derivatives are inf or nan")
defop("eigh_vectors", _eigh_vectors, vjp=(_eigh_vectors_vjp,), jvp=_eigh_vectors_jvp,
      kind="array", inputs=("A",), core="(m,m)->(m,m)", public=False, group=LINEAR_ALGEBRA,
      prepare=lambda ts, p: _square(ts, p, "eigh_vectors"),
      help="the eigenvectors of (A + A^T)/2 as columns, in eigvalsh's order (signs as "
           "LAPACK gives them; used only where they cancel, as in V diag(g) V^T)")


# -- svdvals ----------------------------------------------------------------------------
def _svdvals(a: np.ndarray) -> np.ndarray:
    return np.linalg.svd(a, compute_uv=False)


_DESCENDING = (Ellipsis, slice(None, None, -1))


def _svdvals_vjp(g: Tensor, out: Tensor, a: Tensor) -> Tensor:
    # d s_i = u_i^T dA v_i, so A-bar = U diag(g) V^T. On the smaller side U (or V) is
    # A V / s, and V the eigenvectors of A^T A: Tensor code all the way down
    # (A V) first, then the 1/s: at a (numerically) zero singular value A v is ~0 and the
    # product stays ~0, the subgradient abs uses at 0, rather than cancelling to garbage
    m, n = a.shape[-2:]
    weight = _row(g / fn.where(out == 0.0, 1.0, out))
    if m >= n:
        v = fn.getitem(fn.eigh_vectors(fn.matmul(_swap_last(a), a)), _DESCENDING)
        return fn.matmul(fn.matmul(a, v) * weight, _swap_last(v))
    u = fn.getitem(fn.eigh_vectors(fn.matmul(a, _swap_last(a))), _DESCENDING)
    return fn.matmul(u, _swap_last(fn.matmul(_swap_last(a), u) * weight))


def singular_value_weight(a: Tensor, largest_only: bool) -> Tensor:
    """d/dA of the sum of A's singular values (the nuclear norm), or of the largest."""
    s = fn.svdvals(a)
    seed = np.zeros(s.shape) if largest_only else np.ones(s.shape)
    if largest_only:
        seed[..., 0] = 1.0
    return _svdvals_vjp(as_tensor(seed), s, a)


def _svdvals_jvp(ts: list[Any], out: Tensor, a: Tensor) -> Tensor:
    # d s_i = u_i^T dA v_i, with u_i = A v_i / s_i (or v_i = A^T u_i / s_i), as in the VJP
    m, n = a.shape[-2:]
    scale = 1.0 / fn.where(out == 0.0, 1.0, out)
    if m >= n:
        v = fn.getitem(fn.eigh_vectors(fn.matmul(_swap_last(a), a)), _DESCENDING)
        return fn.sum((a @ v) * (ts[0] @ v), axis=-2) * scale
    u = fn.getitem(fn.eigh_vectors(fn.matmul(a, _swap_last(a))), _DESCENDING)
    return fn.sum(u * (ts[0] @ (_swap_last(a) @ u)), axis=-2) * scale


def _matrix_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any], name: str) -> Any:
    if tensors[0].ndim < 2:
        raise ShapeError(f"{name}: needs a matrix, got shape {tensors[0].shape}")
    return tensors, params


defop("svdvals", _svdvals, vjp=(_svdvals_vjp,), jvp=_svdvals_jvp, kind="array",
      inputs=("A",), core="(m,n)->(k)", group=LINEAR_ALGEBRA,
      prepare=lambda ts, p: _matrix_prepare(ts, p, "svdvals"),
      help="the singular values of a matrix, descending",
      note="derivatives are exact where the singular values are distinct and nonzero; a "
           "zero singular value gets the subgradient 0 (as abs at 0), and second "
           "derivatives at repeated ones are inf or nan")


# -- matrix_power ------------------------------------------------------------------------
def _matrix_power(a: np.ndarray, k: int) -> np.ndarray:
    if k < 0:
        return np.linalg.matrix_power(_inv(a), -k)
    return np.linalg.matrix_power(a, k)


def _power_sum(b: Tensor, g: Tensor, k: int) -> Tensor:
    """sum_j (B^T)^j g (B^T)^(k-1-j): the VJP of B^k for k >= 1."""
    bt = _swap_last(b)
    powers = [None] + [fn.matrix_power(bt, j) for j in range(1, k)]
    total = None
    for j in range(k):
        term = g if powers[k - 1 - j] is None else fn.matmul(g, powers[k - 1 - j])
        if powers[j] is not None:
            term = fn.matmul(powers[j], term)
        total = term if total is None else total + term
    assert total is not None
    return total


def _matrix_power_vjp(g: Tensor, out: Tensor, a: Tensor, k: int) -> Tensor:
    if k == 0:
        return g * 0.0
    if k > 0:
        return _power_sum(a, g, k)
    b = fn.inv(a)  # A^k = inv(A)^|k|, and inv's VJP is -B^T (.) B^T
    bt = _swap_last(b)
    return -fn.matmul(fn.matmul(bt, _power_sum(b, g, -k)), bt)


def _matrix_power_jvp(ts: list[Any], out: Tensor, a: Tensor, k: int) -> Tensor | None:
    # d B^n = sum_j B^j dB B^(n-1-j), with B = A (k > 0) or inv(A) and dB = -B dA B (k < 0)
    if k == 0:
        return None
    b = a if k > 0 else fn.inv(a)
    db = ts[0] if k > 0 else -(b @ ts[0] @ b)
    n = abs(k)
    terms = []
    for j in range(n):
        term = db if j == 0 else fn.matrix_power(b, j) @ db
        terms.append(term if j == n - 1 else term @ fn.matrix_power(b, n - 1 - j))
    return _sum_terms(*terms)


def _power_prepare(tensors: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    _square(tensors, params, "matrix_power")
    params["k"] = as_int(params["k"], "matrix_power: k")
    return tensors, params


defop("matrix_power", _matrix_power, vjp=(_matrix_power_vjp,), jvp=_matrix_power_jvp,
      params=(("k", 1),), kind="array", inputs=("A",), core="(m,m)->(m,m)",
      group=LINEAR_ALGEBRA, prepare=_power_prepare,
      help="A multiplied by itself k times (k a whole number; negative: powers of inv(A))",
      domain="A not singular when k < 0")
