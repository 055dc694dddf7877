"""TensorFlow's ``tf.math`` functions that are compositions of differentiable tracer ops:
safe division and x log y, the inverse hyperbolic functions, counting and segment sums.

Where a branch would be infinite or NaN at a point the result does not use, its input is
replaced there first ("double where"), so the unused branch contributes a gradient of
0 rather than 0 * inf = NaN.
"""
import numpy as np

from compiler.primitives.core import normalize_axes
from tracer import array_ops, dtypes, ops, shape_ops
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
    # asinh(-0.0) is -0.0 (odd, as NumPy and TensorFlow): at 0 the value is x itself
    return ops.where(ops.equal(x, 0), x, ops.where(pos, mag, ops.negative(mag)))


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
    n = _num_segments(num_segments, "math.unsorted_segment_sum")
    if d.shape[:ids.ndim] != ids.shape:
        raise ValueError(f"math.unsorted_segment_sum: segment_ids have shape {ids.shape}; "
                         f"it must be a prefix of data's shape {d.shape}")
    keep = ops.greater_equal(ids, 0)
    safe_ids = ops.where(keep, ids, ops.cast(make(np.zeros((), ids.dtype)), ids.dtype))
    mask = shape_ops.reshape(keep, ids.shape + (1,) * (d.ndim - ids.ndim))
    updates = ops.where(mask, d, make(np.zeros((), d.dtype)))
    out = make(np.zeros((n,) + d.shape[ids.ndim:], d.dtype))
    return tensor_scatter_nd_add(out, shape_ops.expand_dims(safe_ids, -1), updates)


def _num_segments(num_segments, op):
    if hasattr(num_segments, "numpy"):
        num_segments = as_tensor(num_segments, op)
        check_traceable(num_segments, f"{op} (num_segments is a shape)")
    n = int(np.asarray(num_segments._value if hasattr(num_segments, "_value")
                       else num_segments))
    if n < 0:
        raise ValueError(f"{op}: num_segments is {n}; it must be >= 0")
    return n


def _sorted_ids(segment_ids, op):
    """(ids, number of segments) of sorted 1-D ``segment_ids`` whose values are known."""
    ids = int_indices(segment_ids, op)
    check_traceable(ids, f"{op} (the result's shape depends on segment_ids)")
    v = np.asarray(ids._value)
    if v.ndim != 1:
        raise ValueError(f"{op}: segment_ids have shape {v.shape}; they must be 1-D")
    if v.size and (v[0] < 0 or np.any(np.diff(v) < 0)):
        raise ValueError(f"{op}: segment_ids must be sorted and non-negative")
    return ids, int(v[-1]) + 1 if v.size else 0


def segment_sum(data, segment_ids, name=None):
    """unsorted_segment_sum with num_segments = max(segment_ids) + 1: ``segment_ids`` is
    a sorted 1-D tensor whose values must be known (traced, the result's shape would
    depend on them: tt.TracingError)."""
    ids, n = _sorted_ids(segment_ids, "math.segment_sum")
    return unsorted_segment_sum(data, ids, n)


def _segment_count(ids, n, like):
    """How many ids fall in each of the n segments, as ``like``'s dtype, shaped to
    broadcast against a segment result of ``like``."""
    ones = make(np.ones(ids.shape, like.dtype))
    count = unsorted_segment_sum(ones, ids, n)
    return shape_ops.reshape(count, (n,) + (1,) * (like.ndim - ids.ndim))


def unsorted_segment_mean(data, segment_ids, num_segments, name=None):
    """The mean of each segment (0 for an empty one), as TensorFlow's: the segment sum
    divided by max(count, 1)."""
    op = "math.unsorted_segment_mean"
    d = as_tensor(data, op)
    if d.dtype.kind != "f":
        raise TypeError(f"{op}: got dtype {d.dtype}; valid dtypes are float32, float64")
    ids = int_indices(segment_ids, op)
    n = _num_segments(num_segments, op)
    total = unsorted_segment_sum(d, ids, n)
    return ops.divide(total, ops.maximum(_segment_count(ids, n, d), 1))


