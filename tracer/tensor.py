"""``tt.Tensor``: data and Python protocols only.

A Tensor holds a NumPy value (eager) or only an IR node (traced inside ``tt.function``);
when a tape records an operation on it, it also carries the node the tape recorded.
Arithmetic operators are attached by ``tracer.operators`` (after the ops exist), so this
module imports no op module.
"""
import math

import numpy as np

from tracer.errors import TracingError
from tracer.state import STATE


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
        return int(math.prod(self.shape))

    def numpy(self):
        """The value as a NumPy array (a NumPy scalar for shape ()). The array is a
        read-only view of the tensor's own buffer (tensors are immutable); ``.copy()`` it
        to write."""
        check_traceable(self, ".numpy()")
        v = self._value
        if isinstance(v, np.ndarray):
            return v[()] if v.ndim == 0 else _read_only(v)
        return v

    def __array__(self, dtype=None, copy=None):
        check_traceable(self, "np.asarray()")
        a = np.asarray(self._value)
        if dtype is not None and np.dtype(dtype) != a.dtype:
            return a.astype(dtype)
        # np.array(t) asks for a copy (writable, the caller's own); np.asarray(t) gets a
        # read-only view, so no caller writes into the tensor's buffer
        return np.array(a) if copy else _read_only(a)

    def __repr__(self):
        if self._value is None:
            return f"tt.Tensor(<traced>, shape={self.shape}, dtype={self.dtype})"
        if self.ndim == 0:
            return f"tt.Tensor({np.asarray(self._value)[()]!s}, shape=(), dtype={self.dtype})"
        body = np.array2string(np.asarray(self._value), separator=" ")
        # as TensorFlow: a vector on the same line, matrices and up from the next one
        sep = "" if self.ndim == 1 else "\n"
        return f"tt.Tensor({sep}{body}, shape={self.shape}, dtype={self.dtype})"

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
        check_traceable(self, "bool()")
        if self.size != 1:
            raise ValueError(f"bool() of a tensor with shape {self.shape} is ambiguous; "
                             f"use tt.reduce_any-style reductions such as tt.reduce_max")
        return bool(np.asarray(self._value).reshape(()))

    def __float__(self):
        check_traceable(self, "float()")
        return float(self._one("float"))

    def __int__(self):
        check_traceable(self, "int()")
        return int(self._one("int"))

    def _one(self, what):
        """The only element (Python's TypeError, as NumPy's and TensorFlow's, otherwise)."""
        if self.size != 1:
            raise TypeError(f"{what}() of a tensor with shape {self.shape}: only tensors with "
                            f"one element convert to Python scalars")
        return np.asarray(self._value).reshape(())

    def __index__(self):
        check_traceable(self, "an index")
        if self.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, got {self.dtype}")
        return int(np.asarray(self._value).reshape(()))

    def _read(self):
        return self

    def __reduce__(self):
        # the value travels; the graph node a tape or trace attached does not
        check_traceable(self, "pickle")
        return (Tensor, (self._value,))


def check_traceable(t, what):
    """Raise TracingError when a traced tensor's value is needed in Python."""
    if t._value is None:
        trace = STATE.trace
        where = trace.describe(t._node) if trace is not None else "a traced tensor"
        raise TracingError(
            f"{what} needs the value of {where} (shape {t.shape}, dtype {t.dtype}), but "
            f"inside tt.function values are symbolic. Instead of a Python if/while on it, use "
            f"tt.cond / tt.switch (branches), tt.while_loop / tt.fori_loop / tt.scan (loops) "
            f"or tt.where (elementwise choice), or pass the argument as static with "
            f"static_argnums.")


def _read_only(a):
    v = a.view()
    v.flags.writeable = False
    return v
