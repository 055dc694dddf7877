"""Creating tensors: constant, convert_to_tensor, zeros/ones/fill, eye, linspace, range,
and the ``tt.random`` samplers."""
import builtins
import operator

import numpy as np

from tracer import dtypes
from tracer.convert import convert_to_tensor
from tracer.engine import as_tensor, make
from tracer import shape_ops
from tracer.tensor import Tensor, check_traceable


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


def eye(num_rows, num_columns=None, dtype=dtypes.float32, name=None):
    """A 2-D tensor with ones on the diagonal (``num_rows`` x ``num_columns``)."""
    d = dtypes.as_dtype(dtype, "eye")
    n = _count(num_rows, "eye", "num_rows")
    m = n if num_columns is None else _count(num_columns, "eye", "num_columns")
    return make(_allocate(lambda: np.eye(n, m, dtype=d), (n, m), d, "eye"))


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


def linspace(start, stop, num, name=None):
    """``num`` evenly spaced values from start to stop inclusive (float32 for Python
    numbers, else the dtype of ``start``)."""
    s = convert_to_tensor(start, op="linspace")
    d = s.dtype if s.dtype.kind == "f" else dtypes.float32
    num = _count(num, "linspace", "num")
    return make(np.linspace(float(s), float(convert_to_tensor(stop)), num).astype(d))


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


class _Random:
    """``tt.random``: seeded samplers returning eager tensors."""

    def __init__(self):
        self._rng = np.random.default_rng()

    def _gen(self, seed):
        return np.random.default_rng(seed) if seed is not None else self._rng

    def uniform(self, shape, minval=0, maxval=1, dtype=dtypes.float32, seed=None, name=None):
        d = dtypes.as_dtype(dtype, "random.uniform")
        shape = _shape_arg(shape, "random.uniform")
        g = self._gen(seed)
        if d.kind in "iu":
            if not minval < maxval:
                raise ValueError(f"random.uniform: minval ({minval}) must be < maxval "
                                 f"({maxval}) for integer dtype {d} (maxval is excluded)")
            return make(g.integers(minval, maxval, shape).astype(d))
        if not minval <= maxval:
            raise ValueError(f"random.uniform: minval ({minval}) must be <= maxval "
                             f"({maxval})")
        return make(np.asarray(g.uniform(minval, maxval, shape)).astype(d))

    def normal(self, shape, mean=0, stddev=1, dtype=dtypes.float32, seed=None, name=None):
        d = dtypes.as_dtype(dtype, "random.normal")
        shape = _shape_arg(shape, "random.normal")
        if not stddev >= 0:
            raise ValueError(f"random.normal: stddev is {stddev}; it must be >= 0")
        return make(np.asarray(self._gen(seed).normal(mean, stddev, shape)).astype(d))

    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None,
                         name=None):
        """Normal numbers, those more than 2 ``stddev`` from ``mean`` redrawn (as TF)."""
        d = dtypes.as_dtype(dtype, "random.truncated_normal")
        shape = _shape_arg(shape, "random.truncated_normal")
        if not stddev >= 0:
            raise ValueError(f"random.truncated_normal: stddev is {stddev}; it must be >= 0")
        g = self._gen(seed)
        z = g.standard_normal(shape)
        out = np.abs(z) > 2
        while out.any():  # each round keeps ~95% of the redrawn values
            z[out] = g.standard_normal(int(out.sum()))
            out = np.abs(z) > 2
        return make(np.asarray(mean + stddev * z).astype(d))

    def shuffle(self, value, seed=None, name=None):
        """``value`` with its rows (axis 0) in a random order (a gather, so differentiable)."""
        x = as_tensor(value, "random.shuffle")
        if x.ndim == 0:
            raise ValueError("random.shuffle: value is a scalar; it needs rank >= 1")
        return shape_ops.gather(x, make(self._gen(seed).permutation(x.shape[0])))

    def categorical(self, logits, num_samples, dtype=None, seed=None, name=None):
        """Class indices drawn per row of the (batch, classes) ``logits`` with
        probabilities softmax(logits): shape (batch, num_samples), int64 by default."""
        x = as_tensor(logits, "random.categorical")
        d = dtypes.as_dtype(dtypes.int64 if dtype is None else dtype, "random.categorical")
        if x.ndim != 2 or x.dtype.kind != "f" or d.kind not in "iu":
            raise ValueError(f"random.categorical: logits have shape {x.shape} dtype "
                             f"{x.dtype}, dtype {d}; logits must be a 2-D float tensor "
                             f"(batch, classes) and dtype int32 or int64")
        check_traceable(x, "random.categorical (samples are drawn eagerly)")
        v = np.asarray(x._value, np.float64)
        p = np.exp(v - np.max(v, axis=1, keepdims=True))
        cdf = np.cumsum(p, axis=1)
        u = self._gen(seed).random((v.shape[0], int(num_samples))) * cdf[:, -1:]
        idx = np.stack([np.searchsorted(c, r, side="right") for c, r in zip(cdf, u)]) \
            if v.shape[0] else np.zeros((0, int(num_samples)), np.int64)
        return make(np.minimum(idx, v.shape[1] - 1).astype(d))

    def set_seed(self, seed):
        self._rng = np.random.default_rng(seed)


random = _Random()
