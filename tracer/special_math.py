"""TensorFlow's ``tf.math`` functions that are compositions of differentiable tracer ops:
safe division and x log y, the inverse hyperbolic functions, counting and segment sums.

Where a branch would be infinite or NaN at a point the result does not use, its input is
replaced there first ("double where"), so the unused branch contributes a gradient of
0 rather than 0 * inf = NaN.
"""
import numpy as np

from tracer import dtypes, ops, shape_ops
from tracer.engine import as_tensor, as_tensor_in, is_python_data, make
from tracer.indexing import int_indices, tensor_scatter_nd_add
from tracer.tensor import check_traceable

# above this |x| (2**28) asinh/acosh are log(2|x|) to full float64 precision, and below
# it x**2 cannot overflow even in float32
_BIG = float(2 ** 28)
_LOG2 = float(np.log(2.0))


def _float(x, op):
    x = as_tensor(x, f"math.{op}")
    if x.dtype.kind != "f":
        raise TypeError(f"math.{op}: got dtype {x.dtype}; valid dtypes are float32, float64")
    return x


def _float_pair(x, y, op):
    # a Python number takes the other operand's dtype (as TensorFlow converts it)
    if is_python_data(y) and not is_python_data(x):
        x = _float(x, op)
        y = as_tensor_in(y, x.dtype, f"math.{op}")
    elif is_python_data(x) and not is_python_data(y):
        y = _float(y, op)
        x = as_tensor_in(x, y.dtype, f"math.{op}")
    x, y = _float(x, op), _float(y, op)
    if x.dtype != y.dtype:
        raise TypeError(f"math.{op}: x has dtype {x.dtype} and y has dtype {y.dtype}; "
                        f"they must be equal")
    return x, y


def divide_no_nan(x, y, name=None):
    """x / y, and 0 where y == 0 (even if x is inf or NaN); both gradients are 0 there."""
    x, y = _float_pair(x, y, "divide_no_nan")
    zero = ops.equal(y, 0)
    safe_y = ops.where(zero, 1, y)
    safe_x = ops.where(zero, 0, x)
    return ops.where(zero, 0, ops.divide(safe_x, safe_y))


def xlogy(x, y, name=None):
    """x * log(y), and 0 where x == 0 (even if y is 0 or NaN); there the gradients are 0
    with respect to x (TensorFlow's convention) and to y."""
    x, y = _float_pair(x, y, "xlogy")
    zero = ops.equal(x, 0)
    safe_y = ops.where(zero, 1, y)
    return ops.where(zero, 0, ops.multiply(x, ops.log(safe_y)))


def _split_sign(x):
    """(x >= 0, |x|) with |x| = where(x >= 0, x, -x): gradient +1 at 0, not abs's 0."""
    pos = ops.greater_equal(x, 0)
    return pos, ops.where(pos, x, ops.negative(x))


def _log_large(t, big):
    """log(2 t) where ``big`` (t >= 2**28), computed from t = 1 elsewhere."""
    return ops.add(ops.log(ops.where(big, t, 1)), _LOG2)


def asinh(x, name=None):
    """Inverse hyperbolic sine, sign(x) log1p(|x| + x^2 / (1 + sqrt(x^2 + 1))): exact
    for tiny |x|, log(2|x|) beyond 2**28 (no overflow), odd, and derivative 1 at 0."""
    x = _float(x, "asinh")
    pos, t = _split_sign(x)
    big = ops.greater(t, _BIG)
    ts = ops.where(big, 1, t)
    t2 = ops.square(ts)
    small = ops.log1p(ops.add(ts, ops.divide(t2, ops.add(1, ops.sqrt(ops.add(t2, 1))))))
    mag = ops.where(big, _log_large(t, big), small)
    return ops.where(pos, mag, ops.negative(mag))


def acosh(x, name=None):
    """Inverse hyperbolic cosine, log1p(t + sqrt(t) sqrt(t + 2)) with t = x - 1 (accurate
    near 1), log(2x) beyond 2**28; NaN below 1; the derivative at 1 is inf, as TF's."""
    x = _float(x, "acosh")
    valid = ops.greater_equal(x, 1)
    big = ops.greater(x, _BIG)
    t = ops.subtract(ops.where(ops.logical_and(valid, ops.logical_not(big)), x, 1), 1)
    # sqrt(2t + t^2) as sqrt(t) sqrt(t + 2): the derivative at t = 0 is inf, not inf * 0
    small = ops.log1p(ops.add(t, ops.multiply(ops.sqrt(t), ops.sqrt(ops.add(t, 2)))))
    value = ops.where(big, _log_large(x, big), small)
    # below 1 (and at NaN) the value is NaN and so is the gradient, as TensorFlow's
    # (only there: elsewhere x is replaced by 0 before the multiplication by NaN)
    return ops.where(valid, value, ops.multiply(ops.where(valid, 0, x), np.nan))


