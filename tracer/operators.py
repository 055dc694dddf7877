"""Python operators on ``Tensor``, attached here once the ops exist (the way autograd's
``numpy_boxes`` registers array methods): ``x + y`` is ``tt.add(x, y)``, ``x[i]`` is
``indexing.getitem``, ``a @ b`` is ``tt.matmul``. ``Variable`` delegates to these."""
from tracer import indexing, linalg, ops
from tracer.tensor import Tensor


def _flip(fn):
    def reflected(self, other):
        return fn(other, self)
    return reflected


_BINARY = {"add": ops.add, "sub": ops.subtract, "mul": ops.multiply,
           "truediv": ops.divide, "floordiv": ops.floordiv, "mod": ops.mod, "pow": ops.pow,
           "matmul": linalg.matmul}
_COMPARE = {"lt": ops.less, "le": ops.less_equal, "gt": ops.greater,
            "ge": ops.greater_equal, "eq": ops.equal, "ne": ops.not_equal,
            "and": ops.logical_and, "or": ops.logical_or}


def attach(cls):
    """Give ``cls`` the arithmetic, comparison, logical and indexing operators."""
    for name, fn in _BINARY.items():
        setattr(cls, f"__{name}__", lambda self, o, fn=fn: fn(self, o))
        setattr(cls, f"__r{name}__", _flip(fn))
    for name, fn in _COMPARE.items():
        setattr(cls, f"__{name}__", lambda self, o, fn=fn: fn(self, o))
    cls.__neg__ = lambda self: ops.negative(self)
    cls.__pos__ = lambda self: self
    cls.__abs__ = lambda self: ops.abs(self)
    cls.__invert__ = lambda self: ops.logical_not(self)
    cls.__getitem__ = lambda self, key: indexing.getitem(self, key)


attach(Tensor)
