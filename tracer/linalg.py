"""Linear algebra: matmul (2-D, batched, broadcast batch dims), tensordot, einsum."""
import numpy as np

from compiler import primitives as P
from tracer.engine import as_tensor, bind, make, promote_operands, public_op
from tracer.ops import multiply, reduce_sum
from tracer.matrix import (cholesky, det, diag, diag_part, eigh, inv, logdet,  # noqa: F401
                           norm, qr, slogdet, solve, svd, trace, triangular_solve)
from tracer.shape_ops import broadcast_to, reshape, transpose

__all__ = ["cholesky", "det", "diag", "diag_part", "eigh", "einsum", "inv", "logdet", "matmul",
           "matvec",
           "norm", "qr", "slogdet", "solve", "svd", "tensordot", "trace", "triangular_solve"]


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, name=None):
    """Matrix product of rank >= 2 operands; rank > 2 operands are batches whose batch
    dims broadcast. Vectors are refused, as in TensorFlow: use ``tensordot`` (or reshape
    the vector to a one-row or one-column matrix). ``transpose_a``/``adjoint_a`` (and the
    ``_b`` pair) use an operand's last two axes swapped (TensorFlow's signature; real
    tensors, so the adjoint is the transpose; the sparsity flags are hints, ignored)."""
    a, b = as_tensor(a, "matmul"), as_tensor(b, "matmul")
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(
            f"matmul: a has shape {a.shape} and b has shape {b.shape}; both need rank >= 2 "
            f"(matrices, or batches of them). For a vector use tt.tensordot(a, b, 1), or "
            f"reshape it to shape (1, n) or (n, 1); for scalars use multiply")
    for which, flags in (("a", (transpose_a, adjoint_a)), ("b", (transpose_b, adjoint_b))):
        if all(flags):
            raise ValueError(f"matmul: only one of transpose_{which} and adjoint_{which} "
                             f"may be True")
    if transpose_a or adjoint_a:
        a = transpose(a, tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2))
    if transpose_b or adjoint_b:
        b = transpose(b, tuple(range(b.ndim - 2)) + (b.ndim - 1, b.ndim - 2))
    if a.dtype.kind == "b" or b.dtype.kind == "b":
        raise TypeError(f"matmul: dtypes {a.dtype} and {b.dtype}; valid dtypes are "
                        f"float32, float64, int32, int64")
    a, b = promote_operands((a, b), "matmul")
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: a has shape {a.shape} and b has shape {b.shape}; "
                         f"a.shape[-1] ({a.shape[-1]}) must equal b.shape[-2] "
                         f"({b.shape[-2]})")
    try:
        batch = P.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions {a.shape[:-2]} and {b.shape[:-2]} "
                         f"cannot be broadcast together") from None
    a = broadcast_to(a, batch + a.shape[-2:])
    b = broadcast_to(b, batch + b.shape[-2:])
    return bind(P.matmul, a, b)


def matvec(a, b, transpose_a=False, adjoint_a=False, a_is_sparse=False, b_is_sparse=False,
           name=None):
    """Matrix-vector product a @ b of a (..., M, N) matrix (transposed first if
    ``transpose_a`` or ``adjoint_a``: real tensors, so the adjoint is the transpose) and a
    (..., N) vector; batch dims broadcast. The result has shape (..., M)."""
    a, b = as_tensor(a, "linalg.matvec"), as_tensor(b, "linalg.matvec")
    if a.ndim < 2 or b.ndim < 1:
        raise ValueError(f"linalg.matvec: a has shape {a.shape} and b {b.shape}; a must "
                         f"have rank >= 2 and b rank >= 1")
    if transpose_a and adjoint_a:
        raise ValueError("linalg.matvec: only one of transpose_a and adjoint_a may be True")
    if transpose_a or adjoint_a:
        a = transpose(a, tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2))
    col = reshape(b, b.shape + (1,))
    out = matmul(a, col)
    return reshape(out, out.shape[:-1])


# -- tensordot -----------------------------------------------------------------------------

