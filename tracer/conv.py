"""Convolution and pooling (``tt.nn.conv1d``, ``conv2d``, ``max_pool2d``, ``avg_pool2d``).

TensorFlow's conventions: NHWC (NCHW by transposing), filters ``(KH, KW, C_in, C_out)``,
``strides``/``ksize``/``dilations`` an int or a list of 1, 2 or 4 ints, ``padding``
"SAME" (output size ``ceil(in / stride)``, the extra row/column at the end), "VALID", or
explicit ``[[0, 0], [top, bottom], [left, right], [0, 0]]``. Pooling ignores padded
elements: SAME max pooling never picks the padding and SAME average pooling divides by the
number of real elements in each window.
"""
import numpy as np

from compiler import primitives as P
from compiler.primitives.nn import window_out, windows
from tracer import ops, shape_ops
from tracer.engine import as_tensor, bind, make


def _spatial(v, op, what, default=None):
    """Two ints from an int or a list of 1, 2 or 4 (NHWC: batch and channel entries 1)."""
    if v is None:
        v = default
    if hasattr(v, "_read") or hasattr(v, "numpy"):
        v = np.asarray(v).tolist()
    v = [v] if isinstance(v, (int, np.integer)) else list(v)
    if len(v) == 4:
        if v[0] != 1 or v[3] != 1:
            raise ValueError(f"{op}: {what} {v} must be 1 in the batch and channel entries")
        v = v[1:3]
    if len(v) == 1:
        v = v * 2
    if len(v) != 2 or any(not isinstance(a, (int, np.integer)) or a < 1 for a in v):
        raise ValueError(f"{op}: {what} must be a positive int or a list of 1, 2 or 4 "
                         f"positive ints, got {v!r}")
    return tuple(int(a) for a in v)


