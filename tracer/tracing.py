"""Tracing: the context that turns Python calls into graph nodes.

While a ``TraceContext`` is active (``STATE.trace``), operations on traced tensors
build nodes instead of computing values; eager tensors and Variables met along the way
become graph inputs (captures) whose values are bound at each call.
"""
import contextlib

import numpy as np

from compiler import primitives as P
from compiler.ir import toposort
from tracer.argvars import ArgumentVariable
from tracer.errors import TracingError
from tracer.recording import make, node_of, watching
from tracer.state import STATE


class TraceContext:
    """Active while a function is traced (``STATE.trace``): turns eager tensors
    used by traced operations into graph inputs and names the arguments behind a node."""

    def __init__(self, name):
        self.name = name
        self.parent = None
        self.leaves = {}            # id(node) -> description of the argument
        self.arg_nodes = []
        self.captured = []          # (tensor, node): value bound at every call
        self.variables = []         # (variable, node): current value read at every call
        self.assigned = {}          # id(variable) -> (variable, node of its updated value)
        self._memo = {}             # id(tensor or variable) -> (object, node)
        self._standins = {}         # id(Variable passed) -> its ArgumentVariable
        self.n_passed = 0           # Variable arguments met so far
        self.foreign_variables = False  # reads a stand-in of an enclosing trace
        self.regions = 0            # > 0 while a control-flow body is traced (region_trace)
        self.sources = {}           # id(variable) -> its read before the region (in bodies)
        self.unsourced = []         # variables read in a body without one (region_trace)
        self.seeded_draws = {}      # op seed -> its counter read in this body (random_ops)
        self.op_counters = {}       # op seed -> its draw counter Variable (random_ops)
        self.auto_seeds = 0         # op seeds given to unseeded draws so far (random_ops)
        self.rereads = []           # (variable, node): reads after an update (read_variable)
        self._reread = {}           # id(variable) -> (node assigned, its read node)

    def __enter__(self):
        self.parent = STATE.trace
        STATE.trace = self
        return self

    def __exit__(self, *exc):
        STATE.trace = self.parent
        return False

    def argument(self, shape, dtype, description):
        node = P.input(shape=tuple(shape), dtype=np.dtype(dtype))
        self.leaves[id(node)] = description
        self.arg_nodes.append(node)
        return make(None, node)

    def argument_variable(self, variable, description, by_identity=()):
        """The stand-in for the next Variable argument (one per distinct Variable: the
        same one passed twice is one stand-in); the Variable itself when its position is
        in ``by_identity`` (it is also captured, so reads and updates must meet)."""
        k = self.n_passed
        self.n_passed += 1
        if k in by_identity:
            return variable
        hit = self._standins.get(id(variable))
        if hit is None:
            hit = ArgumentVariable(variable.shape, variable.dtype, variable.trainable,
                                   description, self, k)
            self._standins[id(variable)] = hit
        return hit

    def capture(self, tensor):
        hit = self._memo.get(id(tensor))
        if hit is not None:
            return hit[1]
        v = tensor._value
        node = P.input(shape=np.shape(v), dtype=v.dtype)
        self._memo[id(tensor)] = (tensor, node)
        self.captured.append((tensor, node))
        self.leaves[id(node)] = f"a tensor captured by {self.name}"
        return node

    def capture_variable(self, variable):
        hit = self._memo.get(id(variable))
        if hit is None:
            if isinstance(variable, ArgumentVariable) and variable._trace is not self:
                if not variable.live():
                    raise TracingError(variable._no_value())
                self.foreign_variables = True       # bound by the enclosing trace only
            node = P.input(shape=variable.shape, dtype=variable.dtype)
            hit = self._memo[id(variable)] = (variable, node)
            self.variables.append((variable, node))
            self.leaves[id(node)] = f"{_describe_variable(variable)} read by {self.name}"
        return make(None, hit[1])

    def read_variable(self, variable):
        """A traced read: the latest value assigned in this trace, else the value bound at
        call time. Tapes opened inside this trace watch it (trainable variables)."""
        hit = self.assigned.get(id(variable))
        t = self._read_updated(variable, hit[1]) if hit is not None else \
            self.capture_variable(variable)
        if STATE.tapes:
            for tape in STATE.tapes:
                if (tape.watch_accessed and variable.trainable or tape.watches(variable)) \
                        and getattr(tape, "trace", None) is self:
                    tape.watch_traced_variable(variable, t)
        return t

    def _read_updated(self, variable, node):
        """A read of ``variable`` after an update to ``node``: outside control-flow bodies a
        node of its own, ``stop_gradient(node)``, as TensorFlow's reads: the update carries
        no gradient to the value assigned, and the read is a source of the Variable's
        gradient (``rereads``: tapes over the call count it, ``GradientTape.watch_read``).
        Inside a body (where ``node`` may be a loop carry) it is ``straight_through`` of
        the Variable's read before the region: the same value, differentiated as that
        read; the region's tracer finds the reads to make (``unsourced``) and traces the
        body again."""
        if variable.dtype.kind != "f":
            return make(None, node)
        if self.regions:
            source = self.sources.get(id(variable))
            if source is None:
                self.unsourced.append(variable)
                return make(None, node)
            return make(None, P.straight_through(source, node))
        hit = self._reread.get(id(variable))
        if hit is None or hit[0] is not node:
            hit = self._reread[id(variable)] = (node, P.stop_gradient(node))
            self.rereads.append((variable, hit[1]))
        return make(None, hit[1])

    def assign_variable(self, variable, value):
        """Record ``variable = value`` (a tensor of its dtype) in program order."""
        if value.shape != variable.shape or value.dtype != variable.dtype:
            raise ValueError(f"Variable.assign in {self.name}: value has shape {value.shape} "
                             f"and dtype {value.dtype} but {_describe_variable(variable)} "
                             f"has shape {variable.shape} and dtype {variable.dtype}; assign "
                             f"a value of that shape and dtype")
        if id(variable) not in self.assigned:
            self.capture_variable(variable)     # updated variables are read at every call
        self.assigned[id(variable)] = (variable, node_of(value))

    def updates(self):
        """(variable, node of its final value) for every variable assigned, in the order of
        their first reads."""
        return [(v, self.assigned[id(v)][1]) for v, _ in self.variables
                if id(v) in self.assigned]

    def describe(self, node):
        """Which arguments ``node`` depends on, e.g. "argument 'x' (position 0) of f"."""
        found, foreign = [], []
        for n in toposort([node], stop=lambda m: id(m) in self.leaves):
            d = self.leaves.get(id(n))
            if d is not None and d not in found:
                found.append(d)
            elif d is None and not n.inputs and n.prim is P.input:
                foreign.append(n)
        if not found and foreign and self.parent is not None:
            return self.parent.describe(foreign[0])
        if not found:
            return f"a value computed inside {self.name}"
        return " and ".join(found)