def _dot_axes(axes, a, b):
    """Normalised (a_axes, b_axes) for tensordot."""
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if not 0 <= n <= min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: axes={n} with a of shape {a.shape} and b of shape "
                             f"{b.shape}; an int axes must be in 0..{min(a.ndim, b.ndim)}")
        return tuple(range(a.ndim - n, a.ndim)), tuple(range(n))
    try:
        xa, xb = axes
        xa = [xa] if isinstance(xa, (int, np.integer)) else list(xa)
        xb = [xb] if isinstance(xb, (int, np.integer)) else list(xb)
    except (TypeError, ValueError):
        raise ValueError(f"tensordot: axes must be an int or a pair of axis lists, got "
                         f"{axes!r}") from None
    if len(xa) != len(xb):
        raise ValueError(f"tensordot: axes {axes!r} pair {len(xa)} axes of a with {len(xb)} "
                         f"of b; both lists must have the same length")
    return _axis_list(xa, a, "a"), _axis_list(xb, b, "b")


def _axis_list(axes, x, what):
    out = []
    for ax in axes:
        if isinstance(ax, bool) or not isinstance(ax, (int, np.integer)) \
                or not -x.ndim <= ax < x.ndim:
            raise ValueError(f"tensordot: axis {ax!r} is out of range for {what} of shape "
                             f"{x.shape}; valid axes are {-x.ndim}..{x.ndim - 1}")
        if int(ax) % x.ndim in out:
            raise ValueError(f"tensordot: axis {ax} of {what} is repeated in {tuple(axes)}")
        out.append(int(ax) % x.ndim)
    return tuple(out)


@public_op("tensordot")
def tensordot(a, b, axes, name=None):
    """Sum of products over ``axes`` (an int N: last N axes of a with first N of b; or a
    pair of axis lists). The result has a's free axes followed by b's."""
    a, b = as_tensor(a, "tensordot"), as_tensor(b, "tensordot")
    xa, xb = _dot_axes(axes, a, b)
    for i, j in zip(xa, xb):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"tensordot: a has shape {a.shape} and b has shape {b.shape}; "
                             f"a.shape[{i}] ({a.shape[i]}) must equal b.shape[{j}] "
                             f"({b.shape[j]}) to contract them")
    fa = [i for i in range(a.ndim) if i not in xa]
    fb = [j for j in range(b.ndim) if j not in xb]
    k = _prod(a.shape[i] for i in xa)
    a2 = reshape(transpose(a, fa + list(xa)), (_prod(a.shape[i] for i in fa), k))
    b2 = reshape(transpose(b, list(xb) + fb), (k, _prod(b.shape[j] for j in fb)))
    out = matmul(a2, b2)
    return reshape(out, tuple(a.shape[i] for i in fa) + tuple(b.shape[j] for j in fb))


def _prod(xs):
    n = 1
    for x in xs:
        n *= int(x)
    return n


# -- einsum --------------------------------------------------------------------------------
# Strategy: (1) take diagonals for labels repeated within one operand (multiply by an eye
# mask, sum one of the two axes); (2) sum labels that occur in only one operand and not in
# the output; (3) contract operands pairwise left to right with one batched matmul each;
# (4) transpose to the output order. Every step is a differentiable tracer op.

