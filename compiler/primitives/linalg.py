"""Matrix products. ``matmul`` takes rank >= 2 operands with equal batch dimensions
(tracer promotes vectors and broadcasts batch dimensions); it lowers to a BLAS call.
"""
import numpy as np

from compiler import blas
from compiler import primitives as P
from compiler.primitives import batch_rules
from compiler.primitives.core import NUMERIC, Case, check_dtype, declare


def _matmul_infer(a, b):
    check_dtype("matmul", a, NUMERIC, "a")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul: a has dtype {a.dtype} and b has dtype {b.dtype}; "
                        f"they must be equal (cast first)")
    if a.ndim < 2 or a.ndim != b.ndim or a.shape[:-2] != b.shape[:-2]:
        raise ValueError(f"matmul: a has shape {a.shape} and b has shape {b.shape}; the "
                         f"primitive needs equal ranks >= 2 and equal batch dimensions")
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: a has shape {a.shape} and b has shape {b.shape}; "
                         f"a.shape[-1] ({a.shape[-1]}) must equal b.shape[-2] "
                         f"({b.shape[-2]})")
    return a.shape[:-1] + b.shape[-1:], a.dtype


def swap_last(x):
    perm = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return P.transpose(x, perm=perm)


matmul = declare(
    "matmul", infer=_matmul_infer, impl=blas.matmul, kind="linalg",
    vjp=lambda g, out, a, b: (P.matmul(g, swap_last(b)), P.matmul(swap_last(a), g)),
    cases=[Case(shapes=((3, 4), (4, 2))), Case(shapes=((2, 3, 4), (2, 4, 5))),
           Case(shapes=((2, 1, 2, 3), (2, 1, 3, 2))), Case(shapes=((1, 3), (3, 1))),
           Case(shapes=((2, 3), (3, 2)), low=-3, high=4, dtypes=(np.dtype("int32"),) * 2)],
    batch=batch_rules.matmul)
