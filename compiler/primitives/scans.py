"""Scans and orderings along one axis: cumsum, cumprod, linrec (first-order linear
recurrence), argsort, take_along_axis, scatter_along_axis, and band (a matrix band mask).

Gradients stay inside this family, so every order is exact:
- cumsum's gradient is a cumsum the other way;
- cumprod's gradient is ``exclusive cumprod * linrec(...)``: no division, so it is exact
  with zeros in the input (``y_j = prod_{k<=j} x_k`` gives
  ``dL/dx_i = prod_{k<i} x_k * S_i`` with ``S_i = g_i + x_{i+1} S_{i+1}``);
- linrec ``s_i = b_i + a_i s_{i-1}`` has the reverse recurrence as its adjoint;
- take_along_axis and scatter_along_axis are each other's gradients (repeated indices add).
"""
import numpy as np

from compiler import primitives as P
from compiler.primitives.core import (FLOAT, INT, NUMERIC, Case, View, check_dtype,
                                      declare, full)

I32 = np.dtype("int32")


# -- batching rules (vmap): ``rule(node, size, xs, batched)``, the batch a new leading axis

def _lift_all(size, xs, batched):
    return [x if b else P.broadcast_to(x, shape=(size,) + x.shape) for x, b in zip(xs, batched)]


def batch_leading(node, size, xs, batched):
    """Primitives that already treat leading dimensions as a batch (matrix routines,
    band, last_write): apply them to the batched operands."""
    return node.prim(*_lift_all(size, xs, batched), **node.params)


def batch_axis(node, size, xs, batched):
    """Primitives working along ``axis``: the axis moves up by one."""
    params = node.params
    params["axis"] += 1
    return node.prim(*_lift_all(size, xs, batched), **params)


def _axis_infer(name, dtypes=NUMERIC):
    def infer(x, *, axis, reverse):
        check_dtype(name, x, dtypes)
        if not 0 <= axis < x.ndim:
            raise ValueError(f"{name}: axis {axis} out of range for shape {x.shape}; valid "
                             f"axes are 0..{x.ndim - 1}")
        return x.shape, x.dtype
    return infer


def _flip(x, axis, reverse):
    return np.flip(x, axis) if reverse else x


def _cumsum_impl(x, *, axis, reverse):
    x = np.asarray(x)
    return np.ascontiguousarray(_flip(np.cumsum(_flip(x, axis, reverse), axis=axis,
                                                dtype=x.dtype), axis, reverse))


def _cumprod_impl(x, *, axis, reverse):
    x = np.asarray(x)
    return np.ascontiguousarray(_flip(np.cumprod(_flip(x, axis, reverse), axis=axis,
                                                 dtype=x.dtype), axis, reverse))


# -- shifts along an axis (zero or one filled): slices and pads ----------------------------

def _slice_axis(x, axis, start, stop):
    starts, stops = [0] * x.ndim, list(x.shape)
    starts[axis], stops[axis] = start, stop
    return P.slice(x, starts=tuple(starts), stops=tuple(stops), steps=(1,) * x.ndim)


def shift(x, axis, by):
    """x moved ``by`` places along ``axis`` (+1: x'_i = x_{i-1}; -1: x'_i = x_{i+1}),
    zero filled."""
    n = x.shape[axis]
    if n == 0:
        return x
    config = [(0, 0, 0)] * x.ndim
    if by > 0:
        config[axis] = (1, 0, 0)
        return P.pad(_slice_axis(x, axis, 0, n - 1), config=tuple(config))
    config[axis] = (0, 1, 0)
    return P.pad(_slice_axis(x, axis, 1, n), config=tuple(config))


def shift_one(x, axis, by):
    """As ``shift``, filled with one instead of zero."""
    n = x.shape[axis]
    if n == 0:
        return x
    one_shape = list(x.shape)
    one_shape[axis] = 1
    ones = full(1, one_shape, x.dtype)
    if by > 0:
        return P.concat(ones, _slice_axis(x, axis, 0, n - 1), axis=axis)
    return P.concat(_slice_axis(x, axis, 1, n), ones, axis=axis)


# -- cumsum / cumprod / linrec -------------------------------------------------------------

_SCAN_CASES = [Case(shapes=((3, 4),), attrs={"axis": 1, "reverse": False}),
               Case(shapes=((2, 3, 4),), attrs={"axis": 0, "reverse": True}),
               Case(shapes=((5,),), attrs={"axis": 0, "reverse": False}),
               Case(shapes=((2, 0),), attrs={"axis": 1, "reverse": True})]