def _masked_segments(d, ids, n, fill, op):
    """(n, N, ...) values: data row i in segment row k where ids[i] == k, ``fill``
    elsewhere (N: the ids flattened). Memory n * N * (a row's size): a dense mask."""
    if d.shape[:ids.ndim] != ids.shape:
        raise ValueError(f"{op}: segment_ids have shape {ids.shape}; it must be a prefix of "
                         f"data's shape {d.shape}")
    if ids._value is not None and ids.size and int(np.max(ids._value)) >= n:
        raise ValueError(f"{op}: segment id {int(np.max(ids._value))} is out of range for "
                         f"num_segments={n}")
    rest = d.shape[ids.ndim:]
    flat = shape_ops.reshape(ids, (1, -1))
    rows = shape_ops.reshape(d, (1, flat.shape[1]) + rest)
    k = make(np.arange(n, dtype=ids.dtype).reshape(n, 1))
    mask = shape_ops.reshape(ops.equal(flat, k), (n, flat.shape[1]) + (1,) * len(rest))
    return ops.where(mask, rows, make(np.array(fill, d.dtype))), mask


def _unsorted_extreme(op, reduce, fill, empty):
    def fn(data, segment_ids, num_segments, name=None):
        d = as_tensor(data, op)
        if d.dtype.kind not in "fiu":
            raise TypeError(f"{op}: got dtype {d.dtype}; it takes float or int tensors")
        ids = int_indices(segment_ids, op)
        n = _num_segments(num_segments, op)
        lim = np.finfo(d.dtype) if d.dtype.kind == "f" else np.iinfo(d.dtype)
        values, mask = _masked_segments(d, ids, n, fill(d.dtype, lim), op)
        out = reduce(values, 1)
        if empty is None:
            return out
        # (n, 1, ...): whether each segment holds any element
        nonempty = ops.greater(ops.reduce_sum(ops.cast(mask, "int32"), 1), 0)
        return ops.where(nonempty, out, make(np.array(empty(lim), d.dtype)))
    fn.__name__ = fn.__qualname__ = op.split(".")[1]
    return fn


def _inf(sign):
    return lambda dtype, lim: sign * np.inf if dtype.kind == "f" else (lim.min if sign < 0
                                                                      else lim.max)


unsorted_segment_max = _unsorted_extreme("math.unsorted_segment_max", ops.reduce_max,
                                         _inf(-1), lambda lim: lim.min)
unsorted_segment_max.__doc__ = (
    "The maximum of each segment (negative ids dropped); an empty segment gives the "
    "dtype's lowest value (TensorFlow's). Ties share the gradient equally. Memory "
    "num_segments * N (a dense segment mask).")
unsorted_segment_min = _unsorted_extreme("math.unsorted_segment_min", ops.reduce_min,
                                         _inf(1), lambda lim: lim.max)
unsorted_segment_min.__doc__ = (
    "The minimum of each segment; an empty segment gives the dtype's largest value "
    "(TensorFlow's). Ties share the gradient equally; memory as unsorted_segment_max.")
unsorted_segment_prod = _unsorted_extreme("math.unsorted_segment_prod", ops.reduce_prod,
                                          lambda dtype, lim: 1, None)
unsorted_segment_prod.__doc__ = (
    "The product of each segment (1 for an empty one); exact gradients with zeros; "
    "memory as unsorted_segment_max.")


def _sorted_segment(op, unsorted, empty):
    def fn(data, segment_ids, name=None):
        ids, n = _sorted_ids(segment_ids, op)
        out = unsorted(data, ids, n)
        if empty is None:
            return out
        d = as_tensor(data, op)
        nonempty = ops.greater(_segment_count(ids, n, d), 0)
        return ops.where(nonempty, out, make(np.zeros((), out.dtype)))
    fn.__name__ = fn.__qualname__ = op.split(".")[1]
    fn.__doc__ = (f"{unsorted.__name__} over sorted 1-D ``segment_ids`` with "
                  f"num_segments = max(segment_ids) + 1 (the values must be known: traced, "
                  f"tt.TracingError); an empty segment gives "
                  f"{'0' if empty is not None else 'the same as unsorted'}, as TensorFlow.")
    return fn


segment_max = _sorted_segment("math.segment_max", unsorted_segment_max, 0)
segment_min = _sorted_segment("math.segment_min", unsorted_segment_min, 0)
segment_prod = _sorted_segment("math.segment_prod", unsorted_segment_prod, None)
segment_mean = _sorted_segment("math.segment_mean", unsorted_segment_mean, None)


# -- safe products and quotients (TensorFlow's gradients: 0 where the result is pinned) ---

