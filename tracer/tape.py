"""``tt.GradientTape``: records symbols, differentiates them symbolically, runs the result.

A tape holds ``active`` (nodes it watches or recorded) and ``values`` (the eager value of
each recorded output and of each constant it saw as an input). ``gradient`` walks the
recorded subgraph, keys it by structure, and reuses a cached plan (the optimised gradient
graph and its executable) when the structure was seen before: a training loop builds its
gradient once. When another tape is recording, the gradient is also returned as symbols
and added to that tape, which is how nested tapes give higher-order derivatives.
"""
import enum
from collections import OrderedDict

import numpy as np

from compiler import autodiff, batching, pipeline
from compiler import primitives as P
from compiler.ir import Graph, dtype_str, slots, toposort
import runtime
from tracer import nest
from tracer.batch_jacobian import batch_jacobian as _batch_jacobian
from tracer.convert import convert_to_tensor
from tracer.engine import as_value
from tracer.ops import add as _add
from tracer.recording import make, node_of
from tracer.shape_ops import reshape
from tracer.state import STATE
from tracer.tensor import Tensor
from tracer.variable import Variable

_PLANS = OrderedDict()
_MAX_PLANS = 1024


class GradientTape:
    """Records operations on watched tensors for automatic differentiation."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = bool(persistent)
        self.watch_accessed = bool(watch_accessed_variables)
        self.active = set()
        # watched nodes this tape did not record (computed before it, or recorded by another
        # tape): sources and constants to it, never differentiated through (as TensorFlow)
        self._leaves = set()
        self.values = {}
        # the recording in order (a topological order): one structural row per node, so
        # gradient() can key the recorded graph without walking it
        self._log, self._order, self._index = [], [], {}
        self._variables = {}
        self._reads = {}        # id(Variable) -> nodes of its watched reads (see watch_read)
        self._recording = False
        self._used = False

    # -- context -------------------------------------------------------------------------
    def __enter__(self):
        if self._recording:
            raise RuntimeError("GradientTape: this tape is already recording; tapes cannot "
                               "be entered twice at once")
        self._push()
        return self

    def __exit__(self, *exc):
        self._pop()
        return False

    def _push(self):
        STATE.tapes.append(self)
        self._recording = True
        self.trace = STATE.trace        # a tape opened inside tt.function watches its reads

    def _pop(self):
        if self._recording:
            tapes = STATE.tapes
            for i in range(len(tapes) - 1, -1, -1):
                if tapes[i] is self:
                    del tapes[i]
                    break
            self._recording = False

    class _Pause:
        def __init__(self, tape):
            self.tape = tape

        def __enter__(self):
            self.was = self.tape._recording
            self.tape._pop()

        def __exit__(self, *exc):
            if self.was:
                self.tape._push()
            return False

    def stop_recording(self):
        """Context manager in which operations are not recorded on this tape."""
        if not self._recording:
            raise ValueError("GradientTape.stop_recording: the tape is not recording; use it "
                             "inside the tape's `with` block")
        return GradientTape._Pause(self)

    def reset(self):
        """Forget everything recorded so far (the tape keeps recording if it was)."""
        self.active.clear()
        self._leaves.clear()
        self.values.clear()
        self._log, self._order, self._index = [], [], {}
        self._variables.clear()
        self._reads.clear()
        self._used = False

    # -- watching ------------------------------------------------------------------------
    def watch(self, tensor):
        """Watch tensors (nested lists/tuples/dicts allowed) on this tape and on every
        enclosing tape recording now."""
        leaves, _ = nest.flatten(tensor, "GradientTape.watch")
        tapes = [self]
        for t in STATE.tapes:
            if t is not self and t._recording:
                tapes.append(t)
        for x in leaves:
            if isinstance(x, Variable):
                for tape in tapes:
                    tape.watch_variable(x)
            elif type(x) is Tensor:
                if x.dtype.kind != "f":
                    continue  # integer/bool tensors have no gradient (TensorFlow warns)
                for tape in tapes:
                    tape._watch_tensor(x)
            else:
                raise ValueError(f"GradientTape.watch: got {type(x).__name__}; only tensors "
                                 f"and Variables can be watched (convert with tt.constant)")

    def _watch_tensor(self, t):
        n = node_of(t)
        if n.inputs and n not in self.active:
            self._leaves.add(n)
        self.active.add(n)
        if t._value is not None:
            self.values[n] = t._value
        if n not in self._index:
            self._note(n, ("watched", n.shape, dtype_str(n.dtype)))

    def watch_variable(self, v):
        t = v._share()                          # the tape keeps its buffer's value
        self._watch_tensor(t)
        self._variables[id(v)] = v
        self._note_read(v, t._node)

    def watch_traced_variable(self, v, t):
        """Inside tt.function: watch ``t``, the traced value read from Variable ``v``."""
        self._watch_tensor(t)
        self._variables[id(v)] = v
        self._note_read(v, t._node)

    def watch_read(self, v, node, value=None):
        """``node`` (recorded on this tape) is a read of Variable ``v`` after an update in
        a compiled function: a source of ``v``'s gradient, not differentiated through (an
        update carries no gradient to the value assigned, as TensorFlow)."""
        if node not in self.active:
            return
        self._leaves.add(node)
        if value is not None:
            self.values[node] = value
        self._variables[id(v)] = v
        self._note_read(v, node)

    def _note_read(self, v, node):
        self._reads.setdefault(id(v), {})[node] = None      # in order, each once

    def _variable_sources(self, v, t):
        """Tensors for every read of Variable ``v`` this tape watched (``t``: its value now,
        first): the gradient with respect to ``v`` sums over them (TensorFlow's reads of
        one resource)."""
        out = [t]
        for n in self._reads.get(id(v), ()):
            if n is not t._node and n in self.active:
                out.append(make(self.values.get(n), n))
        return out

    def watches(self, v):
        """Whether this tape watches Variable ``v`` (its later reads are watched too)."""
        return id(v) in self._variables

    def watched_variables(self):
        return tuple(self._variables.values())

    def _note(self, n, row):
        self._index[n] = len(self._log)
        self._log.append(row)
        self._order.append(n)

    def record(self, node, value, args, new_nodes):
        active, values = self.active, self.values
        if value is not None:
            values[node] = value
        for a in args:
            if type(a) is Tensor:
                n = a._node
                if n not in active and a._value is not None:
                    values[n] = a._value
        for n in new_nodes:
            for x in n.inputs:
                if x in active:
                    active.add(n)
                    self._log_node(n)
                    break

    def _log_node(self, n):
        index = self._index
        try:
            ins = slots(index, n.inputs)
        except KeyError:             # first sight of a constant input: log it first
            for x in n.inputs:
                if x not in index:
                    self._log_constant(x)
            ins = tuple([index[x] for x in n.inputs])
        log = self._log
        index[n] = len(log)
        log.append((n.sig, ins, n in self.values))
        self._order.append(n)

    def _log_constant(self, x):
        """Log an input this tape does not differentiate through: a value it holds or a
        leaf as a constant row, or one computed from such (e.g. a broadcast of an unwatched
        operand) as computed rows over them."""
        index, values = self._index, self.values
        if not x.inputs or x in values:
            self._note(x, _constant_row(x))
            return
        if all(y in index or not y.inputs for y in x.inputs):    # e.g. a broadcast literal
            for y in x.inputs:
                if y not in index:
                    self._note(y, _constant_row(y))
            self._note(x, (x.sig, tuple([index[y] for y in x.inputs]), False))
            return
        for m in toposort([x], stop=lambda m: m in index or m in values or not m.inputs):
            if m in index:
                continue
            if m.inputs and m not in values:
                self._note(m, (m.sig, tuple([index[y] for y in m.inputs]), False))
            else:
                self._note(m, _constant_row(m))

    # -- gradients -----------------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients="none"):
        """d(sum of targets)/d(sources), shaped like ``sources``; None where unconnected."""
        unconnected_gradients = _unconnected(unconnected_gradients, "gradient")
        self._use()
        src_leaves, rebuild = nest.flatten(sources, "GradientTape.gradient")
        srcs = [_source_tensor(s) for s in src_leaves]
        tgt_leaves, _ = nest.flatten(target, "GradientTape.gradient")
        tgts = [_source_tensor(t, "target") for t in tgt_leaves]
        seeds = _seeds(output_gradients, tgts)
        expanded, groups = self._expand_sources(src_leaves, srcs)
        grads = _sum_groups(self._gradients(tgts, seeds, expanded), groups)
        grads = self._targets_as_sources(tgts, seeds, srcs, grads)
        if unconnected_gradients == "zero":
            grads = [make(np.zeros(s.shape, s.dtype)[()]) if g is None and s.dtype.kind == "f"
                     else g for g, s in zip(grads, srcs)]
        return rebuild(grads)

    def _expand_sources(self, leaves, srcs):
        """(source tensors, per source the number of them): a Variable stands for every
        read of it this tape watched."""
        expanded, groups = [], []
        for leaf, s in zip(leaves, srcs):
            ts = self._variable_sources(leaf, s) if isinstance(leaf, Variable) and \
                id(leaf) in self._reads else [s]
            expanded += ts
            groups.append(len(ts))
        return expanded, groups

    def _targets_as_sources(self, tgts, seeds, srcs, grads):
        """A target that is itself a source (``tape.gradient(v, v)``, a Variable returned
        as it is) contributes its seed to its own gradient even when no recorded operation
        produced it, as TensorFlow (its tape adds a source's own seed)."""
        active = self.active
        out = list(grads)
        for t, g in zip(tgts, seeds):
            if t.dtype.kind != "f" or (t._node is not None and t._node in active):
                continue            # recorded targets reach their sources through the walk
            for i, s in enumerate(srcs):
                if s is t:
                    seed = g if g is not None else make(np.ones(t.shape, t.dtype)[()])
                    out[i] = seed if out[i] is None else out[i] + seed
        return out

    def _gradients(self, tgts, seeds, srcs):
        active = self.active
        src_nodes = [s._node if s._node is not None and s._node in active and
                     s.dtype.kind == "f" else None for s in srcs]
        pairs = [(t, g) for t, g in zip(tgts, seeds) if t._node is not None and
                 t._node in active and t.dtype.kind == "f"]
        if not pairs or all(n is None for n in src_nodes):
            return [None] * len(srcs)
        outer = [t for t in STATE.tapes if t._recording and
                 any(n in t.active for n in [p[0]._node for p in pairs] + src_nodes)] \
            if STATE.tapes else ()
        traced = any(t._value is None for t, _ in pairs)
        if outer or traced:
            return self._symbolic(pairs, src_nodes, outer, traced)
        return self._planned(pairs, src_nodes)

    def _symbolic(self, pairs, src_nodes, outer, traced):
        """Build the gradient as nodes, run it (unless traced), add it to outer tapes."""
        values = dict(self.values)
        tnodes, snodes = _seed_nodes(pairs, values)
        cts = autodiff.vjp(tnodes, snodes, [n for n in src_nodes if n is not None],
                           active=self._differentiable())
        cts = iter(cts)
        cts = [next(cts) if n is not None else None for n in src_nodes]
        done = iter(self._evaluate([c for c in cts if c is not None], values, outer, traced))
        return [next(done) if c is not None else None for c in cts]

    def _evaluate(self, nodes, values, outer, traced):
        """Tensors for gradient ``nodes`` over this tape's recorded ``values``: computed
        now (unless traced inside tt.function), and added to the ``outer`` recording tapes,
        which can differentiate them again."""
        if traced:
            for tape in outer:
                _register(tape, nodes, None, values)
            return [make(None, n) for n in nodes]
        graph = pipeline.optimize(_eval_graph(nodes, values))
        outs = runtime.executable(graph)(*[values[n] for n in graph.inputs])
        results = [make(as_value(v, n.dtype), n) for n, v in zip(graph.outputs, outs)]
        for tape in outer:
            _register(tape, graph.outputs, [r._value for r in results], values)
        return results

    def _planned(self, pairs, src_nodes):
        """The fast path: key the recorded structure, reuse the cached plan."""
        tnodes = [t._node for t, _ in pairs]
        values = self.values
        order, index, rows = self._order, self._index, tuple(self._log)
        seed_sig = tuple(None if g is None else (g.shape, g.dtype.str) for _, g in pairs)
        key = (rows, tuple(index[n] for n in tnodes),
               tuple(index.get(n, -1) if n is not None else -1 for n in src_nodes), seed_sig)
        plan = _PLANS.get(key)
        if plan is None:
            plan = _build_plan(order, index, pairs, src_nodes, values, self._differentiable())
            _PLANS[key] = plan
            if len(_PLANS) > _MAX_PLANS:
                _PLANS.popitem(last=False)
        executable, refs, slots, dtypes = plan
        args = [values[order[i]] if i >= 0 else pairs[-1 - i][1]._value for i in refs]
        outs = executable(*args)
        return [None if s is None else make(as_value(outs[s], d))
                for s, d in zip(slots, dtypes)]

    def _differentiable(self):
        """The autodiff boundary: nodes this tape recorded or watched, where watched nodes
        it did not record are leaves."""
        active, leaves = self.active, self._leaves
        if not leaves:
            return active.__contains__
        return lambda n: n in active and n not in leaves

    def _use(self):
        """Start a gradient computation: a non-persistent tape allows one and stops
        recording at it (as TensorFlow)."""
        if self._used and not self._persistent:
            raise RuntimeError("GradientTape.gradient can only be called once on "
                               "non-persistent tapes.")
        if self._recording and not self._persistent:
            self._pop()
        self._used = True

    def jacobian(self, target, sources, unconnected_gradients="none",
                 experimental_use_pfor=True, parallel_iterations=None):
        """d target[i...] / d source[j...], shaped target.shape + source.shape: one
        gradient sweep batched over the basis of the target's space (TensorFlow's pfor),
        whose result outer tapes can differentiate again."""
        unconnected_gradients = _unconnected(unconnected_gradients, "jacobian")
        self._use()
        src_leaves, rebuild = nest.flatten(sources)
        srcs = [_source_tensor(s) for s in src_leaves]
        t = _source_tensor(target, "target")
        expanded, groups = self._expand_sources(src_leaves, srcs)
        rows = _sum_groups(self._batched_vjp(
            t, expanded, lambda: batching.basis(t.size, t.shape, t.dtype), t.size),
            groups) if t.size else [None] * len(srcs)
        out = []
        for r, s in zip(rows, srcs):
            if r is not None:
                out.append(reshape(r, t.shape + s.shape))
            elif t.size and unconnected_gradients == "none":
                out.append(None)
            else:
                out.append(make(np.zeros(t.shape + s.shape, s.dtype)))
        return rebuild(out)

    def _batched_vjp(self, t, srcs, cotangents, size):
        """Per source, (size,) + source.shape: one VJP of ``t`` batched over the
        ``cotangents()`` node, (size,) + t.shape (row k: its k-th cotangent's gradient);
        None where unconnected. The rows are added to outer recording tapes."""
        active = self.active
        src_nodes = [s._node if s._node is not None and s._node in active and
                     s.dtype.kind == "f" else None for s in srcs]
        live_src = [n for n in src_nodes if n is not None]
        if t._node is None or t._node not in active or t.dtype.kind != "f" or not live_src:
            return [None] * len(srcs)
        u = P.input(shape=t.shape, dtype=t.dtype)
        cts = iter(autodiff.vjp([t._node], [u], live_src, active=self._differentiable()))
        cts = [next(cts) if n is not None else None for n in src_nodes]
        live = [c for c in cts if c is not None]
        if not live:
            return [None] * len(srcs)
        rows = batching.batch_graph(live, {id(u): cotangents()}, size)
        outer = [tape for tape in STATE.tapes if tape._recording and
                 any(n in tape.active for n in [t._node] + live_src)]
        done = iter(self._evaluate(rows, dict(self.values), outer, t._value is None))
        return [next(done) if c is not None else None for c in cts]

    def batch_jacobian(self, target, source, unconnected_gradients="none",
                       parallel_iterations=None, experimental_use_pfor=True):
        """Per-example Jacobians (TensorFlow): target (b, y...) and source (b, x...) give
        (b, y..., x...), example i of target depending only on example i of source."""
        unconnected_gradients = _unconnected(unconnected_gradients, "batch_jacobian")
        self._use()
        src = _source_tensor(source)
        expanded, groups = self._expand_sources([source], [src])

        def batched_vjp(t, srcs, cotangents, size):     # a Variable: over all its reads
            return _sum_groups(self._batched_vjp(t, expanded, cotangents, size), groups)
        return _batch_jacobian(batched_vjp, _source_tensor(target, "target"), src,
                               unconnected_gradients)



class UnconnectedGradients(enum.Enum):
    """What a gradient is where a source does not reach the target (TensorFlow's
    ``tf.UnconnectedGradients``): ``NONE`` gives None, ``ZERO`` zeros."""
    NONE = "none"
    ZERO = "zero"


def _unconnected(value, op):
    """'none' or 'zero' from the string or the ``UnconnectedGradients`` member."""
    v = value.value if isinstance(value, UnconnectedGradients) else value
    if v not in ("none", "zero"):
        raise ValueError(f"GradientTape.{op}: unconnected_gradients must be 'none' or 'zero' "
                         f"(or a tt.UnconnectedGradients member), got {value!r}")
    return v


def _constant_row(m):
    """The log row of a constant: a literal by its value, any other by shape and dtype."""
    return m.sig if m.prim.name == "literal" else ("const", m.shape, dtype_str(m.dtype))


def _source_tensor(s, what="source"):
    if isinstance(s, Variable):
        # inside tt.function a Variable stands for its traced value (updates included)
        return s._read() if STATE.trace is not None else s._tensor
    if type(s) is Tensor:
        return s
    raise TypeError(f"GradientTape.gradient: a {what} must be a tensor or Variable, got "
                    f"{type(s).__name__}")


def _sum_groups(grads, groups):
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


def _seeds(output_gradients, tgts):
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


def _seed_nodes(pairs, values):
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


def _eval_graph(outputs, values):
    """A graph computing ``outputs`` whose inputs are the nodes with known values."""
    order = toposort(outputs, stop=values.__contains__)
    inputs = [n for n in order if n in values]
    return Graph(inputs, outputs, nodes=order)


def _build_plan(order, index, pairs, src_nodes, values, active):
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
    graph = pipeline.optimize(_eval_graph(live, known))
    refs = [seed_index[n] if n in seed_index else index[n] for n in graph.inputs]
    it = iter(cts)
    slots, dtypes, k = [], [], 0
    for n in src_nodes:
        c = next(it) if n is not None else None
        slots.append(None if c is None else k)
        dtypes.append(None if c is None else c.dtype)
        k += c is not None
    return runtime.executable(graph), refs, slots, dtypes


def _register(tape, outputs, out_values, values):
    """Add a gradient's nodes to an outer tape so it can differentiate them again."""
    active = tape.active
    order = toposort(outputs, stop=lambda n: n in active or not n.inputs)
    for n in order:
        if n not in active and any(x in active for x in n.inputs):
            active.add(n)
            tape._log_node(n)
    for n in order:
        if n not in active and n in values:
            tape.values[n] = values[n]
    for n, v in zip(outputs, out_values or ()):
        tape.values[n] = v
