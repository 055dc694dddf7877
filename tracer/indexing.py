"""Index arithmetic: gather_nd, scatter_nd, tensor_scatter_nd_update/_add, boolean_mask,
and NumPy advanced indexing (``x[idx]``, ``x[:, [0, 2]]``, ``x[mask]``).

Everything is one ``gather`` or ``scatter_add`` on a flattened view, with the index
tuples turned into linear indices; gradients come from those primitives (a gather's
gradient scatter-adds, so repeated indices add up).
"""
import builtins

import numpy as np

from compiler import primitives as P
from tracer import ops, shape_ops
from tracer.convert import convert_to_tensor
from tracer.creation import zeros_like
from tracer.engine import as_tensor, as_tensor_in, bind, make
from tracer.shape_ops import broadcast_to, reshape, stack, transpose
from tracer.tensor import Tensor, check_traceable


def _prod(xs):
    return int(np.prod([int(v) for v in xs], dtype=np.int64))


def int_indices(indices, op):
    """A tensor of int32/int64 indices (TypeError naming the dtype otherwise)."""
    idx = indices if type(indices) is Tensor else \
        indices._read() if hasattr(indices, "_read") else convert_to_tensor(indices, op=op)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices have dtype {idx.dtype}; they must be int32 or int64")
    return idx


def _check_range(op, values, sizes, allow_negative):
    """IndexError naming the bad index when eager ``values[..., j]`` leave ``sizes[j]``."""
    for j, n in enumerate(sizes):
        col = values[..., j]
        low = -n if allow_negative else 0
        if col.size and (col.max() >= n or col.min() < low):
            bad = col.max() if col.max() >= n else col.min()
            where = f" (position {j} of the index tuples)" if len(sizes) > 1 else ""
            raise IndexError(f"{op}: index {int(bad)} is out of bounds for a dimension of "
                             f"size {n}{where}; valid indices are {low}..{n - 1}")


def linear_index(idx, sizes, op, allow_negative=False):
    """Row-major linear index of the index tuples ``idx[..., k]`` into ``sizes``."""
    k = len(sizes)
    strides = [_prod(sizes[j + 1:]) for j in builtins.range(k)]
    if idx._value is not None:
        v = np.asarray(idx._value).astype(np.int64)
        _check_range(op, v, sizes, allow_negative)
        v = np.where(v < 0, v + np.asarray(sizes, np.int64), v)
        return make(np.asarray(v @ np.asarray(strides, np.int64) if k else
                               np.zeros(v.shape[:-1], np.int64), np.int64))
    i64 = ops.cast(idx, "int64")
    if allow_negative:
        i64 = ops.where(ops.less(i64, 0), ops.add(i64, np.asarray(sizes, np.int64)), i64)
    return ops.reduce_sum(ops.multiply(i64, np.asarray(strides, np.int64)), -1)


def gather_nd(params, indices, batch_dims=0, name=None):
    """``params[indices[..., 0], ..., indices[..., k-1]]`` for each index tuple: the
    result has shape ``indices.shape[:-1] + params.shape[k:]``. With ``batch_dims`` = B
    the first B axes of both are a shared batch (TensorFlow's): each example indexes its
    own ``params[b]``, and the result has shape ``indices.shape[:-1] +
    params.shape[B + k:]``."""
    x = as_tensor(params, "gather_nd")
    idx = int_indices(indices, "gather_nd")
    b = int(batch_dims)
    if not 0 <= b < idx.ndim or b > x.ndim or x.shape[:b] != idx.shape[:b]:
        raise ValueError(f"gather_nd: batch_dims={batch_dims} for params of shape {x.shape} "
                         f"and indices of shape {idx.shape}; it must be in 0..{idx.ndim - 1} "
                         f"with the first batch_dims axes of both equal")
    k = _tuple_length("gather_nd", idx, x.shape[b:])
    sizes = x.shape[b:b + k]
    lin = linear_index(idx, sizes, "gather_nd")
    flat = reshape(x, x.shape[:b] + (_prod(sizes),) + x.shape[b + k:])
    if b:
        return shape_ops.batch_gather(flat, lin, b, b)
    return bind(P.gather, flat, lin, axis=0)


def _tuple_length(op, idx, shape):
    if idx.ndim == 0 or idx.shape[-1] > len(shape):
        raise ValueError(f"{op}: indices of shape {idx.shape} for a tensor of shape {shape}; "
                         f"the last axis of indices holds index tuples of length at most "
                         f"{len(shape)}")
    return idx.shape[-1]


