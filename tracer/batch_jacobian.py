"""``GradientTape.batch_jacobian`` (TensorFlow): per-example Jacobians of a batch.

For ``target`` of shape (b, y...) and ``source`` of shape (b, x...) where example i of the
target depends only on example i of the source, row j of every example's Jacobian is the
gradient of ``sum_i target[i, j]``: one gradient per element of ``y...`` (each reuses the
tape's cached gradient plan, the seed being its only change), not one per element of the
whole batch. The rows are stacked with tracer ops, so an outer tape can differentiate the
result again.
"""
import numpy as np

from tracer.recording import make
from tracer.shape_ops import reshape, stack


def batch_jacobian(gradients, target, source, unconnected_gradients):
    """``gradients(targets, seeds, sources)`` is the tape's; returns the (b, y..., x...)
    Jacobian, or None (zeros with ``unconnected_gradients='zero'``) when unconnected."""
    if target.ndim == 0 or source.ndim == 0 or target.shape[0] != source.shape[0]:
        raise ValueError(f"GradientTape.batch_jacobian: target has shape {target.shape} and "
                         f"source has shape {source.shape}; both need the same leading "
                         f"(batch) dimension")
    b = target.shape[0]
    m = int(np.prod(target.shape[1:], dtype=np.int64))
    shape = (b,) + target.shape[1:] + source.shape[1:]
    rows = []
    for j in range(m):
        seed = np.zeros((b, m), target.dtype)
        seed[:, j] = 1
        rows.append(gradients([target], [make(seed.reshape(target.shape))], [source])[0])
    if m == 0 or all(r is None for r in rows):
        if unconnected_gradients == "none" and m:
            return None
        return make(np.zeros(shape, source.dtype))
    zero = make(np.zeros(source.shape, source.dtype))
    out = stack([zero if r is None else r for r in rows], axis=1)
    return reshape(out, shape)
