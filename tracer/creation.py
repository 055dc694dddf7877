"""Creating tensors: constant, convert_to_tensor, zeros/ones/fill, eye, linspace, range
(the ``tt.random`` samplers are in ``tracer.random_ops``)."""
import builtins
import operator

import numpy as np

from tracer import dtypes, ops
from tracer.convert import convert_to_tensor
from tracer.engine import as_tensor, as_tensor_in, make
from tracer.shape_ops import broadcast_to, concat, expand_dims
from tracer.tensor import Tensor


def constant(value, dtype=None, shape=None, name=None):
    """A constant tensor; ``shape`` reshapes it or fills it from a scalar."""
    t = convert_to_tensor(value, dtype, op="constant")
    v = np.array(t._value) if t._value is not None else None
    if v is None:
        return t
    if shape is not None:
        shape = tuple(int(s) for s in shape)
        if v.size == 1:
            v = np.full(shape, v.reshape(()), dtype=v.dtype)
        elif v.size == int(np.prod(shape)):
            v = v.reshape(shape)
        else:
            raise ValueError(f"constant: a value of shape {v.shape} ({v.size} elements) does "
                             f"not fit shape {shape}; give a scalar or {int(np.prod(shape))} "
                             f"elements")
    return make(v[()] if v.ndim == 0 else v)


def _shape_arg(shape, op):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    if hasattr(shape, "_read") or isinstance(shape, Tensor):
        shape = np.asarray(shape).tolist()
        shape = shape if isinstance(shape, list) else [shape]
    try:
        out = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: shape must be a sequence of ints, got {shape!r}") from None
    if any(s < 0 for s in out):
        raise ValueError(f"{op}: shape {out} has a negative dimension; dimensions must be "
                         f">= 0")
    return out


def _allocate(make_array, shape, dtype, op):
    """Run ``make_array()``; a shape too large to allocate is an error naming it."""
    n = 1
    for s in shape:
        n *= s
    nbytes = n * np.dtype(dtype).itemsize
    if nbytes >= 1 << 63:
        raise ValueError(f"{op}: shape {shape} of {dtype} has {n} elements ({nbytes} "
                         f"bytes), more than any array can hold")
    try:
        return make_array()
    except (ValueError, MemoryError) as e:
        raise MemoryError(f"{op}: cannot allocate shape {shape} of {dtype} ({nbytes} bytes): "
                          f"{e}") from None


def _filled(shape, value, dtype, op):
    d = dtypes.as_dtype(dtype, op)
    shape = _shape_arg(shape, op)
    a = _allocate(lambda: np.full(shape, value, dtype=d), shape, d, op)
    return make(a[()] if a.ndim == 0 else a)


def zeros(shape, dtype=dtypes.float32, name=None):
    return _filled(shape, 0, dtype, "zeros")


def ones(shape, dtype=dtypes.float32, name=None):
    return _filled(shape, 1, dtype, "ones")


def fill(dims, value, name=None):
    t = convert_to_tensor(value, op="fill")
    return _filled(dims, t._value, t.dtype, "fill")


def _like(x, value, dtype, op):
    x = as_tensor(x, op)
    return _filled(x.shape, value, dtype or x.dtype, op)


def zeros_like(x, dtype=None, name=None):
    return _like(x, 0, dtype, "zeros_like")


def ones_like(x, dtype=None, name=None):
    return _like(x, 1, dtype, "ones_like")


def eye(num_rows, num_columns=None, batch_shape=None, dtype=dtypes.float32, name=None):
    """A 2-D tensor with ones on the diagonal (``num_rows`` x ``num_columns``), repeated
    over ``batch_shape`` leading dimensions (TensorFlow's signature)."""
    d = dtypes.as_dtype(dtype, "eye")
    n = _count(num_rows, "eye", "num_rows")
    m = n if num_columns is None else _count(num_columns, "eye", "num_columns")
    batch = () if batch_shape is None else tuple(
        _count(b, "eye", "batch_shape") for b in np.atleast_1d(np.asarray(batch_shape)))
    shape = batch + (n, m)
    return make(_allocate(lambda: np.broadcast_to(np.eye(n, m, dtype=d), shape).copy(),
                          shape, d, "eye"))


def _count(v, op, what):
    """A non-negative int argument (ints, NumPy ints, int tensors), or an error naming it."""
    try:
        n = operator.index(v) if not isinstance(v, bool) else None
    except TypeError:
        n = None
    if n is None:
        raise TypeError(f"{op}: {what} must be an int, got {type(v).__name__} {v!r}")
    if n < 0:
        raise ValueError(f"{op}: {what} is {n}; it must be >= 0")
    return n


def linspace(start, stop, num, name=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` inclusive, along a new axis
    ``axis`` when start and stop are tensors (broadcast together); differentiable in both
    (TensorFlow's ``linspace``: ``start + k * (stop - start) / (num - 1)``, the ends
    exact; float32 values are computed in float64 and rounded once). float32 for Python
    numbers or integers, else the dtype of ``start``; ``stop`` is converted in that dtype."""
    s = as_tensor(start, "linspace")
    d = s.dtype if s.dtype.kind == "f" else dtypes.float32
    s = ops.cast(s, d)
    e = as_tensor_in(stop, d, "linspace")
    num = _count(num, "linspace", "num")
    shape = np.broadcast_shapes(s.shape, e.shape)
    rank = len(shape) + 1
    if not -rank <= axis < rank:
        raise ValueError(f"linspace: axis {axis} is out of range for start and stop of "
                         f"shape {shape}; valid axes are {-rank}..{rank - 1}")
    axis %= rank
    s = expand_dims(broadcast_to(s, shape), axis)
    e = expand_dims(broadcast_to(e, shape), axis)
    if num <= 1:
        return s if num == 1 else broadcast_to(s, s.shape[:axis] + (0,) + s.shape[axis + 1:])
    if num == 2:
        return concat([s, e], axis)
    # the inner points in float64 (rounded once to float32), as np.linspace gives them
    w = np.promote_types(d, np.float64)
    steps = np.arange(1, num - 1, dtype=w).reshape((-1,) + (1,) * (rank - 1 - axis))
    s64, e64 = ops.cast(s, w), ops.cast(e, w)
    inner = ops.add(s64, ops.multiply(ops.divide(ops.subtract(e64, s64), num - 1), steps))
    return concat([s, ops.cast(inner, d), e], axis)


lin_space = linspace


def range(start, limit=None, delta=1, dtype=None, name=None):
    """Like Python's range (TensorFlow's ``tf.range``): int32 for ints, float32 for floats."""
    if limit is None:
        start, limit = 0, start
    vals = [np.asarray(v) for v in (start, limit, delta)]
    if dtype is None:
        dtype = dtypes.float32 if builtins.any(v.dtype.kind == "f" for v in vals) \
            else dtypes.int32
    d = dtypes.as_dtype(dtype, "range")
    if float(vals[2]) == 0:
        raise ValueError("range: delta must not be 0")
    return make(np.arange(vals[0], vals[1], vals[2]).astype(d))
