"""The primitive registry: each primitive declared once, with everything about it.

A declaration gives the name, the shape/dtype rule (``infer``), the NumPy reference
implementation (``impl``), the gradient rule (``vjp``, written with primitives so gradients
are graphs that can be differentiated again), the lowering used by code generation, and
the test cases the registry test runs (``cases``).

Invariant: a primitive only ever sees the shapes and dtypes its rule accepts; tracer inserts
``broadcast_to`` and ``cast`` before building nodes, so elementwise primitives see equal
shapes and dtypes. Rules raise ``TypeError``/``ValueError`` naming the primitive.
"""
from dataclasses import dataclass, field

import numpy as np

from compiler.ir import Node, freeze_attrs

FLOAT = frozenset(np.dtype(t) for t in ("float32", "float64"))
INT = frozenset(np.dtype(t) for t in ("int32", "int64"))
BOOL = frozenset([np.dtype("bool")])
NUMERIC = FLOAT | INT
ANY = NUMERIC | BOOL

PRIMITIVES = {}


@dataclass(frozen=True)
class Case:
    """One registry-test case: input shapes (and dtypes), attrs, sampling domain."""
    shapes: tuple
    attrs: dict = field(default_factory=dict)
    low: float = -2.0
    high: float = 2.0
    dtypes: tuple = None            # per input; default float64 for all
    make: object = None             # optional fn(rng, shapes) -> list of input arrays
    smooth: bool = True             # second-order check applies at these points


@dataclass(frozen=True)
class View:
    """Lowering of a data-movement primitive read inside a loop. ``index(node, idx)`` takes
    index sources into the node and returns index sources into its input plus conditions
    under which that read is in range (outside them the value is 0: padding). ``moves``:
    the view moves elements (rather than only aliasing them, as broadcast_to and unit-axis
    reshapes do). ``applies(node)``: whether this node can be read as a view at all."""
    index: object
    moves: bool = True
    applies: object = None


@dataclass(eq=False)
class Primitive:
    name: str
    infer: object                   # (*inputs, **attrs) -> (shape, dtype)
    impl: object                    # (*arrays, **attrs) -> array
    vjp: object = None              # (g, out, *inputs, **attrs) -> tuple of nodes/None
    kind: str = "other"             # elementwise | reduce | shape | linalg | leaf | other
    lowering: object = None         # elementwise: (args: list[str], dtype) -> str
    view: object = None             # data movement read inside loops: a ``View``
    cases: tuple = ()
    differentiable: bool = True
    doc: str = ""

    def __call__(self, *inputs, **attrs):
        """Build a node, inferring shape and dtype now (errors surface at the caller)."""
        for x in inputs:
            if not isinstance(x, Node):
                raise TypeError(f"{self.name}: inputs must be IR nodes, got "
                                f"{type(x).__name__}")
        shape, dtype = self.infer(*inputs, **attrs)
        return Node(self, inputs, freeze_attrs(attrs), tuple(shape), np.dtype(dtype))

    def __repr__(self):
        return f"<primitive {self.name}>"


def declare(name, **kw):
    if name in PRIMITIVES:
        raise ValueError(f"primitive {name!r} is declared twice")
    kw["cases"] = tuple(kw.get("cases", ()))
    p = Primitive(name, **kw)
    PRIMITIVES[name] = p
    return p


def dtype_names(dtypes):
    return ", ".join(sorted(str(d) for d in dtypes))


def check_dtype(name, x, allowed, what="x"):
    if x.dtype not in allowed:
        raise TypeError(f"{name}: {what} has dtype {x.dtype}; valid dtypes are "
                        f"{dtype_names(allowed)}")


def same_shape_dtype(name, xs):
    s, d = xs[0].shape, xs[0].dtype
    for x in xs[1:]:
        if x.shape != s:
            raise ValueError(f"{name}: operands have shapes {[y.shape for y in xs]}; "
                             f"the primitive needs equal shapes (broadcast first)")
        if x.dtype != d:
            raise TypeError(f"{name}: operands have dtypes {[str(y.dtype) for y in xs]}; "
                            f"the primitive needs equal dtypes (cast first)")
    return s, d


def normalize_axes(name, axes, ndim):
    """Sorted tuple of non-negative axes; ValueError naming the valid range."""
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"{name}: axis must be an int, got {a!r}")
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ValueError(f"{name}: axis {a} is out of range for a tensor of rank {ndim}; "
                             f"valid axes are {-ndim}..{ndim - 1}" if ndim else
                             f"{name}: axis {a} given for a scalar (rank 0) tensor")
        a = int(a) % ndim if ndim else 0
        if a in out:
            raise ValueError(f"{name}: axis {a} is repeated in {tuple(axes)}")
        out.append(a)
    return tuple(sorted(out))


# -- constant helpers used by gradient rules ------------------------------------------------

def literal(value, dtype):
    """A scalar literal node (value enters the structural key)."""
    dtype = np.dtype(dtype)
    v = bool(value) if dtype.kind == "b" else int(value) if dtype.kind in "iu" else float(value)
    return PRIMITIVES["literal"](value=v, dtype=dtype.str)


def full(value, shape, dtype):
    lit = literal(value, dtype)
    return lit if tuple(shape) == () else PRIMITIVES["broadcast_to"](lit, shape=tuple(shape))


def full_like(x, value):
    return full(value, x.shape, x.dtype)
