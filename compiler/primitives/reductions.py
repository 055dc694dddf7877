"""Reductions over a sorted tuple of axes; the reduced axes are dropped (tracer reshapes
for ``keepdims``). ``argmax``/``argmin`` return int64 and have no gradient.

Gradient of max/min splits the cotangent equally among tied maxima (as TensorFlow).
"""
import numpy as np

from compiler import primitives as P
from compiler.primitives import batch_rules
from compiler.primitives.core import NUMERIC, Case, Reduce, check_dtype, declare, full_like


def _reduce_infer(name, out_dtype=None):
    def infer(x, *, axes):
        check_dtype(name, x, NUMERIC)
        if any(not 0 <= a < x.ndim for a in axes) or list(axes) != sorted(set(axes)):
            raise ValueError(f"{name}: axes {axes} must be sorted, distinct and in "
                             f"0..{x.ndim - 1} for shape {x.shape}")
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        return shape, (out_dtype or x.dtype)
    return infer


def keep_dims_shape(shape, axes):
    """``shape`` with each reduced axis kept as a 1."""
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def expand_back(g, x, axes):
    """Broadcast a reduced tensor back to ``x``'s shape."""
    g = P.reshape(g, shape=keep_dims_shape(x.shape, axes))
    return P.broadcast_to(g, shape=x.shape)


_CASES = [Case(shapes=((3, 4),), attrs={"axes": (1,)}),
          Case(shapes=((2, 3, 4),), attrs={"axes": (0, 2)}),
          Case(shapes=((2, 3, 4),), attrs={"axes": (0, 1, 2)}),
          Case(shapes=((2, 3),), attrs={"axes": ()}),
          Case(shapes=((5,),), attrs={"axes": (0,)}),
          Case(shapes=((3, 4),), attrs={"axes": (0,)}, low=-4, high=5,
               dtypes=(np.dtype("int32"),))]


def _pairwise_ties(rng, shapes):
    # each row's extremum appears exactly twice: central differences see half the slope
    # at a two-way tie, which is what splitting the cotangent among ties gives
    x = rng.uniform(-2, 2, shapes[0])
    x[:, 1] = x.max(axis=1) + 0.5
    x[:, 3] = x[:, 1]
    x[0, :] = -x[0, :]  # row 0's minimum is tied
    return [x]


_TIES = Case(shapes=((3, 4),), attrs={"axes": (1,)}, make=_pairwise_ties, smooth=False)


def _rows_with_zeros(rng, shapes):
    # rows with no zero, one zero, two zeros and three zeros (reduced along axis 1)
    x = rng.uniform(0.5, 1.5, shapes[0]) * rng.choice([-1.0, 1.0], shapes[0])
    x[1, 2] = 0.0
    x[2, [0, 3]] = 0.0
    x[3, [0, 1, 4]] = 0.0
    return [x]


def _bool_counts(d):
    # the sum of a bool tensor counts its True entries, in int32
    return np.dtype("int32") if d.kind == "b" else d


reduce_sum = declare(
    "reduce_sum", infer=_reduce_infer("reduce_sum"), kind="reduce",
    impl=lambda x, *, axes: np.sum(x, axis=axes, dtype=x.dtype),
    vjp=lambda g, out, x, *, axes: (expand_back(g, x, axes),),
    lowering=Reduce("add"), cases=_CASES, dtypes=NUMERIC, promote=_bool_counts,
    batch=batch_rules.shift_axes("axes"))


def _extremum_vjp(g, out, x, *, axes):
    hit = P.cast(P.equal(x, expand_back(out, x, axes)), dtype=x.dtype.str)
    count = P.reduce_sum(hit, axes=axes)
    return (hit * expand_back(g / count, x, axes),)


reduce_max = declare("reduce_max", infer=_reduce_infer("reduce_max"), kind="reduce",
                     impl=lambda x, *, axes: np.max(x, axis=axes), vjp=_extremum_vjp,
                     lowering=Reduce("max"), cases=_CASES + [_TIES], dtypes=NUMERIC,
                     batch=batch_rules.shift_axes("axes"))
