"""Tracing control flow into region nodes (``tt.cond``/``switch``/``while_loop``/``scan``
inside ``tt.function``).

A body is traced once on fresh symbolic leaves; ``compiler.regions.close`` turns what it
reads from the enclosing trace into explicit operands. Variables assigned inside a body are
state threaded through the region: each becomes an extra carry (loops) or an extra operand
and output (branches), so updates inside loop bodies happen at every iteration, in program
order, and the enclosing trace sees the final values.
"""
from compiler import primitives as P
from compiler.ir import Graph, next_serial
from compiler.regions import Body, close, leaves_like, out_types
from tracer.engine import STATE, make, node_of
from tracer.tracing import record_spliced


def symbols(tensors):
    """Fresh body input leaves shaped like ``tensors`` and traced tensors for them."""
    nodes = leaves_like([P.input(shape=tuple(x.shape), dtype=x.dtype) for x in tensors])
    return nodes, [make(None, n) for n in nodes]


class StateFrame:
    """Variables a body assigns, found by tracing it: ``vars`` grows until a trace finds
    no new ones, then each is threaded through the region. Variables the body reads after
    an update (one of its own, an earlier iteration's or one made before the region) read
    ``straight_through`` of a read made before the region (``sources``), found the same
    way: their gradient is that read's, never through the updates (TensorFlow)."""

    def __init__(self):
        self.ctx = STATE.trace
        self.saved = dict(self.ctx.assigned)
        self.outer = (self.ctx.sources, self.ctx.unsourced, self.ctx.seeded_draws)
        self.vars = []
        self.found = {}                 # id(variable) -> variable: assigned, not yet in vars
        self.sources = {}               # id(variable) -> its read before the region
        self.wanted = {}                # id(variable) -> variable read without a source
        self.fresh = False

    def initial(self):
        """The values the region starts from (the enclosing trace's current values), after
        the reads before the region the last trace asked for (call it before the body's
        serial ``start``: those belong to the enclosing trace)."""
        for k, v in self.wanted.items():
            if k not in self.sources:
                self.sources[k] = node_of(self.ctx.read_variable(v))
        self.fresh = False
        self.vars += self.found.values()
        self.found = {}
        return [make(None, self.saved[id(v)][1]) if id(v) in self.saved
                else self.ctx.capture_variable(v) for v in self.vars]

    def enter(self, leaves):
        self.ctx.regions += 1           # reads inside a body see its carries as they are
        self.ctx.assigned = dict(self.saved)
        for v, leaf in zip(self.vars, leaves):
            self.ctx.assigned[id(v)] = (v, leaf)
        self.ctx.sources = {**self.outer[0], **self.sources}
        self.ctx.unsourced = []
        self.ctx.seeded_draws = {}      # a body's seeded draws move on at every iteration

    def _restore(self):
        self.ctx.regions -= 1
        self.ctx.assigned = self.saved
        for v in self.ctx.unsourced:
            if id(v) not in self.wanted:
                self.wanted[id(v)] = v
                self.fresh = True
        self.ctx.sources, self.ctx.unsourced, self.ctx.seeded_draws = self.outer

    def leave(self):
        """(final value nodes of ``vars``, whether to trace again: the body assigned other
        Variables too or read some that need a source)."""
        now, ids = self.ctx.assigned, {id(v) for v in self.vars}
        finals = [now[id(v)][1] for v in self.vars]
        new = {k: v for k, (v, n) in now.items() if k not in ids and
               (k not in self.saved or self.saved[k][1] is not n)}
        self._restore()
        self.found.update(new)          # threaded from the next trace on (other branches
        return finals, bool(new) or self.fresh      # of this one still lack them)

    def discard(self):
        """Forget assignments made while tracing (a loop's condition)."""
        self._restore()

    def commit(self, nodes):
        for v, n in zip(self.vars, nodes):
            self.ctx.assigned[id(v)] = (v, n)


def close_all(inputs, outputs_per_body, start, hoist=True):
    """Close several bodies over one shared list of captures: ([captured outer nodes],
    [Body per body]); every body's inputs are all capture leaves then ``inputs[k]``."""
    closed = [close(ins, outs, start, hoist) for ins, outs in zip(inputs, outputs_per_body)]
    captured, seen = [], {}
    for caps, _ in closed:
        for c in caps:
            if id(c) not in seen:
                seen[id(c)] = len(captured)
                captured.append(c)
    bodies = []
    for (caps, g), ins in zip(closed, inputs):
        leaves = leaves_like(captured)
        for c, leaf in zip(caps, g.inputs[:len(caps)]):
            leaves[seen[id(c)]] = leaf
        bodies.append(Body(Graph(leaves + list(ins), g.outputs)))
    return captured, bodies