def padding_amounts(padding, in_hw, k_hw, strides, dilations, op):
    """((top, bottom), (left, right)) for "SAME", "VALID" or explicit padding."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return ((0, 0), (0, 0))
        if mode != "SAME":
            raise ValueError(f"{op}: padding {padding!r} is not valid; use 'SAME', 'VALID' "
                             f"or explicit [[0, 0], [top, bottom], [left, right], [0, 0]]")
        out = []
        for n, k, s, d in zip(in_hw, k_hw, strides, dilations):
            total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            out.append((total // 2, total - total // 2))
        return tuple(out)
    try:
        pairs = [tuple(int(a) for a in p) for p in padding]
    except TypeError:
        pairs = []
    if len(pairs) == 4 and pairs[0] == (0, 0) and pairs[3] == (0, 0):
        pairs = pairs[1:3]
    if len(pairs) != 2 or any(len(p) != 2 or min(p) < 0 for p in pairs):
        raise ValueError(f"{op}: explicit padding {padding!r} must be [[0, 0], [top, bottom], "
                         f"[left, right], [0, 0]] (or two pairs) of non-negative ints")
    return tuple(pairs)


def _nhwc(x, data_format, op):
    if data_format == "NHWC":
        return x
    if data_format == "NCHW":
        return shape_ops.transpose(x, (0, 2, 3, 1))
    raise ValueError(f"{op}: data_format {data_format!r} is not valid; use 'NHWC' or 'NCHW'")


def _from_nhwc(y, data_format):
    return y if data_format == "NHWC" else shape_ops.transpose(y, (0, 3, 1, 2))


def _float_operands(op, *xs):
    ts = ops.promote_operands(xs, op)
    if ts[0].dtype.kind != "f":
        ts = [ops.cast(t, "float32") for t in ts]
    return ts


def _conv_operands(op, input, filters, strides, padding, data_format, dilations, layout):
    """A 2-D convolution's checked operands: (NHWC float input, filters laid out as
    ``layout``, strides, dilations, padding amounts), raising ValueError naming ``op``
    for ranks, channel counts or filters that do not fit the padded input."""
    x, w = as_tensor(input, op), as_tensor(filters, op)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"{op}: input has shape {x.shape} and filters {w.shape}; the input "
                         f"must be rank 4 ({data_format}) and the filters {layout}")
    x, w = _float_operands(op, x, w)
    x = _nhwc(x, data_format, op)
    strides = _spatial(strides, op, "strides")
    dilations = _spatial(dilations, op, "dilations", 1)
    if x.shape[3] != w.shape[2]:
        raise ValueError(f"{op}: input has {x.shape[3]} channels (shape {x.shape}) but the "
                         f"filters of shape {w.shape} expect {w.shape[2]}")
    pads = padding_amounts(padding, x.shape[1:3], w.shape[:2], strides, dilations, op)
    for d in range(2):
        if window_out(x.shape[1 + d] + sum(pads[d]), w.shape[d], 1, dilations[d]) < 1:
            raise ValueError(f"{op}: filters of shape {w.shape} (dilations {dilations}) do "
                             f"not fit the padded input of shape {x.shape} with padding "
                             f"{padding!r}")
    return x, w, strides, dilations, pads


def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):
    """2-D convolution (cross-correlation, as TensorFlow) of NHWC ``input`` with
    ``(KH, KW, C_in, C_out)`` filters."""
    op = "nn.conv2d"
    x, w, strides, dilations, pads = _conv_operands(op, input, filters, strides, padding,
                                                    data_format, dilations,
                                                    "(KH, KW, C_in, C_out)")
    y = bind(P.conv2d, x, w, strides=strides, padding=pads, dilations=dilations)
    return _from_nhwc(y, data_format)


def _middle(v):
    """The width entry of a 3-entry NWC stride/dilation list."""
    return v[1] if isinstance(v, (list, tuple)) and len(v) == 3 else v


def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None, name=None):
    """1-D convolution of NWC ``input`` with ``(K, C_in, C_out)`` filters (a conv2d with a
    unit height, as TensorFlow computes it)."""
    op = "nn.conv1d"
    x, w = as_tensor(input, op), as_tensor(filters, op)
    if x.ndim != 3 or w.ndim != 3:
        raise ValueError(f"{op}: input has shape {x.shape} and filters {w.shape}; the input "
                         f"must be rank 3 ({data_format}) and the filters (K, C_in, C_out)")
    if data_format not in ("NWC", "NCW"):
        raise ValueError(f"{op}: data_format {data_format!r} is not valid; use 'NWC' or "
                         f"'NCW'")
    if data_format == "NCW":
        x = shape_ops.transpose(x, (0, 2, 1))
    s = _spatial(_middle(stride), op, "stride")[0]
    d = 1 if dilations is None else _spatial(_middle(dilations), op, "dilations")[0]
    if not isinstance(padding, str):
        pairs = [list(p) for p in padding]
        padding = [[0, 0], [0, 0], pairs[1] if len(pairs) == 3 else pairs[0], [0, 0]]
    y = conv2d(shape_ops.expand_dims(x, 1), shape_ops.expand_dims(w, 0), [1, s], padding,
               dilations=[1, d])
    y = shape_ops.squeeze(y, 1)
    return shape_ops.transpose(y, (0, 2, 1)) if data_format == "NCW" else y


def _pool_setup(input, ksize, strides, padding, data_format, op):
    x = as_tensor(input, op)
    if x.ndim != 4:
        raise ValueError(f"{op}: input has shape {x.shape}; it must be rank 4 ({data_format})")
    x = _nhwc(x, data_format, op)
    k = _spatial(ksize, op, "ksize")
    s = _spatial(strides, op, "strides")
    pads = padding_amounts(padding, x.shape[1:3], k, s, (1, 1), op)
    for d in range(2):
        if x.shape[1 + d] + sum(pads[d]) < k[d]:
            raise ValueError(f"{op}: a {k} window does not fit the input of shape "
                             f"{x.shape} with padding {padding!r}")
    return x, k, s, pads


def _valid_mask(shape, pads):
    """Bool (1, Hp, Wp, 1): True at real elements, False at padding."""
    mask = np.zeros((1, shape[1] + sum(pads[0]), shape[2] + sum(pads[1]), 1), bool)
    mask[:, pads[0][0]:pads[0][0] + shape[1], pads[1][0]:pads[1][0] + shape[2]] = True
    return mask


def _pad(x, pads):
    config = ((0, 0, 0), (*pads[0], 0), (*pads[1], 0), (0, 0, 0))
    return bind(P.pad, x, config=config)


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """The maximum over each window (padding never wins). The gradient goes to the first
    maximum of each window in row-major order, as TensorFlow, JAX and PyTorch do."""
    op = "nn.max_pool2d"
    x, k, s, pads = _pool_setup(input, ksize, strides, padding, data_format, op)
    if x.dtype not in P.max_pool.dtypes:
        raise TypeError(f"{op}: got dtype {x.dtype}; valid dtypes are "
                        f"{', '.join(sorted(str(d) for d in P.max_pool.dtypes))}")
    if any(p for pair in pads for p in pair):
        low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        x = ops.where(make(_valid_mask(x.shape, pads)), _pad(x, pads),
                      make(np.array(low, x.dtype)[()]))
    out = bind(P.max_pool, x, ksize=k, strides=s)
    return _from_nhwc(out, data_format)


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """The mean over each window's real (non-padding) elements."""
    op = "nn.avg_pool2d"
    x, k, s, pads = _pool_setup(input, ksize, strides, padding, data_format, op)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: got dtype {x.dtype}; valid dtypes are float32, float64")
    if any(p for pair in pads for p in pair):
        mask = _valid_mask(x.shape, pads).astype(x.dtype)
        count = windows(mask, k, s, (1, 1)).sum(axis=(3, 4))
        x = _pad(x, pads)
    else:
        count = float(k[0] * k[1])
    win = bind(P.patches, x, ksize=k, strides=s, dilations=(1, 1))
    total = ops.reduce_sum(win, (3, 4))
    divisor = make(np.asarray(count, x.dtype)) if isinstance(count, np.ndarray) else count
    return _from_nhwc(ops.divide(total, divisor), data_format)


