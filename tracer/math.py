"""``tt.math``: TensorFlow's ``tf.math`` names for the elementwise ops and reductions.

Every public op of ``tracer.ops`` that applies an elementwise primitive, a reduction or
an arg-reduction is here under the same name (generated from the ops, which carry their
``primitive``), plus the compositions TensorFlow keeps under ``tf.math``.
"""
from tracer import ops as _ops
from tracer.engine import as_tensor as _as_tensor
from tracer.array_ops import cumprod, cumsum, top_k  # noqa: F401
from tracer.nn import log_sigmoid, log_softmax, softmax  # noqa: F401
from tracer.norms import reduce_std, reduce_variance  # noqa: F401
from tracer.ops import (reciprocal, reduce_logsumexp, reduce_mean, reduce_sum,  # noqa: F401
                        rsqrt, softplus, square, squared_difference)

globals().update({_n: _f for _n, _f in vars(_ops).items()
                  if not _n.startswith("_") and getattr(_f, "primitive", None) is not None})

floor_div = _ops.floordiv
floor_mod = _ops.floormod
add_n = _ops.add_n
rint = _ops.round          # round half to even, as tf.math.rint

from tracer.nn_ops import l2_normalize, softsign  # noqa: E402,F401
from tracer.special_math import (acosh, asinh, atanh, count_nonzero, divide_no_nan,  # noqa: E402,F401,E501
                                 logical_xor, segment_sum, unsorted_segment_sum, xlogy)
from tracer.special_math import (cumulative_logsumexp, in_top_k,  # noqa: E402,F401
                                 invert_permutation, is_non_decreasing,
                                 is_strictly_increasing, multiply_no_nan, polyval,
                                 reciprocal_no_nan, reduce_euclidean_norm, scalar_mul,
                                 segment_max, segment_mean, segment_min, segment_prod,
                                 unsorted_segment_max, unsorted_segment_mean,
                                 unsorted_segment_min, unsorted_segment_prod, xdivy, xlog1py,
                                 zero_fraction)


def _float_only(x, op):
    x = _as_tensor(x, f"math.{op}")
    if x.dtype.kind != "f":
        raise TypeError(f"math.{op}: got dtype {x.dtype}; valid dtypes are float32, float64")
    return x


def is_nan(x, name=None):
    """True where x is NaN (NaN is the only value unequal to itself)."""
    x = _float_only(x, "is_nan")
    return _ops.not_equal(x, x)


def is_inf(x, name=None):
    """True where x is +inf or -inf."""
    x = _float_only(x, "is_inf")
    return _ops.equal(_ops.abs(x), float("inf"))


def is_finite(x, name=None):
    """True where x is neither inf nor NaN (NaN compares false, so |x| < inf is enough)."""
    x = _float_only(x, "is_finite")
    return _ops.less(_ops.abs(x), float("inf"))


def reduce_any(input_tensor, axis=None, keepdims=False, name=None):
    """Logical or over ``axis`` of a bool tensor (False for an empty axis)."""
    x = _bool_only(input_tensor, "reduce_any")
    return _ops.greater(reduce_sum(_ops.cast(x, "int32"), axis, keepdims), 0)


def reduce_all(input_tensor, axis=None, keepdims=False, name=None):
    """Logical and over ``axis`` of a bool tensor (True for an empty axis)."""
    x = _bool_only(input_tensor, "reduce_all")
    return _ops.equal(reduce_sum(_ops.cast(_ops.logical_not(x), "int32"), axis, keepdims), 0)


def _bool_only(x, op):
    x = _as_tensor(x, f"math.{op}")
    if x.dtype.kind != "b":
        raise TypeError(f"math.{op}: got dtype {x.dtype}; it takes bool tensors")
    return x

# Only names bound here (pytest's assertion rewriting, active for packages that ship a
# pytest plugin, adds an ``@py_builtins`` module to the globals).
__all__ = sorted(_n for _n, _v in list(globals().items())
                 if _n.isidentifier() and not _n.startswith("_") and not isinstance(_v, type(_ops)))