def results(node, operands, captured, count):
    """Tensors for a region's outputs, recorded on tapes that watch an operand."""
    gets = [P.tuple_get(node, index=i) for i in range(count)]
    res = [make(None, g) for g in gets]
    args = list(operands) + [make(None, c) for c in captured]
    record_spliced(args, [node] + gets, res)
    return res


def trace_branches(index, fns, ops, trace_one):
    """A cond node choosing among ``fns`` by ``index``; ``trace_one(k, fn, args)`` runs a
    branch on symbolic operands and returns its output tensors (checked by the caller).
    Returns the output tensors (the branches' outputs, then nothing else)."""
    frame = StateFrame()
    while True:
        extra = frame.initial()
        start = next_serial()
        leaves_per, outs_per = [], []
        retry = False
        for k, fn in enumerate(fns):
            leaves, args = symbols(ops + extra)
            frame.enter(leaves[len(ops):])
            outs = trace_one(k, fn, args[:len(ops)])
            finals, new = frame.leave()
            retry = retry or new
            leaves_per.append(leaves)
            outs_per.append([node_of(t) for t in outs] + finals)
        if not retry:
            break
    captured, bodies = close_all(leaves_per, outs_per, start, hoist=False)
    operands = ops + extra
    node = P.cond(node_of(index), *captured, *[node_of(t) for t in operands],
                  branches=tuple(bodies), out_types=out_types(bodies[0].outputs))
    res = results(node, [index] + operands, captured, len(outs_per[0]))
    n = len(res) - len(extra)
    frame.commit([t._node for t in res[n:]])
    return res[:n]


def trace_while(carry, trace_cond, trace_body, limit):
    """A while_loop node; ``trace_cond(args)`` returns the predicate tensor and
    ``trace_body(args)`` the new carry tensors. Returns the final carry tensors."""
    frame = StateFrame()
    while True:
        extra = frame.initial()
        start = next_serial()
        leaves, args = symbols(carry + extra)
        frame.enter(leaves[len(carry):])
        p = trace_cond(args[:len(carry)])
        frame.discard()
        frame.enter(leaves[len(carry):])
        outs = trace_body(args[:len(carry)])
        finals, retry = frame.leave()
        if not retry:
            break
    state = carry + extra
    captured, (c_body, b_body) = close_all(
        [leaves, leaves], [[node_of(p)], [node_of(t) for t in outs] + finals], start)
    node = P.while_loop(*captured, *[node_of(t) for t in state], cond=c_body, body=b_body,
                        n_consts=len(captured), max_iter=limit,
                        out_types=out_types([node_of(t) for t in state]))
    res = results(node, state, captured, len(state))
    frame.commit([t._node for t in res[len(carry):]])
    return res[:len(carry)]


def trace_scan(carry, xleaves, trace_body, length, reverse):
    """A scan node; ``trace_body(carry_args, x_args)`` returns (new carry tensors, y
    tensors). Returns (final carry tensors, stacked y tensors)."""
    frame = StateFrame()
    while True:
        extra = frame.initial()
        start = next_serial()
        leaves, cargs = symbols(carry + extra)
        x_nodes, xargs = symbols([_Slice(x) for x in xleaves])
        frame.enter(leaves[len(carry):])
        new_carry, ys = trace_body(cargs[:len(carry)], xargs)
        finals, retry = frame.leave()
        if not retry:
            break
    state = carry + extra
    outs = [node_of(t) for t in new_carry] + finals + [node_of(t) for t in ys]
    captured, (body,) = close_all([leaves + x_nodes], [outs], start)
    types = out_types([node_of(t) for t in state]) + tuple(
        ((length,) + tuple(y.shape), y.dtype.str) for y in ys)
    node = P.scan(*captured, *[node_of(t) for t in state + xleaves], body=body,
                  n_consts=len(captured), n_carry=len(state), length=length,
                  reverse=bool(reverse), out_types=types)
    res = results(node, state + xleaves, captured, len(types))
    frame.commit([t._node for t in res[len(carry):len(state)]])
    return res[:len(carry)], res[len(state):]


class _Slice:
    """Shape and dtype of one step of an xs leaf."""

    def __init__(self, x):
        self.shape, self.dtype = tuple(x.shape[1:]), x.dtype
