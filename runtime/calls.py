"""Native implementations of the calls whose NumPy implementation pays per index.

The native tier's driver calls these instead of the primitive's ``impl`` (the
interpreter tier keeps the ``impl``); each gives the same values bit for bit. A kernel
compiles on its first use and is kept in the disk cache like generated kernels.
"""
import numpy as np

from compiler import primitives as P
from runtime import diskcache, pooling
from runtime.config import config

# checked_index in one branch-free (vectorised) pass: the indices counted from the end
# where negative, and whether any is out of range
_CHECK_SOURCE = """import numpy as np
from numba import njit


@njit(error_model='numpy', nogil=True)
def kernel(idx, size, out):
    bad = False
    for i in range(idx.size):
        v = idx[i]
        v = v + size * (v < 0)
        bad |= (v < 0) | (v >= size)
        out[i] = v
    return bad
"""


def checked_index(idx, *, axis, size, op):
    """``checked_index``'s value (``compiler.primitives.structural``), natively."""
    idx = np.asarray(idx)
    out = np.empty(idx.shape, idx.dtype)
    flat = np.ascontiguousarray(idx).reshape(-1)
    bad = diskcache.load_once("checked_index", _CHECK_SOURCE, config.cache_dir)(
        flat, size, out.reshape(-1))
    if bad:                 # the NumPy implementation raises the op's own IndexError
        return P.checked_index.impl(idx, axis=axis, size=size, op=op)
    return out


NATIVE = {"checked_index": checked_index}
NATIVE.update(pooling.NATIVE)
