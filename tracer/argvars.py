"""Stand-ins for Variables passed as arguments to a traced function.

``tt.function`` keys a Variable argument by its shape, dtype and trainable flag, not by
identity. While tracing, each Variable argument (also inside list, tuple and dict
arguments) is an ``ArgumentVariable`` of that shape, dtype and flag, which the traced
program reads and assigns like a captured Variable (a graph input read at each call, its
updates written back in place). At each call the stand-ins are bound to the Variables
actually passed (``resolve``), so one trace serves every Variable of that signature.

Derived stand-ins: state that a library keys by Variable (an optimizer's slots) is made,
for a stand-in, as a stand-in derived from it (``derive``): at each call its binding is
computed from the Variable bound to its parent (the slots of the Variable passed).

Invariants:
- A stand-in has no value of its own: converting it to NumPy or a Python number raises
  ``TracingError`` naming the argument, and so does any use after its trace ended.
- One stand-in per distinct Variable of a call: the same Variable passed at two positions
  is one stand-in (the signature records the aliasing), so updates stay in program order.
"""
import math

import numpy as np

from tracer import nest
from tracer.errors import TracingError
from tracer.state import STATE
from tracer.variable import Variable


class ArgumentVariable(Variable):
    """The Variable a traced function was passed at one argument position (or state
    derived from it), bound at each call to the Variable actually passed."""

    def __init__(self, shape, dtype, trainable, description, trace, source):
        self._shape = tuple(shape)
        self._dtype = np.dtype(dtype)
        self.trainable = bool(trainable)
        self.name = description
        self.description = description
        self._trace = trace         # the trace context it belongs to
        self._source = source       # index among the call's Variables, or (parent, resolve)
        self._derived = {}
        self._shared = False

    shape = property(lambda self: self._shape)
    dtype = property(lambda self: self._dtype)
    ndim = property(lambda self: len(self._shape))
    size = property(lambda self: math.prod(self._shape))

    @property
    def _tensor(self):
        raise TracingError(self._no_value())

    def live(self):
        """True while its trace (or one it is nested in) is being traced on this thread."""
        ctx = STATE.trace
        while ctx is not None:
            if ctx is self._trace:
                return True
            ctx = getattr(ctx, "parent", None)
        return False

    def _no_value(self):
        if not self.live():
            return (f"{self.description} (a Variable argument) was used after "
                    f"{self._trace.name} was traced: the traced function kept it (on an "
                    f"object, a list or a closure); use the Variable passed to the call")
        return (f"{self.description} is a Variable argument whose value is only known when "
                f"the compiled function runs; use it in tt operations (reads, assign, "
                f"assign_add, assign_sub), not in Python control flow, float()/int() or "
                f"NumPy, or pass the value with static_argnums")

    def _share(self):
        if not self.live():
            raise TracingError(self._no_value())
        return self._read()

    def _current(self):
        if not self.live():
            raise TracingError(self._no_value())
        return self._read()

    def assign(self, value, use_locking=False, name=None, read_value=True):
        if not self.live():
            raise TracingError(self._no_value())
        return super().assign(value, read_value=read_value)

    def __len__(self):
        if not self._shape:
            raise TypeError(f"len() of a scalar Variable ({self.description})")
        return self._shape[0]

    def __repr__(self):
        return (f"<tt.Variable stand-in for {self.description} shape={self._shape} "
                f"dtype={self._dtype}>")

    def derive(self, key, resolve, shape, dtype, trainable=False, name=None):
        """The stand-in (made once per ``key``) for state kept per Variable: at each call
        it is bound to ``resolve(v)``, v the Variable this stand-in is then bound to."""
        hit = self._derived.get(key)
        if hit is None:
            hit = ArgumentVariable(shape, dtype, trainable, name or f"{key} of "
                                   f"{self.description}", self._trace, (self, resolve))
            self._derived[key] = hit
        return hit

    def resolve(self, passed):
        """The Variable this stand-in is bound to in a call whose Variable arguments (in
        the order of the signature) are ``passed``."""
        chain, s = [], self
        while not isinstance(s._source, int):
            chain.append(s)
            s = s._source[0]
        v = passed[s._source]
        for d in reversed(chain):
            v = d._source[1](v)
        return v


def bind(variables, standins, passed):
    """``variables`` (an entry's Variables, in graph input order) with each ``(index,
    stand-in)`` of ``standins`` replaced by the Variable bound to it for ``passed``."""
    bound = list(variables)
    for i, s in standins:
        bound[i] = s.resolve(passed)
    return bound


def alias_pattern(passed):
    """For Variable arguments passed more than once in one call: per position, the first
    position holding the same Variable (None when every Variable is distinct)."""
    if len(passed) < 2:
        return None
    first = {}
    pattern = tuple(first.setdefault(id(v), k) for k, v in enumerate(passed))
    return pattern if len(first) < len(passed) else None


def read_returned(out):
    """A traced function's result with each Variable it returns (passed or captured)
    replaced by the Variable's value at the end of the call (a tensor, as ``tf.function``
    returns)."""
    if isinstance(out, Variable):
        return out._read()
    if not isinstance(out, (list, tuple, dict)):
        return out
    leaves, rebuild = nest.flatten(out)
    if not any(isinstance(x, Variable) for x in leaves):
        return out
    return rebuild([x._read() if isinstance(x, Variable) else x for x in leaves])
