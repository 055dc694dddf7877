"""Primitives the transforms build: ``iota`` (index grids, for batched gathers) and
``remat`` (the barrier that makes ``tt.checkpoint`` recompute instead of store).

``remat(x, after)`` is ``x``, but it cannot run before ``after`` exists and it is not
``x`` to common-subexpression elimination: nodes recomputed from it are distinct from the
forward pass's and are scheduled in the backward pass, where ``after`` (a cotangent) lives.
"""
import numpy as np

from compiler.primitives import batch_rules
from compiler.primitives.core import INT, Case, declare


def _iota_infer(*, shape, axis, dtype):
    if not 0 <= axis < len(shape):
        raise ValueError(f"iota: axis {axis} out of range for shape {shape}")
    if np.dtype(dtype) not in INT:
        raise TypeError(f"iota: dtype {dtype} is not an integer dtype (int32, int64)")
    return shape, dtype


def _iota_impl(*, shape, axis, dtype):
    ramp = np.arange(shape[axis], dtype=dtype).reshape(
        tuple(n if i == axis else 1 for i, n in enumerate(shape)))
    return np.array(np.broadcast_to(ramp, shape), order="C")     # (K order would give F)


# integers 0..shape[axis]-1 along axis, repeated along the others (a leaf: never batched)
iota = declare("iota", infer=_iota_infer, impl=_iota_impl, kind="other", differentiable=False,
               cases=[Case(shapes=(), attrs={"shape": (3, 4), "axis": 1, "dtype": "<i4"}),
                      Case(shapes=(), attrs={"shape": (5,), "axis": 0, "dtype": "<i8"})])


def _remat_impl(x, after):
    return x.view() if isinstance(x, np.ndarray) else x


# x, computed only once `after` exists and opaque to CSE
remat = declare("remat", infer=lambda x, after: (x.shape, x.dtype), impl=_remat_impl,
                vjp=lambda g, out, x, after: (g, None), kind="other",
                batch=batch_rules.elementwise,
                cases=[Case(shapes=((3, 2), (4,))), Case(shapes=((), (2, 2)))])
