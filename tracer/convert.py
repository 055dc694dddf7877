"""``convert_to_tensor``: a Tensor from a tensor, Variable, NumPy array, Python number or
(nested) list; Python numbers take TensorFlow's defaults (float32, int32 unless too big)."""
import numpy as np

from compiler import primitives as P
from tracer import dtypes
from tracer.recording import bind, make
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
    if dtype is None and hasattr(value, "__array__") and not isinstance(value, (list, tuple)):
        return a, None          # array-likes (JAX, PyTorch, ...) keep their dtype as NumPy's
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


def _check_whole(a, d, value, op):
    """A Python float becomes an integer tensor only when it is a whole number (TensorFlow
    refuses 3.7 for int32 rather than truncate it; ``tt.cast`` truncates)."""
    if a.dtype.kind == "f" and not np.all(np.isfinite(a) & (np.trunc(a) == a)):
        raise TypeError(f"{op}: cannot convert {value!r:.60} to dtype {d}: not a whole "
                        f"number; use tt.cast(x, {d}) to truncate toward zero, or a float "
                        f"dtype")


_MAX_RANK = 64       # NumPy's limit on dimensions


def _contains_tensor(value, op):
    """Whether a nested list holds tensors; ValueError for a list that contains itself or
    nests deeper than a tensor can have dimensions (checked without recursion)."""
    found = False
    stack = [(value, 0)]
    open_ = set()
    while stack:
        v, depth = stack.pop()
        if depth < 0:                        # leaving a list
            open_.discard(v)
            continue
        if isinstance(v, Tensor) or hasattr(v, "_read"):
            found = True
        elif isinstance(v, (list, tuple)):
            if id(v) in open_:
                raise ValueError(f"{op}: got a {type(v).__name__} that contains itself; "
                                 f"valid values are finite nested lists of numbers")
            if depth >= _MAX_RANK:
                raise ValueError(f"{op}: the value is nested more than {_MAX_RANK} lists "
                                 f"deep; a tensor has at most {_MAX_RANK} dimensions")
            open_.add(id(v))
            stack.append((id(v), -1))
            stack.extend((x, depth + 1) for x in v)
    return found


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None, op="convert_to_tensor"):
    """A Tensor from a tensor, Variable, NumPy array, Python number or (nested) list; a list
    of tensors is stacked (differentiably). ``dtype_hint`` (TensorFlow): the dtype a Python
    number or list becomes when ``dtype`` is None, if it can hold the value."""
    if dtype is None and dtype_hint is not None and not isinstance(
            value, (Tensor, np.ndarray, np.generic)) and not hasattr(value, "_read"):
        try:
            t = convert_to_tensor(value, dtype_hint, op=op)
            if t._value is not None and np.array_equal(t._value, np.asarray(value)):
                return t                # (3.5 with an int hint stays a float)
        except (TypeError, ValueError, OverflowError):
            pass
    d = dtypes.as_dtype(dtype, op) if dtype is not None else None
    if type(value) is Tensor:
        if d is not None and value.dtype != d:
            return bind(P.cast, value, dtype=d.str)
        return value
    if hasattr(value, "_read"):
        return convert_to_tensor(value._read(), dtype, op=op)
    if isinstance(value, (list, tuple)) and _contains_tensor(value, op):
        return _stack([convert_to_tensor(v, dtype, op=op) for v in value])
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.kind in "US" or value.dtype == object:
            raise TypeError(f"{op}: arrays of dtype {value.dtype} cannot become tensors; "
                            f"valid dtypes are float32, float64, int32, int64, bool")
        # a tensor owns its data: later writes to the caller's array must not reach it
        a = np.array(value)
    elif type(value) in (float, int, bool):
        a = np.array(value)
        d = d or (_int_default(a) if type(value) is int else dtypes.python_default(value))
        if d.kind in "iu" and type(value) is not bool:
            _check_whole(a, d, value, op)
            _check_int_range(value, d, op)
    else:
        a, d = _from_python(value, d, op)
        if d is not None and d.kind in "iu" and a.dtype.kind == "f":
            _check_whole(a, d, value, op)
    if d is None:
        d = dtypes.as_dtype(a.dtype, op)
    elif a.dtype != d:
        a = a.astype(d)
    return make(a[()] if a.ndim == 0 else a)


def _stack(ts):
    """A list of tensors stacked along a new axis 0 (as ``tt.stack``, differentiably)."""
    if any(t.shape != ts[0].shape for t in ts):
        raise ValueError(f"stack: shapes {[t.shape for t in ts]} must all be equal")
    rows = [bind(P.reshape, t, shape=(1,) + t.shape) for t in ts]
    d = np.result_type(*[t.dtype for t in ts])
    rows = [r if r.dtype == d else bind(P.cast, r, dtype=d.str) for r in rows]
    return rows[0] if len(rows) == 1 else bind(P.concat, *rows, axis=0)
