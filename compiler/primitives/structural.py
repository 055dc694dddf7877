"""Leaves and data-movement primitives: input, literal, broadcast_to, reshape, transpose,
slice, pad, rev, concat, gather, scatter_add, custom_vjp.

Unbroadcasting lives in one place: the gradient of ``broadcast_to``. ``slice`` takes
positive steps (negative steps are ``rev`` then ``slice``); its gradient is ``pad`` with
interior padding, whose gradient is ``slice`` again.
"""
import numpy as np

from compiler import primitives as P
from compiler.primitives import batch_rules
from compiler.primitives.core import INT, Case, View, check_dtype, declare, full_like
from compiler.primitives.scatter import scatter_values

# -- leaves --------------------------------------------------------------------------------

# a value bound when the graph runs
input_ = declare("input", infer=lambda *, shape, dtype: (shape, dtype), impl=None,
                 kind="leaf")


def _literal_impl(*, value, dtype):
    return np.array(value, dtype=dtype)[()]


# a scalar constant that is part of the structural key
literal = declare("literal", infer=lambda *, value, dtype: ((), dtype), impl=_literal_impl,
                  kind="leaf")


# -- index maps: how loops read through data movement (index sources are code text) -----

def _broadcast_index(view, idx):
    """broadcast_to: leading new axes are dropped, broadcast (size-1) axes read index 0."""
    x = view.inputs[0]
    lead = view.ndim - x.ndim
    return [idx[lead + k] if d == view.shape[lead + k] else "0"
            for k, d in enumerate(x.shape)], []


def _unit_axis_index(view, idx):
    """Unit-axis reshapes: the same elements, re-indexed."""
    x = view.inputs[0]
    out_pos = [k for k, d in enumerate(view.shape) if d != 1]
    in_pos = [k for k, d in enumerate(x.shape) if d != 1]
    res = ["0"] * x.ndim
    for p, q in zip(in_pos, out_pos):
        res[p] = idx[q]
    return res, []


def _unit_axis_reshape(node):
    # only reshapes that insert or remove size-1 axes are index re-labelings
    x = node.inputs[0]
    return [d for d in x.shape if d != 1] == [d for d in node.shape if d != 1]


def _offset(i, k):
    return i if k == 0 else f"({i} + {k})" if k > 0 else f"({i} - {-k})"


def _slice_index(view, idx):
    p = view.params
    return [i if a == 0 and s == 1 else _offset(i, a) if s == 1 else f"({a} + {s} * {i})"
            for i, a, s in zip(idx, p["starts"], p["steps"])], []


def _rev_index(view, idx):
    axes = view.params["axes"]
    return [f"({n - 1} - {i})" if d in axes else i
            for d, (i, n) in enumerate(zip(idx, view.inputs[0].shape))], []


def _transpose_index(view, idx):
    res = [None] * view.ndim
    for k, q in enumerate(view.params["perm"]):
        res[q] = idx[k]
    return res, []


def _pad_axis(i, n, lo, hi, interior):
    """(index source, condition source or None) reading a pad's input along one axis."""
    if n == 0:
        return "0", "False"
    s = interior + 1
    j = _offset(i, -lo)
    conds = [f"{i} >= {lo}"] if lo else []
    conds += [f"{i} < {lo + (n - 1) * s + 1}"] if hi else []
    if s == 1:
        return j, " and ".join(conds) or None
    conds.append(f"{j} % {s} == 0")
    return f"({j} // {s})", " and ".join(conds)


def _pad_index(view, idx):
    res, conds = [], []
    for i, n, (lo, hi, it) in zip(idx, view.inputs[0].shape, view.params["config"]):
        j, c = _pad_axis(i, n, lo, hi, it)
        res.append(j)
        conds += [c] if c else []
    return res, conds


# -- broadcast_to / reshape / transpose ----------------------------------------------------

def _broadcast_infer(x, *, shape):
    lead = len(shape) - x.ndim
    ok = lead >= 0 and all(d == s or d == 1 for d, s in zip(x.shape, shape[lead:]))
    if not ok:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}; each "
                         f"dimension must equal the target's or be 1, aligned from the right")
    return shape, x.dtype


