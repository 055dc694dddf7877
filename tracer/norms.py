"""Statistics and norm clipping: reduce_variance, reduce_std, clip_by_norm, global_norm,
clip_by_global_norm (TensorFlow's formulas; gradients stay finite at zero norm)."""
import numpy as np

from tracer import ops
from tracer.creation import ones_like
from tracer.engine import as_tensor, as_tensor_in
from tracer.recording import public_op


def _float(op, x):
    x = as_tensor(x, op)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: got dtype {x.dtype}; valid dtypes are float32, float64")
    return x


@public_op("reduce_variance")
def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    """Population variance (divides by N) over ``axis``. Over an empty axis it is NaN, a
    constant: its derivatives are 0 there (as JAX's), not the 0/0 of dividing by N."""
    x = _float("reduce_variance", input_tensor)
    mean = ops.reduce_mean(x, axis, keepdims=True)
    out = ops.reduce_mean(ops.square(ops.subtract(x, mean)), axis, keepdims)
    if x.size or not out.size:          # N > 0, or nothing to fill
        return out
    return ops.where(np.zeros(out.shape, bool), out, np.asarray(np.nan, x.dtype))


@public_op("reduce_std")
def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    """Population standard deviation over ``axis``."""
    return ops.sqrt(reduce_variance(_float("reduce_std", input_tensor), axis, keepdims))


def _safe_norm(sum_sq):
    """sqrt(sum_sq) whose gradient is 0 (not NaN) where sum_sq is 0 (TensorFlow's form)."""
    positive = ops.greater(sum_sq, 0)
    root = ops.sqrt(ops.where(positive, sum_sq, ones_like(sum_sq)))
    return ops.where(positive, root, sum_sq)


@public_op("clip_by_norm")
def clip_by_norm(t, clip_norm, axes=None, name=None):
    """``t * clip_norm / max(l2norm(t), clip_norm)``, the norm over ``axes`` (all by
    default), as TensorFlow."""
    x = _float("clip_by_norm", t)
    sum_sq = ops.reduce_sum(ops.square(x), axes, keepdims=True)
    norm = _safe_norm(sum_sq)
    c = as_tensor_in(clip_norm, x.dtype, "clip_by_norm")
    return ops.divide(ops.multiply(x, c), ops.maximum(norm, c))


@public_op("global_norm")
def global_norm(t_list, name=None):
    """sqrt of the sum of squares of every element of every tensor in ``t_list`` (None
    entries are skipped)."""
    ts = _tensor_list("global_norm", t_list)
    if not ts:
        raise ValueError("global_norm: t_list holds no tensors")
    dtype = np.result_type(*[t.dtype for t in ts])
    total = None
    for t in ts:
        s = ops.reduce_sum(ops.square(ops.cast(t, dtype)))
        total = s if total is None else ops.add(total, s)
    return _safe_norm(total)


@public_op("clip_by_global_norm")
def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """``(clipped, global_norm)``: every tensor scaled by
    ``clip_norm / max(global_norm, clip_norm)`` (unchanged when the norm is within
    ``clip_norm``); NaN everywhere when the norm is not finite, as TensorFlow."""
    if isinstance(t_list, (str, bytes)) or not hasattr(t_list, "__iter__") or \
            hasattr(t_list, "shape"):
        raise TypeError(f"clip_by_global_norm: t_list must be a list of tensors, got "
                        f"{type(t_list).__name__}")
    t_list = list(t_list)
    norm = global_norm(t_list) if use_norm is None else as_tensor(use_norm,
                                                                 "clip_by_global_norm")
    c = as_tensor_in(clip_norm, norm.dtype, "clip_by_global_norm")
    scale = ops.divide(c, ops.maximum(norm, c))
    scale = ops.where(ops.less(ops.abs(norm), np.inf), scale, np.nan)
    out = [None if t is None else ops.multiply(_float("clip_by_global_norm", t),
                                               ops.cast(scale, as_tensor(t, "x").dtype))
           for t in t_list]
    return out, norm


def _tensor_list(op, t_list):
    if isinstance(t_list, (str, bytes)) or not hasattr(t_list, "__iter__") or \
            hasattr(t_list, "shape"):
        raise TypeError(f"{op}: t_list must be a list of tensors, got "
                        f"{type(t_list).__name__}")
    return [_float(op, t) for t in t_list if t is not None]