@public_op("einsum")
def einsum(subscripts, *operands, name=None):
    """Einstein summation as NumPy's ``np.einsum``: ``einsum('ij,jk->ik', a, b)``; without
    ``->`` the output holds the labels used once, in alphabetical order; ``...`` stands for
    broadcast leading dimensions."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string such as 'ij,jk->ik', got "
                        f"{type(subscripts).__name__}")
    xs = [as_tensor(x, "einsum") for x in operands]
    if not xs:
        raise ValueError("einsum: needs at least one operand")
    xs = promote_operands(xs, "einsum")
    terms, out = _parse(subscripts, xs)
    sizes = _label_sizes(subscripts, terms, xs)
    ops = []
    for i, (x, term) in enumerate(zip(xs, terms)):
        x, term = _broadcast_labels(x, term, sizes)
        x, term = _diagonals(x, term)
        rest = set(out).union(*[set(t) for j, t in enumerate(terms) if j != i])
        ops.append(_sum_labels(x, term, [c for c in term if c not in rest]))
    acc, acc_term = ops[0]
    for k in range(1, len(ops)):
        keep = set(out).union(*[set(t) for _, t in ops[k + 1:]])
        acc, acc_term = _contract(acc, acc_term, *ops[k], keep)
    acc, acc_term = _sum_labels(acc, acc_term, [c for c in acc_term if c not in out])
    return transpose(acc, [acc_term.index(c) for c in out])


def _parse(subscripts, xs):
    """Operand terms and output term as label strings, with '...' expanded."""
    s = subscripts.replace(" ", "")
    lhs, arrow, rhs = s.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(xs):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operands but "
                         f"{len(xs)} were given")
    for part in terms + [rhs]:
        body = part.replace("...", "")
        if "." in body or not all(c.isalpha() for c in body):
            raise ValueError(f"einsum: subscripts {subscripts!r} may hold only letters, ',', "
                             f"'->' and '...'; got {part!r}")
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in s]
    n_ell = 0
    for i, (t, x) in enumerate(zip(terms, xs)):
        n = len(t.replace("...", ""))
        if "..." in t:
            n_ell = max(n_ell, x.ndim - n)
            if x.ndim < n:
                _rank_error(subscripts, t, x)
        elif n != x.ndim:
            _rank_error(subscripts, t, x)
    ell = "".join(free[:n_ell])
    expanded = []
    for t, x in zip(terms, xs):
        k = x.ndim - len(t.replace("...", ""))
        expanded.append(t.replace("...", ell[n_ell - k:] if k else ""))
    if arrow:
        if n_ell and "..." not in rhs:
            raise ValueError(f"einsum: {subscripts!r} has '...' dimensions in its operands but "
                             f"not in its output; add '...' to the output (as NumPy requires)")
        out = rhs.replace("...", ell)
        for c in out:
            if out.count(c) > 1 or c not in "".join(expanded):
                raise ValueError(f"einsum: output label {c!r} in {subscripts!r} must appear "
                                 f"exactly once in the output and in some operand")
    else:
        joined = "".join(expanded)
        out = ell + "".join(sorted(c for c in set(joined) if joined.count(c) == 1
                                   and c not in ell))
    return expanded, out


def _rank_error(subscripts, term, x):
    raise ValueError(f"einsum: term {term!r} of {subscripts!r} does not match an operand of "
                     f"shape {x.shape} (rank {x.ndim}); give one label per axis, or '...'")


def _label_sizes(subscripts, terms, xs):
    sizes = {}
    for t, x in zip(terms, xs):
        for c, n in zip(t, x.shape):
            m = sizes.get(c, 1)
            if n != m and 1 not in (n, m):
                raise ValueError(f"einsum: label {c!r} of {subscripts!r} has size {m} in one "
                                 f"place and {n} in another (operand shape {x.shape}); sizes "
                                 f"of one label must be equal (or 1, to broadcast)")
            sizes[c] = n if m == 1 else m       # a size 1 broadcasts, also to size 0
    return sizes


def _broadcast_labels(x, term, sizes):
    shape = tuple(sizes[c] for c in term)
    return (x if shape == x.shape else broadcast_to(x, shape)), term


def _diagonals(x, term):
    """Take the diagonal over each label repeated within ``term``."""
    while len(set(term)) != len(term):
        c = next(c for c in term if term.count(c) > 1)
        p = term.index(c)
        q = term.index(c, p + 1)
        n = x.shape[p]
        mask_shape = [1] * x.ndim
        mask_shape[p] = mask_shape[q] = n
        # a constant of x's full shape: 1 where index p equals index q
        mask = np.broadcast_to(np.eye(n, dtype=x.dtype).reshape(mask_shape), x.shape)
        x, term = _sum_labels(multiply(x, make(np.ascontiguousarray(mask))), term, [q])
    return x, term


def _sum_labels(x, term, labels):
    """Sum the axes of ``labels`` (letters, or integer positions) out of ``x``."""
    axes = sorted({term.index(c) if isinstance(c, str) else c for c in labels})
    if not axes:
        return x, term
    return reduce_sum(x, tuple(axes)), "".join(c for i, c in enumerate(term) if i not in axes)


def _contract(a, ta, b, tb, keep):
    """Contract a (labels ta) with b (labels tb), keeping the labels in ``keep``."""
    batch = [c for c in ta if c in tb and c in keep]
    inner = [c for c in ta if c in tb and c not in keep]
    fa = [c for c in ta if c not in tb]
    fb = [c for c in tb if c not in ta]
    size = dict(zip(ta, a.shape))
    size.update(zip(tb, b.shape))
    nb, na, nk, nf = (_prod(size[c] for c in g) for g in (batch, fa, inner, fb))
    a3 = reshape(transpose(a, [ta.index(c) for c in batch + fa + inner]), (nb, na, nk))
    b3 = reshape(transpose(b, [tb.index(c) for c in batch + inner + fb]), (nb, nk, nf))
    out = reshape(matmul(a3, b3), tuple(size[c] for c in batch + fa + fb))
    return out, "".join(batch + fa + fb)


def __dir__():
    """dir() lists the public names only (``__all__``), not the helpers imported here."""
    return list(__all__)
