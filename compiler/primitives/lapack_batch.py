"""Vectorised forms of the matrix routines of ``compiler.primitives.lapack``: one NumPy
call over a whole batch of matrices instead of one Python iteration (and one LAPACK call)
per matrix, so a vmap over thousands of small matrices costs a few calls, not thousands.

Each function returns None when its vectorised form does not apply: a failure somewhere
in the batch (NumPy raises for the whole batch), a non-finite input, matrices too large
to gain. The caller then runs its per-matrix form, whose failure semantics are exact (NaN
or inf for that matrix only).

Triangular solves run as ``np.linalg.solve`` on an *upper* triangle: partial pivoting then
never swaps rows (everything below the diagonal is zero), so the LU factorization leaves
the matrix as it is and the solve is back substitution, as a BLAS trsm; a lower triangle
is solved as the (upper) triangle of the order-reversed matrix.
"""
import numpy as np

SMALL = 32          # order up to which the triangular routines run vectorised


def _t(x):
    return np.swapaxes(x, -1, -2)


def whole(fn, *arrays):
    """``fn(*arrays)`` on the whole batch, or None when NumPy raises for some matrix."""
    try:
        with np.errstate(all="ignore"):
            return fn(*arrays)
    except np.linalg.LinAlgError:
        return None


def _applies(*arrays):
    return arrays[0].shape[-1] <= SMALL and all(np.isfinite(x).all() for x in arrays)


def _upper_solve(u, b):
    """u^-1 b for upper-triangular u (zeros below the diagonal), or None if singular."""
    return whole(np.linalg.solve, u, b)


def _lower_solve(low, b):
    """low^-1 b for lower-triangular low: reversing the order makes it upper."""
    x = _upper_solve(np.flip(low, (-2, -1)), np.flip(b, -2))
    return None if x is None else np.ascontiguousarray(np.flip(x, -2))


def trisolve(a, b, lower, adjoint):
    """op(tri(a))^-1 b over a batch (op the transpose when ``adjoint``), or None."""
    if not _applies(a, b):
        return None
    tri = np.tril(a) if lower else np.triu(a)
    if adjoint:
        tri = np.ascontiguousarray(_t(tri))
    return _lower_solve(tri, b) if lower != adjoint else _upper_solve(tri, b)


def trimul(a, b, lower, adjoint):
    """op(tri(a)) b over a batch, as one batched product, or None."""
    if not _applies(a, b):
        return None
    tri = np.tril(a) if lower else np.triu(a)
    return np.matmul(_t(tri) if adjoint else tri, b)


def spd_inverse(a):
    """The inverse of a batch of symmetric positive definite matrices from their Cholesky
    factors (u = L^T, inverse u^-1 u^-T, its upper triangle mirrored), or None."""
    if not _applies(a):
        return None
    low = whole(np.linalg.cholesky, a)
    if low is None:
        return None
    eye = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape)
    ui = _upper_solve(np.ascontiguousarray(_t(low)), eye)
    if ui is None:
        return None
    x = np.matmul(ui, _t(ui))
    return np.triu(x) + _t(np.triu(x, 1))


def cholesky_grad(low, lbar):
    """sym(L^-T Phi(L^T Lbar) L^-1) over a batch (the one-block case of the blocked
    reverse mode, its lower triangle doubled and symmetrised as there), or None."""
    if not _applies(low, lbar):
        return None
    lo, ab = np.tril(low), np.tril(lbar)
    m = np.matmul(_t(lo), ab)
    phi = np.tril(m, -1) + 0.5 * np.tril(np.triu(m))
    u = np.ascontiguousarray(_t(lo))
    left = _upper_solve(u, phi)                                     # L^-T Phi
    full = None if left is None else _upper_solve(u, np.ascontiguousarray(_t(left)))
    if full is None:
        return None
    full = _t(full)                                                 # L^-T Phi L^-1
    g = 0.5 * (full + _t(full))
    ab = np.tril(2 * g) - np.tril(np.triu(g))
    return 0.5 * (ab + _t(ab))
