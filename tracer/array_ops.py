"""Array operations: cumulative sums and products, sorting, top_k, split/unstack, pad,
reverse, and the statistics and norm clipping TensorFlow keeps at top level.

Each is a primitive (cumsum, cumprod, argsort, take_along_axis, rev, pad) or an exact
composition of primitives, so gradients of every order come from the registry's rules.
"""
import builtins
import collections

import numpy as np

from compiler import primitives as P
from compiler.primitives.core import normalize_axes
from tracer import ops
from tracer.engine import as_tensor, as_tensor_in, bind, is_python_data, make
from tracer.shape_ops import broadcast_to, concat, gather, getitem, reshape
from tracer.tensor import Tensor, check_traceable


def _axis(op, x, axis):
    if isinstance(axis, bool) or not hasattr(axis, "__index__"):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    if x.ndim == 0:
        raise ValueError(f"{op}: needs a tensor of rank >= 1, got a scalar")
    (a,) = normalize_axes(op, (axis,), x.ndim)
    return a


def _accepted(prim, op, x):
    """TypeError unless the primitive's declaration accepts x's dtype."""
    if x.dtype not in prim.accepts:
        raise TypeError(f"{op}: got dtype {x.dtype}; valid dtypes are "
                        f"{', '.join(sorted(map(str, prim.accepts)))}")


def _take(x, axis, start, stop):
    """x[..., start:stop, ...] on ``axis``."""
    key = (builtins.slice(None),) * axis + (builtins.slice(start, stop),)
    return getitem(x, key)


def _shift(x, axis, by, fill):
    """x moved one place along ``axis`` (by=+1 towards the end), ``fill`` entering."""
    n = x.shape[axis]
    if n == 0:
        return x
    edge = list(x.shape)
    edge[axis] = 1
    pad = make(np.full(edge, fill, x.dtype))
    if by > 0:
        return concat([pad, _take(x, axis, 0, n - 1)], axis)
    return concat([_take(x, axis, 1, n), pad], axis)


def _cumulative(prim, op, fill):
    def fn(x, axis=0, exclusive=False, reverse=False, name=None):
        x = as_tensor(x, op)
        _accepted(prim, op, x)
        a = _axis(op, x, axis)
        out = bind(prim, x, axis=a, reverse=bool(reverse))
        return _shift(out, a, -1 if reverse else 1, fill) if exclusive else out
    fn.__name__ = fn.__qualname__ = op
    fn.__doc__ = (f"Cumulative {'sum' if fill == 0 else 'product'} along ``axis``; "
                  f"``exclusive`` leaves each element out of its own result, ``reverse`` "
                  f"runs from the end (TensorFlow's tf.{op}).")
    return fn


cumsum = _cumulative(P.cumsum, "cumsum", 0)
cumprod = _cumulative(P.cumprod, "cumprod", 1)


# -- sorting -------------------------------------------------------------------------------

def _direction(op, direction):
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"{op}: direction must be 'ASCENDING' or 'DESCENDING', got "
                         f"{direction!r}")
    return direction == "DESCENDING"


def argsort(values, axis=-1, direction="ASCENDING", stable=True, name=None):
    """Indices (int32) that sort ``values`` along ``axis``; ties keep index order."""
    x = as_tensor(values, "argsort")
    _accepted(P.argsort, "argsort", x)
    return bind(P.argsort, x, axis=_axis("argsort", x, axis),
                descending=_direction("argsort", direction))


def sort(values, axis=-1, direction="ASCENDING", name=None):
    """``values`` sorted along ``axis`` (stable; the gradient follows each element)."""
    x = as_tensor(values, "sort")
    _accepted(P.argsort, "sort", x)
    a = _axis("sort", x, axis)
    idx = bind(P.argsort, x, axis=a, descending=_direction("sort", direction))
    return bind(P.take_along_axis, x, idx, axis=a)


def top_k(input, k=1, sorted=True, name=None):
    """``(values, indices)`` of the ``k`` largest entries along the last axis, largest
    first; ties keep index order; indices are int32."""
    x = as_tensor(input, "top_k")
    _accepted(P.argsort, "top_k", x)
    if x.ndim == 0:
        raise ValueError("top_k: needs a tensor of rank >= 1, got a scalar")
    k = k.__index__() if hasattr(k, "__index__") and not isinstance(k, bool) else k
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= x.shape[-1]:
        raise ValueError(f"top_k: k={k!r} for input of shape {x.shape}; k must be an int "
                         f"in 0..{x.shape[-1]} (the size of the last axis)")
    a = x.ndim - 1
    idx = bind(P.argsort, x, axis=a, descending=True)
    if k < x.shape[-1]:
        idx = _take(idx, a, 0, int(k))
    return bind(P.take_along_axis, x, idx, axis=a), idx