def atanh(x, name=None):
    """Inverse hyperbolic tangent, (log1p(x) - log1p(-x)) / 2: the two terms have opposite
    signs, so no cancellation (exact for tiny x); +-inf at +-1 (derivative inf), NaN
    beyond."""
    x = _float(x, "atanh")
    return ops.multiply(ops.subtract(ops.log1p(x), ops.log1p(ops.negative(x))), 0.5)


def logical_xor(x, y, name=None):
    """True where exactly one of the bool tensors x and y is True."""
    x, y = as_tensor(x, "math.logical_xor"), as_tensor(y, "math.logical_xor")
    if x.dtype.kind != "b" or y.dtype.kind != "b":
        raise TypeError(f"math.logical_xor: got dtypes {x.dtype} and {y.dtype}; it takes "
                        f"bool tensors")
    return ops.logical_and(ops.logical_or(x, y), ops.logical_not(ops.logical_and(x, y)))


def count_nonzero(input, axis=None, keepdims=False, dtype=dtypes.int64, name=None):  # noqa: A002
    """Number of nonzero (for bool: True) entries along ``axis``, as ``dtype``; NaN counts
    as nonzero."""
    x = as_tensor(input, "math.count_nonzero")
    nonzero = x if x.dtype.kind == "b" else ops.not_equal(x, 0)
    return ops.reduce_sum(ops.cast(nonzero, dtype), axis, bool(keepdims))


def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    """out[k] = sum of data[i] over the i with segment_ids[i] == k, for k in
    0..num_segments-1; ``segment_ids`` indexes the leading ``segment_ids.ndim`` axes of
    ``data``; negative ids are dropped (TensorFlow). Differentiable in ``data``."""
    d = as_tensor(data, "math.unsorted_segment_sum")
    ids = int_indices(segment_ids, "math.unsorted_segment_sum")
    if hasattr(num_segments, "numpy"):
        num_segments = as_tensor(num_segments, "math.unsorted_segment_sum")
        check_traceable(num_segments, "math.unsorted_segment_sum (num_segments is a shape)")
    n = int(np.asarray(num_segments._value if hasattr(num_segments, "_value")
                       else num_segments))
    if d.shape[:ids.ndim] != ids.shape:
        raise ValueError(f"math.unsorted_segment_sum: segment_ids have shape {ids.shape}; "
                         f"it must be a prefix of data's shape {d.shape}")
    if n < 0:
        raise ValueError(f"math.unsorted_segment_sum: num_segments is {n}; it must be >= 0")
    keep = ops.greater_equal(ids, 0)
    safe_ids = ops.where(keep, ids, ops.cast(make(np.zeros((), ids.dtype)), ids.dtype))
    mask = shape_ops.reshape(keep, ids.shape + (1,) * (d.ndim - ids.ndim))
    updates = ops.where(mask, d, make(np.zeros((), d.dtype)))
    out = make(np.zeros((n,) + d.shape[ids.ndim:], d.dtype))
    return tensor_scatter_nd_add(out, shape_ops.expand_dims(safe_ids, -1), updates)


def segment_sum(data, segment_ids, name=None):
    """unsorted_segment_sum with num_segments = max(segment_ids) + 1: ``segment_ids`` is
    a sorted 1-D tensor whose values must be known (traced, the result's shape would
    depend on them: tt.TracingError)."""
    ids = int_indices(segment_ids, "math.segment_sum")
    check_traceable(ids, "math.segment_sum (the result's shape depends on segment_ids)")
    v = np.asarray(ids._value)
    if v.ndim != 1:
        raise ValueError(f"math.segment_sum: segment_ids have shape {v.shape}; they must be "
                         f"1-D")
    if v.size and (v[0] < 0 or np.any(np.diff(v) < 0)):
        raise ValueError("math.segment_sum: segment_ids must be sorted and non-negative")
    return unsorted_segment_sum(data, ids, int(v[-1]) + 1 if v.size else 0)
