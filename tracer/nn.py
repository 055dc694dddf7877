"""``tt.nn``: activations and losses, as compositions of differentiable tracer ops.

Softmax-type functions shift by the maximum for stability; the shift goes through
``stop_gradient`` because it cancels mathematically, so its gradient path is pure noise.
"""
from tracer import ops
from tracer.ops import relu, sigmoid, softplus, tanh  # noqa: F401  (tt.nn.relu, ...)
from tracer.engine import as_tensor


def _check_float(x, op):
    if x.dtype.kind != "f":
        raise TypeError(f"nn.{op}: got dtype {x.dtype}; valid dtypes are float32, float64 "
                        f"(cast with tt.cast(x, tt.float32))")


def softmax(logits, axis=-1, name=None):
    """exp(x) / sum(exp(x)) along ``axis``."""
    x = as_tensor(logits, "nn.softmax")
    _check_float(x, "softmax")
    m = ops.stop_gradient(ops.reduce_max(x, axis, keepdims=True))
    e = ops.exp(ops.subtract(x, m))
    return ops.divide(e, ops.reduce_sum(e, axis, keepdims=True))


def log_softmax(logits, axis=-1, name=None):
    """x - logsumexp(x) along ``axis``."""
    x = as_tensor(logits, "nn.log_softmax")
    _check_float(x, "log_softmax")
    return ops.subtract(x, ops.reduce_logsumexp(x, axis, keepdims=True))


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


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Elementwise logistic loss, stably: max(x, 0) - x z + log(1 + exp(-|x|))."""
    x = as_tensor(logits, "nn.sigmoid_cross_entropy_with_logits")
    _check_float(x, "sigmoid_cross_entropy_with_logits")
    z = ops.cast(as_tensor(labels, "nn.sigmoid_cross_entropy_with_logits"), x.dtype)
    if z.shape != x.shape:
        raise ValueError(f"nn.sigmoid_cross_entropy_with_logits: labels have shape {z.shape} "
                         f"and logits have shape {x.shape}; they must be equal")
    return ops.add(ops.subtract(relu(x), ops.multiply(x, z)),
                   ops.log1p(ops.exp(ops.negative(ops.abs(x)))))


def l2_loss(t, name=None):
    """sum(t ** 2) / 2."""
    x = as_tensor(t, "nn.l2_loss")
    return ops.divide(ops.reduce_sum(ops.square(x)), 2)


def log_sigmoid(x, name=None):
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return ops.negative(softplus(ops.negative(x)))

from tracer.conv import avg_pool, avg_pool2d, conv1d, conv2d, max_pool, max_pool2d  # noqa: E402,F401,E501
from tracer.nn_ops import (batch_normalization, dropout, elu, embedding_lookup,  # noqa: E402,F401
                           gelu, l2_normalize, leaky_relu, moments, selu, silu,
                           sparse_softmax_cross_entropy_with_logits, swish)

# public names only: the functions defined here and the activations taken from tracer.ops
# (not the helper modules and functions imported above)
__all__ = sorted(_n for _n, _v in list(globals().items()) if not _n.startswith("_")
                 and getattr(_v, "__module__", None) in (__name__, "tracer.ops", "tracer.conv",
                                                          "tracer.nn_ops"))
