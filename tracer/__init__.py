"""tapejit's front end: ``import tracer as tt``.

Eager tensors and a TensorFlow-style ``GradientTape`` that records a symbolic graph; the
gradient is derived symbolically (so it can be differentiated again) and run by the
runtime, interpreted while cold and compiled once hot.

Modules import each other in one direction only (tests/test_layering.py checks it), so
the order of the imports below does not matter.
"""
import types as _types
import warnings as _warnings

# IEEE special values are results, not errors (TensorFlow and JAX print nothing for
# log(0) or 0/0): NumPy's floating-point warnings raised inside tapejit's own modules are
# not shown. The same NumPy calls in a user's code still warn.
_warnings.filterwarnings("ignore", r"(divide by zero|invalid value|overflow|underflow) "
                         r"encountered", RuntimeWarning, r"(tracer|compiler|runtime)\.")

from runtime import config
from runtime import cache_stats
from tracer import operators as _operators  # noqa: F401  (Tensor's arithmetic operators)
from tracer.tensor import Tensor
from tracer.variable import Variable
from tracer.creation import (constant, convert_to_tensor, eye, fill, lin_space, linspace,
                             ones, ones_like, range, zeros, zeros_like)
from tracer.dtypes import bool_ as bool  # noqa: A001  (tt.bool, as TensorFlow)
from tracer.dtypes import float32, float64, int32, int64
from tracer.eager_functions import gradients_function, value_and_gradients_function
from tracer.errors import TracingError
from tracer.linalg import einsum, matmul, tensordot
from tracer.ops import (abs, acos, add, argmax, argmin, asin, atan, cast, ceil,
                        clip_by_value, cos, cosh, divide, equal, erf, exp, expm1, floor,
                        floordiv, greater, greater_equal, identity, less, less_equal, log,
                        log1p, logical_and, logical_not, logical_or, maximum, minimum, mod,
                        multiply, negative, not_equal, pow, reciprocal, reduce_logsumexp,
                        reduce_max, reduce_mean, reduce_min, reduce_prod, reduce_sum, relu,
                        round, rsqrt, sigmoid, sign, sin, sinh, softplus, sqrt, square,
                        squared_difference, stop_gradient, subtract, tan, tanh, where)
from tracer.shape_ops import (broadcast_to, concat, expand_dims, gather, reshape, squeeze,
                              stack, tile, transpose)
from tracer.tape import GradientTape
from tracer.shape_ops import rank, shape, size  # noqa: E402  (TensorFlow's static facts)
from tracer.ops import add_n  # noqa: E402
from tracer.linalg import norm  # noqa: E402  (tf.norm)
from tracer.tape import UnconnectedGradients  # noqa: E402
from tracer.custom import custom_gradient
from tracer.function import function
from tracer.transforms import grad, value_and_grad
from tracer.vectorize import vmap
from tracer.rematerialize import checkpoint, remat
from tracer.forward import hessian, jacfwd, jacobian, jacrev, jvp, linearize, vjp
from tracer import math, nn  # noqa: E402  (tt.math, tt.nn namespaces)
from tracer.array_ops import (argsort, cumprod, cumsum, pad, reverse, sort, split,  # noqa: E402
                              unstack)
from tracer.indexing import (boolean_mask, gather_nd, scatter_nd,  # noqa: E402
                             tensor_scatter_nd_add, tensor_scatter_nd_update)
from tracer.math import reduce_all, reduce_any  # noqa: E402
from tracer.norms import (clip_by_global_norm, clip_by_norm, global_norm,  # noqa: E402
                          reduce_std, reduce_variance)
from tracer import linalg  # noqa: E402  (tt.linalg)
from tracer import testing  # noqa: E402  (tt.testing)
from tracer import distributed  # noqa: E402  (tt.distributed; Dask is imported on use)
from tracer.nn_ops import one_hot  # noqa: E402
from tracer.random_ops import random  # noqa: E402  (tt.random)
from tracer import optimizers  # noqa: E402  (tt.optimizers)
from tracer.control import cond, fori_loop, scan, switch, while_loop
from runtime import wait_for_compiles  # noqa: E402
from tracer.ops import divide as realdiv, floormod, truediv  # noqa: E402
from tracer.special_math import acosh, asinh, atanh  # noqa: E402
from tracer import checkpoint_policies  # noqa: E402  (tt.checkpoint_policies)
from tracer.ops import atan2  # noqa: E402
from tracer.array_ops import (meshgrid, repeat, roll, searchsorted, slice,  # noqa: E402,A004
                              strided_slice, unique)

# public names only: implementation modules (tt.ops, tt.engine, ...) stay reachable as
# attributes but are not exported; tt.linalg, tt.math, tt.nn, tt.testing are public
_PUBLIC_MODULES = {"linalg", "math", "nn", "optimizers", "testing", "distributed",
                   "checkpoint_policies"}
__all__ = sorted(n for n, v in globals().items() if not n.startswith("_")
                 and (not isinstance(v, _types.ModuleType) or n in _PUBLIC_MODULES))
