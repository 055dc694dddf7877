"""Linear algebra: matmul (2-D, batched, broadcast batch dims), tensordot, einsum."""
import numpy as np

from compiler import primitives as P
from tracer.engine import bind, operand, result_dtype
from tracer.tensor import Tensor


def _t(x, op):
    x = operand(x, op)
    if type(x) is not Tensor:
        from tracer.creation import convert_to_tensor
        x = convert_to_tensor(x, op=op)
    return x


def matmul(a, b, name=None):
    """Matrix product; rank > 2 operands are batches whose batch dims broadcast."""
    from tracer.ops import cast
    from tracer.shape_ops import broadcast_to, reshape
    a, b = _t(a, "matmul"), _t(b, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: a has shape {a.shape} and b has shape {b.shape}; both "
                         f"need rank >= 1 (use multiply for scalars)")
    if a.dtype.kind == "b" or b.dtype.kind == "b":
        raise TypeError(f"matmul: dtypes {a.dtype} and {b.dtype}; valid dtypes are "
                        f"float32, float64, int32, int64")
    d = result_dtype([a, b])
    a, b = cast(a, d), cast(b, d)
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    if a_vec:
        a = reshape(a, (1,) + a.shape)
    if b_vec:
        b = reshape(b, b.shape + (1,))
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: a has shape {a.shape} and b has shape {b.shape}; "
                         f"a.shape[-1] ({a.shape[-1]}) must equal b.shape[-2] "
                         f"({b.shape[-2]})")
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions {a.shape[:-2]} and {b.shape[:-2]} "
                         f"cannot be broadcast together") from None
    a = broadcast_to(a, batch + a.shape[-2:])
    b = broadcast_to(b, batch + b.shape[-2:])
    out = bind(P.matmul, a, b)
    if a_vec or b_vec:
        shape = out.shape
        shape = shape[:-2] + (() if a_vec else shape[-2:-1]) + (() if b_vec else shape[-1:])
        out = reshape(out, shape)
    return out
