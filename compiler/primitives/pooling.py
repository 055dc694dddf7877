"""Max pooling (NHWC, VALID windows of a pre-padded input) and its window selections.

``max_pool(x)`` is each window's first maximum in row-major window order, or its first
NaN (the element ``np.argmax`` picks). Its gradient sends each output's cotangent to that
element: ``max_pool_scatter(x, g)``, which is linear in ``g``. The adjoint of that scatter
is the gather ``max_pool_select(x, h)``: ``h`` at the elements the windows of ``x`` pick
(``max_pool(x) == max_pool_select(x, x)``), and the adjoint of the gather is the scatter
again, so derivatives of any order stay among these three. The positions are piecewise
constant in ``x``: no gradient flows to ``x`` through them. Each native implementation
(runtime.pooling) finds the positions in one pass over ``x``, as these NumPy ones do with
``np.argmax``.
"""
import numpy as np

from compiler.primitives import batch_rules
from compiler.primitives.core import NUMERIC, Case, check_dtype, declare
from compiler.primitives.nn import _pair, window_out, windows

_DILATIONS = (1, 1)


def pooled_shape(name, x, ksize, strides):
    """(N, OH, OW, C) of the VALID windows of the NHWC node ``x``; errors name ``name``."""
    if x.ndim != 4:
        raise ValueError(f"{name}: input has shape {x.shape}; it must be rank-4 NHWC")
    check_dtype(name, x, NUMERIC, "input")
    ksize, strides = _pair(name, "ksize", ksize), _pair(name, "strides", strides)
    oh, ow = (window_out(x.shape[1 + d], ksize[d], strides[d], 1) for d in range(2))
    if min(oh, ow) < 1:
        raise ValueError(f"{name}: a {ksize} window does not fit the input of shape "
                         f"{x.shape} (pad first)")
    return (x.shape[0], oh, ow, x.shape[3])


def first_max(x, ksize, strides):
    """(N, OH, OW, C) int: each window's first maximum (or first NaN) as a row-major
    position ``i * KW + j`` in the window; also the windows, (N, OH, OW, KH * KW, C)."""
    win = windows(x, ksize, strides, _DILATIONS)
    n, oh, ow, kh, kw, c = win.shape
    flat = win.reshape(n, oh, ow, kh * kw, c)
    return np.argmax(flat, axis=3), flat


def _take(flat, pos):
    return np.take_along_axis(flat, pos[:, :, :, None, :], axis=3)[:, :, :, 0, :]


def _max_pool_impl(x, *, ksize, strides):
    pos, flat = first_max(np.asarray(x), ksize, strides)
    return _take(flat, pos)


def _select_impl(x, h, *, ksize, strides):
    pos, _ = first_max(np.asarray(x), ksize, strides)
    return _take(windows(np.asarray(h), ksize, strides, _DILATIONS).reshape(
        pos.shape[:3] + (-1, pos.shape[3])), pos)


def _scatter_impl(x, g, *, ksize, strides):
    g = np.asarray(g)
    pos, _ = first_max(np.asarray(x), ksize, strides)
    out = np.zeros(np.shape(x), g.dtype)
    n, oh, ow, c = g.shape
    if strides[0] >= ksize[0] and strides[1] >= ksize[1]:     # each element in one window
        zero = np.zeros((), g.dtype)
        for i in range(ksize[0]):
            for j in range(ksize[1]):
                out[:, i:i + (oh - 1) * strides[0] + 1:strides[0],
                    j:j + (ow - 1) * strides[1] + 1:strides[1]] += np.where(
                        pos == i * ksize[1] + j, g, zero)
        return out
    # overlapping windows: the flat index of each pick, added in the order of the windows
    h, w = out.shape[1:3]
    rows = np.arange(oh)[:, None, None] * strides[0] + pos // ksize[1]
    cols = np.arange(ow)[:, None] * strides[1] + pos % ksize[1]
    flat = ((np.arange(n)[:, None, None, None] * h + rows) * w + cols) * c + np.arange(c)
    np.add.at(out.reshape(-1), flat.reshape(-1), g.reshape(-1))
    return out