def broadcast_axes(in_shape, out_shape):
    """The axes of ``out_shape`` that broadcasting ``in_shape`` created or stretched."""
    lead = len(out_shape) - len(in_shape)
    return tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(in_shape) if d == 1 and out_shape[lead + i] != 1)


def _broadcast_vjp(g, out, x, *, shape):
    axes = broadcast_axes(x.shape, shape)
    gx = P.reduce_sum(g, axes=axes) if axes else g
    return (P.reshape(gx, shape=x.shape) if gx.shape != x.shape else gx,)


broadcast_to = declare(
    "broadcast_to", infer=_broadcast_infer, kind="shape", view=View(_broadcast_index, moves=False, broadcasts=True),
    impl=lambda x, *, shape: np.broadcast_to(x, shape), vjp=_broadcast_vjp,
    cases=[Case(shapes=((3, 1),), attrs={"shape": (2, 3, 4)}),
           Case(shapes=((),), attrs={"shape": (3,)}),
           Case(shapes=((1, 4),), attrs={"shape": (3, 4)}),
           Case(shapes=((2, 1, 3),), attrs={"shape": (2, 5, 3)}),
           Case(shapes=((4,),), attrs={"shape": (4,)}),
           Case(shapes=((1, 2),), attrs={"shape": (3, 1, 2)}, dtypes=(np.dtype("int32"),))],
    batch=batch_rules.broadcast_to)


def _reshape_infer(x, *, shape):
    n = 1
    for d in shape:
        n *= d
    if n != x.size:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} "
                         f"elements) to {shape} ({n} elements)")
    return shape, x.dtype


reshape = declare(
    "reshape", infer=_reshape_infer, kind="shape",
    view=View(_unit_axis_index, moves=False, applies=_unit_axis_reshape),
    impl=lambda x, *, shape: np.reshape(x, shape),
    vjp=lambda g, out, x, *, shape: (P.reshape(g, shape=x.shape),),
    cases=[Case(shapes=((3, 4),), attrs={"shape": (2, 6)}),
           Case(shapes=((3, 4),), attrs={"shape": (12,)}),
           Case(shapes=((),), attrs={"shape": (1, 1)}),
           Case(shapes=((2, 3, 4),), attrs={"shape": (4, 1, 6)})],
    batch=batch_rules.reshape)


def _transpose_infer(x, *, perm):
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"transpose: perm {perm} is not a permutation of the axes of a "
                         f"rank-{x.ndim} tensor (shape {x.shape}); valid perms reorder "
                         f"{tuple(range(x.ndim))}")
    return tuple(x.shape[p] for p in perm), x.dtype


def _transpose_impl(x, *, perm):
    # the method: np.transpose's dispatch wrapper costs as much as the (view) transpose
    return x.transpose(perm) if type(x) is np.ndarray else np.transpose(x, perm)


transpose = declare(
    "transpose", infer=_transpose_infer, kind="shape", view=View(_transpose_index, strided=True),
    impl=_transpose_impl,
    vjp=lambda g, out, x, *, perm: (P.transpose(g, perm=tuple(np.argsort(perm).tolist())),),
    cases=[Case(shapes=((2, 3, 4),), attrs={"perm": (2, 0, 1)}),
           Case(shapes=((3, 4),), attrs={"perm": (1, 0)}),
           Case(shapes=((2, 1, 3, 2),), attrs={"perm": (3, 1, 0, 2)})],
    batch=batch_rules.transpose)


# -- slice / pad / rev ---------------------------------------------------------------------

