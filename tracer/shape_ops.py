"""Shape operations: reshape, transpose, expand_dims, squeeze, broadcast_to, concat, stack,
tile, gather, and basic indexing (``x[1:, None, ..., -1]``)."""
import builtins

import numpy as np

from compiler import primitives as P
from compiler.primitives.core import normalize_axes
from tracer.convert import convert_to_tensor
from tracer.engine import as_tensor, bind, promote_operands
from tracer.tensor import Tensor


def _ints(seq, op, what):
    if isinstance(seq, Tensor) or hasattr(seq, "_read"):
        seq = np.asarray(seq).tolist()
    if isinstance(seq, (int, np.integer)):
        seq = [seq]
    try:
        return tuple(int(s) for s in seq)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {what} must be a sequence of ints, got {seq!r}") from None


def reshape(tensor, shape, name=None):
    """Reshape; one dimension may be -1 (inferred)."""
    x = as_tensor(tensor, "reshape")
    shape = list(_ints(shape, "reshape", "shape"))
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: shape {tuple(shape)} has more than one -1")
    if -1 in shape:
        known = P.shape_size([s for s in shape if s != -1])
        if known == 0 or x.size % known:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                             f"({x.size} elements) to {tuple(shape)}")
        shape[shape.index(-1)] = x.size // known
    shape = tuple(shape)
    if any(s < 0 for s in shape) or P.shape_size(shape) != x.size:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} "
                         f"elements) to {shape} ({int(np.prod(shape, dtype=np.int64))} "
                         f"elements)")
    return x if shape == x.shape else bind(P.reshape, x, shape=shape)


def transpose(a, perm=None, conjugate=False, name=None):
    """Permute axes; default reverses them (``conjugate`` changes nothing for the real
    dtypes here, as TensorFlow's)."""
    x = as_tensor(a, "transpose")
    if perm is None:
        perm = tuple(reversed(builtins.range(x.ndim)))
    perm = _ints(perm, "transpose", "perm")
    if sorted(p % x.ndim if x.ndim else p for p in perm) != list(builtins.range(x.ndim)) \
            or len(perm) != x.ndim:
        raise ValueError(f"transpose: perm {perm} is not a permutation of the axes of a "
                         f"tensor of shape {x.shape}; valid perms reorder "
                         f"{tuple(builtins.range(x.ndim))}")
    perm = tuple(p % x.ndim for p in perm)
    return x if perm == tuple(builtins.range(x.ndim)) else bind(P.transpose, x, perm=perm)


def expand_dims(input, axis, name=None):
    """Insert a length-1 axis at ``axis`` (negative counts from the end of the result)."""
    x = as_tensor(input, "expand_dims")
    nd = x.ndim + 1
    if isinstance(axis, (list, tuple, np.ndarray, Tensor)) and np.size(axis) == 1 and \
            np.ndim(axis) == 1:
        axis = np.asarray(axis).reshape(())[()]     # one axis in a list (TensorFlow)
    if isinstance(axis, Tensor) and axis.dtype.kind in "iu" and axis.shape == ():
        axis = axis.__index__()
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"expand_dims: axis must be an int (or a one-element list), got "
                        f"{axis!r}")
    if not -nd <= axis < nd:
        raise ValueError(f"expand_dims: axis {axis!r} out of range for a result of rank {nd}; "
                         f"valid axes are {-nd}..{nd - 1}")
    a = int(axis) % nd
    return reshape(x, x.shape[:a] + (1,) + x.shape[a:])


def squeeze(input, axis=None, name=None):
    """Remove length-1 axes (all of them, or those in ``axis``)."""
    x = as_tensor(input, "squeeze")
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = normalize_axes("squeeze", _ints(axis, "squeeze", "axis"), x.ndim)
        bad = [a for a in axes if x.shape[a] != 1]
        if bad:
            raise ValueError(f"squeeze: axis {bad[0]} of shape {x.shape} has size "
                             f"{x.shape[bad[0]]}, not 1")
    return reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in axes))


def broadcast_to(input, shape, name=None):
    """Broadcast to ``shape`` by NumPy's rules."""
    x = as_tensor(input, "broadcast_to")
    shape = _ints(shape, "broadcast_to", "shape")
    if shape == x.shape:
        return x
    try:
        ok = len(shape) >= x.ndim and P.broadcast_shapes(x.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}; each "
                         f"dimension, aligned from the right, must equal the target's or be 1")
    return bind(P.broadcast_to, x, shape=shape)


