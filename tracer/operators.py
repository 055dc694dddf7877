"""Python operators on ``Tensor``, attached here once the ops exist (the way autograd's
``numpy_boxes`` registers array methods): ``x + y`` is ``tt.add(x, y)``, ``x[i]`` is
``indexing.getitem``, ``a @ b`` is ``tt.matmul``. ``Variable`` delegates to these."""
from tracer import indexing, linalg, ops
from tracer.engine import as_tensor
from tracer.tensor import Tensor, check_traceable


def _flip(fn):
    def reflected(self, other):
        return fn(other, self)
    return reflected


_BINARY = {"add": ops.add, "sub": ops.subtract, "mul": ops.multiply,
           "truediv": ops.divide, "floordiv": ops.floordiv, "mod": ops.mod, "pow": ops.pow,
           "matmul": linalg.matmul}
_COMPARE = {"lt": ops.less, "le": ops.less_equal, "gt": ops.greater,
            "ge": ops.greater_equal, "eq": ops.equal, "ne": ops.not_equal}


def _xor(x, y):
    """``x ^ y`` of bool tensors (TensorFlow's logical_xor: not_equal on bools)."""
    x, y = as_tensor(x, "xor"), as_tensor(y, "xor")
    if x.dtype.kind != "b" or y.dtype.kind != "b":
        raise TypeError(f"xor (^): got dtypes {x.dtype} and {y.dtype}; it takes bool "
                        f"tensors (bitwise integer operators are not supported)")
    return ops.not_equal(x, y)


_LOGICAL = {"and": ops.logical_and, "or": ops.logical_or, "xor": _xor}


def _format(self, spec):
    """f"{t:.3f}" formats the value as NumPy does (TensorFlow's __format__); a traced
    tensor formats as its description with an empty spec."""
    if self._value is None and not spec:
        return str(self)
    check_traceable(self, "format()")
    return format(self.numpy(), spec)


def attach(cls):
    """Give ``cls`` the arithmetic, comparison, logical and indexing operators."""
    for name, fn in _BINARY.items():
        setattr(cls, f"__{name}__", lambda self, o, fn=fn: fn(self, o))
        setattr(cls, f"__r{name}__", _flip(fn))
    for name, fn in _COMPARE.items():
        setattr(cls, f"__{name}__", lambda self, o, fn=fn: fn(self, o))
    for name, fn in _LOGICAL.items():            # bool operands (TensorFlow's & | ^)
        setattr(cls, f"__{name}__", lambda self, o, fn=fn: fn(self, o))
        setattr(cls, f"__r{name}__", _flip(fn))
    cls.__format__ = _format
    cls.__neg__ = lambda self: ops.negative(self)
    cls.__pos__ = lambda self: self
    cls.__abs__ = lambda self: ops.abs(self)
    cls.__invert__ = lambda self: ops.logical_not(self)
    cls.__getitem__ = lambda self, key: indexing.getitem(self, key)


attach(Tensor)
