"""Native max pooling (runtime.pooling): the NumPy implementations' values bit for bit,
on ties, NaN, infinities, signed zeros and integers, serial and parallel; and what compiled
programs call."""
import numpy as np

import runtime
from compiler import Graph
from compiler import primitives as P
from runtime import pooling
from runtime.config import config

PRIMS = {"max": P.max_pool, "select": P.max_pool_select, "scatter": P.max_pool_scatter}
NATIVE = {"max": pooling.max_pool, "select": pooling.max_pool_select,
          "scatter": pooling.max_pool_scatter}


def _input(rng, shape, dtype):
    if np.dtype(dtype).kind == "i":
        return rng.integers(-2, 3, shape).astype(dtype)      # ties in every window
    x = rng.integers(-2, 3, shape).astype(dtype)
    flat = x.reshape(-1)
    spots = rng.choice(flat.size, min(flat.size, 6), replace=False)
    flat[spots] = rng.choice([np.nan, np.inf, -np.inf, -0.0, 0.0, np.nan], spots.size)
    return x


def _same(got, want):
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.array_equal(got, want, equal_nan=want.dtype.kind == "f")
    if want.dtype.kind == "f":
        assert np.array_equal(np.signbit(got), np.signbit(want))


def test_native_pooling_equals_the_numpy_implementations():
    rng = np.random.default_rng(3)
    pairs = [("float32", "float32"), ("float64", "float64"), ("int32", "float32"),
             ("int64", "float64")]
    for trial in range(16):
        k = ((2, 2), (3, 2))[trial % 2]
        s = tuple(int(a) for a in rng.integers(1, 4, 2))
        shape = (int(rng.integers(1, 3)), k[0] + int(rng.integers(0, 5)),
                 k[1] + int(rng.integers(0, 5)), int(rng.integers(1, 6)))
        xdt, hdt = pairs[trial // 2 % 4]
        x = _input(rng, shape, xdt)
        out = P.max_pool(P.input(shape=shape, dtype=x.dtype), ksize=k, strides=s).shape
        h = rng.normal(size=shape).astype(hdt)
        g = rng.normal(size=out).astype(h.dtype)
        g.reshape(-1)[0] = -0.0                 # 0 + -0.0: both give +0.0
        for op, args in (("max", (x,)), ("select", (x, h)), ("scatter", (x, g))):
            want = PRIMS[op].impl(*args, ksize=k, strides=s)
            _same(NATIVE[op](*args, ksize=k, strides=s), want)


def test_parallel_scatter_gives_the_serial_values():
    rng = np.random.default_rng(4)
    x = _input(rng, (3, 7, 6, 5), "float32")
    g = rng.normal(size=(3, 3, 5, 5)).astype(np.float32)
    k, s = (3, 2), (2, 1)
    serial = pooling.max_pool_scatter(x, g, ksize=k, strides=s)
    old = config.parallel_threshold
    config.parallel_threshold = 1
    try:
        _same(pooling.max_pool_scatter(x, g, ksize=k, strides=s), serial)
    finally:
        config.parallel_threshold = old


def test_compiled_programs_call_the_native_pooling():
    x = P.input(shape=(2, 6, 6, 3), dtype=np.dtype("float32"))
    y = P.max_pool(x, ksize=(2, 2), strides=(2, 2))
    g = Graph([x], [y, P.max_pool_scatter(x, P.mul(y, y), ksize=(2, 2), strides=(2, 2))])
    ex = runtime.executable(g, compile=True)
    args = [np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype(np.float32)]
    got = ex.compile_now(args)
    called = [getattr(c, "func", c) for c in ex.native.calls]
    assert pooling.max_pool in called and pooling.max_pool_scatter in called
    for a, b in zip(got, runtime.evaluate(g, args)):
        np.testing.assert_array_equal(a, b)
