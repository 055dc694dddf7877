"""Kernels take their extents at run time: one compiled kernel serves every shape of the
same structure, rank and layout, and agrees with the interpreter at each (0 and 1
extents included)."""
import numpy as np
import pytest

import runtime
from compiler import Graph, codegen, fusion
from compiler import primitives as P

F64 = np.dtype("float64")
F32 = np.dtype("float32")


def _structures(n, dtype):
    x = P.input(shape=(n, 4), dtype=dtype)
    b = P.input(shape=(4,), dtype=dtype)
    y = P.tanh(P.add(x, P.broadcast_to(b, shape=(n, 4))))
    return {
        "elementwise": Graph([x, b], [y, P.mul(y, y)]),
        "row_sums": Graph([x, b], [P.reduce_sum(P.mul(y, x), axes=(1,))]),
        "column_max": Graph([x, b], [P.reduce_max(y, axes=(0,))]),
        "total": Graph([x, b], [P.reduce_sum(P.exp(x), axes=(0, 1))]),
    }


def _kernel_sources(graph):
    steps = fusion.partition(fusion.rematerialize(graph))
    return [codegen.kernel_code(k, 1 << 20)[0] for k in steps
            if isinstance(k, fusion.Kernel)]


@pytest.mark.parametrize("dtype", [F64, F32])
def test_shape_generic_kernels_agree_with_interpreter_across_extents(tt_fresh_cache, dtype):
    rng = np.random.default_rng(0)
    for n in (0, 1, 2, 5, 33):
        args = [rng.standard_normal((n, 4)).astype(dtype),
                rng.standard_normal(4).astype(dtype)]
        for name, g in _structures(n, dtype).items():
            if n == 0 and name == "column_max":
                continue                       # max over an empty axis has no value
            want = runtime.evaluate(g, args, "interpret")
            got = runtime.evaluate(g, args, "compiled")
            for w, o in zip(want, got):
                assert np.shape(o) == np.shape(w), (name, n)
                np.testing.assert_allclose(o, w, rtol=1e-5, atol=1e-6, err_msg=f"{name} n={n}")


def test_shape_generic_source_has_no_extents():
    a, b = _structures(5, F64), _structures(9, F64)
    for name in a:
        assert _kernel_sources(a[name]) == _kernel_sources(b[name]), name


def test_shape_generic_new_batch_size_compiles_nothing(tt_fresh_cache):
    rng = np.random.default_rng(1)
    for n in (6, 7):
        args = [rng.standard_normal((n, 4)), rng.standard_normal(4)]
        for g in _structures(n, F64).values():
            runtime.evaluate(g, args, "compiled")
    before = runtime.cache_stats()["compiles"]
    for n in (8, 50, 1000):
        args = [rng.standard_normal((n, 4)), rng.standard_normal(4)]
        for name, g in _structures(n, F64).items():
            got = runtime.evaluate(g, args, "compiled")
            want = runtime.evaluate(g, args, "interpret")
            for w, o in zip(want, got):
                np.testing.assert_allclose(o, w, rtol=1e-12, atol=1e-12)
    assert runtime.cache_stats()["compiles"] == before
