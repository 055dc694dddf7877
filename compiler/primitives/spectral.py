"""Decompositions with several results: qr, eigh, svd.

A primitive has one result, so each packs its results, flattened, on one last axis
(``lapack.pack``); tracer slices them apart. The gradient rules unpack the cotangent the
same way. Rules (reduced decompositions, real matrices):
- qr (m >= n): A_bar = (Q_bar + Q copyltu(M)) R^-T, M = R R_bar^T - Q_bar^T Q; a wide
  A = [X | Y] (m < n) is the square case on X with Q_bar + Y R_bar_Y^T, and Y_bar = Q R_bar_Y;
- eigh (distinct eigenvalues): A_bar = sym(V (diag(w_bar) + F o (V^T V_bar)) V^T),
  F_ij = 1 / (w_j - w_i);
- svd (distinct non-zero singular values): Townsend's rule, with the projections onto the
  complements of U and V when the matrix is not square.
"""
import numpy as np

from compiler import primitives as P
from compiler.primitives import lapack
from compiler.primitives.scans import batch_leading
from compiler.primitives.core import FLOAT, Case, check_dtype, declare, full_like
from compiler.primitives.decompositions import (T, diag_matrix, mm, scale_cols, scale_rows,
                                                sym, unpack)


def _packed_infer(name, sizes):
    def infer(a):
        check_dtype(name, a, FLOAT, "matrix")
        if a.ndim < 2:
            raise ValueError(f"{name}: input has shape {a.shape}; it needs matrices "
                             f"[..., m, n]")
        m, n = a.shape[-2:]
        if name == "eigh" and m != n:
            raise ValueError(f"eigh: matrix has shape {a.shape}; it needs square matrices")
        return a.shape[:-2] + (sum(sizes(m, n)),), a.dtype
    return infer


def qr_shapes(m, n):
    k = min(m, n)
    return [(m, k), (k, n)]


def eigh_shapes(n):
    return [(n,), (n, n)]


def svd_shapes(m, n):
    k = min(m, n)
    return [(k,), (m, k), (n, k)]


def _sizes(shapes):
    return lambda m, n: [int(np.prod(s, dtype=np.int64)) for s in shapes(m, n)]


def _inverse_gaps(v):
    """F[..., i, j] = 1 / (v_j - v_i), 0 where v_j == v_i (the diagonal)."""
    n = v.shape[-1]
    shape = v.shape + (n,)
    cols = P.broadcast_to(P.reshape(v, shape=v.shape[:-1] + (1, n)), shape=shape)
    rows = P.broadcast_to(P.reshape(v, shape=v.shape + (1,)), shape=shape)
    gap = P.sub(cols, rows)
    zero, one = full_like(gap, 0), full_like(gap, 1)
    same = P.equal(gap, zero)
    return P.select(same, zero, P.div(one, P.select(same, one, gap)))


def _columns(x, start, stop):
    """x[..., start:stop]."""
    return P.slice(x, starts=(0,) * (x.ndim - 1) + (start,), stops=x.shape[:-1] + (stop,),
                   steps=(1,) * x.ndim)


def _qr_vjp(g, out, a):
    m, n = a.shape[-2:]
    q, r = unpack(out, qr_shapes(m, n))
    gq, gr = unpack(g, qr_shapes(m, n))
    if m < n:
        # A = [X | Y] with X square: Q R_X = X and R = [R_X | Q^T Y], so Y's cotangent is
        # Q gR_Y and Q's gains Y gR_Y^T; X's is the square case's (as JAX's wide QR)
        y, gry = _columns(a, m, n), _columns(gr, m, n)
        gx = _qr_square_vjp(P.add(gq, mm(y, T(gry))), _columns(gr, 0, m), q,
                            _columns(r, 0, m))
        return (P.concat(gx, mm(q, gry), axis=a.ndim - 1),)
    return (_qr_square_vjp(gq, gr, q, r),)


def _qr_square_vjp(gq, gr, q, r):
    """A's cotangent for a tall or square A = Q R (R square)."""
    mat = P.sub(mm(r, T(gr)), mm(T(gq), q))
    low = P.band(mat, lo=None, hi=-1)
    copyltu = P.add(P.add(low, T(low)), P.band(mat, lo=0, hi=0))
    b = P.add(gq, mm(q, copyltu))
    return T(P.trisolve(r, T(b), lower=False, adjoint=False))


def _full_rank(rng, shapes):
    m, n = shapes[0][-2:]
    a = rng.uniform(-1, 1, shapes[0])
    a[..., :min(m, n), :min(m, n)] += 2 * np.eye(min(m, n))
    return [a]


# reduced QR, packed (q [.., m, k] then r [.., k, n], k = min(m, n))
qr = declare(
    "qr", batch=batch_leading, dtypes=FLOAT, infer=_packed_infer("qr", _sizes(qr_shapes)),
    impl=lapack.qr, kind="linalg",
    vjp=_qr_vjp,
    cases=[Case(shapes=((4, 3),), make=_full_rank), Case(shapes=((2, 3, 3),), make=_full_rank),
           Case(shapes=((2, 4),), make=_full_rank)])


def _eigh_vjp(g, out, a):
    n = a.shape[-1]
    w, v = unpack(out, eigh_shapes(n))
    gw, gv = unpack(g, eigh_shapes(n))
    inner = P.add(diag_matrix(gw), P.mul(_inverse_gaps(w), mm(T(v), gv)))
    return (sym(mm(v, mm(inner, T(v)))),)


def _symmetric(rng, shapes):
    a = rng.uniform(-1, 1, shapes[0])
    return [a + np.swapaxes(a, -1, -2)]


# eigenvalues (ascending) and eigenvectors (columns) of (A + A^T) / 2, packed
eigh = declare(
    "eigh", batch=batch_leading, dtypes=FLOAT, infer=_packed_infer("eigh", lambda m, n: [n,
    n * n]), impl=lapack.eigh,
    kind="linalg", vjp=_eigh_vjp,
    cases=[Case(shapes=((3, 3),), make=_symmetric), Case(shapes=((2, 4, 4),), make=_symmetric)])


def _svd_vjp(g, out, a):
    m, n = a.shape[-2:]
    k = min(m, n)
    s, u, v = unpack(out, svd_shapes(m, n))
    gs, gu, gv = unpack(g, svd_shapes(m, n))
    f = _inverse_gaps(P.mul(s, s))
    utgu, vtgv = mm(T(u), gu), mm(T(v), gv)
    j = P.mul(f, P.sub(utgu, T(utgu)))
    kk = P.mul(f, P.sub(vtgv, T(vtgv)))
    core = P.add(P.add(scale_cols(j, s), diag_matrix(gs)), scale_rows(kk, s))
    ga = mm(u, mm(core, T(v)))
    inv_s = P.div(full_like(s, 1), s)
    if m > k:
        ga = P.add(ga, mm(scale_cols(P.sub(gu, mm(u, utgu)), inv_s), T(v)))
    if n > k:
        ga = P.add(ga, mm(u, T(scale_cols(P.sub(gv, mm(v, vtgv)), inv_s))))
    return (ga,)


# reduced SVD, packed (s [.., k], u [.., m, k], v [.., n, k]): a = u diag(s) v^T
svd = declare(
    "svd", batch=batch_leading, dtypes=FLOAT, infer=_packed_infer("svd", _sizes(svd_shapes)),
    impl=lapack.svd,
    kind="linalg",
    vjp=_svd_vjp,
    cases=[Case(shapes=((3, 3),)), Case(shapes=((4, 2),)), Case(shapes=((2, 2, 3),))])