def _scatter(op, indices, updates, shape, dtype=None):
    """(scatter-added tensor of ``shape``, linear indices, updates reshaped)."""
    idx = int_indices(indices, op)
    u = as_tensor(updates, op) if dtype is None else as_tensor_in(updates, dtype, op)
    k = _tuple_length(op, idx, shape)
    want = idx.shape[:-1] + tuple(shape[k:])
    if u.shape != want:
        raise ValueError(f"{op}: updates have shape {u.shape}; indices {idx.shape} into "
                         f"shape {tuple(shape)} need updates of shape {want}")
    lin = reshape(linear_index(idx, shape[:k], op), (-1,))
    u = reshape(u, (lin.shape[0],) + tuple(shape[k:]))
    return lin, u, _prod(shape[:k])


def scatter_nd(indices, updates, shape, name=None):
    """Zeros of ``shape`` with ``updates`` added at ``indices`` (repeated indices add)."""
    shape = tuple(int(s) for s in np.asarray(shape).reshape(-1).tolist())
    lin, u, n = _scatter("scatter_nd", indices, updates, shape)
    return reshape(bind(P.scatter_add, u, lin, axis=0, size=n), shape)


def tensor_scatter_nd_add(tensor, indices, updates, name=None):
    """``tensor`` with ``updates`` added at ``indices`` (repeated indices add)."""
    t = as_tensor(tensor, "tensor_scatter_nd_add")
    lin, u, n = _scatter("tensor_scatter_nd_add", indices, updates, t.shape, t.dtype)
    return ops.add(t, reshape(bind(P.scatter_add, u, lin, axis=0, size=n), t.shape))


def tensor_scatter_nd_update(tensor, indices, updates, name=None):
    """``tensor`` with the entries at ``indices`` replaced by ``updates``; of repeated
    indices the last update wins (and alone gets a gradient)."""
    t = as_tensor(tensor, "tensor_scatter_nd_update")
    lin, u, n = _scatter("tensor_scatter_nd_update", indices, updates, t.shape, t.dtype)
    wins = bind(P.last_write, lin)
    mask = reshape(wins, wins.shape + (1,) * (u.ndim - 1))
    kept = ops.where(mask, u, zeros_like(u))
    written = bind(P.scatter_add, ops.cast(wins, "int32"), lin, axis=0, size=n)
    k = t.ndim - (u.ndim - 1)
    hit = reshape(ops.greater(written, 0), t.shape[:k] + (1,) * (t.ndim - k))
    new = reshape(bind(P.scatter_add, kept, lin, axis=0, size=n), t.shape)
    return ops.where(hit, new, t)


def boolean_mask(tensor, mask, axis=0, name=None):
    """The entries of ``tensor`` where ``mask`` (covering axes ``axis..axis+mask.ndim``)
    is True, flattened along those axes. The mask must have a value: traced, the result's
    shape would depend on data (tt.TracingError)."""
    x = as_tensor(tensor, "boolean_mask")
    m = as_tensor(mask, "boolean_mask")
    if m.dtype.kind != "b":
        raise TypeError(f"boolean_mask: mask has dtype {m.dtype}; it must be bool")
    check_traceable(m, "boolean_mask (the result's shape depends on the mask)")
    a = int(axis) % max(x.ndim, 1) if x.ndim else 0
    k = m.ndim
    if k == 0 or x.shape[a:a + k] != m.shape:
        raise ValueError(f"boolean_mask: mask of shape {m.shape} does not match axes "
                         f"{a}..{a + k - 1} of a tensor of shape {x.shape}")
    picks = make(np.flatnonzero(np.asarray(m._value)).astype(np.int64))
    flat = reshape(x, x.shape[:a] + (_prod(m.shape),) + x.shape[a + k:])
    return bind(P.gather, flat, picks, axis=a)


# -- NumPy advanced indexing ---------------------------------------------------------------

def is_advanced(k):
    """An index entry that is an array (integer or bool), not ints/slices/None/...."""
    if k is None or k is Ellipsis or isinstance(k, (builtins.slice, int, np.integer)):
        return isinstance(k, (bool, np.bool_))
    return True


