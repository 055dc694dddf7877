"""The ``tt.nn`` functions people train with, as TensorFlow computes them: activations
(gelu, leaky_relu, elu, selu, silu/swish), dropout, moments, batch_normalization,
l2_normalize, embedding_lookup, sparse softmax cross-entropy, and ``tt.one_hot``.

Each is a composition of differentiable ops, so gradients of any order come for free.
Branches that could overflow where they are not selected (``expm1`` of a large positive
input in elu/selu) read a clamped input, so extreme values give finite values and
gradients (a ``where`` gradient multiplies the unselected branch by zero, and 0 * inf
would be NaN).
"""
import numpy as np

from tracer import dtypes, ops, shape_ops
from tracer.engine import STATE, as_tensor, as_tensor_in, make
from tracer.random_ops import random, stateless_uniform, traced_uniform
from tracer.recording import public_op

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _float_input(x, op):
    x = as_tensor(x, op)
    if x.dtype.kind in "iub":
        x = ops.cast(x, dtypes.float32)
    return x


@public_op("nn.gelu")
def gelu(features, approximate=False, name=None):
    """x * Phi(x): exact with erf, or TensorFlow's tanh approximation when
    ``approximate=True``."""
    x = _float_input(features, "nn.gelu")
    if approximate:
        inner = ops.multiply(0.7978845608028654,
                             ops.add(x, ops.multiply(0.044715, ops.multiply(x, ops.square(x)))))
        return ops.multiply(ops.multiply(0.5, x), ops.add(1.0, ops.tanh(inner)))
    # x/2 erfc(-x/sqrt(2)) = x/2 (1 + erf(x/sqrt(2))) without the cancellation of 1 + erf
    # in the left tail (gelu(-5) was 4e-11 relative off in float64, 100 ulp in float32)
    return ops.multiply(ops.multiply(0.5, x),
                        ops.erfc(ops.divide(x, -1.4142135623730951)))


def leaky_relu(features, alpha=0.2, name=None):
    """x for x > 0, alpha * x otherwise (gradient alpha at 0, as TensorFlow)."""
    x = _float_input(features, "nn.leaky_relu")
    return ops.where(ops.greater(x, 0), x, ops.multiply(alpha, x))


def _expm1_below_zero(x):
    # expm1 of x where x <= 0, else of 0: the unselected branch of elu/selu stays finite
    # for large x, and -0.0 stays -0.0 (minimum(-0.0, 0) is +0.0)
    return ops.expm1(ops.where(ops.less_equal(x, 0), x, 0))


@public_op("nn.elu")
def elu(features, name=None):
    """x for x > 0, exp(x) - 1 otherwise."""
    x = _float_input(features, "nn.elu")
    # x <= 0 picks the exponential side, so NaN takes x's side: value NaN and gradient 1
    # there, as TensorFlow and PyTorch (their test is x < 0 / x <= 0 too)
    return ops.where(ops.less_equal(x, 0), _expm1_below_zero(x), x)


@public_op("nn.selu")
def selu(features, name=None):
    """scale * (x for x > 0, alpha * (exp(x) - 1) otherwise), the self-normalising
    constants of Klambauer et al."""
    x = _float_input(features, "nn.selu")
    neg = ops.multiply(_SELU_ALPHA, _expm1_below_zero(x))
    return ops.multiply(_SELU_SCALE, ops.where(ops.less_equal(x, 0), neg, x))


@public_op("nn.silu")
def silu(features, beta=1.0, name=None):
    """x * sigmoid(beta * x)."""
    x = _float_input(features, "nn.silu")
    return ops.multiply(x, ops.sigmoid(x if beta == 1.0 else ops.multiply(beta, x)))


swish = silu


# -- dropout ------------------------------------------------------------------------------