# inclusive cumulative sum along ``axis`` (from the end when ``reverse``)
cumsum = declare(
    "cumsum", batch=batch_axis, dtypes=NUMERIC, infer=_axis_infer("cumsum"), impl=_cumsum_impl,
    vjp=lambda g, out, x, *, axis, reverse: (P.cumsum(g, axis=axis, reverse=not reverse),),
    cases=_SCAN_CASES + [Case(shapes=((3, 4),), attrs={"axis": 0, "reverse": False},
                              low=-5, high=5, dtypes=(I32,))])


def _cumprod_vjp(g, out, x, *, axis, reverse):
    by = -1 if reverse else 1
    before = shift_one(out, axis, by)          # exclusive product: prod_{k<i} x_k
    tail = P.linrec(shift(x, axis, -by), g, axis=axis, reverse=not reverse)
    return (P.mul(before, tail),)


def _with_zeros(rng, shapes):
    x = rng.uniform(0.5, 1.5, shapes[0]) * rng.choice([-1.0, 1.0], shapes[0])
    flat = x.reshape(-1)
    flat[[1, 5, 6]] = 0.0                       # one zero, then two adjacent zeros
    return [x]


# inclusive cumulative product; the gradient divides by nothing (exact at zeros)
cumprod = declare(
    "cumprod", batch=batch_axis, dtypes=NUMERIC, infer=_axis_infer("cumprod"),
    impl=_cumprod_impl, vjp=_cumprod_vjp,
    cases=_SCAN_CASES + [Case(shapes=((2, 5),), attrs={"axis": 1, "reverse": False},
                              make=_with_zeros),
                         Case(shapes=((2, 5),), attrs={"axis": 1, "reverse": True},
                              make=_with_zeros),
                         Case(shapes=((3, 2),), attrs={"axis": 0, "reverse": False},
                              low=-3, high=4, dtypes=(I32,))])


def _linrec_infer(a, b, *, axis, reverse):
    check_dtype("linrec", b, FLOAT, "b")
    if a.shape != b.shape or a.dtype != b.dtype:
        raise ValueError(f"linrec: a is {a.shape} {a.dtype} and b is {b.shape} {b.dtype}; "
                         f"they must have equal shapes and dtypes")
    if not 0 <= axis < b.ndim:
        raise ValueError(f"linrec: axis {axis} out of range for shape {b.shape}")
    return b.shape, b.dtype


_BLOCK = 16


def _linrec_sequential(a, s):
    """s_i += a_i s_{i-1} along axis 0, in place, in the recurrence's own order."""
    for i in range(1, s.shape[0]):
        s[i] += a[i] * s[i - 1]
    return s