def _entry(k, op):
    """An advanced entry as a list of integer index tensors (a bool mask gives one per
    mask axis), or raise naming the entry."""
    if isinstance(k, (bool, np.bool_)):
        raise TypeError(f"{op}: a Python bool index ({k!r}) is not supported; index with "
                        f"a bool mask array or tensor")
    t = k._read() if hasattr(k, "_read") else k
    if type(t) is not Tensor:
        try:
            arr = np.asarray(t)
        except (TypeError, ValueError):
            arr = np.asarray(t, dtype=object)
        if arr.dtype.kind not in "iub":
            raise TypeError(f"{op}: unsupported index {k!r} (dtype {arr.dtype}); valid "
                            f"indices are ints, slices, None, ..., integer arrays or "
                            f"tensors, and bool masks")
        t = make(arr.astype(np.int64) if arr.dtype.kind == "u" else np.array(arr))
    if t.dtype.kind == "b":
        check_traceable(t, f"{op} with a bool mask (the result's shape depends on the mask)")
        return [make(i.astype(np.int64)) for i in np.nonzero(np.asarray(t._value))]
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: index tensor has dtype {t.dtype}; valid index tensors are "
                        f"int32, int64 or bool")
    return [t]


def getitem(x, key):
    """``x[key]``: basic indexing (``shape_ops.getitem``) or, when the key holds integer
    arrays/tensors or bool masks, NumPy advanced indexing."""
    keys = key if isinstance(key, tuple) else (key,)
    if any(is_advanced(k) for k in keys):
        return advanced_getitem(as_tensor(x, "getitem"), keys)
    return shape_ops.getitem(x, key)


def advanced_getitem(x, key):
    """NumPy advanced indexing of tensor ``x`` by the tuple ``key``."""
    op = "getitem"
    basic = shape_ops.getitem
    if builtins.sum(1 for k in key if k is Ellipsis) > 1:
        raise IndexError(f"{op}: an index can only have a single ellipsis ('...')")
    parts = []                     # ("adv", [tensors]) | ("none",) | ("basic", entry)
    for k in key:
        if k is None:
            parts.append(("none",))
        elif k is Ellipsis:
            parts.append(("ellipsis",))
        elif isinstance(k, builtins.slice):
            parts.append(("basic", k))
        elif isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
            parts.append(("adv", [make(np.asarray(int(k), np.int64))]))
        else:
            parts.append(("adv", _entry(k, op)))
    used = builtins.sum(len(p[1]) if p[0] == "adv" else 1 for p in parts
                        if p[0] in ("adv", "basic"))
    if used > x.ndim:
        raise IndexError(f"{op}: too many indices ({used}) for a tensor of shape {x.shape}")
    flat = []
    for p in parts:
        if p[0] == "ellipsis":
            flat += [("basic", builtins.slice(None))] * (x.ndim - used)
        elif p[0] == "adv":
            flat += [("adv", t) for t in p[1]]
        else:
            flat.append(p)
    if not any(p[0] == "ellipsis" for p in parts):
        flat += [("basic", builtins.slice(None))] * (x.ndim - used)
    # None inserts a unit axis that later entries skip: make it an axis with a full slice
    if any(p[0] == "none" for p in flat):
        x = basic(x, tuple(None if p[0] == "none" else builtins.slice(None) for p in flat))
        flat = [("basic", builtins.slice(None)) if p[0] == "none" else p for p in flat]
    y = basic(x, tuple(builtins.slice(None) if p[0] == "adv" else p[1] for p in flat))
    axes = [i for i, p in enumerate(flat) if p[0] == "adv"]
    return _gather_axes(y, axes, [flat[i][1] for i in axes], op)


def _gather_axes(y, axes, idxs, op):
    """y indexed on ``axes`` by broadcast integer tensors ``idxs`` (NumPy's layout: the
    index dims replace the axes if those are adjacent, else they come first)."""
    shapes = [t.shape for t in idxs]
    try:
        bshape = np.broadcast_shapes(*shapes)
    except ValueError:
        raise IndexError(f"{op}: index arrays of shapes {shapes} cannot be broadcast "
                         f"together") from None
    sizes = [y.shape[a] for a in axes]
    if len(axes) == 1:
        (lin,) = idxs
        lin = linear_index(reshape(lin, lin.shape + (1,)), sizes, op, allow_negative=True)
        return bind(P.gather, y, lin, axis=axes[0])
    stacked = stack([broadcast_to(ops.cast(t, "int64"), bshape) for t in idxs], axis=-1)
    lin = linear_index(stacked, sizes, op, allow_negative=True)
    rest = [a for a in builtins.range(y.ndim) if a not in axes]
    moved = transpose(y, axes + rest)
    flat = reshape(moved, (_prod(sizes),) + tuple(y.shape[a] for a in rest))
    out = bind(P.gather, flat, lin, axis=0)
    if axes != list(builtins.range(axes[0], axes[0] + len(axes))):
        return out
    nb, before = len(bshape), axes[0]
    perm = list(builtins.range(nb, nb + before)) + list(builtins.range(nb)) + \
        list(builtins.range(nb + before, out.ndim))
    return transpose(out, perm)