def concat(values, axis, name=None):
    """Join tensors along an existing axis."""
    xs = [as_tensor(v, "concat") for v in values]
    if not xs:
        raise ValueError("concat: needs at least one tensor")
    xs = promote_operands(xs, "concat")
    (a,) = normalize_axes("concat", (axis,), xs[0].ndim)
    for x in xs[1:]:
        if x.ndim != xs[0].ndim or any(p != q for i, (p, q) in
                                       enumerate(zip(x.shape, xs[0].shape)) if i != a):
            raise ValueError(f"concat: shapes {[y.shape for y in xs]} differ outside axis "
                             f"{a}; all dimensions but the concat axis must match")
    if len(xs) == 1:
        return xs[0]
    return bind(P.concat, *xs, axis=a)


def stack(values, axis=0, name=None):
    """Join tensors of equal shape along a new axis."""
    xs = [as_tensor(v, "stack") for v in values]
    if not xs:
        raise ValueError("stack: needs at least one tensor")
    if any(x.shape != xs[0].shape for x in xs):
        raise ValueError(f"stack: shapes {[x.shape for x in xs]} must all be equal")
    return concat([expand_dims(x, axis) for x in xs], axis)


def tile(input, multiples, name=None):
    """Repeat the tensor ``multiples[i]`` times along axis i."""
    x = as_tensor(input, "tile")
    m = _ints(multiples, "tile", "multiples")
    if len(m) != x.ndim or any(k < 0 for k in m):
        raise ValueError(f"tile: multiples {m} needs one non-negative int per axis of "
                         f"shape {x.shape}")
    # (d0, d1) -> (1, d0, 1, d1) -> broadcast (m0, d0, m1, d1) -> (m0 d0, m1 d1)
    inter = tuple(v for d in x.shape for v in (1, d))
    big = tuple(v for k, d in zip(m, x.shape) for v in (k, d))
    y = broadcast_to(reshape(x, inter), big)
    return reshape(y, tuple(k * d for k, d in zip(m, x.shape)))


def gather(params, indices, axis=None, batch_dims=0, name=None):
    """Take slices of ``params`` at integer ``indices`` along ``axis`` (TensorFlow's
    semantics). With ``batch_dims`` = B the first B axes of ``params`` and ``indices`` are
    a shared batch (equal sizes), each example gathering with its own indices; ``axis``
    (default B) must be at least B, and the result has shape
    ``params.shape[:axis] + indices.shape[B:] + params.shape[axis + 1:]``."""
    x = as_tensor(params, "gather")
    idx = indices if type(indices) is Tensor else convert_to_tensor(indices, op="gather")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"gather: indices have dtype {idx.dtype}; they must be int32 or int64")
    b = _batch_dims(batch_dims, x, idx)
    (a,) = normalize_axes("gather", (b if axis is None else axis,), x.ndim)
    if a < b:
        raise ValueError(f"gather: axis {a} is inside the batch_dims={b} leading batch "
                         f"axes; it must be at least {b}")
    n = x.shape[a]
    if idx._value is not None:
        v = np.asarray(idx._value)
        if v.size and (v.max() >= n or v.min() < -n):
            raise ValueError(f"gather: indices span {v.min()}..{v.max()} but axis {a} of "
                             f"params shape {x.shape} has size {n}; valid indices are "
                             f"{-n}..{n - 1}")
    if b == 0:
        return bind(P.gather, x, idx, axis=a)
    return batch_gather(x, idx, a, b)


def _batch_dims(batch_dims, x, idx):
    b = int(batch_dims)
    b = b + idx.ndim if b < 0 else b
    if not 0 <= b <= builtins.min(idx.ndim, x.ndim - 1):
        raise ValueError(f"gather: batch_dims={batch_dims} for params of shape {x.shape} "
                         f"and indices of shape {idx.shape}; valid are "
                         f"{-idx.ndim}..{builtins.min(idx.ndim, x.ndim - 1)}")
    if x.shape[:b] != idx.shape[:b]:
        raise ValueError(f"gather: the batch_dims={b} leading axes of params {x.shape} and "
                         f"indices {idx.shape} must have equal sizes")
    return b