def _linrec_blocked(a, b):
    """The recurrence along axis 0 (a_0 unused) in O(n) work and about 16 log_16(n)
    vectorised steps, not n: a sequential scan inside blocks of 16 run on every block at
    once, the blocks' carries by the same recurrence on the block ends, then one update."""
    n = b.shape[0]
    if n <= _BLOCK:
        return _linrec_sequential(a, np.array(b))
    nb = -(-n // _BLOCK)
    pad = [(0, nb * _BLOCK - n)] + [(0, 0)] * (b.ndim - 1)
    shape = (nb, _BLOCK) + b.shape[1:]
    # position in the block first, so that each step reads contiguous rows
    p = np.ascontiguousarray(np.swapaxes(np.pad(a, pad, constant_values=1).reshape(shape),
                                         0, 1))               # products of a in a block
    s = np.ascontiguousarray(np.swapaxes(np.pad(b, pad).reshape(shape), 0, 1))
    for j in range(1, _BLOCK):                                # the scan from a zero carry
        s[j] += p[j] * s[j - 1]
        p[j] *= p[j - 1]
    carry = _linrec_blocked(p[-1], s[-1])                     # s at each block's end
    s[:, 1:] += p[:, 1:] * carry[:-1]
    return np.swapaxes(s, 0, 1).reshape((nb * _BLOCK,) + b.shape[1:])[:n]


def _linrec_impl(a, b, *, axis, reverse):
    a = np.moveaxis(_flip(np.asarray(a), axis, reverse), axis, 0)
    b = np.moveaxis(_flip(np.asarray(b), axis, reverse), axis, 0)
    with np.errstate(all="ignore"):
        s = _linrec_blocked(a, b)
    if not np.isfinite(s).all():        # regrouped products may overflow where the
        s = _linrec_sequential(a, np.array(b))    # recurrence does not: its own order
    return np.ascontiguousarray(_flip(np.moveaxis(s, 0, axis), axis, reverse))


def _linrec_vjp(g, out, a, b, *, axis, reverse):
    by = -1 if reverse else 1
    lam = P.linrec(shift(a, axis, -by), g, axis=axis, reverse=not reverse)
    return P.mul(lam, shift(out, axis, by)), lam


# s_i = b_i + a_i * s_{i-1} along ``axis`` (s_{i+1} when ``reverse``)
linrec = declare(
    "linrec", batch=batch_axis, dtypes=FLOAT, infer=_linrec_infer, impl=_linrec_impl,
    vjp=_linrec_vjp,
    cases=[Case(shapes=((3, 4), (3, 4)), attrs={"axis": 1, "reverse": False}),
           Case(shapes=((4, 2), (4, 2)), attrs={"axis": 0, "reverse": True}),
           Case(shapes=((1, 3), (1, 3)), attrs={"axis": 0, "reverse": False})])


# -- argsort / take_along_axis / scatter_along_axis ----------------------------------------

def _argsort_infer(x, *, axis, descending):
    check_dtype("argsort", x, NUMERIC)
    if not 0 <= axis < x.ndim:
        raise ValueError(f"argsort: axis {axis} out of range for shape {x.shape}")
    return x.shape, I32


def argsort_impl(x, *, axis, descending):
    """Stable: ties keep index order in both directions."""
    x = np.asarray(x)
    if not descending:
        return np.argsort(x, axis=axis, kind="stable").astype(I32)
    if x.dtype.kind == "f":
        # negation is exact and keeps ties tied (NaN sorts last, as ascending NaN does)
        return np.argsort(-x, axis=axis, kind="stable").astype(I32)
    n = x.shape[axis]
    # sort the reversed array ascending (ties come out latest-first), then read backwards
    order = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return np.ascontiguousarray(n - 1 - np.flip(order, axis)).astype(I32)


# stable sort order (int32); ties keep index order
argsort = declare(
    "argsort", batch=batch_axis, dtypes=NUMERIC, infer=_argsort_infer, impl=argsort_impl,
    differentiable=False,
    cases=[Case(shapes=((3, 5),), attrs={"axis": 1, "descending": False}),
           Case(shapes=((4, 3),), attrs={"axis": 0, "descending": True}),
           Case(shapes=((2, 6),), attrs={"axis": 1, "descending": True}, low=-2, high=2,
                dtypes=(np.dtype("int64"),))])


def _along_check(name, x, idx, axis):
    check_dtype(name, idx, INT, "indices")
    ok = x.ndim == idx.ndim and 0 <= axis < x.ndim and all(
        a == b for k, (a, b) in enumerate(zip(x.shape, idx.shape)) if k != axis)
    if not ok:
        raise ValueError(f"{name}: values shape {x.shape} and indices shape {idx.shape} "
                         f"must agree on every axis but axis {axis}")


def _take_infer(x, idx, *, axis):
    _along_check("take_along_axis", x, idx, axis)
    return idx.shape, x.dtype


def _scatter_along_infer(u, idx, *, axis, size):
    if u.shape != idx.shape:
        raise ValueError(f"scatter_along_axis: updates shape {u.shape} must equal indices "
                         f"shape {idx.shape}")
    check_dtype("scatter_along_axis", idx, INT, "indices")
    shape = list(u.shape)
    shape[axis] = size
    return tuple(shape), u.dtype


def _grid(idx, axis):
    grid = list(np.ogrid[tuple(slice(0, d) for d in idx.shape)])
    grid[axis] = idx
    return tuple(grid)


def _scatter_along_impl(u, idx, *, axis, size):
    u, idx = np.asarray(u), np.asarray(idx)
    shape = list(u.shape)
    shape[axis] = size
    if u.dtype.kind != "f" or u.size == 0:
        out = np.zeros(shape, u.dtype)
        np.add.at(out, _grid(idx, axis), u)
        return out
    # one bincount over linear indices into the output rows (repeated indices add)
    idx = np.moveaxis(idx, axis, -1)
    rows = int(np.prod(idx.shape[:-1], dtype=np.int64))
    lin = (np.where(idx < 0, idx + size, idx).reshape(rows, -1)
           + (np.arange(rows, dtype=np.int64) * size)[:, None])
    flat = np.bincount(lin.reshape(-1), weights=np.moveaxis(u, axis, -1).reshape(-1),
                       minlength=rows * size)
    moved = flat.reshape(idx.shape[:-1] + (size,)).astype(u.dtype)
    return np.ascontiguousarray(np.moveaxis(moved, -1, axis))


def _rows_of_indices(size):
    def make(rng, shapes):
        return [rng.uniform(-2, 2, shapes[0]), rng.integers(-size, size, shapes[1])]
    return make


# x[..., idx[..., j], ...] along ``axis`` (NumPy take_along_axis)
take_along_axis = declare(
    "take_along_axis", batch=batch_axis, infer=_take_infer,
    impl=lambda x, idx, *, axis: np.take_along_axis(np.asarray(x), np.asarray(idx), axis),
    vjp=lambda g, out, x, idx, *, axis: (
        P.scatter_along_axis(g, idx, axis=axis, size=x.shape[axis]), None),
    cases=[Case(shapes=((3, 5), (3, 4)), attrs={"axis": 1}, make=_rows_of_indices(5)),
           Case(shapes=((4, 2), (6, 2)), attrs={"axis": 0}, make=_rows_of_indices(4))])

# zeros with ``updates`` added at ``indices`` along ``axis`` (repeats add)
scatter_along_axis = declare(
    "scatter_along_axis", batch=batch_axis, infer=_scatter_along_infer, impl=_scatter_along_impl,
    vjp=lambda g, out, u, idx, *, axis, size: (P.take_along_axis(g, idx, axis=axis), None),
    cases=[Case(shapes=((3, 6), (3, 6)), attrs={"axis": 1, "size": 4},
                make=_rows_of_indices(4)),
           Case(shapes=((5, 2), (5, 2)), attrs={"axis": 0, "size": 3},
                make=_rows_of_indices(3))])


# -- band: the entries of a (batched) matrix within a band of the diagonal -----------------

def _band_infer(x, *, lo, hi):
    if x.ndim < 2:
        raise ValueError(f"band: needs a matrix or a batch of matrices, got shape {x.shape}")
    return x.shape, x.dtype


def band_mask(m, n, lo, hi):
    """(m, n) bool: lo <= col - row <= hi (None: unbounded)."""
    d = np.arange(n)[None, :] - np.arange(m)[:, None]
    keep = np.ones((m, n), bool)
    if lo is not None:
        keep &= d >= lo
    if hi is not None:
        keep &= d <= hi
    return keep


def _band_impl(x, *, lo, hi):
    x = np.asarray(x)
    return np.where(band_mask(x.shape[-2], x.shape[-1], lo, hi), x, np.zeros((), x.dtype))


def _band_index(view, idx):
    i, j = idx[-2], idx[-1]
    lo, hi = view.params["lo"], view.params["hi"]
    conds = ([f"{j} - {i} >= {lo}"] if lo is not None else []) + \
        ([f"{j} - {i} <= {hi}"] if hi is not None else [])
    return list(idx), conds


# x where lo <= col - row <= hi (None: unbounded), else 0: tril is hi=0, triu lo=0
band = declare(
    "band", batch=batch_leading, infer=_band_infer, impl=_band_impl, kind="shape",
    view=View(_band_index),
    vjp=lambda g, out, x, *, lo, hi: (P.band(g, lo=lo, hi=hi),),
    cases=[Case(shapes=((4, 4),), attrs={"lo": None, "hi": 0}),
           Case(shapes=((2, 3, 5),), attrs={"lo": 1, "hi": None}),
           Case(shapes=((5, 3),), attrs={"lo": -1, "hi": 1}),
           Case(shapes=((3, 3),), attrs={"lo": None, "hi": -1}, low=-3, high=4,
                dtypes=(I32,))])


# -- last_write: which of several writes to one position wins ------------------------------

def _last_write_infer(idx):
    check_dtype("last_write", idx, INT, "indices")
    if idx.ndim < 1:
        raise ValueError(f"last_write: indices must have rank >= 1, got a scalar")
    return idx.shape, np.dtype("bool")


def _last_write_impl(idx):
    """Per row (last axis): True at the last occurrence of each index value. Every row at
    once: in a stable sort of the row, the last of each run of equal values."""
    idx = np.asarray(idx)
    keep = np.zeros(idx.shape, bool)
    if idx.size == 0:
        return keep
    order = np.argsort(idx, axis=-1, kind="stable")
    ranked = np.take_along_axis(idx, order, axis=-1)
    last = np.ones(idx.shape, bool)
    last[..., :-1] = ranked[..., 1:] != ranked[..., :-1]
    np.put_along_axis(keep, order, last, axis=-1)
    return keep


# True where an index is the last occurrence of its value in its row (the write that wins)
last_write = declare(
    "last_write", batch=batch_leading, dtypes=INT, infer=_last_write_infer,
    impl=_last_write_impl, differentiable=False,
    cases=[Case(shapes=((6,),), make=lambda rng, s: [np.array([2, 0, 2, 1, 0, 2])]),
           Case(shapes=((2, 4),), make=lambda rng, s: [np.array([[1, 1, 0, 1], [3, 2, 3, 0]])]),
           Case(shapes=((0,),), make=lambda rng, s: [np.zeros(0, np.int64)])])
