"""Convolution and window primitives (NHWC): ``conv2d``, ``patches``, ``patches_transpose``.

``conv2d`` takes explicit non-negative padding (tracer turns "SAME"/"VALID" into numbers)
and runs as im2col + one BLAS matrix product. Its gradients are convolutions again: the
input gradient convolves the stride-dilated cotangent with the flipped, transposed
filters; the filter gradient convolves the (transposed) input with the cotangent, stride
and dilation swapping roles. So any order of derivative stays a graph of convolutions,
pads, slices, reversals and transposes.

``patches`` gathers the sliding windows of a (pre-padded) NHWC tensor into
``(N, OH, OW, KH, KW, C)``; pooling is a reduction over its window axes. It is a view
(index arithmetic inside fused loops); its adjoint ``patches_transpose`` adds windows back
(col2im), and each is the other's gradient.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from compiler import blas
from compiler import primitives as P
from compiler.primitives import batch_rules
from compiler.primitives.core import FLOAT, Case, View, check_dtype, declare


def _pair(name, what, v):
    if len(v) != 2 or any(not isinstance(a, (int, np.integer)) or a < 1 for a in v):
        raise ValueError(f"{name}: {what} must be two positive ints, got {v!r}")
    return tuple(int(a) for a in v)


def window_out(size, k, stride, dilation):
    """Output length of a VALID sliding window (may be <= 0 when the window is too big)."""
    return (size - ((k - 1) * dilation + 1)) // stride + 1


# -- conv2d ----------------------------------------------------------------------------------

def _conv_infer(x, w, *, strides, padding, dilations):
    check_dtype("conv2d", x, FLOAT, "input")
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"conv2d: input has shape {x.shape} and filters {w.shape}; the "
                         f"primitive needs a rank-4 NHWC input and (KH, KW, C, O) filters")
    if x.dtype != w.dtype:
        raise TypeError(f"conv2d: input has dtype {x.dtype} and filters {w.dtype}; they "
                        f"must be equal (cast first)")
    if x.shape[3] != w.shape[2]:
        raise ValueError(f"conv2d: input has {x.shape[3]} channels (shape {x.shape}) but "
                         f"the filters expect {w.shape[2]} (shape {w.shape})")
    strides, dilations = _pair("conv2d", "strides", strides), _pair("conv2d", "dilations",
                                                                     dilations)
    if len(padding) != 2 or any(len(p) != 2 or min(p) < 0 for p in padding):
        raise ValueError(f"conv2d: padding {padding!r} must be ((top, bottom), (left, "
                         f"right)) of non-negative ints")
    out = []
    for d in range(2):
        n = window_out(x.shape[1 + d] + sum(padding[d]), w.shape[d], strides[d], dilations[d])
        if n < 1 and x.shape[1 + d] + sum(padding[d]) > 0:
            raise ValueError(f"conv2d: the dilated filter ({w.shape[d]} taps, dilation "
                             f"{dilations[d]}) is larger than the padded input (size "
                             f"{x.shape[1 + d] + sum(padding[d])}) along spatial axis {d}")
        out.append(max(n, 0))
    return (x.shape[0], out[0], out[1], w.shape[3]), x.dtype


def windows(x, ksize, strides, dilations):
    """A strided (no-copy) view of the VALID windows of NHWC ``x``: (N, OH, OW, KH, KW, C)."""
    x = np.asarray(x)
    n, h, w, c = x.shape
    oh = max(window_out(h, ksize[0], strides[0], dilations[0]), 0)
    ow = max(window_out(w, ksize[1], strides[1], dilations[1]), 0)
    sn, sh, sw, sc = x.strides
    return as_strided(x, (n, oh, ow, ksize[0], ksize[1], c),
                      (sn, sh * strides[0], sw * strides[1], sh * dilations[0],
                       sw * dilations[1], sc), writeable=False)


def _conv_impl(x, w, *, strides, padding, dilations):
    x, w = np.asarray(x), np.asarray(w)
    (pt, pb), (pl, pr) = padding
    if pt or pb or pl or pr:                 # zeros + one copy (np.pad costs more per call)
        n, h, wd, c = x.shape
        xp = np.zeros((n, h + pt + pb, wd + pl + pr, c), x.dtype)
        xp[:, pt:pt + h, pl:pl + wd] = x
        x = xp
    kh, kw, c, o = w.shape
    win = windows(x, (kh, kw), strides, dilations)
    n, oh, ow = win.shape[:3]
    if 0 in win.shape or o == 0:
        return np.zeros((n, oh, ow, o), x.dtype)
    rows, k = n * oh * ow, kh * kw * c
    held = blas.held() if rows * k * o < blas.small_product else None
    if held is not None:                     # one BLAS thread while the cores are busy
        held.enter()
    try:
        if rows >= 2 * _TILE:
            out = _by_rows(win, w)
        elif k >= 2 * _TILE and kh > 1:
            out = _by_taps(win, w)
        else:                                # im2col: one copy, one BLAS gemm
            out = win.reshape(rows, k) @ w.reshape(k, o)
    finally:
        if held is not None:
            held.leave()
    return out.reshape(n, oh, ow, o)


# The im2col columns are copied and multiplied a block at a time: a block of about _TILE
# rows (or contraction terms) stays in cache between its copy and its product, where
# columns copied whole go to memory and back (measured 1.5-2.2x faster on the gradients of
# a 3x3 convolution of 16x32x32x16 images)
_TILE = 1024


def _by_rows(win, w):
    """Blocks of whole images (or of output rows of one image) times the filters."""
    n, oh, ow, kh, kw, c = win.shape
    o = w.shape[3]
    w2 = w.reshape(kh * kw * c, o)
    out = np.empty((n * oh * ow, o), win.dtype)
    if oh * ow <= _TILE:
        per = _TILE // (oh * ow)
        for a in range(0, n, per):
            b = min(n, a + per)
            np.matmul(win[a:b].reshape(-1, w2.shape[0]), w2,
                      out=out[a * oh * ow:b * oh * ow])
        return out
    per = max(1, _TILE // ow)
    for a in range(n):
        for i in range(0, oh, per):
            j = min(oh, i + per)
            start = (a * oh + i) * ow
            np.matmul(win[a, i:j].reshape(-1, w2.shape[0]), w2,
                      out=out[start:start + (j - i) * ow])
    return out


def _by_taps(win, w):
    """Few output pixels and a long contraction (a filter gradient): blocks of filter rows,
    their products summed."""
    n, oh, ow, kh, kw, c = win.shape
    per = max(1, _TILE // (kw * c))
    out = None
    for d in range(0, kh, per):
        e = min(kh, d + per)
        part = win[:, :, :, d:e].reshape(n * oh * ow, -1) @ w[d:e].reshape(-1, w.shape[3])
        out = part if out is None else out + part
    return out


def _conv_input_grad(g, x, w, strides, padding, dilations):
    """d/dx: the cotangent, dilated by the strides and padded for a full correlation, convolved
    with the flipped filters whose in/out channels are swapped."""
    config, trim = [(0, 0, 0)], []
    for d in range(2):
        keff = (w.shape[d] - 1) * dilations[d] + 1
        padded = x.shape[1 + d] + sum(padding[d])
        covered = (g.shape[1 + d] - 1) * strides[d] + keff
        lo = keff - 1 - padding[d][0]
        hi = keff - 1 - padding[d][1] + (padded - covered)
        config.append((max(lo, 0), max(hi, 0), strides[d] - 1))
        trim.append((max(-lo, 0), max(-hi, 0)))
    config.append((0, 0, 0))
    gp = P.pad(g, config=tuple(config))
    wt = P.transpose(P.rev(w, axes=(0, 1)), perm=(0, 1, 3, 2))
    gx = P.conv2d(gp, wt, strides=(1, 1), padding=((0, 0), (0, 0)), dilations=dilations)
    if any(t for pair in trim for t in pair):
        gx = P.slice(gx, starts=(0, trim[0][0], trim[1][0], 0),
                     stops=(gx.shape[0], gx.shape[1] - trim[0][1], gx.shape[2] - trim[1][1],
                            gx.shape[3]), steps=(1, 1, 1, 1))
    return gx


def _conv_filter_grad(g, x, w, strides, padding, dilations):
    """d/dw: channels become the batch and the batch the contraction; the input convolved with
    the cotangent as filters, strides and dilations swapping roles."""
    xt = P.transpose(x, perm=(3, 1, 2, 0))                  # (C, H, W, N)
    gt = P.transpose(g, perm=(1, 2, 0, 3))                  # (OH, OW, N, O)
    gw = P.conv2d(xt, gt, strides=dilations, padding=padding, dilations=strides)
    if gw.shape[1:3] != w.shape[:2]:                         # windows past the last tap
        gw = P.slice(gw, starts=(0, 0, 0, 0),
                     stops=(gw.shape[0], w.shape[0], w.shape[1], gw.shape[3]),
                     steps=(1, 1, 1, 1))
    return P.transpose(gw, perm=(1, 2, 0, 3))


def _conv_vjp(g, out, x, w, *, strides, padding, dilations):
    if 0 in x.shape or 0 in w.shape or 0 in g.shape:
        return P.full_like(x, 0), P.full_like(w, 0)
    return (_conv_input_grad(g, x, w, strides, padding, dilations),
            _conv_filter_grad(g, x, w, strides, padding, dilations))


def _conv_case(xs, ws, strides=(1, 1), padding=((0, 0), (0, 0)), dilations=(1, 1)):
    return Case(shapes=(xs, ws), attrs={"strides": strides, "padding": padding,
                                        "dilations": dilations})


conv2d = declare(
    "conv2d", infer=_conv_infer, impl=_conv_impl, vjp=_conv_vjp, kind="other",
    batch=batch_rules.conv2d,
    cases=[_conv_case((2, 5, 5, 3), (3, 3, 3, 2)),
           _conv_case((1, 6, 7, 2), (3, 2, 2, 3), (2, 2), ((1, 1), (0, 1))),
           _conv_case((2, 7, 6, 1), (2, 3, 1, 2), (2, 1), ((0, 1), (2, 0)), (2, 2)),
           _conv_case((1, 5, 4, 2), (1, 1, 2, 3), (3, 2)),
           _conv_case((1, 3, 3, 2), (3, 3, 2, 1), (1, 1), ((3, 2), (1, 3)))])


# -- patches and its adjoint -----------------------------------------------------------------

def _window_attrs(name, ksize, strides, dilations):
    return (_pair(name, "ksize", ksize), _pair(name, "strides", strides),
            _pair(name, "dilations", dilations))


def _patches_infer(x, *, ksize, strides, dilations):
    if x.ndim != 4:
        raise ValueError(f"patches: input has shape {x.shape}; it must be rank-4 NHWC")
    ksize, strides, dilations = _window_attrs("patches", ksize, strides, dilations)
    oh, ow = (window_out(x.shape[1 + d], ksize[d], strides[d], dilations[d]) for d in range(2))
    if min(oh, ow) < 1:
        raise ValueError(f"patches: a {ksize} window with dilations {dilations} does not "
                         f"fit the input of shape {x.shape} (pad first)")
    return (x.shape[0], oh, ow, ksize[0], ksize[1], x.shape[3]), x.dtype


def _patches_index(view, idx):
    p = view.params
    (sh, sw), (dh, dw) = p["strides"], p["dilations"]
    n, oh, ow, kh, kw, c = idx

    def at(o, s, k, d):
        o = o if s == 1 else f"{s} * {o}"
        k = k if d == 1 else f"{d} * {k}"
        return f"({o} + {k})"
    return [n, at(oh, sh, kh, dh), at(ow, sw, kw, dw), c], []


def _patches_transpose_infer(g, *, shape, strides, dilations):
    if g.ndim != 6 or len(shape) != 4 or g.shape[0] != shape[0] or g.shape[5] != shape[3]:
        raise ValueError(f"patches_transpose: windows of shape {g.shape} do not come from "
                         f"an NHWC tensor of shape {shape}")
    _patches_infer(P.input(shape=tuple(shape), dtype=g.dtype), ksize=g.shape[3:5],
                   strides=strides, dilations=dilations)
    return tuple(shape), g.dtype


def _patches_transpose_impl(g, *, shape, strides, dilations):
    g = np.asarray(g)
    out = np.zeros(shape, g.dtype)
    oh, ow, kh, kw = g.shape[1:5]
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dilations[0], j * dilations[1]
            out[:, r0:r0 + (oh - 1) * strides[0] + 1:strides[0],
                c0:c0 + (ow - 1) * strides[1] + 1:strides[1], :] += g[:, :, :, i, j, :]
    return out


patches = declare(
    "patches", infer=_patches_infer, kind="shape", view=View(_patches_index),
    batch=batch_rules.fold_leading,
    impl=lambda x, *, ksize, strides, dilations: np.array(
        windows(x, ksize, strides, dilations)),
    vjp=lambda g, out, x, *, ksize, strides, dilations: (
        P.patches_transpose(g, shape=x.shape, strides=strides, dilations=dilations),),
    cases=[Case(shapes=((2, 4, 4, 3),), attrs={"ksize": (2, 2), "strides": (2, 2),
                                               "dilations": (1, 1)}),
           Case(shapes=((1, 5, 6, 2),), attrs={"ksize": (3, 2), "strides": (1, 2),
                                               "dilations": (1, 2)}),
           Case(shapes=((2, 3, 3, 1),), attrs={"ksize": (3, 3), "strides": (1, 1),
                                               "dilations": (1, 1)},
                dtypes=(np.dtype("int32"),))])

patches_transpose = declare(
    "patches_transpose", infer=_patches_transpose_infer, impl=_patches_transpose_impl,
    kind="other", batch=batch_rules.fold_leading,
    vjp=lambda g, out, x, *, shape, strides, dilations: (
        P.patches(g, ksize=x.shape[3:5], strides=strides, dilations=dilations),),
    cases=[Case(shapes=((2, 2, 2, 2, 2, 3),), attrs={"shape": (2, 4, 4, 3), "strides": (2, 2),
                                                    "dilations": (1, 1)}),
           Case(shapes=((1, 3, 2, 3, 2, 2),), attrs={"shape": (1, 5, 6, 2),
                                                    "strides": (1, 2), "dilations": (1, 2)})])