def xlog1py(x, y, name=None):
    """x * log1p(y), and 0 where x == 0 (even if y is -1 or NaN); there both gradients
    are 0, as TensorFlow's."""
    x, y = _float_pair(x, y, "xlog1py")
    zero = ops.equal(x, 0)
    safe_y = ops.where(zero, 0, y)
    return ops.where(zero, 0, ops.multiply(x, ops.log1p(safe_y)))


def xdivy(x, y, name=None):
    """x / y, and 0 where x == 0 (even if y is 0 or NaN); there both gradients are 0, as
    TensorFlow's."""
    x, y = _float_pair(x, y, "xdivy")
    zero = ops.equal(x, 0)
    safe_y = ops.where(zero, 1, y)
    return ops.where(zero, 0, ops.divide(x, safe_y))


def reciprocal_no_nan(x, name=None):
    """1 / x, and 0 where x == 0 (gradient 0 there): divide_no_nan(1, x), as TensorFlow."""
    x = _float(x, "reciprocal_no_nan")
    return divide_no_nan(ops.cast(make(np.ones((), x.dtype)), x.dtype), x)


def multiply_no_nan(x, y, name=None):
    """x * y, and 0 where y == 0 even if x is inf or NaN. Gradients as TensorFlow's:
    d/dx = y (0 where y == 0), d/dy = x (for finite x, also where y == 0)."""
    x, y = _float_pair(x, y, "multiply_no_nan")
    # where y == 0 a non-finite x is replaced by 0: the product is then 0, and d/dy stays
    # x for every finite x (NaN fails |x| < inf too)
    pinned = ops.logical_and(ops.equal(y, 0), ops.logical_not(ops.less(ops.abs(x), np.inf)))
    return ops.multiply(ops.where(pinned, 0, x), y)


# -- reductions, scans and predicates --------------------------------------------------------

def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):
    """sqrt(sum(x**2)) over ``axis`` (its gradient x / norm is NaN at a zero norm, as
    TensorFlow's); integer tensors give the truncated integer root, as TensorFlow."""
    x = as_tensor(input_tensor, "math.reduce_euclidean_norm")
    if x.dtype.kind in "iu":
        wide = ops.cast(x, "float64")
        return ops.cast(ops.sqrt(ops.reduce_sum(ops.multiply(wide, wide), axis,
                                                bool(keepdims))), x.dtype)
    x = _float(x, "reduce_euclidean_norm")
    return ops.sqrt(ops.reduce_sum(ops.multiply(x, x), axis, bool(keepdims)))


def _logaddexp(a, b):
    """log(exp(a) + exp(b)) shifted by the larger (a constant to differentiation: it
    cancels), so the sum lies in [1, 2] and the result keeps full precision; the gradient
    is the softmax weights, 1/2 each at a tie."""
    m = ops.stop_gradient(ops.maximum(a, b))
    m = ops.where(ops.less(ops.abs(m), np.inf), m, 0)      # both -inf (or an inf): no shift
    return ops.add(m, ops.log(ops.add(ops.exp(ops.subtract(a, m)),
                                      ops.exp(ops.subtract(b, m)))))


def _along(x, axis, start, stop):
    return shape_ops.getitem(x, (slice(None),) * axis + (slice(start, stop),))


def cumulative_logsumexp(x, axis=0, exclusive=False, reverse=False, name=None):
    """log(cumsum(exp(x))) along ``axis`` (``exclusive``/``reverse`` as tf.cumsum; the
    exclusive first entry is -inf). A prefix scan of pairwise log-add-exps (each entry
    combined with the one 1, 2, 4, ... places before it: log2(n) steps), so every partial
    result keeps full precision whatever the spread of the inputs."""
    x = _float(x, "cumulative_logsumexp")
    if x.ndim == 0:
        raise ValueError("math.cumulative_logsumexp: needs a tensor of rank >= 1, got a "
                         "scalar")
    a = normalize_axes("math.cumulative_logsumexp", (axis,), x.ndim)[0]
    n = x.shape[a]
    out = array_ops.reverse(x, a) if reverse else x
    step = 1
    while step < n:
        later = _logaddexp(_along(out, a, step, n), _along(out, a, 0, n - step))
        out = shape_ops.concat([_along(out, a, 0, step), later], a)
        step *= 2
    if exclusive and n:
        edge = out.shape[:a] + (1,) + out.shape[a + 1:]
        out = shape_ops.concat([make(np.full(edge, -np.inf, out.dtype)),
                                _along(out, a, 0, n - 1)], a)
    return array_ops.reverse(out, a) if reverse else out