def _max_pool_infer(x, *, ksize, strides):
    return pooled_shape("max_pool", x, ksize, strides), x.dtype


def _select_infer(x, h, *, ksize, strides):
    shape = pooled_shape("max_pool_select", x, ksize, strides)
    if h.shape != x.shape:
        raise ValueError(f"max_pool_select: values of shape {h.shape} for windows of an "
                         f"input of shape {x.shape}; the shapes must be equal")
    return shape, h.dtype


def _scatter_infer(x, g, *, ksize, strides):
    shape = pooled_shape("max_pool_scatter", x, ksize, strides)
    if g.shape != shape:
        raise ValueError(f"max_pool_scatter: cotangent of shape {g.shape} for the windows "
                         f"of an input of shape {x.shape}, which pool to {shape}")
    check_dtype("max_pool_scatter", g, NUMERIC, "cotangent")
    return x.shape, g.dtype


def _fold_both(node, size, xs, batched):
    """Both operands per example NHWC: the batch folds into N."""
    xs = batch_rules.all_batched(size, xs, batched)
    folded = [batch_rules._fold(x, size) for x in xs]
    return batch_rules._unfold(node.prim(*folded, **node.params), size)


def _case(shapes, ksize, strides, dtypes=None, make=None):
    return Case(shapes=shapes, attrs={"ksize": ksize, "strides": strides}, dtypes=dtypes,
                make=make)


def _ties(rng, shapes):
    """Small integers (every window has ties) and float values."""
    x = rng.integers(-2, 3, shapes[0])
    return [x] + [rng.uniform(-2, 2, s) for s in shapes[1:]]


_I32, _F64 = np.dtype("int32"), np.dtype("float64")

max_pool = declare(
    "max_pool", infer=_max_pool_infer, impl=_max_pool_impl, kind="other", dtypes=NUMERIC,
    batch=batch_rules.fold_leading,
    vjp=lambda g, out, x, *, ksize, strides: (
        max_pool_scatter(x, g, ksize=ksize, strides=strides),),
    cases=[_case(((2, 4, 4, 3),), (2, 2), (2, 2)),
           _case(((1, 5, 6, 2),), (3, 2), (1, 2)),
           _case(((2, 5, 5, 2),), (2, 3), (3, 1)),
           _case(((1, 4, 5, 3),), (2, 2), (1, 1), dtypes=(_I32,), make=_ties)])

max_pool_select = declare(
    "max_pool_select", infer=_select_infer, impl=_select_impl, kind="other",
    batch=_fold_both,
    vjp=lambda g, out, x, h, *, ksize, strides: (
        None, max_pool_scatter(x, g, ksize=ksize, strides=strides)),
    cases=[_case(((2, 4, 4, 3), (2, 4, 4, 3)), (2, 2), (2, 2)),
           _case(((1, 5, 6, 2), (1, 5, 6, 2)), (3, 2), (1, 2)),
           _case(((1, 4, 5, 3), (1, 4, 5, 3)), (2, 2), (1, 1), dtypes=(_I32, _F64),
                 make=_ties)])

max_pool_scatter = declare(
    "max_pool_scatter", infer=_scatter_infer, impl=_scatter_impl, kind="other",
    batch=_fold_both,
    vjp=lambda g, out, x, c, *, ksize, strides: (
        None, max_pool_select(x, g, ksize=ksize, strides=strides)),
    cases=[_case(((2, 4, 4, 3), (2, 2, 2, 3)), (2, 2), (2, 2)),
           _case(((1, 5, 6, 2), (1, 3, 3, 2)), (3, 2), (1, 2)),
           _case(((2, 5, 5, 2), (2, 2, 3, 2)), (2, 3), (3, 1)),
           _case(((1, 4, 5, 3), (1, 3, 4, 3)), (2, 2), (1, 1), dtypes=(_I32, _F64),
                 make=_ties)])