# -- split / unstack / reverse / pad -------------------------------------------------------

def split(value, num_or_size_splits, axis=0, num=None, name=None):
    """Split along ``axis`` into equal parts (an int) or parts of the given sizes (one
    size may be -1)."""
    x = as_tensor(value, "split")
    a = _axis("split", x, axis)
    n = x.shape[a]
    if isinstance(num_or_size_splits, (int, np.integer)) and \
            not isinstance(num_or_size_splits, bool):
        parts = int(num_or_size_splits)
        if parts <= 0 or n % parts:
            raise ValueError(f"split: cannot split axis {a} of size {n} (shape {x.shape}) "
                             f"into {parts} equal parts")
        sizes = [n // parts] * parts
    else:
        sizes = [int(s) for s in np.asarray(num_or_size_splits).reshape(-1).tolist()]
        if sizes.count(-1) == 1:
            sizes[sizes.index(-1)] = n - (builtins.sum(sizes) + 1)
        if any(s < 0 for s in sizes) or builtins.sum(sizes) != n:
            raise ValueError(f"split: sizes {list(num_or_size_splits)} do not add up to "
                             f"axis {a}'s size {n} (shape {x.shape}); give non-negative "
                             f"sizes summing to {n}, at most one -1")
    out, start = [], 0
    for s in sizes:
        out.append(_take(x, a, start, start + s))
        start += s
    return out


def unstack(value, num=None, axis=0, name=None):
    """The slices of ``value`` along ``axis``, as a list."""
    x = as_tensor(value, "unstack")
    a = _axis("unstack", x, axis)
    if num is not None and num != x.shape[a]:
        raise ValueError(f"unstack: num={num} but axis {a} of shape {x.shape} has size "
                         f"{x.shape[a]}")
    return [getitem(x, (builtins.slice(None),) * a + (i,)) for i in builtins.range(x.shape[a])]


def reverse(tensor, axis, name=None):
    """Reverse the order of elements along each axis in ``axis``."""
    x = as_tensor(tensor, "reverse")
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(np.asarray(axis).tolist())
    axes = normalize_axes("reverse", tuple(axes), x.ndim)
    return bind(P.rev, x, axes=axes) if axes else x


def _paddings(x, paddings):
    try:
        pads = np.asarray(paddings.numpy() if hasattr(paddings, "numpy") else paddings)
        ok = pads.dtype.kind in "iu" and pads.shape == (x.ndim, 2) and (pads >= 0).all()
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"pad: paddings {paddings!r} for a tensor of shape {x.shape}; give "
                         f"[[before, after]] with one pair of non-negative ints per axis "
                         f"({x.ndim} pairs)")
    return [(int(lo), int(hi)) for lo, hi in pads]


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """Pad each axis by ``paddings[i] = [before, after]``: with ``constant_values``
    (CONSTANT), a mirror image without the edge (REFLECT) or with it (SYMMETRIC)."""
    x = as_tensor(tensor, "pad")
    pads = _paddings(x, paddings)
    mode = mode.upper() if isinstance(mode, str) else mode
    if mode not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        raise ValueError(f"pad: mode {mode!r}; valid modes are 'CONSTANT', 'REFLECT', "
                         f"'SYMMETRIC'")
    if mode == "CONSTANT":
        return _pad_constant(x, pads, constant_values)
    edge = 1 if mode == "REFLECT" else 0
    for a, (lo, hi) in enumerate(pads):
        n = x.shape[a]
        if max(lo, hi) > n - edge:
            raise ValueError(f"pad: {mode} padding of ({lo}, {hi}) on axis {a} of shape "
                             f"{x.shape}; each side may be at most {n - edge}")
        parts = [reverse(_take(x, a, edge, edge + lo), a)] if lo else []
        parts.append(x)
        if hi:
            parts.append(reverse(_take(x, a, n - hi - edge, n - edge), a))
        x = concat(parts, a) if len(parts) > 1 else x
    return x


def _pad_constant(x, pads, value):
    c = as_tensor(value, "pad")
    if c.shape != ():
        raise ValueError(f"pad: constant_values must be a scalar, got shape {c.shape}")
    if all(p == (0, 0) for p in pads):
        return x
    if c._value is not None and np.asarray(c._value) == 0 and \
            not np.signbit(np.asarray(c._value, float)):
        return bind(P.pad, x, config=tuple((lo, hi, 0) for lo, hi in pads))
    c = as_tensor_in(value if is_python_data(value) else c, x.dtype, "pad")
    for a, (lo, hi) in enumerate(pads):
        parts = []
        for k in (lo, hi):
            shape = x.shape[:a] + (k,) + x.shape[a + 1:]
            parts.append(broadcast_to(c, shape) if k else None)
        x = concat([p for p in (parts[0], x, parts[1]) if p is not None], a)
    return x