reduce_min = declare("reduce_min", infer=_reduce_infer("reduce_min"), kind="reduce",
                     impl=lambda x, *, axes: np.min(x, axis=axes), vjp=_extremum_vjp,
                     lowering=Reduce("min"), cases=_CASES + [_TIES], dtypes=NUMERIC,
                     batch=batch_rules.shift_axes("axes"))


def _ones_then(y, start, stop, at_end):
    """y[..., start:stop] with one column of ones before it (or after, ``at_end``)."""
    lead = y.shape[:-1]
    ones = P.full(1, lead + (1,), y.dtype)
    body = P.slice(y, starts=(0,) * (y.ndim - 1) + (start,), stops=lead + (stop,),
                   steps=(1,) * y.ndim)
    return P.concat(body, ones, axis=y.ndim - 1) if at_end else \
        P.concat(ones, body, axis=y.ndim - 1)


def _products_of_others(y):
    """For each entry along the last axis, the product of all the other entries: the
    exclusive prefix and suffix products (two cumprods, whose own gradients multiply and
    never divide), so the graph and the work stay linear in the axis' length."""
    n = y.shape[-1]
    if n <= 1:
        return P.full(1, y.shape, y.dtype)
    last = y.ndim - 1
    before = _ones_then(P.cumprod(y, axis=last, reverse=False), 0, n - 1, at_end=False)
    after = _ones_then(P.cumprod(y, axis=last, reverse=True), 1, n, at_end=True)
    return before * after


def _prod_vjp(g, out, x, *, axes):
    # d prod / d x_i = the product of the others, as exclusive prefix and suffix products:
    # multiplications only, so the rule is exact where out / x_i is not (zeros, a product
    # that underflows, inf or NaN elsewhere in the slice), and so are its own derivatives
    keep = tuple(a for a in range(x.ndim) if a not in axes)
    perm = keep + tuple(axes)
    lead = tuple(x.shape[a] for a in keep)
    n = 1
    for a in axes:
        n *= x.shape[a]
    y = x if perm == tuple(range(x.ndim)) else P.transpose(x, perm=perm)
    if y.shape != lead + (n,):
        y = P.reshape(y, shape=lead + (n,))
    gy = P.broadcast_to(P.reshape(g, shape=lead + (1,)), shape=lead + (n,))
    gx = gy * _products_of_others(y)
    moved = tuple(x.shape[a] for a in perm)
    if moved != gx.shape:
        gx = P.reshape(gx, shape=moved)
    if perm != tuple(range(x.ndim)):
        gx = P.transpose(gx, perm=tuple(perm.index(a) for a in range(x.ndim)))
    return (gx,)


reduce_prod = declare("reduce_prod", infer=_reduce_infer("reduce_prod"), kind="reduce",
                      impl=lambda x, *, axes: np.prod(x, axis=axes, dtype=x.dtype), vjp=_prod_vjp,
                      lowering=Reduce("mul"), dtypes=NUMERIC,
                      cases=_CASES + [Case(shapes=((4, 5),), attrs={"axes": (1,)},
                                           make=_rows_with_zeros)],
                      batch=batch_rules.shift_axes("axes"))


def _arg_infer(name):
    def infer(x, *, axis):
        check_dtype(name, x, NUMERIC)
        if not 0 <= axis < x.ndim:
            raise ValueError(f"{name}: axis {axis} out of range for shape {x.shape}")
        return x.shape[:axis] + x.shape[axis + 1:], np.dtype("int64")
    return infer


argmax = declare("argmax", infer=_arg_infer("argmax"), kind="reduce", differentiable=False,
                 impl=lambda x, *, axis: np.argmax(x, axis=axis).astype(np.int64),
                 cases=[Case(shapes=((3, 4),), attrs={"axis": 1}),
                        Case(shapes=((2, 3, 4),), attrs={"axis": 0})],
                 batch=batch_rules.shift_axis("axis"))
argmin = declare("argmin", infer=_arg_infer("argmin"), kind="reduce", differentiable=False,
                 impl=lambda x, *, axis: np.argmin(x, axis=axis).astype(np.int64),
                 cases=[Case(shapes=((3, 4),), attrs={"axis": 0}),
                        Case(shapes=((2, 3, 4),), attrs={"axis": 2}, low=-3, high=3,
                             dtypes=(np.dtype("int32"),))],
                 batch=batch_rules.shift_axis("axis"))