def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """Zero each element with probability ``rate`` and scale the rest by 1 / (1 - rate).

    Eager calls without ``seed`` draw the mask with NumPy. Inside ``tt.function``, and
    eagerly with ``seed`` an int, the mask comes from a counter-based generator
    (``tracer.random_ops``): a new mask on every call (the op seed's sequence, which
    ``tt.random.set_seed`` restarts, the same eager and traced, as TensorFlow's op seeds),
    or, with ``seed`` an integer tensor argument, the mask that seed determines (as a JAX
    key).
    """
    op = "nn.dropout"
    x = as_tensor(x, op)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: x has dtype {x.dtype}; valid dtypes are float32, float64")
    if isinstance(rate, (int, float, np.number)) and not isinstance(rate, bool):
        if not 0 <= rate < 1:
            raise ValueError(f"{op}: rate is {rate!r}; it must be in [0, 1) (the "
                             f"probability of dropping an element)")
        if rate == 0:
            return x
    else:
        raise TypeError(f"{op}: rate must be a Python number in [0, 1), got "
                        f"{type(rate).__name__}")
    shape = x.shape if noise_shape is None else tuple(int(d) for d in noise_shape)
    try:
        np.broadcast_shapes(shape, x.shape)
    except ValueError:
        raise ValueError(f"{op}: noise_shape {shape} does not broadcast to x's shape "
                         f"{x.shape}") from None
    uniform = _uniform(shape, x.dtype, seed, op)
    keep = ops.cast(ops.greater_equal(uniform, rate), x.dtype)
    return ops.multiply(ops.multiply(x, 1.0 / (1.0 - rate)), keep)


def _uniform(shape, dtype, seed, op):
    if hasattr(seed, "dtype") and hasattr(seed, "shape"):
        return stateless_uniform(shape, seed, dtype)
    if STATE.trace is None and seed is None:
        return make(random._rng.random(shape).astype(dtype))   # set_seed replays
    # the next draw of the traced stream, or eagerly of this op seed's counter
    # (tracer.random_ops): a new mask on every call, the same eager and traced
    return traced_uniform(shape, dtype, seed, op, random._rng)


# -- normalisation --------------------------------------------------------------------------

@public_op("nn.moments")
def moments(x, axes, shift=None, keepdims=False, name=None):
    """(mean, variance) over ``axes`` (population variance). TensorFlow stops the mean's
    gradient inside the variance, which leaves first derivatives unchanged (the deviations
    sum to zero) but drops a term of the second; here the mean stays differentiable, so
    Hessians are exact too."""
    x = _float_input(x, "nn.moments")
    axes = list(axes) if isinstance(axes, (list, tuple)) else [axes]
    mean = ops.reduce_mean(x, axes, keepdims=True)
    variance = ops.reduce_mean(ops.squared_difference(x, mean), axes, keepdims=True)
    if not keepdims:
        mean, variance = shape_ops.squeeze(mean, axes), shape_ops.squeeze(variance, axes)
    return mean, variance


@public_op("nn.batch_normalization")
def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """(x - mean) * scale / sqrt(variance + eps) + offset, in TensorFlow's order of
    operations (``offset``/``scale`` may be None)."""
    x = as_tensor(x, "nn.batch_normalization")
    inv = ops.rsqrt(ops.add(variance, variance_epsilon))
    if scale is not None:
        inv = ops.multiply(inv, scale)
    inv = ops.cast(inv, x.dtype)
    shift = ops.negative(ops.multiply(mean, inv)) if offset is None else \
        ops.subtract(offset, ops.multiply(mean, inv))
    return ops.add(ops.multiply(x, inv), ops.cast(shift, x.dtype))


@public_op("nn.l2_normalize")
def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """x / sqrt(max(sum(x ** 2, axis), epsilon))."""
    x = _float_input(x, "nn.l2_normalize")
    axis = dim if axis is None else axis
    square_sum = ops.reduce_sum(ops.square(x), axis, keepdims=True)
    return ops.multiply(x, ops.rsqrt(ops.maximum(square_sum, epsilon)))


# -- lookups, one-hot and sparse cross-entropy ------------------------------------------------