# -- TensorFlow's roll, repeat, meshgrid, searchsorted, slice, strided_slice, unique -------

def _static_ints(value, op, what):
    """A known int or 1-D int sequence as a list of Python ints (a traced tensor is a
    TracingError naming ``what``)."""
    if isinstance(value, Tensor):
        check_traceable(value, f"{op} ({what} must be known)")
        value = value._value
    elif hasattr(value, "numpy") and hasattr(value, "_read"):
        value = value.numpy()
    v = np.asarray(value)
    if v.dtype.kind not in "iu" or v.ndim > 1:
        raise TypeError(f"{op}: {what} must be an int or a 1-D list of ints, got {value!r}")
    return [int(k) for k in v.reshape(-1)], v.ndim == 0


def roll(input, shift, axis, name=None):  # noqa: A002
    """Elements shifted by ``shift`` places along ``axis`` (ints or equal-length lists;
    shifts on a repeated axis add up), those leaving at one end entering at the other.
    A traced ``shift`` tensor is read inside the program (one gather per axis)."""
    x = as_tensor(input, "roll")
    axes, _ = _static_ints(axis, "roll", "axis")
    if isinstance(shift, Tensor) and shift._value is None:
        s = ops.cast(shift, "int64")
        if s.ndim > 1 or (s.ndim == 1 and s.shape[0] != len(axes)):
            raise ValueError(f"roll: shift has shape {s.shape} for {len(axes)} axes")
        for k, a in enumerate(axes):
            (a,) = normalize_axes("roll", (a,), x.ndim)
            n = x.shape[a]
            by = s if s.ndim == 0 else getitem(s, k)
            idx = ops.mod(ops.subtract(make(np.arange(n, dtype=np.int64)), by), max(n, 1))
            x = gather(x, idx, axis=a)
        return x
    shifts, _ = _static_ints(shift, "roll", "shift")
    if len(shifts) != len(axes):
        raise ValueError(f"roll: {len(shifts)} shifts for {len(axes)} axes; give one shift "
                         f"per axis")
    total = {}
    for s, a in zip(shifts, axes):
        (a,) = normalize_axes("roll", (a,), x.ndim)
        total[a] = total.get(a, 0) + s
    for a, s in total.items():
        n = x.shape[a]
        s = s % n if n else 0
        if s:
            x = concat([_take(x, a, n - s, n), _take(x, a, 0, n - s)], a)
    return x


def repeat(input, repeats, axis=None, name=None):  # noqa: A002
    """Each element (``axis`` None: of the flattened input) repeated ``repeats`` times
    along ``axis``: an int, or one count per element of the axis. The counts must be
    known (they set the result's shape): a traced tensor is a TracingError."""
    x = as_tensor(input, "repeat")
    counts, scalar = _static_ints(repeats, "repeat", "repeats")
    if axis is None:
        x, a = reshape(x, (-1,)), 0
    else:
        a = _axis("repeat", x, axis)
    n = x.shape[a]
    if not scalar and len(counts) not in (1, n):
        raise ValueError(f"repeat: {len(counts)} repeats for axis {a} of size {n} (shape "
                         f"{x.shape}); give one int or {n}")
    if any(c < 0 for c in counts):
        raise ValueError(f"repeat: repeats {counts} must be non-negative")
    idx = np.repeat(np.arange(n, dtype=np.int32), counts if len(counts) == n else counts[0])
    return gather(x, make(idx), axis=a)


def meshgrid(*args, **kwargs):
    """Coordinate grids of 1-D inputs: ``indexing='xy'`` (default; the first two axes
    swapped, as NumPy's) or ``'ij'``; every output has the shape of the whole grid."""
    indexing = kwargs.pop("indexing", "xy")
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"meshgrid: unexpected keyword arguments {sorted(kwargs)}")
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [reshape(as_tensor(v, "meshgrid"), (-1,)) for v in args]
    sizes = [v.shape[0] for v in xs]
    swap = indexing == "xy" and len(xs) > 1
    if swap:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, v in enumerate(xs):
        where = (1 - i if i < 2 else i) if swap else i
        shape = [1] * len(xs)
        shape[where] = -1
        out.append(broadcast_to(reshape(v, tuple(shape)), tuple(sizes)))
    return out


