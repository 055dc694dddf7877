"""Every primitive, by name: ``from compiler import primitives as P; P.mul(x, y)``.

``PRIMITIVES`` maps names to declarations (see ``core`` for what a declaration holds); the
``P.<name>`` attributes are generated from it, so a primitive is named in one place: its
``declare``/``unary``/``binary`` call. A new module of declarations is imported below.
"""
from compiler.primitives.core import (ANY, BOOL, FLOAT, INT, NUMERIC, PRIMITIVES,  # noqa: F401
                                      Case, Primitive, Reduce, Scalar, View, full, full_like,
                                      literal, normalize_axes)
from compiler.primitives import elementwise, linalg, reductions, structural  # noqa: F401
from compiler.primitives import decompositions, scans, spectral  # noqa: F401
from compiler.primitives import nn, random  # noqa: F401  (conv/windows; stateless random)
from compiler.primitives import control  # noqa: F401
from compiler.primitives import auxiliary  # noqa: F401
from compiler.primitives import pooling  # noqa: F401  (max pooling and its selections)
from compiler.primitives.structural import broadcast_axes  # noqa: F401
from compiler.primitives.reductions import keep_dims_shape  # noqa: F401
from compiler.primitives.core import broadcast_shapes, shape_size  # noqa: F401

# P.<registry name> for every primitive (P.abs, P.pow, P.slice... are the primitives, not
# Python's builtins); ``literal`` above stays the helper that builds a literal node
globals().update({name: p for name, p in PRIMITIVES.items() if name != "literal"})
