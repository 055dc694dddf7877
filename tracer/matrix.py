"""``tt.linalg`` beyond products: inverses, solves, factorizations, determinants, norms,
diagonals (TensorFlow's tf.linalg conventions), batched over leading dimensions.

Each is one primitive (``compiler.primitives.decompositions``/``spectral``) or an exact
composition of primitives; decompositions with several results come packed on one axis
and are sliced apart here.
"""
import builtins

import numpy as np

from compiler import primitives as P
from compiler.primitives.spectral import eigh_shapes, qr_shapes, svd_shapes
from tracer import ops
from tracer.engine import as_tensor, bind
from tracer.recording import public_op
from tracer.shape_ops import broadcast_to, getitem, reshape, transpose


def _matrices(op, x, square=False):
    """x as a tensor of matrices of a dtype the matrix primitives' declarations accept."""
    x = as_tensor(x, op)
    if x.dtype not in P.inv.accepts:
        raise TypeError(f"{op}: got dtype {x.dtype}; valid dtypes are "
                        f"{', '.join(sorted(map(str, P.inv.accepts)))}")
    if x.ndim < 2 or (square and x.shape[-1] != x.shape[-2]):
        raise ValueError(f"{op}: input has shape {x.shape}; it needs "
                         f"{'square ' if square else ''}matrices [..., "
                         f"{'n, n' if square else 'm, n'}]")
    return x


