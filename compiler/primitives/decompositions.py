"""Matrix primitives: cholesky, cholesky_grad, trimul, trisolve, solve, inv, det, slogdet, logdet,
spd_inverse.

Operands are batches of matrices ``[..., m, n]`` with equal batch dimensions (tracer
broadcasts them). Implementations are LAPACK calls (``lapack``); they run as calls from
compiled drivers. Gradient rules are the standard matrix-calculus ones written with these
primitives, solve-based (no inverse is formed where a solve does), so every order is
exact. Symmetric-input primitives (cholesky, logdet, spd_inverse, eigh) compute
``f((A + A^T) / 2)`` and return its (symmetric) gradient, as TensorFlow and JAX do.
"""
import numpy as np

from compiler import primitives as P
from compiler.primitives import lapack
from compiler.primitives.scans import batch_leading
from compiler.primitives.core import FLOAT, Case, check_dtype, declare, literal

# -- graph helpers used by the gradient rules ---------------------------------------------


def T(x):
    """Swap the last two axes."""
    return P.transpose(x, perm=tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


def mm(a, b):
    return P.matmul(a, b)


def sym(x):
    return P.mul(P.add(x, T(x)), P.broadcast_to(literal(0.5, x.dtype), shape=x.shape))


def scale(x, s):
    """x times a per-batch scalar s (shape x.shape[:-2])."""
    return P.mul(x, P.broadcast_to(P.reshape(s, shape=s.shape + (1, 1)), shape=x.shape))


def scale_cols(x, v):
    """x[..., i, j] * v[..., j]."""
    return P.mul(x, P.broadcast_to(P.reshape(v, shape=v.shape[:-1] + (1, v.shape[-1])),
                                   shape=x.shape))


def scale_rows(x, v):
    """x[..., i, j] * v[..., i]."""
    return P.mul(x, P.broadcast_to(P.reshape(v, shape=v.shape + (1,)), shape=x.shape))


def diag_matrix(v):
    """[..., n] -> [..., n, n] with v on the diagonal (a pad with interior zeros)."""
    n = v.shape[-1]
    flat = P.pad(v, config=((0, 0, 0),) * (v.ndim - 1) + ((0, 0, n),))
    return P.reshape(flat, shape=v.shape + (n,))


def unpack(x, shapes):
    """Split a packed last axis into the parts of the given (per-matrix) shapes."""
    batch, parts, start = x.shape[:-1], [], 0
    for shape in shapes:
        size = int(np.prod(shape, dtype=np.int64))
        starts = (0,) * len(batch) + (start,)
        stops = batch + (start + size,)
        part = P.slice(x, starts=starts, stops=stops, steps=(1,) * x.ndim)
        parts.append(P.reshape(part, shape=batch + tuple(shape)))
        start += size
    return parts


# -- declarations -------------------------------------------------------------------------

def _square(name):
    def infer(a):
        check_dtype(name, a, FLOAT, "matrix")
        if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
            raise ValueError(f"{name}: matrix has shape {a.shape}; it needs square matrices "
                             f"[..., n, n]")
        return a.shape, a.dtype
    return infer


def _batch_scalar(name):
    def infer(a):
        shape, dtype = _square(name)(a)
        return shape[:-2], dtype
    return infer


def _solve_infer(name):
    def infer(a, b, **attrs):
        _square(name)(a)
        if b.dtype != a.dtype or b.ndim != a.ndim or b.shape[:-2] != a.shape[:-2] \
                or b.shape[-2] != a.shape[-1]:
            raise ValueError(f"{name}: matrix is {a.shape} {a.dtype} and rhs is {b.shape} "
                             f"{b.dtype}; rhs must be [..., {a.shape[-1]}, K] with the "
                             f"matrix's batch dimensions and dtype")
        return b.shape, b.dtype
    return infer


def _spd(rng, shapes):
    a = rng.uniform(-1, 1, shapes[0])
    n = a.shape[-1]
    return [a @ np.swapaxes(a, -1, -2) + n * np.eye(n)]


def _well_conditioned(rng, shapes):
    a = rng.uniform(-1, 1, shapes[0]) + 3 * np.eye(shapes[0][-1])
    return [a] + [rng.uniform(-1, 1, s) for s in shapes[1:]]


def cholesky_grad_formula(low, lbar):
    """A_bar = sym(L^-T Phi(L^T L_bar) L^-1), Phi: lower triangle with half the diagonal
    (sym(Z^T) = sym(Z), so the last transpose is left out)."""
    m = P.trimul(low, lbar, lower=True, adjoint=True)                    # L^T L_bar
    phi = P.add(P.band(m, lo=None, hi=-1),
                P.mul(P.band(m, lo=0, hi=0), P.broadcast_to(literal(0.5, m.dtype),
                                                            shape=m.shape)))
    left = P.trisolve(low, phi, lower=True, adjoint=True)                 # L^-T Phi
    return sym(P.trisolve(low, T(left), lower=True, adjoint=True))


def _cholesky_grad_vjp(g, out, low, lbar):
    # differentiate the formula the blocked implementation computes
    from compiler import autodiff
    expr = cholesky_grad_formula(low, lbar)
    return tuple(autodiff.vjp([expr], [g], [low, lbar],
                              active=lambda n: n is not low and n is not lbar))


def _cholesky_pair(rng, shapes):
    return [lapack.cholesky(_spd(rng, shapes[:1])[0]), rng.uniform(-1, 1, shapes[1])]


# the (symmetric) gradient of cholesky from the factor L and its cotangent: blocked
# reverse mode, a third of the formula's flops
cholesky_grad = declare(
    "cholesky_grad", batch=batch_leading, dtypes=FLOAT, infer=_solve_infer("cholesky_grad"),
    impl=lapack.cholesky_grad,
    kind="linalg", vjp=_cholesky_grad_vjp,
    cases=[Case(shapes=((4, 4), (4, 4)), make=_cholesky_pair),
           Case(shapes=((2, 3, 3), (2, 3, 3)), make=_cholesky_pair)])

# lower Cholesky factor of (A + A^T) / 2; NaN if not positive definite
cholesky = declare(
    "cholesky", batch=batch_leading, dtypes=FLOAT, infer=_square("cholesky"),
    impl=lapack.cholesky, kind="linalg",
    vjp=lambda g, out, a: (P.cholesky_grad(out, g),),
    cases=[Case(shapes=((4, 4),), make=_spd), Case(shapes=((2, 3, 3),), make=_spd)])


def _triangle(x, lower):
    return P.band(x, lo=None, hi=0) if lower else P.band(x, lo=0, hi=None)


def _trimul_vjp(g, out, a, b, *, lower, adjoint):
    ga = mm(b, T(g)) if adjoint else mm(g, T(b))
    return _triangle(ga, lower), P.trimul(a, g, lower=lower, adjoint=not adjoint)


# op(tri(A)) B, tri(A) the lower (or upper) triangle of A (a BLAS trmm)
trimul = declare(
    "trimul", batch=batch_leading, dtypes=FLOAT, infer=_solve_infer("trimul"),
    impl=lapack.trimul, kind="linalg",
    vjp=_trimul_vjp,
    cases=[Case(shapes=((3, 3), (3, 2)), attrs={"lower": True, "adjoint": True}),
           Case(shapes=((2, 4, 4), (2, 4, 3)), attrs={"lower": False, "adjoint": False}),
           Case(shapes=((3, 3), (3, 3)), attrs={"lower": True, "adjoint": False})])


def _trisolve_vjp(g, out, a, b, *, lower, adjoint):
    gb = P.trisolve(a, g, lower=lower, adjoint=not adjoint)
    ga = mm(out, T(gb)) if adjoint else mm(gb, T(out))
    return P.neg(_triangle(ga, lower)), gb


# op(A)^-1 B with A triangular (only its ``lower`` or upper triangle is read)
trisolve = declare(
    "trisolve", batch=batch_leading, dtypes=FLOAT, infer=_solve_infer("triangular_solve"),
    impl=lapack.trisolve,
    kind="linalg",
    vjp=_trisolve_vjp,
    cases=[Case(shapes=((3, 3), (3, 2)), attrs={"lower": True, "adjoint": False},
                make=_well_conditioned),
           Case(shapes=((2, 4, 4), (2, 4, 1)), attrs={"lower": False, "adjoint": True},
                make=_well_conditioned),
           Case(shapes=((3, 3), (3, 3)), attrs={"lower": True, "adjoint": True},
                make=_well_conditioned)])


def _solve_vjp(g, out, a, b):
    gb = P.solve(T(a), g)
    return P.neg(mm(gb, T(out))), gb


# A^-1 B by LU; inf/NaN for a singular A
solve = declare(
    "solve", batch=batch_leading, dtypes=FLOAT, infer=_solve_infer("solve"), impl=lapack.solve,
    kind="linalg",
    vjp=_solve_vjp,
    cases=[Case(shapes=((3, 3), (3, 2)), make=_well_conditioned),
           Case(shapes=((2, 4, 4), (2, 4, 3)), make=_well_conditioned)])


def _inv_vjp(g, out, a):
    return (P.neg(mm(T(out), mm(g, T(out)))),)


# matrix inverse; inf/NaN for a singular matrix
inv = declare("inv", batch=batch_leading, dtypes=FLOAT, infer=_square("inv"), impl=lapack.inv,
              kind="linalg",
              vjp=_inv_vjp, cases=[Case(shapes=((3, 3),), make=_well_conditioned),
                     Case(shapes=((2, 2, 2),), make=_well_conditioned)])


def _adjugate_vjp(g, out, a):
    # adj(A^T) = adj(A)^T, so <G, d adj(A)[dA]> = <d adj(A^T)[G], dA>: exact at a singular A
    return (P.adjugate_jvp(T(a), g),)


def _batch_trace(x, y):
    """sum(x * y) over each matrix: a per-batch scalar."""
    return P.reduce_sum(P.mul(x, y), axes=(x.ndim - 2, x.ndim - 1))


def _adjugate_jvp_vjp(g, out, a, t):
    # adj(A)_ij = d det / dA_ji, and det's derivative tensors are symmetric, so
    # d/dA <G, d adj(A)[T]> = d2 adj(A^T)[G, T^T] and d/dT <G, d adj(A)[T]> =
    # d adj(A^T)[G]: both exact at a singular A (no inverse)
    at = T(a)
    return P.adjugate_hvp(at, g, T(t)), P.adjugate_jvp(at, g)


def _with_tangents(name):
    """Shape inference of ``name(a, *tangents)``: square matrices and tangents of their
    shape and dtype."""
    square = _square(name)

    def infer(a, *tangents):
        shape, dtype = square(a)
        if any(t.shape != shape or t.dtype != dtype for t in tangents):
            listed = ", ".join(f"{t.shape} {t.dtype}" for t in tangents)
            raise ValueError(f"{name}: matrices {shape} {dtype} and tangents {listed} must "
                             f"have equal shapes and dtypes")
        return shape, dtype
    return infer


# the derivative of the adjugate along T (linear in T), from the SVD: finite at a singular
# A, which makes det's second derivative finite there (its derivative is adjugate_hvp's)
adjugate_jvp = declare(
    "adjugate_jvp", batch=batch_leading, dtypes=FLOAT, infer=_with_tangents("adjugate_jvp"),
    impl=lapack.adjugate_jvp, kind="linalg", vjp=_adjugate_jvp_vjp,
    cases=[Case(shapes=((3, 3), (3, 3)), make=_well_conditioned),
           Case(shapes=((2, 4, 4), (2, 4, 4)), make=_well_conditioned)])


def _singular(rng, shapes):
    a = rng.uniform(-1, 1, shapes[0])
    a[..., 0, :] = 2.0 * a[..., 1, :]                   # rank n - 1
    return [a]


# the adjugate adj(A) = det(A) A^-1, finite for a singular A (det's gradient is adj(A)^T,
# as JAX's and PyTorch's: no NaN at singular matrices); so is its derivative (adjugate_jvp),
# which makes det's second derivative finite there too (and adjugate_hvp the third)
adjugate = declare(
    "adjugate", batch=batch_leading, dtypes=FLOAT, infer=_square("adjugate"),
    impl=lapack.adjugate, kind="linalg", vjp=_adjugate_vjp,
    cases=[Case(shapes=((3, 3),), make=_well_conditioned),
           Case(shapes=((2, 2, 2),), make=_well_conditioned),
           Case(shapes=((3, 3),), make=_singular, smooth=False)])

def _adjugate_third(a, t, s, r):
    """d3 adj(A)[T, S, R] for a regular A: differentiating adj(A) A = det(A) I three
    times, with H_XY = d2 adj(A)[X, Y] and d3 det[T, S, R] = tr(H_SR T), gives
    (tr(H_SR T) I - H_TS R - H_TR S - H_SR T) A^-1."""
    h_sr = P.adjugate_hvp(a, s, r)
    lhs = P.add(P.add(mm(P.adjugate_hvp(a, t, s), r), mm(P.adjugate_hvp(a, t, r), s)),
                mm(h_sr, t))
    c = P.inv(a)
    return P.sub(scale(c, _batch_trace(h_sr, T(t))), mm(lhs, c))


def _adjugate_hvp_vjp(g, out, a, t, r):
    # all three from det's symmetric derivative tensors: in T and R the second
    # derivative at A^T (exact at a singular A), in A the third (needs A^-1)
    at = T(a)
    return (_adjugate_third(at, g, T(t), T(r)), P.adjugate_hvp(at, g, T(r)),
            P.adjugate_hvp(at, g, T(t)))


# the second derivative of the adjugate along T and R (bilinear), from the SVD: finite at
# a singular A, which makes det's third derivative finite there
adjugate_hvp = declare(
    "adjugate_hvp", batch=batch_leading, dtypes=FLOAT, infer=_with_tangents("adjugate_hvp"),
    impl=lapack.adjugate_hvp, kind="linalg", vjp=_adjugate_hvp_vjp,
    cases=[Case(shapes=((2, 3, 3), (2, 3, 3), (2, 3, 3)), make=_well_conditioned)])


# determinant (LU); its gradient is adj(A)^T and its second derivative the derivative of
# adj(A)^T, both finite at a singular A (the registry checks both there)
det = declare(
    "det", batch=batch_leading, dtypes=FLOAT, infer=_batch_scalar("det"), impl=lapack.det,
    kind="linalg",
    vjp=lambda g, out, a: (scale(T(P.adjugate(a)), g),),
    cases=[Case(shapes=((3, 3),), make=_well_conditioned),
           Case(shapes=((2, 2, 2),), make=_well_conditioned),
           Case(shapes=((3, 3),), make=_singular)])


def _slogdet_infer(a):
    shape, dtype = _square("slogdet")(a)
    return shape[:-2] + (2,), dtype


def _slogdet_vjp(g, out, a):
    _, glog = unpack(g, [(), ()])
    return (scale(T(P.inv(a)), glog),)


# (sign, log|det|) packed on a last axis of length 2; the sign has no gradient
slogdet = declare(
    "slogdet", batch=batch_leading, dtypes=FLOAT, infer=_slogdet_infer, impl=lapack.slogdet,
    kind="linalg",
    vjp=_slogdet_vjp,
    cases=[Case(shapes=((3, 3),), make=_well_conditioned),
           Case(shapes=((2, 3, 3),), low=-1, high=1)])

# log det of a symmetric positive definite matrix (Cholesky); NaN if not PD
logdet = declare(
    "logdet", batch=batch_leading, dtypes=FLOAT, infer=_batch_scalar("logdet"),
    impl=lapack.logdet, kind="linalg",
    vjp=lambda g, out, a: (scale(P.spd_inverse(a), g),),
    cases=[Case(shapes=((4, 4),), make=_spd), Case(shapes=((2, 3, 3),), make=_spd)])


def _spd_inverse_vjp(g, out, a):
    return (P.neg(mm(out, mm(sym(g), out))),)


# inverse of (A + A^T) / 2, symmetric positive definite (Cholesky); NaN if not PD
spd_inverse = declare(
    "spd_inverse", batch=batch_leading, dtypes=FLOAT, infer=_square("spd_inverse"),
    impl=lapack.spd_inverse,
    kind="linalg",
    vjp=_spd_inverse_vjp,
    cases=[Case(shapes=((4, 4),), make=_spd), Case(shapes=((2, 2, 2),), make=_spd)])
