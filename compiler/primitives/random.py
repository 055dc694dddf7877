"""Counter-based random numbers: ``stateless_uniform(seed)`` is a pure function of its
integer seed (splitmix64 of seed and element index), so a compiled function given a new
seed each call draws new numbers, and the same seed always gives the same numbers.
"""
import numpy as np

from compiler.primitives import batch_rules
from compiler.primitives.core import FLOAT, INT, Case, check_dtype, declare

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _infer(seed, *, shape, dtype):
    check_dtype("stateless_uniform", seed, INT, "seed")
    if seed.shape != ():
        raise ValueError(f"stateless_uniform: seed has shape {seed.shape}; it must be a "
                         f"scalar")
    if np.dtype(dtype) not in FLOAT:
        raise TypeError(f"stateless_uniform: dtype {dtype} is not valid; use float32 or "
                        f"float64")
    return tuple(shape), dtype


def _impl(seed, *, shape, dtype):
    n = int(np.prod(shape, dtype=np.int64))
    s = np.uint64(int(np.asarray(seed)) & 0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        z = np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN + s * np.uint64(0xD1B54A32D192ED03)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    if np.dtype(dtype) == np.float32:
        out = (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)
    else:
        out = (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    return out.reshape(shape)


stateless_uniform = declare(
    "stateless_uniform", infer=_infer, impl=_impl, kind="other", differentiable=False,
    batch=batch_rules.per_example,
    cases=[Case(shapes=((),), attrs={"shape": (3, 4), "dtype": "<f4"},
                dtypes=(np.dtype("int64"),)),
           Case(shapes=((),), attrs={"shape": (5,), "dtype": "<f8"},
                dtypes=(np.dtype("int32"),))])
