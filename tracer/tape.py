"""``tt.GradientTape``: records symbols, differentiates them symbolically, runs the result.

A tape holds ``active`` (nodes it watches or recorded) and ``values`` (the eager value of
each recorded output and of each constant it saw as an input). ``gradient`` walks the
recorded subgraph, keys it by structure, and reuses a cached plan (the optimised gradient
graph and its executable) when the structure was seen before: a training loop builds its
gradient once. When another tape is recording, the gradient is also returned as symbols
and added to that tape, which is how nested tapes give higher-order derivatives.
"""
import enum

import numpy as np

from compiler import autodiff, batching, pipeline
from compiler import primitives as P
from compiler.ir import toposort
import runtime
from tracer import nest
from tracer.batch_jacobian import batch_jacobian as _batch_jacobian
from tracer.engine import as_value
from tracer.gradient_plans import MAX_PLANS, PLANS, build_plan, eval_graph, seed_nodes, \
    seed_tensors, source_tensor, sum_groups
from tracer.recorder import Recorder
from tracer.recording import make
from tracer.shape_ops import reshape
from tracer.state import STATE
from tracer.variable import Variable


class GradientTape(Recorder):
    """Records operations on watched tensors for automatic differentiation."""

    # -- gradients -----------------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients="none"):
        """d(sum of targets)/d(sources), shaped like ``sources``; None where unconnected."""
        unconnected_gradients = _unconnected(unconnected_gradients, "gradient")
        self._use()
        src_leaves, rebuild = nest.flatten(sources, "GradientTape.gradient")
        srcs = [source_tensor(s) for s in src_leaves]
        tgt_leaves, _ = nest.flatten(target, "GradientTape.gradient")
        tgts = [source_tensor(t, "target") for t in tgt_leaves]
        seeds = seed_tensors(output_gradients, tgts)
        expanded, groups = self._expand_sources(src_leaves, srcs)
        grads = sum_groups(self._gradients(tgts, seeds, expanded), groups)
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
        tnodes, snodes = seed_nodes(pairs, values)
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
        graph = pipeline.optimize(eval_graph(nodes, values))
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
        plan = PLANS.get(key)
        if plan is None:
            plan = build_plan(order, index, pairs, src_nodes, values, self._differentiable())
            PLANS[key] = plan
            if len(PLANS) > MAX_PLANS:
                PLANS.popitem(last=False)
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
        srcs = [source_tensor(s) for s in src_leaves]
        t = source_tensor(target, "target")
        expanded, groups = self._expand_sources(src_leaves, srcs)
        rows = sum_groups(self._batched_vjp(
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
        src = source_tensor(source)
        expanded, groups = self._expand_sources([source], [src])

        def batched_vjp(t, srcs, cotangents, size):     # a Variable: over all its reads
            return sum_groups(self._batched_vjp(t, expanded, cotangents, size), groups)
        return _batch_jacobian(batched_vjp, source_tensor(target, "target"), src,
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