def _slice_infer(x, *, starts, stops, steps):
    if not len(starts) == len(stops) == len(steps) == x.ndim:
        raise ValueError(f"slice: starts/stops/steps must have one entry per axis of shape "
                         f"{x.shape}")
    shape = []
    for d, a, b, s in zip(x.shape, starts, stops, steps):
        if s < 1 or not 0 <= a <= d or not 0 <= b <= d:
            raise ValueError(f"slice: start {a}, stop {b}, step {s} invalid for a dimension "
                             f"of size {d}; need 0 <= start, stop <= size and step >= 1")
        shape.append(max(0, -(-(b - a) // s)))
    return tuple(shape), x.dtype


def _slice_impl(x, *, starts, stops, steps):
    return x[tuple(slice(a, b, s) for a, b, s in zip(starts, stops, steps))]


def _slice_vjp(g, out, x, *, starts, stops, steps):
    if 0 in out.shape:
        return (full_like(x, 0),)
    config = []
    for d, n, a, s in zip(x.shape, out.shape, starts, steps):
        last = a + (n - 1) * s
        config.append((a, d - last - 1, s - 1))
    return (P.pad(g, config=tuple(config)),)


slice_ = declare(
    "slice", infer=_slice_infer, impl=_slice_impl, vjp=_slice_vjp, kind="shape",
    view=View(_slice_index, strided=True),
    cases=[Case(shapes=((5, 6),), attrs={"starts": (1, 0), "stops": (4, 6), "steps": (1, 2)}),
           Case(shapes=((7,),), attrs={"starts": (2,), "stops": (7,), "steps": (3,)}),
           Case(shapes=((4, 5, 3),), attrs={"starts": (0, 1, 2), "stops": (4, 5, 3),
                                            "steps": (3, 2, 1)}),
           Case(shapes=((5, 2),), attrs={"starts": (3, 0), "stops": (3, 2), "steps": (1, 1)}),
           Case(shapes=((6,),), attrs={"starts": (1,), "stops": (5,), "steps": (5,)})],
    batch=batch_rules.slice_)


def _pad_infer(x, *, config):
    if len(config) != x.ndim or any(min(c) < 0 for c in config):
        raise ValueError(f"pad: config {config} needs one (lo, hi, interior) triple of "
                         f"non-negative ints per axis of shape {x.shape}")
    shape = tuple(lo + d + max(d - 1, 0) * it + hi for d, (lo, hi, it) in zip(x.shape, config))
    return shape, x.dtype


def _pad_impl(x, *, config):
    x = np.asarray(x)
    shape, _ = _pad_infer(x, config=config)
    out = np.zeros(shape, x.dtype)
    idx = tuple(slice(lo, lo + max(d - 1, 0) * (it + 1) + min(d, 1), it + 1)
                for d, (lo, hi, it) in zip(x.shape, config))
    out[idx] = x
    return out


def _pad_vjp(g, out, x, *, config):
    starts = tuple(lo for lo, hi, it in config)
    steps = tuple(it + 1 for lo, hi, it in config)
    stops = tuple(lo + max(d - 1, 0) * (it + 1) + min(d, 1)
                  for d, (lo, hi, it) in zip(x.shape, config))
    return (P.slice(g, starts=starts, stops=stops, steps=steps),)


pad = declare("pad", infer=_pad_infer, impl=_pad_impl, vjp=_pad_vjp, kind="shape",
              view=View(_pad_index),
              cases=[Case(shapes=((3, 2),), attrs={"config": ((1, 2, 0), (0, 1, 2))}),
                     Case(shapes=((2, 3, 1),),
                          attrs={"config": ((0, 0, 1), (2, 0, 3), (1, 1, 4))}),
                     Case(shapes=((0, 2),), attrs={"config": ((1, 0, 2), (0, 0, 0))}),
                     Case(shapes=((3,),), attrs={"config": ((0, 0, 0),)})],
              batch=batch_rules.pad)


def _rev_infer(x, *, axes):
    if any(not 0 <= a < x.ndim for a in axes):
        raise ValueError(f"rev: axes {axes} out of range for shape {x.shape}")
    return x.shape, x.dtype


rev = declare("rev", infer=_rev_infer, impl=lambda x, *, axes: np.flip(x, axes), kind="shape",
              view=View(_rev_index, strided=True),
              vjp=lambda g, out, x, *, axes: (P.rev(g, axes=axes),),
              cases=[Case(shapes=((3, 4),), attrs={"axes": (1,)}),
                     Case(shapes=((2, 3, 4),), attrs={"axes": (0, 2)}),
                     Case(shapes=((3,),), attrs={"axes": ()})],
              batch=batch_rules.shift_axes("axes"))


# -- concat --------------------------------------------------------------------------------

def _concat_infer(*xs, axis):
    first = xs[0]
    if not 0 <= axis < first.ndim:
        raise ValueError(f"concat: axis {axis} out of range for rank {first.ndim}")
    for x in xs[1:]:
        same = x.ndim == first.ndim and all(
            a == b for i, (a, b) in enumerate(zip(x.shape, first.shape)) if i != axis)
        if not same:
            raise ValueError(f"concat: shapes {[y.shape for y in xs]} differ outside axis "
                             f"{axis}; all dimensions but the concat axis must match")
        if x.dtype != first.dtype:
            raise TypeError(f"concat: dtypes {[str(y.dtype) for y in xs]} differ")
    shape = list(first.shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return tuple(shape), first.dtype


def _concat_vjp(g, out, *xs, axis):
    grads, start = [], 0
    for x in xs:
        starts = [0] * g.ndim
        stops = list(g.shape)
        starts[axis], stops[axis] = start, start + x.shape[axis]
        grads.append(P.slice(g, starts=tuple(starts), stops=tuple(stops),
                             steps=(1,) * g.ndim))
        start += x.shape[axis]
    return tuple(grads)


concat = declare("concat", infer=_concat_infer, kind="shape",
                 impl=lambda *xs, axis: np.concatenate(xs, axis), vjp=_concat_vjp,
                 cases=[Case(shapes=((2, 3), (4, 3)), attrs={"axis": 0}),
                        Case(shapes=((2, 3), (2, 1), (2, 2)), attrs={"axis": 1}),
                        Case(shapes=((2, 1, 3), (2, 2, 3)), attrs={"axis": 1}),
                        Case(shapes=((2, 0), (2, 3)), attrs={"axis": 1})],
                 batch=batch_rules.shift_axis("axis"))


# -- gather / scatter_add ------------------------------------------------------------------

def _gather_infer(x, idx, *, axis):
    check_dtype("gather", idx, INT, "indices")
    if not 0 <= axis < x.ndim:
        raise ValueError(f"gather: axis {axis} out of range for shape {x.shape}")
    return x.shape[:axis] + idx.shape + x.shape[axis + 1:], x.dtype


def _gather_index(view, idx, element):
    """gather read inside a loop: the index array's entry at the index axes' positions
    (checked and made non-negative by ``checked_index``, see ``_read_checked``)."""
    ind, axis = view.inputs[1], view.params["axis"]
    k = ind.ndim
    return idx[:axis] + [element(ind, idx[axis:axis + k])] + idx[axis + k:], []


def _read_checked(node):
    # a loop may read x at an index only once the index is known to be in range: the
    # native lowering puts checked_index between every gather and its indices
    # (compiler.pipeline); a gather without it stays a NumPy call
    return node.inputs[1].prim.name == "checked_index"


def _gather_vjp(g, out, x, idx, *, axis):
    return P.scatter_add(g, idx, axis=axis, size=x.shape[axis]), None


def _int_index_maker(size):
    return lambda rng, shapes: [rng.uniform(-2, 2, shapes[0]),
                                rng.integers(-size, size, shapes[1])]


def _repeated_indices(rng, shapes):
    # every position hit twice, once through a negative index
    return [rng.uniform(-2, 2, shapes[0]), np.array([0, 1, 2, -3, -2, -1])]


gather = declare("gather", infer=_gather_infer, kind="other", vjp=_gather_vjp,
                 impl=lambda x, idx, *, axis: np.take(x, idx, axis=axis),
                 view=View(_gather_index, applies=_read_checked, operands=True),
                 cases=[Case(shapes=((5, 3), (4,)), attrs={"axis": 0},
                             make=_int_index_maker(5)),
                        Case(shapes=((2, 4), (2, 3)), attrs={"axis": 1},
                             make=_int_index_maker(4)),
                        Case(shapes=((4,), ()), attrs={"axis": 0}, make=_int_index_maker(4)),
                        Case(shapes=((2, 3, 4), (5,)), attrs={"axis": 2},
                             make=_int_index_maker(4))],
                 batch=batch_rules.gather)


def _checked_infer(idx, *, axis, size, op):
    check_dtype("checked_index", idx, INT, "indices")
    return idx.shape, idx.dtype


def _checked_impl(idx, *, axis, size, op):
    idx = np.asarray(idx)
    flat = idx.reshape(-1)
    if flat.size and (flat.min() < -size or flat.max() >= size):
        i = int(flat[np.argmax((flat < -size) | (flat >= size))])
        prefix = "" if op == "gather" else f"{op}: "      # gather: np.take's message
        raise IndexError(f"{prefix}index {i} is out of bounds for axis {axis} with size "
                         f"{size}")
    if flat.size and flat.min() < 0:
        return np.where(idx < 0, idx + np.array(size, idx.dtype), idx)
    return np.array(idx)


# the indices of ``op`` (gather, scatter_add) along an axis of ``size``: the same ones,
# negative ones counted from the end; IndexError (the op's own message) for one out of
# range. The native lowering reads gathers inside loops through it (compiler.pipeline).
checked_index = declare(
    "checked_index", infer=_checked_infer, impl=_checked_impl, kind="other",
    differentiable=False, batch=batch_rules.elementwise,
    cases=[Case(shapes=((6,),), attrs={"axis": 0, "size": 5, "op": "gather"},
                make=lambda rng, shapes: [rng.integers(-5, 5, shapes[0])]),
           Case(shapes=((2, 3),), attrs={"axis": 1, "size": 4, "op": "gather"},
                make=lambda rng, shapes: [rng.integers(0, 4, shapes[0])],
                dtypes=(np.dtype("int32"),)),
           Case(shapes=((0,),), attrs={"axis": 0, "size": 3, "op": "scatter_add"},
                make=lambda rng, shapes: [np.zeros(0, np.int64)])])


def _scatter_infer(g, idx, *, axis, size):
    check_dtype("scatter_add", idx, INT, "indices")
    k = idx.ndim
    if g.shape[axis:axis + k] != idx.shape:
        raise ValueError(f"scatter_add: updates shape {g.shape} does not hold indices shape "
                         f"{idx.shape} at axis {axis}")
    return g.shape[:axis] + (size,) + g.shape[axis + k:], g.dtype


scatter_add = declare(
    "scatter_add", infer=_scatter_infer, impl=scatter_values, kind="other",
    vjp=lambda g, out, upd, idx, *, axis, size: (P.gather(g, idx, axis=axis), None),
    cases=[Case(shapes=((4, 3), (4,)), attrs={"axis": 0, "size": 5},
                make=_int_index_maker(5)),
           Case(shapes=((2, 6), (6,)), attrs={"axis": 1, "size": 3}, make=_repeated_indices),
           Case(shapes=((2, 3, 2), (3, 2)), attrs={"axis": 1, "size": 4},
                make=_int_index_maker(4))],
    batch=batch_rules.scatter_add)


# -- custom gradients ----------------------------------------------------------------------

def _custom_infer(*xs, rule):
    y = xs[-1]
    return y.shape, y.dtype


def _custom_vjp(g, out, *xs, rule):
    # ``rule`` is an opaque callable supplied by the front end: (g, out, inputs) -> grads
    grads = tuple(rule(g, out, xs[:-1]))
    if len(grads) != len(xs) - 1:
        raise ValueError(f"custom_gradient: the gradient function returned {len(grads)} "
                         f"gradients for {len(xs) - 1} inputs")
    return grads + (None,)


def double_rule(g, out, xs):
    """The registry test's custom gradient: the test pairs it with the forward y = 2 x."""
    return (g * 2.0,)


# forward value is the last input; the gradient of the other inputs comes from attrs['rule']
# (the inner computation is not differentiated)
custom_vjp = declare(
    "custom_vjp", infer=_custom_infer, impl=lambda *xs, rule: xs[-1], vjp=_custom_vjp,
    kind="other", cases=[Case(shapes=((3, 2), (3, 2)), attrs={"rule": double_rule}),
                         Case(shapes=((), ()), attrs={"rule": double_rule})],
    batch=batch_rules.custom_vjp)
