"""Array operations: cumulative sums and products, sorting, top_k, split/unstack, pad,
reverse, and the statistics and norm clipping TensorFlow keeps at top level.

Each is a primitive (cumsum, cumprod, argsort, take_along_axis, rev, pad) or an exact
composition of primitives, so gradients of every order come from the registry's rules.
"""
import builtins

import numpy as np

from compiler import primitives as P
from compiler.primitives.core import normalize_axes
from tracer import ops
from tracer.engine import as_tensor, as_tensor_in, bind, make
from tracer.shape_ops import broadcast_to, concat, getitem


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
    c = as_tensor_in(value if type(value) in (float, int, bool) else c, x.dtype, "pad")
    for a, (lo, hi) in enumerate(pads):
        parts = []
        for k in (lo, hi):
            shape = x.shape[:a] + (k,) + x.shape[a + 1:]
            parts.append(broadcast_to(c, shape) if k else None)
        x = concat([p for p in (parts[0], x, parts[1]) if p is not None], a)
    return x