def _describe_variable(v):
    return getattr(v, "description", None) or f"variable '{v.name}'"


def substitute(outputs, mapping):
    """Rebuild the nodes between ``outputs`` and the keys of ``mapping`` (id(old) -> new);
    returns the new outputs and the nodes created, in dependency order."""
    new, created = dict(mapping), []
    for n in toposort(outputs, stop=lambda m: id(m) in mapping):
        if id(n) in new:
            continue
        ins = tuple(new[id(x)] for x in n.inputs)
        if all(a is b for a, b in zip(ins, n.inputs)):
            m = n
        else:
            m = n.rebuild(ins)
        created.append(m)
        new[id(n)] = m
    return [new[id(o)] for o in outputs], created


# -- signatures ------------------------------------------------------------------------------

def record_spliced(tensors, created, result):
    """Record spliced nodes on every recording tape that watches one of ``tensors``."""
    if not STATE.tapes:
        return
    hit = watching(tensors)
    if not hit or not result:
        return
    for tape in hit:
        first = result[0]
        tape.record(first._node, first._value, tensors, created)
        for t in result[1:]:
            if t._value is not None:
                tape.values[t._node] = t._value




# -- creating Variables while tracing -------------------------------------------------------

@contextlib.contextmanager
def variable_creation():
    """Allow ``tt.Variable(...)`` while a function is traced, for state that a library
    creates lazily on the first call (an optimizer's slots): the new Variables are ordinary
    state of the function from then on. Their initial values must be concrete (built from
    shapes, e.g. ``tt.zeros(v.shape)``), not computed from traced values."""
    STATE.creating_variables += 1
    try:
        yield
    finally:
        STATE.creating_variables -= 1
