"""What a ``GradientTape`` records: the nodes it watches or recorded, their eager values,
the Variables it watched with each one's reads, and a structural log of the recording.

A tape holds ``active`` (nodes it watches or recorded) and ``values`` (the eager value of
each recorded output and of each constant it saw as an input), and logs every node it
records as one structural row, in recording order (a topological order), so a gradient
can key the recorded graph without walking it. ``tracer.tape.GradientTape`` is a
``Recorder`` that differentiates what it recorded.
"""
from compiler.ir import dtype_str, slots, toposort
from tracer import nest
from tracer.recording import make, node_of
from tracer.state import STATE
from tracer.tensor import Tensor
from tracer.variable import Variable


class Recorder:
    """The recording half of ``GradientTape``: its context, what it watches, its log."""

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
        return Recorder._Pause(self)

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


def _constant_row(m):
    """The log row of a constant: a literal by its value, any other by shape and dtype."""
    return m.sig if m.prim.name == "literal" else ("const", m.shape, dtype_str(m.dtype))
