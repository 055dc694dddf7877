"""``tt.Variable``: a mutable holder of a tensor value, watched by recording tapes.

Operators delegate to the current value (``Tensor``'s operators, from ``tracer.operators``).
"""
import numpy as np

from tracer import ops
from tracer.convert import convert_to_tensor
from tracer.errors import TracingError
from tracer.state import STATE
from tracer.tensor import Tensor, check_traceable


class Variable:
    """A mutable holder of a tensor value; trainable variables are watched automatically
    by recording tapes (``watch_accessed_variables=True``)."""
    _count = 0
    # above NumPy's: ``array @ variable`` and ``array + variable`` call the Variable's
    # reflected operators (recorded on tapes) instead of converting it with __array__
    __array_priority__ = 100

    def __init__(self, initial_value, trainable=True, name=None, dtype=None):
        if STATE.trace is not None and not STATE.creating_variables:
            raise TracingError(
                f"tt.Variable({name or ''}) created while tracing {STATE.trace.name}: "
                f"Variables cannot be created inside tt.function (a new one would be made at "
                f"every trace). Create it once outside the function and read or assign it "
                f"inside.")
        t = convert_to_tensor(initial_value, dtype=dtype, op="Variable")
        check_traceable(t, "Variable()")
        self._tensor = Tensor(np.array(t._value))
        self.trainable = bool(trainable)
        Variable._count += 1
        self.name = name or f"Variable:{Variable._count}"

    shape = property(lambda self: self._tensor.shape)
    dtype = property(lambda self: self._tensor.dtype)
    ndim = property(lambda self: self._tensor.ndim)
    size = property(lambda self: self._tensor.size)

    def _read(self):
        """The current value as a Tensor, watched by recording tapes that auto-watch."""
        if STATE.trace is not None:
            return STATE.trace.read_variable(self)
        t = self._tensor
        if STATE.tapes and self.trainable:
            for tape in STATE.tapes:
                if tape.watch_accessed and (t._node is None or t._node not in tape.active):
                    tape.watch_variable(self)
        return self._tensor

    def value(self):
        return self._read()

    def read_value(self):
        return self._read()

    def numpy(self):
        return self._tensor.numpy()

    def assign(self, value):
        t = convert_to_tensor(value, dtype=self.dtype, op="Variable.assign")
        if STATE.trace is not None:         # inside tt.function: a symbolic update
            STATE.trace.assign_variable(self, t)
            return self
        check_traceable(t, "Variable.assign")
        if t.shape != self.shape:
            raise ValueError(f"Variable.assign: value has shape {t.shape} but the variable "
                             f"{self.name} has shape {self.shape}; shapes must match")
        self._tensor = Tensor(np.array(t._value, dtype=self.dtype))
        return self

    def _current(self):
        # the value an update starts from: the traced value inside tt.function (earlier
        # updates included), else the eager value (read without watching, as TensorFlow)
        return self._read() if STATE.trace is not None else self._tensor

    def assign_add(self, delta):
        return self.assign(ops.add(self._current(), delta))

    def assign_sub(self, delta):
        return self.assign(ops.subtract(self._current(), delta))

    def __repr__(self):
        body = np.array2string(np.asarray(self._tensor._value), separator=" ")
        return (f"<tt.Variable '{self.name}' shape={self.shape} dtype={self.dtype}, "
                f"numpy={body}>")

    def __array__(self, dtype=None, copy=None):
        return self._tensor.__array__(dtype)

    def __hash__(self):
        return id(self)

    __float__ = lambda self: float(self._tensor)
    __int__ = lambda self: int(self._tensor)
    __bool__ = lambda self: bool(self._tensor)
    __len__ = lambda self: len(self._tensor)
    __iter__ = lambda self: iter(self._read())


def _delegate(name):
    def method(self, *args):
        return getattr(self._read(), name)(*args)
    method.__name__ = name
    return method


for _name in ("__add__ __radd__ __sub__ __rsub__ __mul__ __rmul__ __truediv__ __rtruediv__ "
              "__floordiv__ __rfloordiv__ __mod__ __rmod__ __pow__ __rpow__ __matmul__ "
              "__rmatmul__ __neg__ __pos__ __abs__ __lt__ __le__ __gt__ __ge__ __eq__ "
              "__ne__ __getitem__").split():
    setattr(Variable, _name, _delegate(_name))
