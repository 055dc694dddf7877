"""Every primitive, by name: ``from compiler import primitives as P; P.mul(x, y)``.

``PRIMITIVES`` maps names to declarations; see ``core`` for what a declaration holds.
"""
from compiler.primitives.core import (ANY, BOOL, FLOAT, INT, NUMERIC, PRIMITIVES, Case,
                                      Primitive, full, full_like, literal, normalize_axes)
from compiler.primitives.elementwise import (
    abs_, acos, add, asin, atan, cast, ceil, cos, cosh, div, equal, erf, exp, expm1, floor,
    floordiv, greater, greater_equal, less, less_equal, log, log1p, logical_and, logical_not,
    logical_or, maximum, minimum, mod, mul, neg, not_equal, pow_, round_, select, sigmoid,
    sign, sin, sinh, sqrt, stop_gradient, sub, tan, tanh)
from compiler.primitives.structural import (broadcast_axes, broadcast_to, concat,
                                            custom_vjp, gather, input_, pad, reshape, rev,
                                            scatter_add, slice_, transpose)
from compiler.primitives.reductions import (argmax, argmin, keep_dims_shape, reduce_max,
                                            reduce_min, reduce_prod, reduce_sum)
from compiler.primitives.linalg import matmul

# Python keywords and builtins get a trailing underscore above; P.<name> matches the
# registry name for all of them.
abs = abs_
pow = pow_
round = round_
slice = slice_
input = input_
