"""The NumPy tier: runs a graph through each primitive's reference ``impl``.

This is also the test oracle for compiled code. Outputs are owned: arrays of the node's
dtype that share no buffer with an input or another output (both tiers guarantee it, so
callers wrap them without copying), except that an output the graph donates an input to
(``graph.donate``, ``compiler.donation``) may be that input's array, holding the new value. A ``Program`` is built once per graph
(a flat list of steps) and then called with the input values in ``graph.inputs`` order.
Values are dropped after their last use so long graphs do not hold every intermediate.
"""
import numpy as np

from compiler.ir import slots as slot_tuple


def owned(v, dtype):
    """A graph output as callers receive it from either tier: an array of ``dtype`` that
    owns its buffer (a view or a passed-through input is copied), or a NumPy scalar for
    shape ()."""
    if isinstance(v, np.generic) and v.dtype == dtype:
        return v
    a = np.asarray(v)
    if a.dtype != dtype:
        a = a.astype(dtype)
    if a.ndim == 0:
        return a[()]
    if not a.flags.owndata or not a.flags.writeable:
        a = np.array(a)
    return a


class NanError(FloatingPointError):
    """tt.config.debug_nans: an operation produced NaN from non-NaN inputs."""


_NO_PARAMS = {}       # shared by every step without attrs (only ever unpacked)


class Program:
    def __init__(self, graph):
        nodes = graph.nodes
        index = {n: i for i, n in enumerate(nodes)}       # nodes hash by identity
        self.input_slots = [index.get(n) for n in graph.inputs]
        arg_slots = set(self.input_slots)
        self.size = len(nodes)
        rows, last_use = [], {}
        for i, n in enumerate(nodes):
            if i in arg_slots:
                rows.append(None)
                continue
            ins = slot_tuple(index, n.inputs)
            rows.append(ins)
            for j in ins:
                last_use[j] = i
        outs = {index[o] for o in graph.outputs}
        # the steps in run order, one list per field (one tuple per step would be one more
        # object per node for the garbage collector to trace)
        slots, impls, inputs, params, frees, ns = cols = [], [], [], [], [], []
        for i, ins in enumerate(rows):
            if ins is None:
                continue
            n = nodes[i]
            slots.append(i)
            impls.append(n.prim.impl)
            inputs.append(ins)
            params.append(n.params if n.attrs else _NO_PARAMS)
            if len(ins) == 1:
                j = ins[0]
                frees.append((j,) if last_use[j] == i and j not in outs else ())
            else:
                frees.append(tuple([j for j in set(ins) if last_use[j] == i and j not in outs]))
            ns.append(n)
        self._columns = cols
        self.output_slots = [index[o] for o in graph.outputs]
        self.output_dtypes = [o.dtype for o in graph.outputs]
        self.donate = getattr(graph, "donate", ())

    @property
    def steps(self):
        """The steps in run order: (slot, impl, input slots, params, slots freed, node)."""
        return list(zip(*self._columns))

    def __call__(self, *args, debug_nans=False):
        env = [None] * self.size
        for slot, v in zip(self.input_slots, args):
            if slot is not None:
                env[slot] = v
        check = debug_nans
        for i, impl, ins, params, free, node in zip(*self._columns):
            vals = [env[j] for j in ins]
            out = impl(*vals, **params)
            if check:
                check_nan(node.op_name, vals, out, node.origin)
            env[i] = out
            for j in free:
                env[j] = None
        outs, seen = [], set()
        for i, d in zip(self.output_slots, self.output_dtypes):
            v = owned(env[i], d)
            if id(v) in seen and isinstance(v, np.ndarray):
                v = np.array(v)             # one output, one buffer
            seen.add(id(v))
            outs.append(v)
        if self.donate:
            return donate(outs, args, self.donate)
        return outs


def donate(outs, args, pairs):
    """Outputs with each donated one (``compiler.donation``: pairs (output index, input
    index)) copied into the input's array, which is returned in its place, once every
    value is computed; an output that is a donated input passed through is a copy."""
    given = {id(args[j]) for _, j in pairs}
    outs = [np.array(o) if id(o) in given else o for o in outs]
    for i, j in pairs:
        buf, v = args[j], outs[i]
        if type(buf) is np.ndarray and buf.flags.writeable and buf.shape == np.shape(v):
            np.copyto(buf, v)
            outs[i] = buf
    return outs


def has_nan(v):
    a = np.asarray(v)
    return a.dtype.kind == "f" and bool(np.isnan(a).any())


def new_nan(out, vals):
    """Whether ``out`` has a NaN that no operand explains: decided per element when the
    operands broadcast to the output's shape (``log([nan, -1])`` makes a new NaN at index
    1); for ops that change shapes (reductions, ...), a NaN output from NaN-free operands."""
    a = np.asarray(out)
    if a.dtype.kind != "f":
        return False
    nan = np.isnan(a)
    if not nan.any():
        return False
    for v in vals:
        b = np.asarray(v)
        if b.dtype.kind != "f":
            continue
        bn = np.isnan(b)
        if not bn.any():
            continue
        try:
            nan = nan & ~np.broadcast_to(bn, a.shape)
        except ValueError:
            return False        # a NaN operand of a shape-changing op: it may explain any
        if not nan.any():
            return False
    return True


def check_nan(op, vals, out, origin=None):
    """The one NaN check of tt.config.debug_nans (eager ops and both graph tiers): raise
    NanError when ``out`` has a NaN that no operand in ``vals`` explains (``new_nan``),
    naming the op (and, for gradient nodes, the forward primitive whose rule built it)."""
    if new_nan(out, vals):
        extra = f" in the gradient of {origin}" if origin else ""
        raise NanError(f"{op}: produced NaN from non-NaN inputs{extra}; shapes "
                       f"{[np.shape(v) for v in vals]} -> {np.shape(out)}; set "
                       f"tt.config.debug_nans = False to allow it")
