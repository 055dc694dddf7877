"""One traced signature of a ``tt.function`` (``Entry``): its optimised graph, its
bindings (captured tensors, Variables), how its outputs are rebuilt, and how a call runs it.
"""
import numpy as np

from compiler import pipeline
from compiler import primitives as P
from compiler.ir import Graph, toposort
import runtime
from tracer import nest
from tracer.argvars import ArgumentVariable, bind
from tracer.convert import convert_to_tensor
from tracer.recording import make, watching
from tracer.state import STATE
from tracer.tensor import Tensor


class Entry:
    """The optimised graph of one signature, its bindings and (once run) its executable."""

    def __init__(self, graph, captured, variables, plan, rebuild, inline_only, updated=(),
                 trace=None, rereads=(), tape_graph=None):
        self.graph = graph
        # the traced graph (not optimised) with the reads of Variables after their updates
        # as outputs too, before the updates: what tapes over a call record (``rereads``:
        # (Variable index, output index); ``note_rereads``); None when there are none
        self.tape_graph = tape_graph
        self.updated = list(updated)   # Variables whose new values are the last outputs
        self.captured = [t for t, _ in captured]
        self.cvals = [t._value for t in self.captured]
        self.variables = [v for v, _ in variables]
        # stand-ins of its Variable arguments (``trace``'s): (index in variables,
        # stand-in), bound per call; other Variables (an enclosing trace's stand-ins too)
        # are bound as themselves
        self.standins = [(i, v) for i, v in enumerate(self.variables)
                         if isinstance(v, ArgumentVariable) and v._trace is trace]
        own = {id(v) for _, v in self.standins}
        self.captured_ids = {id(v): i for i, v in enumerate(self.variables)
                             if id(v) not in own}
        at = {id(v): i for i, v in enumerate(self.variables)}
        self.updated_at = [at[id(v)] for v in self.updated]
        first = len(tape_graph.outputs) - len(self.updated) - len(rereads) if rereads else 0
        self.rereads = [(at[id(v)], first + k) for k, v in enumerate(rereads)]
        self.writes = [False] * len(self.variables)   # per Variable: updated by the graph
        for i in self.updated_at:
            self.writes[i] = True
        # Variables only read (not updated): an output may be one's buffer passed through
        self.read_only = not all(self.writes)
        # held while a call runs: a Variable it updates is shared state (random draws)
        self.lock = next((v._update_lock for v in self.updated
                          if v._update_lock is not None), None)
        self.plan = plan            # per output leaf: graph output index, or ("const", x)
        self.rebuild = nest.compiled(rebuild) if rebuild is not None else None
        self.single = rebuild is None
        self.dtypes = [n.dtype for n in graph.outputs]
        self.inline_only = inline_only
        self.raw = False                # graph not optimised yet (see Staged._trace)
        self.donate = ()                # (output, input): the graph's Graph.donate
        self.plain = self.single and not (self.cvals or self.variables or self.updated)
        self.exe = None

    def executable(self):
        if self.exe is None:
            if self.raw:                # traced inside another trace: optimised on first run
                self.graph, self.raw = optimized(self.graph, self.donate), False
            self.exe = runtime.executable(self.graph)
        return self.exe

    def bind(self, passed):
        """The Variables of one call, in graph input order: the captured ones and those
        bound to the stand-ins of the Variable arguments ``passed``."""
        return bind(self.variables, self.standins, passed) if self.standins else \
            self.variables

    def run(self, values, passed=()):
        exe = self.exe or self.executable()
        if self.plain:                  # no captures, Variables or updates; one output
            if exe.settings["debug_nans"]:
                return make(exe(*values)[0])
            return make(exe.run_tier(*values)[0])
        if self.lock is not None:
            with self.lock:
                return self._run_with_state(exe, values, passed)
        return self._run_with_state(exe, values, passed)

    def _run_with_state(self, exe, values, passed):
        """``run`` for entries with captures, Variables or several outputs."""
        if self.cvals:
            values = values + self.cvals
        variables = self.bind(passed)
        if variables:
            # updated Variables give their buffers up: compiled code writes the new values
            # there (graph.donate)
            values = values + [v._own_buffer() if w else v._tensor._value
                               for v, w in zip(variables, self.writes)]
        outs = exe(*values)             # owned arrays of the outputs' dtypes (both tiers)
        if self.read_only:
            outs = self.unalias(outs, variables)
        if self.updated:
            self.write_back(outs, variables)
        if self.single:
            return make(outs[0])
        return self.wrap([make(v) for v in outs])

    def unalias(self, outs, variables):
        """Copy the outputs that are a read-only Variable's buffer passed through (read and
        returned), so the Variable can later be updated in place."""
        bufs = {id(v._tensor._value) for v, w in zip(variables, self.writes) if not w}
        if not any(id(o) in bufs for o in outs):
            return outs
        return [np.array(o) if id(o) in bufs else o for o in outs]

    def write_back(self, outs, variables, keep=False):
        """Store the updated Variables' new values (the graph's last outputs): compiled
        code returns a Variable's own buffer when it wrote the value there; any other
        array is copied into the buffer (or becomes it, copied if the caller also gets
        it). ``keep``: the outputs are also held elsewhere (a tape)."""
        k = len(self.updated)
        new = outs[len(outs) - k:]
        for v, val in zip([variables[i] for i in self.updated_at], new):
            if val is v._tensor._value:
                continue
            if keep:                        # the tape holds val too: v must not write it
                v._replace(val)
                v._shared = True
                continue
            if v._shared and sum(o is val for o in outs) > 1:
                val = np.array(val)
            v._write(val)

    def wrap(self, tensors):
        leaves = [tensors[p] if type(p) is int else p[1] for p in self.plan]
        return self.rebuild(leaves)


