"""NumPy/SciPy implementations of the matrix primitives, batched over leading dimensions.

Conventions shared by every implementation here:
- Arrays are C-ordered; LAPACK/BLAS want Fortran order, so routines are called on the
  transposed view (``a.T`` is Fortran-contiguous and holds ``a^T``) with the triangle and
  the side swapped, instead of copying.
- Ill-posed inputs never raise: a matrix that is not positive definite (Cholesky), a
  singular matrix (solve, inverse) or a decomposition that does not converge gives NaN or
  inf for that batch entry, as JAX does; NaN inputs propagate.
- Symmetric-input routines (cholesky, logdet, spd_inverse, eigh) factor the symmetric part
  (A + A^T) / 2, so that their gradients (symmetric, as TensorFlow's and JAX's) are the
  derivatives of the function computed, to every order; for a symmetric A it is A.
"""
import warnings

import numpy as np
from scipy.linalg import LinAlgWarning, blas, lapack

from compiler.primitives import lapack_batch as vec
from compiler.primitives.core import shape_size


def _each(a, fn, out_shape, dtype=None):
    """Apply ``fn`` to each matrix of the batch ``a[..., m, n]``; NaN where it fails."""
    batch = a.shape[:-2]
    out = np.empty(batch + out_shape, dtype or a.dtype)
    for i in np.ndindex(batch):
        try:
            out[i] = fn(a[i])
        except np.linalg.LinAlgError:
            out[i] = np.nan
    return out


def _batch(a):
    """How many matrices ``a[..., m, n]`` holds."""
    return shape_size(a.shape[:-2])


def _each_or_whole(a, whole, one, out_shape):
    """``whole(a)`` (one vectorised call) when it succeeds for every matrix, else ``one``
    on each matrix with NaN where it fails."""
    if _batch(a) > 1 and a.shape[-1]:
        out = vec.whole(whole, a)
        if out is not None:
            return out
    return _each(a, one, out_shape)


def _routine(name, a):
    return lapack.get_lapack_funcs(name, (a,)) if name[:2] in ("po", "ge") else \
        blas.get_blas_funcs(name, (a,))


def _chol1(a):
    """Lower Cholesky factor of one matrix (its lower triangle); NaN if not PD (NumPy's
    routine, as for a whole batch, so a matrix's factor does not depend on its batch)."""
    if a.shape[-1] == 0:
        return np.array(a)
    return np.linalg.cholesky(a)


def symmetric_part(a):
    a = np.asarray(a)
    return (a + np.swapaxes(a, -1, -2)) * np.asarray(0.5, a.dtype)


def cholesky(a):
    a = symmetric_part(a)
    return _each_or_whole(a, np.linalg.cholesky, _chol1, a.shape[-2:])


def trisolve(a, b, *, lower, adjoint):
    """op(a)^{-1} b, op = transpose if ``adjoint``, reading a's ``lower`` triangle."""
    a, b = np.asarray(a), np.asarray(b)
    batch = a.shape[:-2]
    out = np.empty(b.shape, b.dtype)
    if 0 in b.shape[-2:]:
        return out
    if _batch(a) > 1:
        x = vec.trisolve(a, b, lower, adjoint)
        if x is not None:
            return x
    trsm = _routine("trsm", a)
    with np.errstate(all="ignore"):
        for i in np.ndindex(batch):
            # X^T op(a)^T = b^T: a right-side solve on the transposed (Fortran) views
            out[i] = trsm(1.0, a[i].T, b[i].T, side=1, lower=int(not lower),
                          trans_a=int(adjoint), overwrite_b=0).T
    return out


def trimul(a, b, *, lower, adjoint):
    """op(tri(a)) b, tri keeping a's ``lower`` (or upper) triangle: a BLAS trmm, half the
    work of a general product."""
    a, b = np.asarray(a), np.asarray(b)
    out = np.empty(b.shape, b.dtype)
    if 0 in b.shape[-2:]:
        return out
    if a.shape[-1] == 0:
        return np.zeros(b.shape, b.dtype)
    if _batch(a) > 1:
        x = vec.trimul(a, b, lower, adjoint)
        if x is not None:
            return x
    trmm = _routine("trmm", a)
    for i in np.ndindex(a.shape[:-2]):
        out[i] = trmm(1.0, a[i].T, b[i].T, side=1, lower=int(not lower),
                      trans_a=int(adjoint), overwrite_b=0).T
    return out


