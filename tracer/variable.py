"""``tt.Variable``: a mutable holder of a tensor value, watched by recording tapes.

Operators delegate to the current value (``Tensor``'s operators, from ``tracer.operators``).

Buffers (copy on write): a Variable owns a C-contiguous NumPy buffer that updates
(``assign*`` eagerly, and the compiled code of ``tt.function``, which writes new values
straight into it: ``compiler.donation``) overwrite in place, as long as nothing outside
the Variable can hold it. Handing it out (an eager read: ``value()``, operators,
``numpy()``, ``np.asarray``; a tape watching it; passing the Variable as an argument of a
compiled function) marks it shared, and the next update gives the Variable a new buffer,
so such a reader keeps a snapshot (TensorFlow's ``read_value``). Reads inside compiled
functions hand nothing out: a compiled training step updates its Variables and optimizer
slots in place at every call.
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
    # a lock held while a compiled function updates this Variable (set for state that
    # threads update concurrently: the random draw counter), else None
    _update_lock = None
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
        if callable(initial_value) and not isinstance(initial_value, (Tensor, Variable)):
            initial_value = initial_value()     # TensorFlow: a callable of no arguments
        t = convert_to_tensor(initial_value, dtype=dtype, op="Variable")
        check_traceable(t, "Variable()")
        self._tensor = Tensor(np.array(t._value, order="C"))
        self._shared = False        # the buffer was handed out: the next update replaces it
        self.trainable = bool(trainable)
        # TensorFlow's eager names: the name given (else "Variable") and output index 0
        self.name = f"{name or 'Variable'}:0"

    shape = property(lambda self: self._tensor.shape)
    dtype = property(lambda self: self._tensor.dtype)
    ndim = property(lambda self: self._tensor.ndim)
    size = property(lambda self: self._tensor.size)

    def _read(self):
        """The current value as a Tensor, watched by recording tapes that auto-watch."""
        if STATE.trace is not None:
            return STATE.trace.read_variable(self)
        t = self._tensor
        self._shared = True
        if STATE.tapes:
            for tape in STATE.tapes:
                # auto-watched (trainable), or watched before: every read is a source
                if (tape.watch_accessed and self.trainable or tape.watches(self)) and \
                        (t._node is None or t._node not in tape.active):
                    tape.watch_variable(self)
        return self._tensor

    def value(self):
        return self._read()

    def read_value(self):
        return self._read()

    def numpy(self):
        """The value as a read-only NumPy array (a snapshot: later updates do not show)."""
        self._shared = True
        return self._tensor.numpy()

    def _share(self):
        """The current value's Tensor, for a holder that may keep its buffer."""
        self._shared = True
        return self._tensor

    def _own_buffer(self):
        """The buffer, which nothing outside this Variable holds: a C-contiguous writable
        array a compiled update may overwrite (a copy replaces a shared one first)."""
        if self._shared:
            self._replace(np.array(self._tensor._value, order="C"))
        return self._tensor._value

    def _write(self, value):
        """Store ``value`` (this Variable's shape and dtype): into the buffer when nothing
        else holds it, else as a new buffer (which the caller must not keep)."""
        buf = self._tensor._value
        if not self._shared and buf is not value:
            np.copyto(buf, value)
        elif buf is not value:
            self._replace(value)

    def _replace(self, array):
        """A new buffer: ``array`` itself (nothing else may hold it)."""
        self._tensor = Tensor(array)
        self._shared = not (type(array) is np.ndarray and array.flags.c_contiguous and
                            array.flags.writeable)

    def assign(self, value, use_locking=False, name=None, read_value=True):
        """Set the value (same shape; converted to the Variable's dtype). Returns the
        Variable, or None with ``read_value=False`` (TensorFlow's signature)."""
        t = convert_to_tensor(value, dtype=self.dtype, op="Variable.assign")
        if STATE.trace is not None:         # inside tt.function: a symbolic update
            STATE.trace.assign_variable(self, t)
            return self if read_value else None
        check_traceable(t, "Variable.assign")
        if t.shape != self.shape:
            raise ValueError(f"Variable.assign: value has shape {t.shape} but the variable "
                             f"{self.name} has shape {self.shape}; shapes must match")
        if self._shared:
            self._replace(np.array(t._value, dtype=self.dtype, order="C"))
        else:
            np.copyto(self._tensor._value, t._value)
        return self if read_value else None

    def _current(self):
        # the value an update starts from: the traced value inside tt.function (earlier
        # updates included), else the eager value (read without watching, as TensorFlow)
        if STATE.trace is not None:
            return self._read()
        if STATE.tapes:                 # a tape recording the update may keep the buffer
            self._shared = True
        return self._tensor

    def assign_add(self, delta, use_locking=False, name=None, read_value=True):
        return self.assign(ops.add(self._current(), delta), read_value=read_value)

    def assign_sub(self, delta, use_locking=False, name=None, read_value=True):
        return self.assign(ops.subtract(self._current(), delta), read_value=read_value)

    def __repr__(self):
        body = np.array2string(np.asarray(self._tensor._value), separator=" ")
        return (f"<tt.Variable '{self.name}' shape={self.shape} dtype={self.dtype}, "
                f"numpy={body}>")

    def __array__(self, dtype=None, copy=None):
        self._shared = True
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
              "__ne__ __getitem__ __and__ __rand__ __or__ __ror__ __xor__ __rxor__ "
              "__invert__ __format__").split():
    setattr(Variable, _name, _delegate(_name))
