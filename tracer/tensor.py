"""``tt.Tensor`` (immutable) and ``tt.Variable`` (mutable, watched by tapes).

A Tensor holds a NumPy value (eager) or only an IR node (traced inside ``tt.function``);
when a tape records an operation on it, it also carries the node the tape recorded.
"""
import numpy as np


class Tensor:
    """An immutable n-dimensional value; operators follow NumPy broadcasting and NEP 50."""
    __slots__ = ("_value", "_node", "__weakref__")
    __array_priority__ = 100

    def __init__(self, value, node=None):
        self._value = value
        self._node = node

    # -- facts -------------------------------------------------------------------------
    @property
    def shape(self):
        v = self._value
        return v.shape if v is not None else self._node.shape

    @property
    def dtype(self):
        v = self._value
        return v.dtype if v is not None else self._node.dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def numpy(self):
        """The value as a NumPy array (a NumPy scalar for shape ())."""
        engine.check_traceable(self, ".numpy()")
        v = self._value
        return v[()] if isinstance(v, np.ndarray) and v.ndim == 0 else v

    def __array__(self, dtype=None, copy=None):
        engine.check_traceable(self, "np.asarray()")
        a = np.asarray(self._value)
        return a.astype(dtype) if dtype is not None else a

    def __repr__(self):
        if self._value is None:
            return f"tt.Tensor(<traced>, shape={self.shape}, dtype={self.dtype})"
        if self.ndim == 0:
            return f"tt.Tensor({np.asarray(self._value)[()]!s}, shape=(), dtype={self.dtype})"
        body = np.array2string(np.asarray(self._value), separator=" ")
        return f"tt.Tensor(\n{body}, shape={self.shape}, dtype={self.dtype})"

    __str__ = __repr__

    def __hash__(self):
        return id(self)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor (shape ())")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor (shape ())")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self):
        engine.check_traceable(self, "bool()")
        if self.size != 1:
            raise ValueError(f"bool() of a tensor with shape {self.shape} is ambiguous; "
                             f"use tt.reduce_any-style reductions such as tt.reduce_max")
        return bool(np.asarray(self._value).reshape(()))

    def __float__(self):
        engine.check_traceable(self, "float()")
        return float(np.asarray(self._value).reshape(()))

    def __int__(self):
        engine.check_traceable(self, "int()")
        return int(np.asarray(self._value).reshape(()))

    def __index__(self):
        engine.check_traceable(self, "an index")
        if self.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, got {self.dtype}")
        return int(np.asarray(self._value).reshape(()))

    def _read(self):
        return self

    # -- operators ---------------------------------------------------------------------
    def __add__(self, o): return ops.add(self, o)
    def __radd__(self, o): return ops.add(o, self)
    def __sub__(self, o): return ops.subtract(self, o)
    def __rsub__(self, o): return ops.subtract(o, self)
    def __mul__(self, o): return ops.multiply(self, o)
    def __rmul__(self, o): return ops.multiply(o, self)
    def __truediv__(self, o): return ops.divide(self, o)
    def __rtruediv__(self, o): return ops.divide(o, self)
    def __floordiv__(self, o): return ops.floordiv(self, o)
    def __rfloordiv__(self, o): return ops.floordiv(o, self)
    def __mod__(self, o): return ops.mod(self, o)
    def __rmod__(self, o): return ops.mod(o, self)
    def __pow__(self, o): return ops.pow(self, o)
    def __rpow__(self, o): return ops.pow(o, self)
    def __matmul__(self, o): return linalg.matmul(self, o)
    def __rmatmul__(self, o): return linalg.matmul(o, self)
    def __neg__(self): return ops.negative(self)
    def __pos__(self): return self
    def __abs__(self): return ops.abs(self)
    def __lt__(self, o): return ops.less(self, o)
    def __le__(self, o): return ops.less_equal(self, o)
    def __gt__(self, o): return ops.greater(self, o)
    def __ge__(self, o): return ops.greater_equal(self, o)
    def __eq__(self, o): return ops.equal(self, o)
    def __ne__(self, o): return ops.not_equal(self, o)
    def __and__(self, o): return ops.logical_and(self, o)
    def __or__(self, o): return ops.logical_or(self, o)
    def __invert__(self): return ops.logical_not(self)
    def __getitem__(self, key): return shape_ops.getitem(self, key)


class Variable:
    """A mutable holder of a tensor value; trainable variables are watched automatically
    by recording tapes (``watch_accessed_variables=True``)."""
    _count = 0

    def __init__(self, initial_value, trainable=True, name=None, dtype=None):
        from tracer.creation import convert_to_tensor
        t = convert_to_tensor(initial_value, dtype=dtype, op="Variable")
        engine.check_traceable(t, "Variable()")
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
        state = engine.STATE
        if state.trace is not None:
            return state.trace.capture_variable(self)
        t = self._tensor
        if state.tapes and self.trainable:
            for tape in state.tapes:
                if tape._watch_accessed and (t._node is None or t._node not in tape._active):
                    tape._watch_variable(self)
        return self._tensor

    def value(self):
        return self._read()

    def read_value(self):
        return self._read()

    def numpy(self):
        return self._tensor.numpy()

    def assign(self, value):
        from tracer.creation import convert_to_tensor
        t = convert_to_tensor(value, dtype=self.dtype, op="Variable.assign")
        engine.check_traceable(t, "Variable.assign")
        if t.shape != self.shape:
            raise ValueError(f"Variable.assign: value has shape {t.shape} but the variable "
                             f"{self.name} has shape {self.shape}; shapes must match")
        self._tensor = Tensor(np.array(t._value, dtype=self.dtype))
        return self

    def assign_add(self, delta):
        return self.assign(ops.add(self._tensor, delta))

    def assign_sub(self, delta):
        return self.assign(ops.subtract(self._tensor, delta))

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

from tracer import engine, linalg, ops, shape_ops  # noqa: E402  (operators need the ops)