def _lower_solve_t(d, b):
    """d^-T b for a lower-triangular d (a BLAS trsm: no singularity check, inf/NaN)."""
    return _routine("trsm", d)(1.0, d, b, side=0, lower=1, trans_a=1)


def _cholesky_grad_small(d, dbar):
    """The symmetric gradient sym(D^-T Phi(D^T Dbar) D^-1) of one diagonal block."""
    m = d.T @ np.tril(dbar)
    phi = np.tril(m, -1) + 0.5 * np.diag(np.diag(m))
    full = _lower_solve_t(d, _lower_solve_t(d, phi).T).T
    return 0.5 * (full + full.T)


def _cholesky_grad1(low, lbar, block=256):
    """Reverse mode of the blocked Cholesky factorization (Murray, 2016), right to left
    over column blocks: about 2 n^3 / 3 flops, a third of the symbolic formula's."""
    n = low.shape[-1]
    lo, ab = np.tril(low), np.tril(lbar)
    for j in reversed(range(0, n, block)):
        e = min(j + block, n)
        k = slice(j, e)
        r, d, b, c = lo[k, :j], lo[k, k], lo[e:, :j], lo[e:, k]
        dbar = ab[k, k]
        if e < n:
            xbar = _lower_solve_t(d, ab[e:, k].T).T              # C_bar D^-1
            ab[e:, k] = xbar
            dbar = dbar - xbar.T @ c
            if j:
                ab[e:, :j] -= xbar @ r
                ab[k, :j] -= xbar.T @ b
        g = _cholesky_grad_small(d, dbar)
        ab[k, k] = np.tril(2 * g) - np.diag(np.diag(g))         # lower-triangle adjoint
        if j:
            ab[k, :j] -= 2 * g @ r
    return 0.5 * (ab + ab.T)


def cholesky_grad(low, lbar):
    """The symmetric gradient of A -> cholesky(A) given the factor and its cotangent."""
    low, lbar = np.asarray(low), np.asarray(lbar)
    if low.shape[-1]:
        x = vec.cholesky_grad(low, lbar)
        if x is not None:
            return x
    out = np.empty(low.shape, low.dtype)
    with np.errstate(all="ignore"):
        for i in np.ndindex(low.shape[:-2]):
            out[i] = _cholesky_grad1(low[i], lbar[i]) if low.shape[-1] else low[i]
    return out


def _lu_solve1(a, b):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", LinAlgWarning)
        getrf, getrs = lapack.get_lapack_funcs(("getrf", "getrs"), (a,))
        lu, piv, _ = getrf(a)
        x, _ = getrs(lu, piv, b)
    return x


def solve(a, b):
    """a^{-1} b for b of shape [..., M, K]; inf/NaN for a singular a."""
    a, b = np.asarray(a), np.asarray(b)
    if 0 in b.shape[-2:]:
        return np.zeros(b.shape, b.dtype)
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        out = np.empty(b.shape, b.dtype)
        for i in np.ndindex(a.shape[:-2]):
            out[i] = _lu_solve1(a[i], b[i])
        return out


def inv(a):
    a = np.asarray(a)
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        eye = np.eye(a.shape[-1], dtype=a.dtype)
        return _each(a, lambda m: _lu_solve1(m, eye), a.shape[-2:])


def det(a):
    return np.asarray(np.linalg.det(np.asarray(a)))


