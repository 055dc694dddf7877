"""The primitive registry: each primitive declared once, with everything about it.

A declaration gives the name, the accepted dtypes (``dtypes``, and ``promote`` for what
tracer casts first), the shape/dtype rule (``infer``), the NumPy reference implementation
(``impl``), the gradient rule (``vjp``, written with primitives so gradients are graphs
that can be differentiated again), the lowering used by code generation, and the test
cases the registry test runs (``cases``). It is the only place these facts are stated.

Invariant: a primitive only ever sees the shapes and dtypes its rule accepts; tracer inserts
``broadcast_to`` and ``cast`` before building nodes, so elementwise primitives see equal
shapes and dtypes. Rules raise ``TypeError``/``ValueError`` naming the primitive.
"""
import math
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

    def arrays(self, rng):
        """Input arrays: ``make`` if given, else uniform on [low, high) (integers in
        [low, high), random bools), float64 unless ``dtypes`` says otherwise."""
        f64 = np.dtype("float64")
        if self.make is not None:
            made = [np.asarray(a) for a in self.make(rng, self.shapes)]
            dtypes = self.dtypes or [a.dtype if a.dtype.kind in "biu" else f64 for a in made]
            return [np.asarray(a, dtype=d) for a, d in zip(made, dtypes)]
        out = []
        for shape, dt in zip(self.shapes, self.dtypes or (f64,) * len(self.shapes)):
            dt = np.dtype(dt)
            if dt.kind == "b":
                a = rng.uniform(size=shape) > 0.5
            elif dt.kind in "iu":
                a = rng.integers(int(self.low), int(self.high), shape)
            else:
                a = rng.uniform(self.low, self.high, shape)
            out.append(np.asarray(a, dtype=dt))
        return out


@dataclass(frozen=True)
class Scalar:
    """Lowering of an elementwise primitive: a scalar expression placed inside a fused loop.
    ``expr`` is a template over argument sources (``"({0} + {1})"``, arguments may repeat)
    or a function ``(args: list[str], dtype) -> str`` (dtype: of the last operand)."""
    expr: object

    def source(self, args, dtype):
        e = self.expr
        return e(args, dtype) if callable(e) else e.format(*args)


@dataclass(frozen=True)
class Reduce:
    """Lowering of a reduction with a loop pattern: the accumulating operation, one of
    ``"add"``, ``"mul"``, ``"max"``, ``"min"`` (the accumulator starts at its identity)."""
    op: str


@dataclass(frozen=True)
class View:
    """Lowering of a data-movement primitive read inside a loop. ``index(node, idx)`` takes
    index sources into the node and returns index sources into its input plus conditions
    under which that read is in range (outside them the value is 0: padding). ``moves``:
    the view moves elements (rather than only aliasing them, as broadcast_to and unit-axis
    reshapes do). ``applies(node)``: whether this node can be read as a view at all.
    ``strided``: NumPy gives it as a free strided view (slice, rev, transpose), so the
    native tier may keep it as a call instead of reading it inside loops. ``broadcasts``:
    it may repeat elements (broadcast_to), so a loop over it cannot be flattened.
    ``operands``: the view also reads its other inputs whole (a gather's indices): then
    ``index(node, idx, element)`` gets ``element(input, at) -> source`` reading such an
    input at index sources ``at``."""
    index: object
    moves: bool = True
    applies: object = None
    strided: bool = False
    broadcasts: bool = False
    operands: bool = False