def polyval(coeffs, x, name=None):
    """coeffs[0] x**(n-1) + ... + coeffs[n-1] by Horner's rule (0 for no coefficients)."""
    if not isinstance(coeffs, (list, tuple)):
        raise ValueError(f"math.polyval: coeffs must be a list of tensors, got "
                         f"{type(coeffs).__name__}")
    x = as_tensor(x, "math.polyval")
    if not coeffs:
        return ops.multiply(x, 0)
    p = coeffs[0]
    for c in coeffs[1:]:
        p = ops.add(c, ops.multiply(p, x))
    return as_tensor(p, "math.polyval")


def scalar_mul(scalar, x, name=None):
    """scalar * x for a scalar (rank 0) ``scalar``."""
    s = as_tensor(scalar, "math.scalar_mul")
    if s.ndim != 0:
        raise ValueError(f"math.scalar_mul: scalar has shape {s.shape}; only a scalar "
                         f"(shape ()) multiplies")
    return ops.multiply(scalar, x)


def zero_fraction(value, name=None):
    """The fraction of entries equal to 0, as float32."""
    x = as_tensor(value, "math.zero_fraction")
    zero = ops.equal(x, make(np.zeros((), x.dtype)))
    return ops.reduce_mean(ops.cast(zero, "float32"))


def _ordered(x, op, compare):
    x = as_tensor(x, f"math.{op}")
    if x.dtype.kind not in "fiu":
        raise TypeError(f"math.{op}: got dtype {x.dtype}; it takes float or int tensors")
    flat = shape_ops.reshape(x, (-1,))
    n = flat.shape[0]
    if n < 2:
        return make(np.array(True))
    ok = compare(shape_ops.getitem(flat, slice(None, n - 1)),
                 shape_ops.getitem(flat, slice(1, n)))
    return ops.equal(ops.reduce_sum(ops.cast(ops.logical_not(ok), "int32")), 0)


def is_non_decreasing(x, name=None):
    """True if x[i] <= x[i + 1] throughout (x read in row-major order; True for fewer than
    two entries)."""
    return _ordered(x, "is_non_decreasing", ops.less_equal)


def is_strictly_increasing(x, name=None):
    """True if x[i] < x[i + 1] throughout (x read in row-major order; True for fewer than
    two entries)."""
    return _ordered(x, "is_strictly_increasing", ops.less)


def invert_permutation(x, name=None):
    """y with y[x[i]] = i for a permutation x of 0..n-1 (1-D int32/int64); a known x that
    is not a permutation is a ValueError."""
    p = int_indices(x, "math.invert_permutation")
    if p.ndim != 1:
        raise ValueError(f"math.invert_permutation: x has shape {p.shape}; it must be 1-D")
    n = p.shape[0]
    if p._value is not None and not np.array_equal(np.sort(np.asarray(p._value)),
                                                   np.arange(n)):
        raise ValueError(f"math.invert_permutation: x = {np.asarray(p._value).tolist()} is "
                         f"not a permutation of 0..{n - 1}")
    positions = make(np.arange(n, dtype=p.dtype))
    return tensor_scatter_nd_add(make(np.zeros(n, p.dtype)), shape_ops.expand_dims(p, -1),
                                 positions)


def in_top_k(targets, predictions, k, name=None):
    """For each row i: whether predictions[i, targets[i]] is among the k largest of row i
    (ties at the boundary count as in, as TensorFlow; a non-finite target prediction is
    False). ``predictions`` [batch, classes] float32, ``targets`` [batch] ints."""
    pred = _float(predictions, "in_top_k")
    t = int_indices(targets, "math.in_top_k")
    if pred.ndim != 2 or t.shape != pred.shape[:1]:
        raise ValueError(f"math.in_top_k: predictions have shape {pred.shape} and targets "
                         f"{t.shape}; they must be [batch, classes] and [batch]")
    target = shape_ops.gather(pred, t, axis=1, batch_dims=1)
    above = ops.greater(pred, shape_ops.expand_dims(target, 1))
    count = ops.reduce_sum(ops.cast(above, "int32"), axis=1)
    finite = ops.less(ops.abs(target), np.inf)
    return ops.logical_and(finite, ops.less(count, k))