def embedding_lookup(params, ids, max_norm=None, name=None):
    """Rows ``params[ids]`` (a list of tensors is concatenated along axis 0 first); the
    gradient with respect to ``params`` is dense."""
    if isinstance(params, (list, tuple)):
        params = params[0] if len(params) == 1 else shape_ops.concat(list(params), 0)
    p = as_tensor(params, "nn.embedding_lookup")
    out = shape_ops.gather(p, ids)
    if max_norm is not None:
        norm = ops.sqrt(ops.reduce_sum(ops.square(out), -1, keepdims=True))
        out = ops.multiply(out, ops.minimum(1.0, ops.divide(max_norm, norm)))
    return out


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """``on_value`` (1) at each index along a new axis of size ``depth`` (last by default),
    ``off_value`` (0) elsewhere; out-of-range indices give all-off rows. float32 unless
    ``dtype`` (or the on/off values) say otherwise."""
    op = "one_hot"
    idx = as_tensor(indices, op)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices have dtype {idx.dtype}; valid dtypes are int32, "
                        f"int64")
    depth = int(depth)
    if depth < 0:
        raise ValueError(f"{op}: depth must be non-negative, got {depth}")
    if dtype is None:
        known = [v for v in (on_value, off_value) if hasattr(v, "dtype")]
        dtype = known[0].dtype if known else dtypes.float32
    d = dtypes.as_dtype(dtype, op)
    hit = ops.equal(shape_ops.expand_dims(idx, -1), make(np.arange(depth, dtype=idx.dtype)))
    if on_value is None and off_value is None:
        out = ops.cast(hit, d)
    else:
        on = as_tensor_in(1 if on_value is None else on_value, d, op)
        off = as_tensor_in(0 if off_value is None else off_value, d, op)
        out = ops.where(hit, on, off)
    if axis is not None and axis != -1:
        perm = list(range(out.ndim - 1))
        perm.insert(axis % out.ndim, out.ndim - 1)
        out = shape_ops.transpose(out, perm)
    return out


@public_op("nn.sparse_softmax_cross_entropy_with_logits")
def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """-log softmax(logits)[label] per example; ``labels`` are class indices of shape
    ``logits.shape[:-1]``. Eager labels outside [0, num_classes) raise ValueError, as on
    TensorFlow's CPU."""
    op = "nn.sparse_softmax_cross_entropy_with_logits"
    x = as_tensor(logits, op)
    y = as_tensor(labels, op)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: logits have dtype {x.dtype}; valid dtypes are float32, "
                        f"float64")
    if y.dtype.kind not in "iu":
        raise TypeError(f"{op}: labels have dtype {y.dtype}; valid dtypes are int32, int64")
    if x.ndim < 1 or y.shape != x.shape[:-1]:
        raise ValueError(f"{op}: labels have shape {y.shape} and logits {x.shape}; labels "
                         f"must have the logits' shape without the last (class) axis")
    n = x.shape[-1]
    if y._value is not None:
        bad = (np.asarray(y._value) < 0) | (np.asarray(y._value) >= n)
        if bad.any():
            raise ValueError(f"{op}: received a label value of "
                             f"{np.asarray(y._value)[bad].flat[0]} which is outside the "
                             f"valid range of [0, {n})")
    # log-sum-exp of the shifted logits minus the label's shifted logit: exact at any
    # scale (at +-1e4 in float32, unshifted logsumexp would round the loss); the shift
    # cancels, so it carries no gradient
    shifted = ops.subtract(x, ops.stop_gradient(ops.reduce_max(x, -1, keepdims=True)))
    picked = ops.reduce_sum(ops.multiply(one_hot(y, n, dtype=x.dtype), shifted), -1)
    return ops.subtract(ops.log(ops.reduce_sum(ops.exp(shifted), -1)), picked)


# -- TensorFlow activations and bias ----------------------------------------------------------

def relu6(features, name=None):
    """min(max(x, 0), 6); gradient 1 only for 0 < x < 6 (0 at 0 and 6, as TensorFlow's);
    NaN stays NaN (with gradient 0)."""
    x = _float_input(features, "nn.relu6")
    inside = ops.logical_and(ops.greater(x, 0), ops.less(x, 6))
    # outside (0, 6) the value is a constant, or NaN: no gradient flows there
    clipped = ops.where(ops.greater_equal(x, 6), 6, ops.where(ops.less_equal(x, 0), 0, x))
    return ops.where(inside, x, ops.stop_gradient(clipped))


def softsign(features, name=None):
    """x / (1 + |x|), as TensorFlow's formula (so NaN at +-inf, as TensorFlow)."""
    x = _float_input(features, "nn.softsign")
    return ops.divide(x, ops.add(ops.abs(x), 1))