def _swap(x):
    return transpose(x, tuple(builtins.range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


def _with_rhs(op, matrix, rhs):
    """(matrix, rhs) of one dtype with broadcast batch dimensions."""
    a = _matrices(op, matrix, square=True)
    b = as_tensor(rhs, op)
    if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
        raise ValueError(f"{op}: matrix has shape {a.shape} and rhs has shape {b.shape}; rhs "
                         f"must be [..., {a.shape[-1]}, K] (a vector rhs needs a trailing "
                         f"axis of 1)")
    if b.dtype != a.dtype:
        raise TypeError(f"{op}: matrix has dtype {a.dtype} and rhs {b.dtype}; they must "
                        f"be equal")
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"{op}: batch dimensions {a.shape[:-2]} and {b.shape[:-2]} cannot "
                         f"be broadcast together") from None
    return broadcast_to(a, batch + a.shape[-2:]), broadcast_to(b, batch + b.shape[-2:])


def inv(input, adjoint=False, name=None):
    """Inverse of each matrix (inf/NaN where a matrix is singular)."""
    a = _matrices("inv", input, square=True)
    return bind(P.inv, _swap(a) if adjoint else a)


def solve(matrix, rhs, adjoint=False, name=None):
    """``matrix^-1 rhs`` (LU) for rhs of shape [..., M, K]; inf/NaN if singular."""
    a, b = _with_rhs("solve", matrix, rhs)
    return bind(P.solve, _swap(a) if adjoint else a, b)


def cholesky(input, name=None):
    """Lower Cholesky factor of each symmetric positive definite matrix (of its
    symmetric part); NaN where a matrix is not positive definite."""
    return bind(P.cholesky, _matrices("cholesky", input, square=True))


def triangular_solve(matrix, rhs, lower=True, adjoint=False, name=None):
    """``matrix^-1 rhs`` (``matrix^-T rhs`` with ``adjoint``) reading only the lower (or
    upper) triangle of ``matrix``."""
    a, b = _with_rhs("triangular_solve", matrix, rhs)
    return bind(P.trisolve, a, b, lower=bool(lower), adjoint=bool(adjoint))


def det(input, name=None):
    """Determinant of each matrix."""
    return bind(P.det, _matrices("det", input, square=True))


def slogdet(input, name=None):
    """``(sign, log_abs_determinant)`` of each matrix. The sign is piecewise constant: its
    derivatives are zero (as JAX's), also at a singular matrix, where log|det|'s are not
    finite."""
    x = _matrices("slogdet", input, square=True)
    sign, logabs = _unpack(bind(P.slogdet, x), [(), ()])
    # the sign stays connected to the input with a zero gradient (TensorFlow's tapes give
    # zeros for it, not None), never through log|det|'s rule, which is not finite at a
    # singular matrix: its cotangent goes to the input times 0
    zero = ops.reduce_sum(ops.multiply(x, 0.0), [-2, -1])
    return bind(P.straight_through, zero, ops.stop_gradient(sign)), logabs


def logdet(matrix, name=None):
    """log det of each symmetric positive definite matrix (from its Cholesky factor)."""
    return bind(P.logdet, _matrices("logdet", matrix, square=True))


def trace(x, name=None):
    """Sum of the main diagonal of each matrix."""
    return ops.reduce_sum(diag_part(_matrices("trace", x)), -1)


def diag_part(input, k=0, name=None):
    """The main diagonal of each matrix, [..., min(m, n)]."""
    x = as_tensor(input, "diag_part")
    if x.ndim < 2:
        raise ValueError(f"diag_part: input has shape {x.shape}; it needs matrices")
    if k != 0:
        raise ValueError("diag_part: only the main diagonal (k=0) is supported")
    m, n = x.shape[-2:]
    d = builtins.min(m, n)
    flat = reshape(x, x.shape[:-2] + (m * n,))
    return getitem(flat, (Ellipsis, builtins.slice(0, builtins.max((d - 1) * (n + 1) + 1, 0),
                                                   n + 1)))


def diag(diagonal, k=0, name=None):
    """Square matrices [..., n, n] with ``diagonal`` [..., n] on the main diagonal."""
    v = as_tensor(diagonal, "diag")
    if v.ndim < 1 or k != 0:
        raise ValueError(f"diag: needs a [..., n] diagonal (k=0); got shape {v.shape}, k={k}")
    n = v.shape[-1]
    flat = bind(P.pad, v, config=((0, 0, 0),) * (v.ndim - 1) + ((0, 0, n),))
    return reshape(flat, v.shape + (n,))


def _unpack(packed, shapes):
    out, start = [], 0
    batch = packed.shape[:-1]
    for s in shapes:
        size = int(np.prod(s, dtype=np.int64))
        part = getitem(packed, (Ellipsis, builtins.slice(start, start + size)))
        out.append(reshape(part, batch + tuple(s)))
        start += size
    return out


def qr(input, full_matrices=False, name=None):
    """Reduced QR: ``(q, r)`` with q [..., m, k], r [..., k, n], k = min(m, n)."""
    a = _matrices("qr", input)
    if full_matrices:
        raise ValueError("qr: only the reduced decomposition (full_matrices=False) is "
                         "supported")
    return tuple(_unpack(bind(P.qr, a), qr_shapes(*a.shape[-2:])))


def eigh(tensor, name=None):
    """``(eigenvalues, eigenvectors)`` of each symmetric matrix, eigenvalues ascending,
    eigenvectors in the columns."""
    a = _matrices("eigh", tensor, square=True)
    return tuple(_unpack(bind(P.eigh, a), eigh_shapes(a.shape[-1])))


def svd(tensor, full_matrices=False, compute_uv=True, name=None):
    """``(s, u, v)`` with ``a = u diag(s) v^T`` (reduced), or ``s`` alone."""
    a = _matrices("svd", tensor)
    if full_matrices:
        raise ValueError("svd: only the reduced decomposition (full_matrices=False) is "
                         "supported")
    s, u, v = _unpack(bind(P.svd, a), svd_shapes(*a.shape[-2:]))
    return (s, u, v) if compute_uv else s


@public_op("linalg.norm")
def norm(tensor, ord="euclidean", axis=None, keepdims=False, name=None):
    """Vector norm (``axis`` None: of the flattened tensor; an int: along it) or matrix
    norm (``axis`` a pair): ord 'euclidean'/'fro', 1, 2, np.inf, or a vector p > 0."""
    x = as_tensor(tensor, "norm")
    if x.dtype.kind != "f":
        raise TypeError(f"norm: got dtype {x.dtype}; valid dtypes are float32, float64")
    axes = tuple(builtins.range(x.ndim)) if axis is None else \
        tuple(np.atleast_1d(np.asarray(axis)).tolist())
    if len(axes) == 2 and axis is not None:
        out = _matrix_norm(x, ord, axes)
    elif len(axes) == 1 or axis is None:
        out = _vector_norm(x, ord, axes)
    else:
        raise ValueError(f"norm: axis {axis!r}; give None, an int or a pair of ints")
    if keepdims:
        axes = [a % x.ndim for a in axes]
        out = reshape(out, tuple(1 if i in axes else d for i, d in enumerate(x.shape)))
    return out


def _vector_norm(x, ord, axes):
    if ord in ("euclidean", "fro", 2, 2.0):
        return ops.sqrt(ops.reduce_sum(ops.square(x), axes))
    if ord in (1, 1.0):
        return ops.reduce_sum(ops.abs(x), axes)
    if ord == np.inf:
        return ops.reduce_max(ops.abs(x), axes)
    if isinstance(ord, (int, float)) and not isinstance(ord, bool) and ord > 0:
        return ops.pow(ops.reduce_sum(ops.pow(ops.abs(x), float(ord)), axes), 1.0 / ord)
    raise ValueError(f"norm: ord {ord!r} for a vector norm; valid are 'euclidean', 'fro', "
                     f"1, 2, np.inf and numbers > 0")


def _matrix_norm(x, ord, axes):
    r, c = (a % x.ndim for a in axes)
    if r == c:
        raise ValueError(f"norm: matrix axes {axes} must differ")
    if ord in ("euclidean", "fro"):
        return ops.sqrt(ops.reduce_sum(ops.square(x), (r, c)))
    if ord in (1, np.inf):
        inner, outer = (r, c) if ord == 1 else (c, r)
        sums = ops.reduce_sum(ops.abs(x), inner, keepdims=True)
        return ops.reduce_max(reshape(sums, tuple(d for i, d in enumerate(sums.shape)
                                                  if i != inner)),
                              outer - (outer > inner))
    if ord in (2, 2.0):
        rest = [i for i in builtins.range(x.ndim) if i not in (r, c)]
        s = svd(transpose(x, rest + [r, c]), compute_uv=False)
        return ops.reduce_max(s, -1)
    raise ValueError(f"norm: ord {ord!r} for a matrix norm; valid are 'euclidean', 'fro', "
                     f"1, 2, np.inf")
