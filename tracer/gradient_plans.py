"""How a tape's gradient is run: its targets' seeds, the tensors a source stands for, and
the cached plans (the optimised gradient graph of a recorded structure and its executable)
that let a training loop build its gradient once.
"""
from collections import OrderedDict

from compiler import autodiff, pipeline
from compiler import primitives as P
from compiler.ir import Graph, toposort
import runtime
from tracer import nest
from tracer.convert import convert_to_tensor
from tracer.ops import add as _add
from tracer.recording import node_of
from tracer.state import STATE
from tracer.tensor import Tensor
from tracer.variable import Variable

PLANS = OrderedDict()
MAX_PLANS = 1024


def source_tensor(s, what="source"):
    if isinstance(s, Variable):
        # inside tt.function a Variable stands for its traced value (updates included)
        return s._read() if STATE.trace is not None else s._tensor
    if type(s) is Tensor:
        return s
    raise TypeError(f"GradientTape.gradient: a {what} must be a tensor or Variable, got "
                    f"{type(s).__name__}")


def sum_groups(grads, groups):
    """One gradient per group of consecutive ``grads`` (their sum; None if all are)."""
    out, k = [], 0
    for n in groups:
        total = None
        for g in grads[k:k + n]:
            if g is not None:
                total = g if total is None else _add(total, g)
        out.append(total)
        k += n
    return out


def seed_tensors(output_gradients, tgts):
    if output_gradients is None:
        return [None] * len(tgts)
    leaves, _ = nest.flatten(output_gradients)
    if len(leaves) != len(tgts):
        raise ValueError(f"GradientTape.gradient: {len(leaves)} output_gradients for "
                         f"{len(tgts)} targets; give one per target")
    out = []
    for g, t in zip(leaves, tgts):
        g = convert_to_tensor(g, dtype=t.dtype, op="GradientTape.gradient")
        if g.shape != t.shape:
            raise ValueError(f"GradientTape.gradient: output_gradients entry has shape "
                             f"{g.shape} but its target has shape {t.shape}")
        out.append(g)
    return out


def seed_nodes(pairs, values):
    tnodes, snodes = [], []
    for t, g in pairs:
        tnodes.append(t._node)
        if g is None:
            snodes.append(P.full(1, t.shape, t.dtype))
        else:
            n = node_of(g)
            values[n] = g._value
            snodes.append(n)
    return tnodes, snodes


def eval_graph(outputs, values):
    """A graph computing ``outputs`` whose inputs are the nodes with known values."""
    order = toposort(outputs, stop=values.__contains__)
    inputs = [n for n in order if n in values]
    return Graph(inputs, outputs, nodes=order)


def build_plan(order, index, pairs, src_nodes, values, active):
    tnodes = [t._node for t, _ in pairs]
    seeds, seed_index = [], {}
    for j, (t, g) in enumerate(pairs):
        if g is None:
            seeds.append(P.full(1, t.shape, t.dtype))
        else:
            n = P.input(shape=t.shape, dtype=t.dtype)
            seed_index[n] = -1 - j
            seeds.append(n)
    live_src = [n for n in src_nodes if n is not None]
    cts = autodiff.vjp(tnodes, seeds, live_src, active=active)
    known = {n: True for n in values}
    known.update({n: True for n in seed_index})
    live = [c for c in cts if c is not None]
    graph = pipeline.optimize(eval_graph(live, known))
    refs = [seed_index[n] if n in seed_index else index[n] for n in graph.inputs]
    it = iter(cts)
    slots, dtypes, k = [], [], 0
    for n in src_nodes:
        c = next(it) if n is not None else None
        slots.append(None if c is None else k)
        dtypes.append(None if c is None else c.dtype)
        k += c is not None
    return runtime.executable(graph), refs, slots, dtypes