def batch_gather(x, idx, a, b):
    """Each example of the ``b`` shared leading axes of ``x`` and ``idx`` gathers along
    axis ``a`` (>= b) of ``x`` with its own indices (negative ones from the end): one
    gather from the batch folded into the gathered axis, indices offset per example.
    Shape ``x.shape[:a] + idx.shape[b:] + x.shape[a + 1:]`` (gather and gather_nd's
    ``batch_dims``)."""
    batch, mid, n = x.shape[:b], x.shape[b:a], x.shape[a]
    ishape, post = idx.shape[b:], x.shape[a + 1:]
    count = int(np.prod(batch, dtype=np.int64))
    folded = transpose(x, tuple(builtins.range(b)) + (a,) + tuple(builtins.range(b, a)) +
                       tuple(builtins.range(a + 1, x.ndim)))
    folded = reshape(folded, (count * n,) + mid + post)
    i64 = idx if idx.dtype == np.int64 else bind(P.cast, idx, dtype="<i8")
    const = lambda v: broadcast_to(convert_to_tensor(v, op="gather"), idx.shape)
    i64 = bind(P.select, bind(P.less, i64, const(np.int64(0))),
               bind(P.add, i64, const(np.int64(n))), i64)       # negative: from the end
    offsets = (np.arange(count, dtype=np.int64) * n).reshape(batch + (1,) * len(ishape))
    out = bind(P.gather, folded, bind(P.add, i64, const(offsets)), axis=0)
    # out is batch + ishape + mid + post
    k, m = len(ishape), len(mid)
    return transpose(out, tuple(builtins.range(b)) + tuple(builtins.range(b + k, b + k + m)) +
                     tuple(builtins.range(b, b + k)) + tuple(builtins.range(b + k + m, out.ndim)))


# -- indexing ------------------------------------------------------------------------------

def getitem(x, key):
    """Basic indexing: ints, slices, None, Ellipsis, negative indices (``tracer.indexing``
    adds integer arrays and masks, and is what ``x[key]`` calls)."""
    x = as_tensor(x, "getitem")
    if not isinstance(key, tuple):
        key = (key,)
    n_real = builtins.sum(1 for k in key if k is not None and k is not Ellipsis)
    if builtins.sum(1 for k in key if k is Ellipsis) > 1:
        raise IndexError("getitem: an index can only have a single ellipsis ('...')")
    if n_real > x.ndim:
        raise IndexError(f"getitem: too many indices ({n_real}) for a tensor of shape "
                         f"{x.shape}")
    expanded = []
    for k in key:
        if k is Ellipsis:
            expanded += [builtins.slice(None)] * (x.ndim - n_real)
        else:
            expanded.append(k)
    if not any(k is Ellipsis for k in key):
        expanded += [builtins.slice(None)] * (x.ndim - n_real)
    starts, stops, steps, flips, out_shape = [], [], [], [], []
    dim = 0
    for k in expanded:
        if k is None:
            out_shape.append(1)
            continue
        size = x.shape[dim]
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            i = int(k)
            if not -size <= i < size:
                raise IndexError(f"getitem: index {i} is out of bounds for axis {dim} with "
                                 f"size {size}")
            i %= size
            starts.append(i), stops.append(i + 1), steps.append(1)
        elif isinstance(k, builtins.slice):
            a, b, s = k.indices(size)
            if s < 0:
                # x[a:b:-s] = reverse, then a forward slice on the reversed axis
                flips.append(dim)
                a, b = size - 1 - a, size - 1 - b
                s = -s
            n = len(builtins.range(a, b, s))
            starts.append(a if n else 0), stops.append(a + (n - 1) * s + 1 if n else 0)
            steps.append(s)
            out_shape.append(n)
        else:
            raise TypeError(f"getitem: unsupported index {k!r}; valid indices are ints, "
                            f"slices, None, ..., integer arrays or tensors, and bool masks")
        dim += 1
    y = bind(P.rev, x, axes=tuple(flips)) if flips else x
    if (starts, stops, steps) != ([0] * x.ndim, list(x.shape), [1] * x.ndim):
        y = bind(P.slice, y, starts=tuple(starts), stops=tuple(stops), steps=tuple(steps))
    return reshape(y, tuple(out_shape))


# -- static facts as tensors (TensorFlow's tf.shape / tf.size / tf.rank) -----------------------

def shape(input, out_type=np.int32, name=None):
    """The shape as a 1-D int tensor (``out_type`` int32 or int64). Shapes are static,
    so inside ``tt.function`` this is a constant of the traced signature."""
    x = as_tensor(input, "shape")
    return convert_to_tensor(np.array(x.shape, dtype=_int_type(out_type, "shape")),
                             op="shape")


def size(input, out_type=np.int32, name=None):
    """The number of elements as an int scalar tensor."""
    x = as_tensor(input, "size")
    return convert_to_tensor(np.array(x.size, dtype=_int_type(out_type, "size")), op="size")


def rank(input, name=None):
    """The number of dimensions as an int32 scalar tensor."""
    return convert_to_tensor(np.int32(as_tensor(input, "rank").ndim), op="rank")


def _int_type(out_type, op):
    d = np.dtype(out_type)
    if d not in (np.dtype(np.int32), np.dtype(np.int64)):
        raise TypeError(f"{op}: out_type must be int32 or int64, got {d}")
    return d
