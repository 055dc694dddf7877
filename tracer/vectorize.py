"""``tt.vmap``: a function of one example, run on a batch at once.

``fn`` is traced once on per-example stand-ins (the mapped axis removed), then the
compiler's batching pass (``compiler.batching``: one rule per primitive) rebuilds the graph
with the batch as a leading axis: a batched operand times a shared matrix is one matrix
product, a reduction reduces one more axis, and so on, so the result compiles to batched
kernels, never a loop over examples. ``vmap`` is a ``Staged`` function like every
transform: traced, optimised and compiled once per signature, and it composes with
``grad``, ``jvp``, ``function``, tapes and itself.
"""
import inspect

from compiler import batching
from compiler import primitives as P
from compiler.primitives.batch_rules import move_axis
from tracer import nest
from tracer.convert import convert_to_tensor
from tracer.recording import make, node_of
from tracer.state import STATE
from tracer.function import Staged
from tracer.tensor import Tensor
from tracer.variable import Variable


def _check_axes_spec(spec, what):
    leaves, _ = nest.flatten(spec)
    for a in leaves:
        if a is not None and (not isinstance(a, int) or isinstance(a, bool)):
            raise TypeError(f"vmap: {what} must be an int, None, or a (nested) tuple/list/"
                            f"dict of them, got {a!r}")


def _prefix(spec, tree, what):
    """Per leaf of ``tree``: the axis that ``spec`` (a prefix of its structure) gives it."""
    if spec is None or isinstance(spec, int):
        return [spec] * len(nest.flatten(tree)[0])
    if isinstance(spec, dict) and isinstance(tree, dict) and set(spec) == set(tree):
        return [a for k in tree for a in _prefix(spec[k], tree[k], what)]
    if isinstance(spec, (list, tuple)) and isinstance(tree, (list, tuple)) and \
            len(spec) == len(tree):
        return [a for s, t in zip(spec, tree) for a in _prefix(s, t, what)]
    raise ValueError(f"vmap: {what} {spec!r} does not match the structure of the values "
                     f"{_structure(tree)}; give one axis per value or a prefix of their "
                     f"structure")


def _structure(tree):
    leaves, rebuild = nest.flatten(tree)
    return rebuild(["*"] * len(leaves))


def _arg_names(fn, n):
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return [f"argument '{params[i]}' (position {i})" if i < len(params) else
            f"positional argument {i}" for i in range(n)]


class _Mapped:
    """The mapped leaves of one call: their batch size, stand-ins and batched nodes."""

    def __init__(self, name):
        self.name = name
        self.sizes = []             # (description, axis, size)
        self.mapping = {}

    def leaf(self, x, axis, where):
        if axis is None:
            return x
        if isinstance(x, Variable):
            x = x._read()
        if type(x) is not Tensor:
            raise ValueError(f"{self.name}: {where} is a {type(x).__name__}, which has no "
                             f"axis {axis} to map over; pass a tensor or give it in_axes None")
        if not -x.ndim <= axis < x.ndim:
            raise ValueError(f"{self.name}: in_axes {axis} is out of range for {where} of "
                             f"shape {x.shape}; valid axes are {-x.ndim}..{x.ndim - 1}")
        axis %= x.ndim
        self.sizes.append((where, axis, x.shape[axis]))
        batched = move_axis(node_of(x), axis, 0)
        stand = P.input(shape=batched.shape[1:], dtype=batched.dtype)
        if STATE.trace is not None and hasattr(STATE.trace, "leaves"):
            STATE.trace.leaves[id(stand)] = f"{where} of {self.name} (one example)"
        self.mapping[id(stand)] = batched
        return make(None, stand)

    def size(self, axis_size=None):
        if not self.sizes:
            if axis_size is not None:
                return axis_size
            raise ValueError(f"{self.name}: in_axes maps no argument; at least one tensor "
                             f"argument needs an int axis (in_axes=None everywhere leaves "
                             f"nothing to vectorise), or give axis_size")
        sizes = {s for _, _, s in self.sizes}
        if axis_size is not None and sizes != {axis_size}:
            listed = "; ".join(f"{w} has size {s} along axis {a}" for w, a, s in self.sizes)
            raise ValueError(f"{self.name}: axis_size={axis_size} but {listed}")
        if len(sizes) > 1:
            listed = "; ".join(f"{w} has size {s} along axis {a}" for w, a, s in self.sizes)
            raise ValueError(f"{self.name}: inconsistent sizes for the mapped axis: {listed}. "
                             f"Every mapped argument needs the same size")
        return sizes.pop()


