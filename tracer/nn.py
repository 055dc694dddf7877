"""``tt.nn``: activations and losses, as compositions of differentiable tracer ops.

Softmax-type functions shift by the maximum for stability; the shift goes through
``stop_gradient`` because it cancels mathematically, so its gradient path is pure noise.
"""
import numpy as np

from tracer import ops
from tracer.ops import relu, sigmoid, softplus, tanh  # noqa: F401  (tt.nn.relu, ...)
from tracer.engine import as_tensor, public_op


def _check_float(x, op):
    if x.dtype.kind != "f":
        raise TypeError(f"nn.{op}: got dtype {x.dtype}; valid dtypes are float32, float64 "
                        f"(cast with tt.cast(x, tt.float32))")


@public_op("nn.softmax")
def softmax(logits, axis=-1, name=None):
    """exp(x) / sum(exp(x)) along ``axis`` (None: the last axis, as TensorFlow 2)."""
    x = as_tensor(logits, "nn.softmax")
    _check_float(x, "softmax")
    axis = -1 if axis is None else axis
    m = ops.stop_gradient(ops.reduce_max(x, axis, keepdims=True))
    e = ops.exp(ops.subtract(x, m))
    return ops.divide(e, ops.reduce_sum(e, axis, keepdims=True))


@public_op("nn.log_softmax")
def log_softmax(logits, axis=-1, name=None):
    """x - logsumexp(x) along ``axis``, as (x - m) - log(sum(exp(x - m))) with m the maximum:
    full precision for large logits (log_softmax([1e12, 1e12]) is exactly -log 2). A slice
    holding +inf, or all -inf, is NaN throughout, as in TensorFlow and JAX."""
    x = as_tensor(logits, "nn.log_softmax")
    _check_float(x, "log_softmax")
    axis = -1 if axis is None else axis             # TensorFlow 2: None is the last axis
    m = ops.stop_gradient(ops.reduce_max(x, axis, keepdims=True))
    shifted = ops.subtract(x, m)
    return ops.subtract(shifted, ops.log(ops.reduce_sum(ops.exp(shifted), axis, keepdims=True)))


@public_op("nn.softmax_cross_entropy_with_logits")
def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """-sum(labels * log_softmax(logits)) along ``axis`` (one value per example).

    Differentiable in both ``labels`` and ``logits``, as TensorFlow 2's version.
    """
    x = as_tensor(logits, "nn.softmax_cross_entropy_with_logits")
    _check_float(x, "softmax_cross_entropy_with_logits")
    y = as_tensor(labels, "nn.softmax_cross_entropy_with_logits")
    if y.shape != x.shape:
        raise ValueError(f"nn.softmax_cross_entropy_with_logits: labels have shape {y.shape} "
                         f"and logits have shape {x.shape}; they must be equal")
    y = ops.cast(y, x.dtype)
    return ops.negative(ops.reduce_sum(ops.multiply(y, log_softmax(x, axis)), axis))


@public_op("nn.sigmoid_cross_entropy_with_logits")
def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Elementwise logistic loss softplus(x) - x z (x logits, z labels), stably."""
    x = as_tensor(logits, "nn.sigmoid_cross_entropy_with_logits")
    _check_float(x, "sigmoid_cross_entropy_with_logits")
    z = ops.cast(as_tensor(labels, "nn.sigmoid_cross_entropy_with_logits"), x.dtype)
    if z.shape != x.shape:
        raise ValueError(f"nn.sigmoid_cross_entropy_with_logits: labels have shape {z.shape} "
                         f"and logits have shape {x.shape}; they must be equal")
    # softplus(x) - x z, written per sign so the value keeps full precision when it is tiny
    # (x >= 0: softplus(-x) + x (1 - z); x < 0: softplus(x) - x z); the selected branch
    # is the same smooth function on both sides, so every derivative is exact, also at 0
    nonneg = ops.greater_equal(x, 0)
    minus_abs = ops.where(nonneg, ops.negative(x), x)
    step = ops.cast(nonneg, x.dtype)
    return ops.add(softplus(minus_abs), ops.multiply(x, ops.subtract(step, z)))


@public_op("nn.l2_loss")
def l2_loss(t, name=None):
    """sum(t ** 2) / 2."""
    x = as_tensor(t, "nn.l2_loss")
    return ops.divide(ops.reduce_sum(ops.square(x)), 2)


@public_op("nn.log_sigmoid")
def log_sigmoid(x, name=None):
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|; gradient sigmoid(-x)."""
    x = as_tensor(x, "log_sigmoid")
    return ops.negative(softplus(ops.negative(x)))

from tracer.conv import avg_pool, avg_pool2d, conv1d, conv2d, max_pool, max_pool2d  # noqa: E402,F401,E501
from tracer.conv import conv2d_transpose, depthwise_conv2d  # noqa: E402,F401
from tracer.nn_ops import (batch_normalization, dropout, elu, embedding_lookup,  # noqa: E402,F401
                           gelu, l2_normalize, leaky_relu, moments, selu, silu,
                           sparse_softmax_cross_entropy_with_logits, swish)
from tracer.nn_ops import bias_add, relu6, softsign  # noqa: E402,F401
from tracer.nn_ops import (crelu, log_poisson_loss, normalize_moments,  # noqa: E402,F401
                           weighted_cross_entropy_with_logits)

# public names only: the functions defined here and the activations taken from tracer.ops
# (not the helper modules and functions imported above)
__all__ = sorted(_n for _n, _v in list(globals().items()) if not _n.startswith("_")
                 and getattr(_v, "__module__", None) in (__name__, "tracer.ops", "tracer.conv",
                                                          "tracer.nn_ops"))


def __dir__():
    """dir() lists the public names only (``__all__``), not the helpers imported here."""
    return list(__all__)
