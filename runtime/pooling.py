"""Native max pooling: ``max_pool``, ``max_pool_select`` and ``max_pool_scatter``
(compiler.primitives.pooling) in one pass over the input each.

A kernel is written for one window size, its window offsets unrolled, so that each
window's running maximum and position live in registers while the loop over channels
(contiguous in NHWC) runs in SIMD lanes: the position is the flat index of the first
element that beats the maximum so far (strictly greater, or the first NaN), the same
element ``np.argmax`` picks. Gathers and scatters by that position then run in a short
second loop. Values are the NumPy implementation's bit for bit (the scatter's sums of
overlapping windows up to the order of their terms). Kernels compile on first use per
(window size, operation) and live in the disk cache like generated kernels; batches
above ``config.parallel_threshold`` elements run their images in parallel.
"""
import numpy as np

from compiler import primitives as P
from runtime import diskcache
from runtime.config import config

_DTYPES = frozenset(np.dtype(d) for d in ("float32", "float64", "int32", "int64"))

_HEAD = """import numpy as np
from numba import njit, prange


@njit(error_model='numpy', nogil=True{parallel})
def kernel(x, h, sh, sw, oh, ow):
    n, H, W, c = x.shape
    xf = x.reshape(-1)
    hf = h.reshape(-1)
"""
_OUT = {"max": "    out = np.empty(n * oh * ow * c, x.dtype)\n",
        "select": "    out = np.empty(n * oh * ow * c, h.dtype)\n",
        "scatter": "    out = np.zeros(x.size, h.dtype)\n"}
_LOOP = """    for a in prange(n):
        pos = np.empty(c, np.int64)
        for i in range(oh):
            for j in range(ow):
                o = ((a * oh + i) * ow + j) * c
                s = ((a * H + i * sh) * W + j * sw) * c
                for q in range(c):
                    p = s + q
                    b = xf[p]
"""
_TAIL = {"max": """                    out[o + q] = b
    return out.reshape(n, oh, ow, c)
""", "select": """                    pos[q] = p
                for q in range(c):
                    out[o + q] = hf[pos[q]]
    return out.reshape(n, oh, ow, c)
""", "scatter": """                    pos[q] = p
                for q in range(c):
                    out[pos[q]] += hf[o + q]
    return out.reshape(x.shape)
"""}


def kernel_source(op, ksize, parallel):
    """Numba source of the ``op`` kernel ("max", "select" or "scatter") for windows of
    ``ksize``; ``parallel``: images run in parallel."""
    kh, kw = ksize
    offsets = [(i, j) for i in range(kh) for j in range(kw)][1:]
    text = [_HEAD.format(parallel=", parallel=True" if parallel else ""), _OUT[op]]
    text += [f"    d{k} = ({i} * W + {j}) * c\n" for k, (i, j) in enumerate(offsets)]
    text.append(_LOOP if parallel else _LOOP.replace("prange(n)", "range(n)"))
    for k in range(len(offsets)):
        text.append(f"                    t = s + q + d{k}\n"
                    f"                    v = xf[t]\n"
                    f"                    take = (v > b) | ((v != v) & (b == b))\n"
                    f"                    b = v if take else b\n")
        if op != "max":
            text.append("                    p = t if take else p\n")
    text.append(_TAIL[op])
    return "".join(text)


def _kernel(op, ksize, parallel):
    return diskcache.load_once(("max_pool", op, ksize, parallel),
                               lambda: kernel_source(op, ksize, parallel), config.cache_dir)


def _run(op, x, h, ksize, strides, fallback):
    x = np.asarray(x)
    h = x if h is None else np.asarray(h)
    if x.dtype not in _DTYPES or h.dtype not in _DTYPES:
        return fallback()
    ksize, strides = tuple(ksize), tuple(strides)
    oh = (x.shape[1] - ksize[0]) // strides[0] + 1
    ow = (x.shape[2] - ksize[1]) // strides[1] + 1
    fn = _kernel(op, ksize, x.size >= max(config.parallel_threshold, 1))
    return fn(np.ascontiguousarray(x), np.ascontiguousarray(h), strides[0], strides[1],
              oh, ow)


def max_pool(x, *, ksize, strides):
    """``max_pool``'s value, natively."""
    return _run("max", x, None, ksize, strides,
                lambda: P.max_pool.impl(x, ksize=ksize, strides=strides))


def max_pool_select(x, h, *, ksize, strides):
    """``max_pool_select``'s value, natively."""
    return _run("select", x, h, ksize, strides,
                lambda: P.max_pool_select.impl(x, h, ksize=ksize, strides=strides))


def max_pool_scatter(x, g, *, ksize, strides):
    """``max_pool_scatter``'s value, natively."""
    return _run("scatter", x, g, ksize, strides,
                lambda: P.max_pool_scatter.impl(x, g, ksize=ksize, strides=strides))


NATIVE = {"max_pool": max_pool, "max_pool_select": max_pool_select,
          "max_pool_scatter": max_pool_scatter}