def donation(first_update, first_variable, variables, updated):
    """(output, input) pairs letting compiled code write each updated Variable's new
    value (outputs from ``first_update``) into its buffer (inputs from
    ``first_variable``): ``Graph.donate``."""
    where = {id(v): first_variable + i for i, v in enumerate(variables)}
    return tuple((first_update + i, where[id(v)]) for i, v in enumerate(updated)
                 if id(v) in where)


def optimized(graph, donate):
    """``graph`` optimised, with its donated inputs."""
    graph = pipeline.optimize(graph)
    return Graph(graph.inputs, graph.outputs, graph.nodes, donate=donate) if donate \
        else graph


def foreign_leaves(outputs, inputs):
    """Input leaves reachable from ``outputs`` that belong to an enclosing trace."""
    bound = {id(n) for n in inputs}
    return [n for n in toposort(outputs, stop=lambda m: id(m) in bound)
            if id(n) not in bound and not n.inputs and n.prim is P.input]


def output_plan(out):
    """Graph outputs and how to rebuild ``out`` from them (``rebuild`` None: one tensor)."""
    if type(out) is Tensor and out._value is None:
        return [out._node], [0], None
    leaves, rebuild = nest.flatten(out)
    nodes, plan = [], []
    for leaf in leaves:
        if type(leaf) is Tensor and leaf._value is None:
            plan.append(len(nodes))
            nodes.append(leaf._node)
        else:
            plan.append(("const", _constant_output(leaf)))
    return nodes, plan, rebuild


_NUMBER_TYPES = (float, int, bool)


def _constant_output(leaf):
    """An output leaf that does not depend on the arguments: numbers and NumPy values
    become tensors (as tf.function and jax.jit return them; a Python float is float32,
    as ``tt.constant`` makes it); None and other objects are returned as they are."""
    if type(leaf) in _NUMBER_TYPES or (isinstance(leaf, (np.ndarray, np.generic)) and
                                       leaf.dtype.kind in "biuf"):
        try:
            return convert_to_tensor(leaf)
        except (TypeError, ValueError):     # a dtype or value tensors cannot hold
            return leaf
    return leaf


def with_rereads(entry, result):
    """The executable's ``result`` tensors (outputs, then updates) with value-less tensors
    at the outputs only the tape graph has (the reads after updates): one per spliced
    output of ``entry.tape_graph``."""
    if entry.tape_graph is None:
        return result
    k = len(entry.updated)
    n = len(result) - k
    return result[:n] + [make(None) for _ in entry.rereads] + result[n:]


def note_rereads(entry, variables, ts, result):
    """Tell the recording tapes that watch a Variable read after its update in the call
    which ``result`` tensors are those reads (sources of the Variable's gradient)."""
    if not entry.rereads or not STATE.tapes:
        return
    for tape in watching(ts) or ():
        for i, k in entry.rereads:
            v = variables[i]
            if tape.watches(v):
                tape.watch_read(v, result[k]._node, result[k]._value)
