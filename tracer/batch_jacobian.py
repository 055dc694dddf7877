"""``GradientTape.batch_jacobian`` (TensorFlow): per-example Jacobians of a batch.

For ``target`` of shape (b, y...) and ``source`` of shape (b, x...) where example i of the
target depends only on example i of the source, row j of every example's Jacobian is the
gradient of ``sum_i target[i, j]``. All m = size(y...) rows come from one VJP batched over
the m cotangents ``e_j`` (each broadcast over the batch), as TensorFlow's pfor: the graph
and the kernels do not grow with m. The rows are rearranged with tracer ops, so an outer
tape can differentiate the result again.
"""
import numpy as np

from compiler import batching
from compiler import primitives as P
from tracer.recording import make
from tracer.shape_ops import reshape, transpose


def _row_basis(b, m, target):
    """(m,) + target.shape: cotangent j is 1 at [i, j] for every example i."""
    eye = batching.basis(m, (m,), target.dtype)
    eye = P.broadcast_to(P.reshape(eye, shape=(m, 1, m)), shape=(m, b, m))
    return P.reshape(eye, shape=(m,) + target.shape)


def batch_jacobian(batched_vjp, target, source, unconnected_gradients):
    """``batched_vjp(target, sources, cotangents, size)`` is the tape's; returns the
    (b, y..., x...) Jacobian, or None (zeros with ``unconnected_gradients='zero'``) when
    unconnected."""
    if target.ndim == 0 or source.ndim == 0 or target.shape[0] != source.shape[0]:
        raise ValueError(f"GradientTape.batch_jacobian: target has shape {target.shape} and "
                         f"source has shape {source.shape}; both need the same leading "
                         f"(batch) dimension")
    b = target.shape[0]
    m = int(np.prod(target.shape[1:], dtype=np.int64))
    shape = (b,) + target.shape[1:] + source.shape[1:]
    if m == 0 or b == 0:
        return make(np.zeros(shape, source.dtype))
    (rows,) = batched_vjp(target, [source], lambda: _row_basis(b, m, target), m)
    if rows is None:                                    # (m, b, x...) when connected
        if unconnected_gradients == "none":
            return None
        return make(np.zeros(shape, source.dtype))
    out = transpose(rows, (1, 0) + tuple(range(2, rows.ndim)))
    return reshape(out, shape)