def _stand_ins(mapped, args, kwargs, in_axes, names):
    if isinstance(in_axes, (list, tuple)) and len(in_axes) != len(args):
        raise ValueError(f"{mapped.name}: in_axes has {len(in_axes)} entries but the function "
                         f"was called with {len(args)} positional arguments; give one per "
                         f"argument (or a single int/None for all)")
    per_arg = in_axes if isinstance(in_axes, (list, tuple)) else [in_axes] * len(args)
    out_args = []
    for a, spec, where in zip(args, per_arg, names):
        leaves, rebuild = nest.flatten(a)
        axes = _prefix(spec, a, f"in_axes for {where}")
        out_args.append(rebuild([mapped.leaf(x, ax, where) for x, ax in zip(leaves, axes)]))
    out_kw = {k: mapped.leaf(v, 0, f"keyword argument '{k}'") for k, v in kwargs.items()}
    return out_args, out_kw


def _outputs(mapped, out, out_axes, size):
    leaves, rebuild = nest.flatten(out)
    axes = _prefix(out_axes, out, "out_axes")
    tensors = []
    for y in leaves:
        if isinstance(y, Variable):
            y = y._read()
        tensors.append(y if type(y) is Tensor else convert_to_tensor(y, op=mapped.name))
    nodes = [node_of(t) for t in tensors]
    batched, flags = batching.batch(nodes, mapped.mapping, size)
    result = []
    for n, b, ax, orig in zip(batched, flags, axes, tensors):
        if ax is None:
            if b:
                raise ValueError(f"{mapped.name}: out_axes None for an output of shape "
                                 f"{orig.shape} that depends on the mapped arguments; give it "
                                 f"an axis")
            result.append(orig)
            continue
        if not b:
            n = P.broadcast_to(n, shape=(size,) + n.shape)
        if not -n.ndim <= ax < n.ndim:
            raise ValueError(f"{mapped.name}: out_axes {ax} is out of range for an output of "
                             f"rank {n.ndim - 1} (batched rank {n.ndim})")
        result.append(make(None, move_axis(n, 0, ax % n.ndim)))
    return rebuild(result)


def vmap(fn, in_axes=0, out_axes=0, axis_size=None):
    """Vectorise ``fn`` over a mapped axis of its arguments (JAX semantics).

    ``in_axes``: an int, None (not mapped) or a (nested) tuple/list/dict of them matching a
    prefix of the arguments; ``out_axes`` likewise for the outputs. Keyword arguments are
    mapped over axis 0. ``axis_size`` gives the size when no argument is mapped (and must
    equal the mapped size otherwise).

    >>> per_example = tt.vmap(tt.grad(loss), in_axes=(None, 0, 0))   # batched kernels
    """
    if not callable(fn):
        raise TypeError(f"vmap: expected a callable, got {type(fn).__name__}")
    _check_axes_spec(in_axes, "in_axes")
    _check_axes_spec(out_axes, "out_axes")
    if axis_size is not None and (isinstance(axis_size, bool) or
                                  not hasattr(axis_size, "__index__") or axis_size < 0):
        raise TypeError(f"vmap: axis_size must be a non-negative int or None, got "
                        f"{axis_size!r}")
    name = f"vmap({getattr(fn, '__name__', type(fn).__name__)})"

    def build(args, kwargs):
        mapped = _Mapped(name)
        sargs, skw = _stand_ins(mapped, args, kwargs, in_axes, _arg_names(fn, len(args)))
        size = mapped.size(None if axis_size is None else int(axis_size))
        return _outputs(mapped, fn(*sargs, **skw), out_axes, size)
    return Staged(fn, build, name, recipe=(vmap, (fn, in_axes, out_axes, axis_size), {}))