def bias_add(value, bias, data_format=None, name=None):
    """value + bias, the 1-D ``bias`` along the channel axis: the last one (``None`` or
    'N...C' formats such as 'NHWC'), or axis 1 ('NC...' formats such as 'NCHW')."""
    v, b = as_tensor(value, "nn.bias_add"), as_tensor(bias, "nn.bias_add")
    if data_format is not None and not (isinstance(data_format, str) and
                                        data_format.startswith("N") and
                                        data_format[1:2] in ("C", "W", "H", "D")):
        raise ValueError(f"nn.bias_add: data_format is {data_format!r}; valid are None, "
                         f"'N...C' (e.g. 'NHWC') and 'NC...' (e.g. 'NCHW')")
    first = data_format is not None and data_format[1] == "C"
    if b.ndim != 1 or v.ndim < (3 if first else 2):
        raise ValueError(f"nn.bias_add: value has shape {v.shape} and bias {b.shape}; bias "
                         f"must be 1-D and value of rank >= 2 (>= 3 for {data_format!r})")
    axis = 1 if first else v.ndim - 1
    if v.shape[axis] != b.shape[0]:
        raise ValueError(f"nn.bias_add: bias has {b.shape[0]} entries but value {v.shape} has "
                         f"{v.shape[axis]} channels on axis {axis} ({data_format or 'NHWC'})")
    if v.dtype != b.dtype:
        raise TypeError(f"nn.bias_add: value has dtype {v.dtype} and bias {b.dtype}; they "
                        f"must be equal")
    return ops.add(v, shape_ops.reshape(b, b.shape + (1,) * (v.ndim - 1 - axis)))


# -- more TensorFlow nn functions -----------------------------------------------------------

def _cast_like(value, what, x, x_name, op):
    """``value`` in ``x``'s dtype; a ValueError naming both when the shapes differ."""
    v = ops.cast(as_tensor(value, op), x.dtype)
    if v.shape != x.shape:
        raise ValueError(f"{op}: {what} have shape {v.shape} and {x_name} {x.shape}; they "
                         f"must be equal")
    return v


def crelu(features, axis=-1, name=None):
    """concat([relu(x), relu(-x)], axis): both signs kept, twice the channels."""
    x = _float_input(features, "nn.crelu")
    return shape_ops.concat([ops.relu(x), ops.relu(ops.negative(x))], axis)


def weighted_cross_entropy_with_logits(labels, logits, pos_weight, name=None):
    """Logistic loss with the positive term weighted by ``pos_weight``, TensorFlow's
    formula (1 - z) x + (1 + (q - 1) z) softplus(-x) (x logits, z labels, q pos_weight),
    with softplus computed stably."""
    op = "nn.weighted_cross_entropy_with_logits"
    x = _float_input(logits, op)
    z = _cast_like(labels, "labels", x, "logits", op)
    weight = ops.add(1, ops.multiply(ops.subtract(pos_weight, 1), z))
    return ops.add(ops.multiply(ops.subtract(1, z), x),
                   ops.multiply(weight, ops.softplus(ops.negative(x))))


def log_poisson_loss(targets, log_input, compute_full_loss=False, name=None):
    """exp(log_input) - log_input * targets, the Poisson negative log likelihood up to a
    term free of log_input; ``compute_full_loss`` adds Stirling's approximation of
    log(targets!), t log t - t + log(2 pi t) / 2, for targets > 1 (0 for 0 <= t <= 1)."""
    op = "nn.log_poisson_loss"
    c = _float_input(log_input, op)
    t = _cast_like(targets, "targets", c, "log_input", op)
    loss = ops.subtract(ops.exp(c), ops.multiply(c, t))
    if not compute_full_loss:
        return loss
    small = ops.logical_and(ops.greater_equal(t, 0), ops.less_equal(t, 1))
    safe_t = ops.where(small, 2, t)          # log reads t > 1 only (no NaN gradients)
    stirling = ops.add(ops.subtract(ops.multiply(safe_t, ops.log(safe_t)), safe_t),
                       ops.multiply(0.5, ops.log(ops.multiply(2 * np.pi, safe_t))))
    return ops.add(loss, ops.where(small, 0, stirling))


def normalize_moments(counts, mean_ss, variance_ss, shift, name=None):
    """(mean, variance) from sufficient statistics: mean_ss / counts (+ shift when the
    sums were shifted) and variance_ss / counts - (mean_ss / counts)**2."""
    op = "nn.normalize_moments"
    m = as_tensor(mean_ss, op)
    divisor = ops.divide(1, ops.cast(as_tensor(counts, op), m.dtype))
    shifted_mean = ops.multiply(m, divisor)
    mean = shifted_mean if shift is None else ops.add(shifted_mean, shift)
    variance = ops.subtract(ops.multiply(variance_ss, divisor), ops.square(shifted_mean))
    return mean, variance