def _others_product(s):
    """prod_{j != i} s_j for each i of the last axis, without division."""
    ones = np.ones(s.shape[:-1] + (1,), s.dtype)
    left = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, s[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return left * right


def _adjugate_svd(a):
    """adj(A) = det(U) det(V) V diag(prod_{j != i} s_j) U^T from A = U diag(s) V^T: no
    division, so exact in the limit of a singular A (where det(A) A^-1 is 0 * inf)."""
    u, s, vt = np.linalg.svd(a)
    sign = np.linalg.det(u) * np.linalg.det(vt)
    core = np.swapaxes(vt, -1, -2) * _others_product(s)[..., None, :]
    return sign[..., None, None] * (core @ np.swapaxes(u, -1, -2))


def _adjugate_jvp_svd(a, t):
    """d adj(A)[T] = det(U) det(V) V D U^T with M = U^T T V and D the derivative of
    adj(diag(s)) along M: D_ij = -M_ij p_ij (i != j), D_ii = sum_k p_ik M_kk, where
    p_ij = prod_{k != i, j} s_k. Polynomial in s, so exact at a singular A too."""
    u, s, vt = np.linalg.svd(a)
    v = np.swapaxes(vt, -1, -2)
    m = np.swapaxes(u, -1, -2) @ t @ v
    n = s.shape[-1]
    p = np.empty(s.shape + (n,), s.dtype)
    for i in range(n):
        rest = s.copy()
        rest[..., i] = 1.0
        p[..., i, :] = _others_product(rest)
        p[..., i, i] = 0.0
    d = -m * p
    diag = np.arange(n)
    d[..., diag, diag] = (p @ m[..., diag, diag][..., None])[..., 0]
    sign = np.linalg.det(u) * np.linalg.det(vt)
    return sign[..., None, None] * (v @ d @ np.swapaxes(u, -1, -2))


def _at_finite(fn, smallest, a, *tangents):
    """``fn(A, *tangents)`` in float64 for each finite A of the batch, NaN where A is not
    finite; zeros for matrices smaller than ``smallest`` (whose derivative of the
    adjugate this order vanishes) or an empty batch; in A's dtype."""
    a = np.asarray(a)
    out = np.zeros(a.shape, np.float64)
    if a.shape[-1] < smallest or _batch(a) == 0:
        return out.astype(a.dtype)
    x = a.astype(np.float64)
    finite = np.isfinite(x).all(axis=(-2, -1))
    out[~finite] = np.nan
    with np.errstate(all="ignore"):
        out[finite] = fn(x[finite], *[np.asarray(t, np.float64)[finite] for t in tangents])
    return out.astype(a.dtype)


def adjugate_jvp(a, t):
    """The derivative of the adjugate at each A along T (linear in T), in float64 from
    the SVD of A; NaN where A is not finite."""
    return _at_finite(_adjugate_jvp_svd, 2, a, t)


def _distinct_products(s):
    """q[..., i, j, k] = prod of s over the indices not in {i, j, k} where i, j, k are
    distinct, else 0 (no division: exact when some s are 0)."""
    n = s.shape[-1]
    idx = np.arange(n)
    rest = np.broadcast_to(s[..., None, None, :], s.shape[:-1] + (n, n, n)).copy()
    rest[..., idx, :, idx] = 1.0
    rest[..., :, idx, idx] = 1.0
    q = _others_product(rest)
    i, j, k = idx[:, None, None], idx[None, :, None], idx[None, None, :]
    return q * ((i != j) & (i != k) & (j != k))


def _adjugate_hvp_svd(a, t, r):
    """d2 adj(A)[T, R] = det(U) det(V) V D U^T with M = U^T T V, N = U^T R V and D the
    second derivative of adj(diag(s)) along M, N: off the diagonal
    D_ij = sum_k q_ijk (M_ik N_kj + N_ik M_kj - M_ij N_kk - N_ij M_kk), on it
    D_ii = sum_kl q_ikl (M_kk N_ll - M_kl N_lk), q_ijk = prod_{l not in {i, j, k}} s_l."""
    u, s, vt = np.linalg.svd(a)
    v, ut = np.swapaxes(vt, -1, -2), np.swapaxes(u, -1, -2)
    m, n_ = ut @ t @ v, ut @ r @ v
    q = _distinct_products(s)
    idx = np.arange(s.shape[-1])
    dm, dn = m[..., idx, idx], n_[..., idx, idx]
    d = (np.einsum("...ijk,...ik,...kj->...ij", q, m, n_)
         + np.einsum("...ijk,...ik,...kj->...ij", q, n_, m)
         - m * np.einsum("...ijk,...k->...ij", q, dn) - n_ * np.einsum("...ijk,...k->...ij", q, dm))
    d[..., idx, idx] = (np.einsum("...ikl,...k,...l->...i", q, dm, dn)
                        - np.einsum("...ikl,...kl,...lk->...i", q, m, n_))
    sign = np.linalg.det(u) * np.linalg.det(vt)
    return sign[..., None, None] * (v @ d @ ut)


def adjugate_hvp(a, t, r):
    """The second derivative of the adjugate at each A along T and R (bilinear,
    symmetric), in float64 from the SVD of A; NaN where A is not finite."""
    return _at_finite(_adjugate_hvp_svd, 3, a, t, r)


def adjugate(a):
    """The adjugate adj(A) (A adj(A) = det(A) I) of each matrix, computed in float64:
    det(A) A^-1 from LU where A is well conditioned, from the SVD where it is singular or
    nearly so; NaN/inf inputs give NaN/inf."""
    a = np.asarray(a)
    n = a.shape[-1]
    if n == 0 or _batch(a) == 0:
        return np.zeros(a.shape, a.dtype)
    x = a.astype(np.float64)
    with np.errstate(all="ignore"):
        inverse = inv(x)
        out = np.linalg.det(x)[..., None, None] * inverse
        norm = np.abs(x).sum(axis=-2).max(axis=-1) * np.abs(inverse).sum(axis=-2).max(axis=-1)
        finite = np.isfinite(x).all(axis=(-2, -1))
        ill = finite & ~(norm < 1e8)                    # condition number (1-norm) or NaN
        if ill.any():
            out[ill] = _adjugate_svd(x[ill])
    return out.astype(a.dtype)


def slogdet(a):
    """(sign, log|det|) packed on a last axis of length 2."""
    sign, logabs = np.linalg.slogdet(np.asarray(a))
    return np.stack([sign, logabs], axis=-1)


def logdet(a):
    """log det of a symmetric positive definite matrix (2 sum log diag of its Cholesky
    factor); NaN if it is not positive definite."""
    lower = cholesky(a)
    diag = np.diagonal(lower, axis1=-2, axis2=-1)
    with np.errstate(all="ignore"):
        return np.asarray(2.0 * np.sum(np.log(diag), axis=-1), a.dtype)


def _spd_inv1(a):
    if a.shape[-1] == 0:
        return np.array(a)
    potrf, potri = lapack.get_lapack_funcs(("potrf", "potri"), (a,))
    u, info = potrf(a, lower=0, clean=1, overwrite_a=0)
    if info != 0:
        return np.full(a.shape, np.nan, a.dtype)
    # potri: the inverse from the factor (a third of the work of solving against I);
    # it fills the upper triangle
    x, info = potri(u, lower=0)
    return np.triu(x) + np.triu(x, 1).T


def spd_inverse(a):
    """Inverse of a symmetric positive definite matrix from its Cholesky factor; NaN if it
    is not positive definite."""
    a = symmetric_part(a)
    if _batch(a) > 1 and a.shape[-1]:
        x = vec.spd_inverse(a)
        if x is not None:
            return x
    return _each(a, _spd_inv1, a.shape[-2:])


# -- decompositions with several results: packed on one last axis --------------------------

def pack(parts, batch):
    return np.concatenate([np.reshape(p, batch + (-1,)) for p in parts], axis=-1)


def qr(a):
    a = np.asarray(a)
    m, n = a.shape[-2:]
    k = min(m, n)

    def one(x):
        q, r = np.linalg.qr(x, mode="reduced")
        return pack([q, r], x.shape[:-2])
    return _each_or_whole(a, one, one, (m * k + k * n,))


def eigh(a):
    a = symmetric_part(a)
    n = a.shape[-1]

    def one(x):
        w, v = np.linalg.eigh(x, UPLO="L")
        return pack([w, v], x.shape[:-2])
    return _each_or_whole(a, one, one, (n + n * n,))


def svd(a):
    """(s, u, v) with a = u diag(s) v^T (TensorFlow's order and v, not v^T), reduced."""
    a = np.asarray(a)
    m, n = a.shape[-2:]
    k = min(m, n)

    def one(x):
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        return pack([s, u, np.swapaxes(vh, -1, -2)], x.shape[:-2])
    return _each_or_whole(a, one, one, (k + m * k + n * k,))
