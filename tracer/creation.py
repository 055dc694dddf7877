"""Creating tensors: constant, convert_to_tensor, zeros/ones/fill, eye, linspace, range,
and the ``tt.random`` samplers."""
import builtins

import numpy as np

from tracer import dtypes
from tracer.engine import make
from tracer.tensor import Tensor


def _from_python(value, dtype, op):
    if isinstance(value, str) or isinstance(value, bytes):
        raise TypeError(f"{op}: cannot convert the string {value!r} to a tensor; valid values "
                        f"are numbers, (nested) lists of numbers, NumPy arrays and tensors")
    try:
        a = np.array(value)
    except ValueError as e:
        raise ValueError(f"{op}: cannot convert a ragged nested list to a tensor ({e}); "
                         f"every sublist at one depth must have the same length") from None
    if a.dtype == object:
        raise TypeError(f"{op}: cannot convert {type(value).__name__} {value!r:.60} to a "
                        f"tensor; valid values are numbers, nested lists of numbers, NumPy "
                        f"arrays and tensors")
    if a.dtype.kind in "US":
        raise TypeError(f"{op}: cannot convert strings to a tensor; got {value!r:.60}")
    if dtype is None:
        if a.dtype.kind == "f":
            dtype = dtypes.float32
        elif a.dtype.kind in "iu":
            dtype = _int_default(a)
    return a, dtype


def _int_default(a):
    """int32 (TensorFlow's default for Python ints) unless the values need int64."""
    i32 = np.iinfo(np.int32)
    if a.size and (a.min() < i32.min or a.max() > i32.max):
        return dtypes.int64
    return dtypes.int32


def _check_int_range(value, d, op):
    info = np.iinfo(d)
    if not info.min <= value <= info.max:
        raise ValueError(f"{op}: {value} does not fit dtype {d} ({info.min}..{info.max}); "
                         f"use a wider dtype such as int64 or float64")


def _contains_tensor(value):
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (Tensor,)) or hasattr(v, "_read"):
            return True
        if isinstance(v, (list, tuple)):
            stack.extend(v)
    return False


def convert_to_tensor(value, dtype=None, op="convert_to_tensor"):
    """A Tensor from a tensor, Variable, NumPy array, Python number or (nested) list; a list
    of tensors is stacked (differentiably)."""
    d = dtypes.as_dtype(dtype, op) if dtype is not None else None
    if type(value) is Tensor:
        if d is not None and value.dtype != d:
            from tracer.ops import cast
            return cast(value, d)
        return value
    if hasattr(value, "_read"):
        return convert_to_tensor(value._read(), dtype, op)
    if isinstance(value, (list, tuple)) and _contains_tensor(value):
        from tracer.shape_ops import stack
        return stack([convert_to_tensor(v, dtype, op) for v in value], axis=0)
    if isinstance(value, (np.ndarray, np.generic)):
        a = value
        if a.dtype.kind in "US" or a.dtype == object:
            raise TypeError(f"{op}: arrays of dtype {a.dtype} cannot become tensors; valid "
                            f"dtypes are float32, float64, int32, int64, bool")
    elif type(value) in (float, int, bool):
        a = np.array(value)
        d = d or (_int_default(a) if type(value) is int else dtypes.python_default(value))
        if d.kind in "iu" and type(value) is not bool:
            _check_int_range(value, d, op)
    else:
        a, d = _from_python(value, d, op)
    if d is None:
        d = dtypes.as_dtype(a.dtype, op)
    elif a.dtype != d:
        a = a.astype(d)
    return make(a[()] if a.ndim == 0 else a)


def constant(value, dtype=None, shape=None):
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
        raise ValueError(f"{op}: shape {out} has a negative dimension")
    return out


def _filled(shape, value, dtype, op):
    d = dtypes.as_dtype(dtype, op)
    a = np.full(_shape_arg(shape, op), value, dtype=d)
    return make(a[()] if a.ndim == 0 else a)


def zeros(shape, dtype=dtypes.float32):
    return _filled(shape, 0, dtype, "zeros")


def ones(shape, dtype=dtypes.float32):
    return _filled(shape, 1, dtype, "ones")


def fill(dims, value):
    t = convert_to_tensor(value, op="fill")
    return _filled(dims, t._value, t.dtype, "fill")


def _like(x, value, dtype, op):
    from tracer.engine import as_tensor
    x = as_tensor(x, op)
    return _filled(x.shape, value, dtype or x.dtype, op)


def zeros_like(x, dtype=None):
    return _like(x, 0, dtype, "zeros_like")


def ones_like(x, dtype=None):
    return _like(x, 1, dtype, "ones_like")


def eye(num_rows, num_columns=None, dtype=dtypes.float32):
    return make(np.eye(num_rows, num_columns, dtype=dtypes.as_dtype(dtype, "eye")))


def linspace(start, stop, num):
    """``num`` evenly spaced values from start to stop inclusive (float32 for Python
    numbers, else the dtype of ``start``)."""
    s = convert_to_tensor(start, op="linspace")
    d = s.dtype if s.dtype.kind == "f" else dtypes.float32
    return make(np.linspace(float(s), float(convert_to_tensor(stop)), int(num)).astype(d))


lin_space = linspace


def range(start, limit=None, delta=1, dtype=None):
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

    def uniform(self, shape, minval=0, maxval=1, dtype=dtypes.float32, seed=None):
        d = dtypes.as_dtype(dtype, "random.uniform")
        shape = _shape_arg(shape, "random.uniform")
        g = self._gen(seed)
        if d.kind in "iu":
            return make(g.integers(minval, maxval, shape).astype(d))
        return make(np.asarray(g.uniform(minval, maxval, shape)).astype(d))

    def normal(self, shape, mean=0, stddev=1, dtype=dtypes.float32, seed=None):
        d = dtypes.as_dtype(dtype, "random.normal")
        shape = _shape_arg(shape, "random.normal")
        return make(np.asarray(self._gen(seed).normal(mean, stddev, shape)).astype(d))

    def set_seed(self, seed):
        self._rng = np.random.default_rng(seed)


random = _Random()