@dataclass(eq=False)
class Primitive:
    """Everything about one primitive; rules are fields here, not side tables: ``vjp``
    (reverse mode; forward mode is derived from it, see ``compiler.forward``), ``batch``
    (vmap) and ``regions`` (control flow)."""
    name: str
    infer: object                   # (*inputs, **attrs) -> (shape, dtype)
    impl: object                    # (*arrays, **attrs) -> array
    vjp: object = None              # (g, out, *inputs, **attrs) -> tuple of nodes/None
    kind: str = "other"             # elementwise | reduce | shape | linalg | leaf | other
    lowering: object = None         # Scalar (elementwise) or Reduce (loop reduction); None:
                                    # a NumPy call from the driver (matmul, gather...)
    view: object = None             # data movement read inside loops: a ``View``
    cases: tuple = ()
    differentiable: bool = True
    # operand dtypes the primitive takes (None: its ``infer`` checks them itself). Tracer
    # derives the public op's dtype check from this and ``promote``.
    dtypes: frozenset = None
    # the dtype tracer casts operands to before the primitive (e.g. int -> float64 for div);
    # the public op also accepts every dtype that promotes into ``dtypes``
    promote: object = None          # np.dtype -> np.dtype
    # vmap: (node, size, inputs, batched) -> the node's value for a batch of ``size``, the
    # batch as a new leading axis; ``batched[i]``: input i carries it (see batch_rules)
    batch: object = None
    regions: tuple = ()             # names of attrs that hold sub-graphs (control flow)
    # the rule takes ``needed=`` (per input: whether the walk uses its cotangent), for rules
    # that can give some cotangents but not others (while_grad: its cotangent inputs only)
    vjp_needs: bool = False
    # the lowering reproduces ``impl`` bit for bit on every input (correctly rounded IEEE
    # operations, comparisons, selections): a stored value may be recomputed instead
    exact: bool = False

    @property
    def accepts(self):
        """Operand dtypes the public op takes: ``dtypes`` and those promoting into them."""
        if self.dtypes is None:
            return ANY
        if self.promote is None:
            return self.dtypes
        return self.dtypes | frozenset(d for d in ANY if self.promote(d) in self.dtypes)

    def __call__(self, *inputs, **attrs):
        """Build a node, inferring shape and dtype now (errors surface at the caller)."""
        for x in inputs:
            if type(x) is not Node and not isinstance(x, Node):
                raise TypeError(f"{self.name}: inputs must be IR nodes, got "
                                f"{type(x).__name__}")
        shape, dtype = self.infer(*inputs, **attrs)
        if not attrs:
            frozen = ()
        elif len(attrs) == 1:
            frozen = tuple(attrs.items())
        else:
            frozen = freeze_attrs(attrs)
        return Node(self, inputs, frozen, shape if type(shape) is tuple else tuple(shape),
                    dtype if isinstance(dtype, np.dtype) else np.dtype(dtype))

    def __repr__(self):
        return f"<primitive {self.name}>"


def declare(name, **kw):
    """Register a primitive (its fields are ``Primitive``'s); each name once."""
    if name in PRIMITIVES:
        raise ValueError(f"primitive {name!r} is declared twice")
    kw["cases"] = tuple(kw.get("cases", ()))
    low = kw.get("lowering")
    if low is not None and not isinstance(low, (Scalar, Reduce)):
        raise TypeError(f"primitive {name!r}: lowering must be a Scalar or Reduce, got "
                        f"{type(low).__name__}")
    if kw.get("dtypes") is not None:
        kw["dtypes"] = frozenset(np.dtype(d) for d in kw["dtypes"])
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
        if x.dtype is not d and x.dtype != d:
            raise TypeError(f"{name}: operands have dtypes {[str(y.dtype) for y in xs]}; "
                            f"the primitive needs equal dtypes (cast first)")
    return s, d


def shape_size(shape):
    """The number of elements of ``shape`` (a Python int; ``np.prod`` costs ~10 us)."""
    return int(math.prod(shape))


def broadcast_shapes(*shapes):
    """``np.broadcast_shapes`` for shapes given as tuples of ints (a few hundred ns instead
    of a few us); ValueError when they cannot be broadcast together."""
    first = shapes[0]
    for s in shapes:
        if s != first:
            break
    else:
        return tuple(first)
    out = [1] * max(len(s) for s in shapes)
    n = len(out)
    for s in shapes:
        off = n - len(s)
        for i, d in enumerate(s):
            o = out[off + i]
            if d == o or d == 1:
                continue
            if o != 1:
                raise ValueError(f"shapes {shapes} cannot be broadcast together")
            out[off + i] = d
    return tuple([int(d) for d in out])


def normalize_axes(name, axes, ndim):
    """Sorted tuple of non-negative axes; ValueError naming the valid range."""
    out = []
    for a in axes:
        if isinstance(a, bool) or not hasattr(a, "__index__"):
            raise TypeError(f"{name}: axis must be an int, got {a!r}")
        a = a.__index__()       # ints, NumPy ints, integer scalars of a caller's own type
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


# -- arithmetic on nodes, so gradient rules read like the math: g * out / y ----------------
# (never ``==``: nodes are symbols compared by identity; use P.equal)

def _operand(x, like):
    return x if isinstance(x, Node) else full_like(like, x)


def _arith(name, reflected=False):
    def op(self, other):
        prim = PRIMITIVES[name]
        other = _operand(other, self)
        return prim(other, self) if reflected else prim(self, other)
    op.__name__ = f"__{'r' if reflected else ''}{name}__"
    return op


for _py, _name in (("add", "add"), ("sub", "sub"), ("mul", "mul"), ("truediv", "div")):
    setattr(Node, f"__{_py}__", _arith(_name))
    setattr(Node, f"__r{_py}__", _arith(_name, reflected=True))
Node.__neg__ = lambda self: PRIMITIVES["neg"](self)