def searchsorted(sorted_sequence, values, side="left", out_type=np.int32, name=None):
    """Insertion points of ``values`` into ``sorted_sequence`` along the innermost axis
    (the leading axes are a shared batch): the number of entries < v (``side='left'``)
    or <= v (``'right'``). Compares every value with every entry (M * N work)."""
    s = as_tensor(sorted_sequence, "searchsorted")
    v = as_tensor(values, "searchsorted")
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if s.ndim == 0 or v.ndim == 0 or s.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"searchsorted: sorted_sequence has shape {s.shape} and values "
                         f"{v.shape}; both need rank >= 1 and equal leading axes")
    if np.dtype(out_type) not in (np.dtype("int32"), np.dtype("int64")):
        raise TypeError(f"searchsorted: out_type must be int32 or int64, got {out_type!r}")
    below = (ops.less if side == "left" else ops.less_equal)(
        reshape(s, s.shape[:-1] + (1, s.shape[-1])), reshape(v, v.shape + (1,)))
    return ops.reduce_sum(ops.cast(below, np.dtype(out_type)), axis=-1)


def slice(input_, begin, size, name=None):  # noqa: A001
    """``input_[begin[i] : begin[i] + size[i]]`` on every axis (size -1: to the end).
    ``begin`` and ``size`` must be known (a traced tensor is a TracingError)."""
    x = as_tensor(input_, "slice")
    starts, _ = _static_ints(begin, "slice", "begin")
    sizes, _ = _static_ints(size, "slice", "size")
    if len(starts) != x.ndim or len(sizes) != x.ndim:
        raise ValueError(f"slice: begin {starts} and size {sizes} for a tensor of shape "
                         f"{x.shape}; give one of each per axis")
    key = []
    for a, (b, n) in enumerate(zip(starts, sizes)):
        stop = x.shape[a] if n == -1 else b + n
        if not 0 <= b <= stop <= x.shape[a]:
            raise ValueError(f"slice: begin {b} and size {n} on axis {a} of shape {x.shape} "
                             f"leave the tensor; need 0 <= begin <= begin + size <= "
                             f"{x.shape[a]}")
        key.append(builtins.slice(b, stop))
    return getitem(x, tuple(key))


def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0,
                  ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0, var=None,
                  name=None):
    """``input_[begin[0]:end[0]:strides[0], ...]`` with TensorFlow's masks: bit i of
    ``begin_mask``/``end_mask`` ignores begin[i]/end[i] (the full range), of
    ``ellipsis_mask`` makes entry i ``...``, of ``new_axis_mask`` a new axis, of
    ``shrink_axis_mask`` the single index begin[i]. The bounds must be known."""
    x = as_tensor(input_, "strided_slice")
    b, _ = _static_ints(begin, "strided_slice", "begin")
    e, _ = _static_ints(end, "strided_slice", "end")
    st, _ = _static_ints([1] * len(b) if strides is None else strides, "strided_slice",
                         "strides")
    if not len(b) == len(e) == len(st):
        raise ValueError(f"strided_slice: begin {b}, end {e} and strides {st} must have "
                         f"equal lengths")
    if any(s == 0 for s in st):
        raise ValueError(f"strided_slice: strides {st} must be non-zero")
    key = []
    for i in builtins.range(len(b)):
        bit = 1 << i
        if ellipsis_mask & bit:
            key.append(Ellipsis)
        elif new_axis_mask & bit:
            key.append(None)
        elif shrink_axis_mask & bit:
            key.append(b[i])
        else:
            key.append(builtins.slice(None if begin_mask & bit else b[i],
                                      None if end_mask & bit else e[i], st[i]))
    return getitem(x, tuple(key))


Unique = collections.namedtuple("Unique", ["y", "idx"])


def unique(x, out_idx=np.int32, name=None):
    """``(y, idx)``: the distinct entries of 1-D ``x`` in order of first appearance, and
    for each entry of x its position in y (``x == gather(y, idx)``). Eager only: traced,
    the shape of y would depend on the values (tt.TracingError). y is differentiable."""
    t = as_tensor(x, "unique")
    check_traceable(t, "unique (the result's shape depends on the values)")
    if t.ndim != 1:
        raise ValueError(f"unique: x has shape {t.shape}; it must be 1-D")
    if np.dtype(out_idx) not in (np.dtype("int32"), np.dtype("int64")):
        raise TypeError(f"unique: out_idx must be int32 or int64, got {out_idx!r}")
    _, first, inverse = np.unique(np.asarray(t._value), return_index=True,
                                  return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    y = gather(t, make(first[order].astype(np.int64)))
    return Unique(y, make(rank[inverse.reshape(-1)].astype(out_idx)))