max_pool = max_pool2d
avg_pool = avg_pool2d


def depthwise_conv2d(input, filter, strides, padding, data_format="NHWC",  # noqa: A002
                     dilations=None, name=None):
    """Each input channel convolved with its own ``M`` filters: ``filter`` is
    ``(KH, KW, C, M)`` and the output has ``C * M`` channels (channel c's m-th filter at
    c * M + m), as TensorFlow's. Windows are taken once (``patches``) and weighted per
    channel."""
    op = "nn.depthwise_conv2d"
    x, w, strides, dilations, pads = _conv_operands(op, input, filter, strides, padding,
                                                    data_format, dilations, "(KH, KW, C, M)")
    if any(p for pair in pads for p in pair):
        x = _pad(x, pads)
    win = bind(P.patches, x, ksize=w.shape[:2], strides=strides, dilations=dilations)
    prod = ops.multiply(shape_ops.expand_dims(win, -1), w)        # (N, OH, OW, KH, KW, C, M)
    out = ops.reduce_sum(prod, (3, 4))
    out = shape_ops.reshape(out, out.shape[:3] + (w.shape[2] * w.shape[3],))
    return _from_nhwc(out, data_format)


def conv2d_transpose(input, filters, output_shape, strides, padding="SAME",  # noqa: A002
                     data_format="NHWC", dilations=None, name=None):
    """The transpose (gradient with respect to the input) of ``conv2d`` with the same
    ``filters`` ``(KH, KW, C_out, C_in)``, ``strides``, ``padding`` and ``dilations``: maps
    ``input`` of conv2d's output shape to ``output_shape``, as TensorFlow's. The
    cotangent dilated by the strides is convolved with the flipped filters."""
    op = "nn.conv2d_transpose"
    g, w = as_tensor(input, op), as_tensor(filters, op)
    if g.ndim != 4 or w.ndim != 4:
        raise ValueError(f"{op}: input has shape {g.shape} and filters {w.shape}; both must "
                         f"be rank 4")
    g, w = _float_operands(op, g, w)
    g = _nhwc(g, data_format, op)
    shape = [int(v) for v in np.asarray(output_shape.numpy() if hasattr(output_shape, "numpy")
                                        else output_shape).reshape(-1)]
    if len(shape) != 4:
        raise ValueError(f"{op}: output_shape {shape} must have 4 entries ({data_format})")
    if data_format == "NCHW":
        shape = [shape[0], shape[2], shape[3], shape[1]]
    strides = _spatial(strides, op, "strides")
    dilations = _spatial(dilations, op, "dilations", 1)
    pads = padding_amounts(padding, shape[1:3], w.shape[:2], strides, dilations, op)
    conv_out = tuple(window_out(shape[1 + d] + sum(pads[d]), w.shape[d], strides[d],
                                dilations[d]) for d in range(2))
    if (shape[0], *conv_out, w.shape[3]) != g.shape or shape[3] != w.shape[2]:
        raise ValueError(f"{op}: input of shape {g.shape} does not fit: conv2d of an input "
                         f"of shape {tuple(shape)} with filters {w.shape}, strides {strides} "
                         f"and padding {padding!r} gives shape "
                         f"{(shape[0], *conv_out, w.shape[3])} (and needs {w.shape[2]} "
                         f"output channels)")
    config, trim = [(0, 0, 0)], []
    for d in range(2):
        keff = (w.shape[d] - 1) * dilations[d] + 1
        covered = (g.shape[1 + d] - 1) * strides[d] + keff
        lo = keff - 1 - pads[d][0]
        hi = keff - 1 - pads[d][1] + (shape[1 + d] + sum(pads[d]) - covered)
        config.append((max(lo, 0), max(hi, 0), strides[d] - 1))
        trim.append((max(-lo, 0), max(-hi, 0)))
    config.append((0, 0, 0))
    gp = bind(P.pad, g, config=tuple(config))
    wt = shape_ops.transpose(bind(P.rev, w, axes=(0, 1)), (0, 1, 3, 2))
    out = bind(P.conv2d, gp, wt, strides=(1, 1), padding=((0, 0), (0, 0)),
               dilations=dilations)
    (t0, b0), (t1, b1) = trim
    if t0 or b0 or t1 or b1:
        out = shape_ops.getitem(out, (slice(None), slice(t0, out.shape[1] - b0),
                                      slice(t1, out.shape[2] - b1)))
    return _from_nhwc(out, data_format)
