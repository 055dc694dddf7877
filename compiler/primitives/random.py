"""Counter-based random numbers: ``stateless_uniform(seed)`` is a pure function of its
integer seed (splitmix64 of seed and element index), so a compiled function given a new
seed each call draws new numbers, and the same seed always gives the same numbers.
"""
import numpy as np

from compiler.primitives.core import FLOAT, INT, Case, check_dtype, declare

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _infer(seed, *, shape, dtype):
    """A scalar seed gives ``shape``; seeds of shape S (a batch of them: vmap) give
    S + shape, each block drawn from its own seed."""
    check_dtype("stateless_uniform", seed, INT, "seed")
    if np.dtype(dtype) not in FLOAT:
        raise TypeError(f"stateless_uniform: dtype {dtype} is not valid; use float32 or "
                        f"float64")
    return seed.shape + tuple(shape), dtype


def _impl(seed, *, shape, dtype):
    n = int(np.prod(shape, dtype=np.int64))
    seed = np.asarray(seed)
    # two's complement of the seed as uint64, one per seed (a trailing axis of 1)
    s = seed.astype(np.int64).view(np.uint64)[..., None]
    with np.errstate(over="ignore"):
        z = np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN + s * np.uint64(0xD1B54A32D192ED03)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    if np.dtype(dtype) == np.float32:
        out = (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)
    else:
        out = (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    return out.reshape(seed.shape + tuple(shape))


def _batch(node, size, xs, batched):
    """A batch of seeds draws every example's numbers in one node (leading axes of the
    seed are the batch)."""
    return node.prim(xs[0], **node.params)


stateless_uniform = declare(
    "stateless_uniform", infer=_infer, impl=_impl, kind="other", differentiable=False,
    batch=_batch,
    cases=[Case(shapes=((),), attrs={"shape": (3, 4), "dtype": "<f4"},
                dtypes=(np.dtype("int64"),)),
           Case(shapes=((),), attrs={"shape": (5,), "dtype": "<f8"},
                dtypes=(np.dtype("int32"),)),
           Case(shapes=((3,),), attrs={"shape": (2, 2), "dtype": "<f8"},
                dtypes=(np.dtype("int64"),))])
