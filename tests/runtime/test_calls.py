"""Native implementations of calls (runtime.calls): the same values as the primitive's
NumPy implementation, bit for bit, and what compiled programs call."""
import numpy as np
import pytest

import runtime
from compiler import Graph
from compiler import primitives as P
from runtime import calls


def test_native_scatter_add_equals_the_numpy_implementation_bit_for_bit():
    rng = np.random.default_rng(7)
    for trial in range(200):
        nd = int(rng.integers(1, 4))
        shape = tuple(int(d) for d in rng.integers(0, 5, nd))
        axis, size = int(rng.integers(0, nd)), int(rng.integers(1, 6))
        ishape = tuple(int(d) for d in rng.integers(0, 4 if trial % 2 else 30,
                                                     int(rng.integers(0, 3))))
        idx = rng.integers(-size, size, ishape).astype((np.int32, np.int64)[trial % 2])
        g = (rng.normal(size=shape[:axis] + ishape + shape[axis + 1:]) * 10).astype(
            (np.float32, np.float64, np.int32, np.int64)[trial % 4])
        if g.dtype.kind == "f" and g.size:
            g.reshape(-1)[0] = -0.0
        got = calls.scatter_add(g, idx, axis=axis, size=size)
        want = P.scatter_add.impl(g, idx, axis=axis, size=size)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert np.array_equal(got, want) and np.array_equal(np.signbit(got),
                                                            np.signbit(want))
    with pytest.raises(IndexError, match="index 4 is out of bounds"):
        calls.scatter_add(np.ones(2), np.array([1, 4]), axis=0, size=3)


def test_compiled_programs_call_the_native_scatter():
    upd = P.input(shape=(6, 3), dtype=np.dtype("float32"))
    idx = P.input(shape=(6,), dtype=np.dtype("int64"))
    g = Graph([upd, idx], [P.scatter_add(upd, idx, axis=0, size=4)])
    ex = runtime.executable(g, compile=True)
    args = [np.arange(18, dtype=np.float32).reshape(6, 3), np.array([3, 0, 3, -1, 2, 0])]
    got = ex.compile_now(args)[0]
    assert calls.scatter_add in [getattr(c, "func", c) for c in ex.native.calls]
    np.testing.assert_array_equal(got, runtime.evaluate(g, args)[0])
