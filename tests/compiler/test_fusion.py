"""Fusion and code generation: what the kernels look like, and that they agree with the
interpreter (the oracle)."""
import subprocess
import sys

import numpy as np
import pytest

import runtime
from compiler import Graph, codegen, fusion
from compiler import primitives as P

F32, F64 = np.dtype("float32"), np.dtype("float64")


def _kernels(graph, threshold=1 << 20):
    steps = fusion.partition(graph)
    kernels = [s for s in steps if isinstance(s, fusion.Kernel)]
    return steps, [codegen.kernel_source(k, threshold)[0] for k in kernels]


def _check(graph, args, rtol=1e-6):
    with np.errstate(all="ignore"):
        want = runtime.evaluate(graph, args, "interpret")
        got = runtime.evaluate(graph, args, "compiled")
    for g, w in zip(got, want):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(np.asarray(g, F64), np.asarray(w, F64), rtol=rtol,
                                   atol=1e-6, equal_nan=True)


def test_fusion_reduce_sum_of_product_is_one_loop_without_temporary():
    x, y = P.input(shape=(1000,), dtype=F32), P.input(shape=(1000,), dtype=F32)
    g = Graph([x, y], [P.reduce_sum(P.mul(x, y), axes=(0,))])
    steps, sources = _kernels(g)
    assert len(steps) == 1 and len(sources) == 1
    src = sources[0]
    assert src.count("for ") == 1 and "np.empty" not in src
    assert "acc_add(" in src and "fastmath" not in src
    assert "error_model='numpy'" in src
    a = np.random.default_rng(0).standard_normal((2, 1000)).astype(F32)
    _check(g, [a[0], a[1]], rtol=1e-4)


def _softmax(x):
    n, m = x.shape
    mx = P.reduce_max(x, axes=(1,))
    e = P.exp(P.sub(x, P.broadcast_to(P.reshape(mx, shape=(n, 1)), shape=(n, m))))
    z = P.reduce_sum(e, axes=(1,))
    return P.div(e, P.broadcast_to(P.reshape(z, shape=(n, 1)), shape=(n, m)))


def test_fusion_softmax_materialises_the_max_and_matches_interpreter():
    x = P.input(shape=(4, 6), dtype=F64)
    g = Graph([x], [_softmax(x)])
    steps, sources = _kernels(g)
    # max, then exp + sum in one loop nest, then the division: three kernels, no calls
    assert len(sources) == 3 and all(isinstance(s, fusion.Kernel) for s in steps)
    assert "max_nan" in sources[0] and "expd(" in sources[1] and "acc_add(" in sources[1]
    a = np.random.default_rng(1).standard_normal((4, 6)) * 30
    a[1, 2], a[2, :] = np.nan, np.inf
    _check(g, [a])


def test_fusion_broadcast_and_matmul_mix():
    a, w, b = (P.input(shape=s, dtype=F64) for s in [(5, 3), (3, 4), (4,)])
    h = P.tanh(P.add(P.matmul(a, w), P.broadcast_to(b, shape=(5, 4))))
    out = P.reduce_sum(P.mul(h, h), axes=(0,))
    g = Graph([a, w, b], [h, out, P.transpose(h, perm=(1, 0))])
    steps, _ = _kernels(g)
    assert [type(s).__name__ for s in steps].count("Call") == 2   # matmul, transpose
    rng = np.random.default_rng(2)
    _check(g, [rng.standard_normal(s) for s in [(5, 3), (3, 4), (4,)]])


def test_fusion_repeated_steps_share_one_kernel():
    h0 = h = P.input(shape=(3, 4), dtype=F64)
    w = P.input(shape=(4, 4), dtype=F64)
    xs = [P.input(shape=(3, 4), dtype=F64) for _ in range(6)]
    for x in xs:
        h = P.tanh(P.add(P.matmul(h, w), x))
    _, sources = _kernels(Graph([h0, w] + xs, [h]))
    assert len(sources) == 6 and len(set(sources)) == 1


def test_fusion_large_loops_use_prange():
    x = P.input(shape=(64, 64), dtype=F64)
    g = Graph([x], [P.sin(x), P.reduce_sum(P.sin(x), axes=(1,))])
    _, sources = _kernels(g, threshold=1000)
    assert len(sources) == 1 and "prange(n0)" in sources[0] and "parallel=True" in sources[0]
    saved = runtime.config.parallel_threshold
    runtime.config.parallel_threshold = 1000
    try:
        _check(g, [np.random.default_rng(3).standard_normal((64, 64))])
    finally:
        runtime.config.parallel_threshold = saved


def test_fusion_parallel_row_sums_stay_vectorisable():
    # inside a prange loop, a row's sum is a serial loop: it accumulates with acc_add in
    # float32, the sequential kernel's code bit for bit, so the exp before it vectorises
    # too; the prange loop's own reduction keeps the += form prange reduces, in float64
    x = P.input(shape=(64, 96), dtype=F32)
    g = Graph([x], [_softmax(x), P.reduce_sum(P.exp(x), axes=(0, 1))])
    _, sources = _kernels(g, threshold=1000)
    row = next(s for s in sources if "expf(" in s and "prange(n0)" in s and "o1" in s)
    assert "acc_add(r" in row and "np.float64(v" not in row and "+=" not in row
    serial = row.replace(", parallel=True", "").replace("prange(n0)", "range(n0)")
    assert serial in _kernels(g)[1]
    _, (total,) = _kernels(Graph([x], [P.reduce_sum(P.exp(x), axes=(0, 1))]), 1000)
    assert "prange(nf)" in total and "+= np.float64(" in total and "acc_add" not in total
    saved = runtime.config.parallel_threshold
    runtime.config.parallel_threshold = 1000
    try:
        a = np.random.default_rng(4).standard_normal((64, 96)).astype(F32) * 4
        a[3, 5], a[7, :] = np.nan, np.inf
        _check(g, [a], rtol=2e-6)
    finally:
        runtime.config.parallel_threshold = saved


def test_fusion_partial_reduction_over_leading_axes():
    x = P.input(shape=(2, 3, 4), dtype=F64)
    g = Graph([x], [P.reduce_sum(P.exp(x), axes=(0, 2)), P.reduce_min(x, axes=(0,))])
    a = np.random.default_rng(4).standard_normal((2, 3, 4))
    a[0, 1, 2] = np.nan
    _check(g, [a])


@pytest.mark.parametrize("dtype, calls, specials, rtol", [
    # float32: runtime.vecmath's polynomials
    (F32, ("sinf(", "cosf(", "expf(", "tanhf(", "sigmoidf("),
     [np.nan, np.inf, -np.inf, 0.0], 2e-6),
    # float64: runtime.vecmath64's
    (F64, ("sind(", "cosd(", "expd(", "tanhd(", "sigmoidd("),
     [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e300], 1e-14)])
def test_fusion_transcendentals_use_the_vectorisable_kernels(dtype, calls, specials, rtol):
    x = P.input(shape=(100,), dtype=dtype)
    y = P.add(P.mul(P.sin(x), P.cos(x)), P.mul(P.exp(P.neg(P.mul(x, x))), P.tanh(x)))
    g = Graph([x], [y, P.sigmoid(x)])
    _, sources = _kernels(g)
    for fn in calls:
        assert fn in sources[0]
    a = np.random.default_rng(5).uniform(-5, 5, 100).astype(dtype)
    a[:len(specials)] = specials
    _check(g, [a], rtol=rtol)


@pytest.mark.parametrize("dtype, calls", [
    (F32, ("logf(", "log1pf(", "erff(", "softplusf(")),
    (F64, ("logd(", "log1pd(", "erfd(", "softplusd("))])
def test_fusion_log_erf_softplus_use_the_vectorisable_kernels(dtype, calls):
    x = P.input(shape=(100,), dtype=dtype)
    g = Graph([x], [P.add(P.log(P.abs(x)), P.log1p(P.abs(x))), P.erf(x), P.softplus(x)])
    _, sources = _kernels(g)
    for fn in calls:
        assert fn in sources[0]
    a = np.random.default_rng(6).uniform(-5, 5, 100).astype(dtype)
    a[:6] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30]
    _check(g, [a], rtol=2e-6 if dtype == F32 else 1e-14)


@pytest.mark.parametrize("dtype, far", [(F32, [2.0 ** 47, -3e38, np.inf]),
                                         (F64, [2.0 ** 29, -1e300, 6381956970095103 * 2.0 ** 797])])
def test_fusion_sin_cos_run_near_kernels_and_repeat_for_far_arguments(dtype, far):
    # loops run sin/cos by kernels for arguments below 2**29 (float64) / 2**47 (float32)
    # and repeat with the full kernels only when some argument is not: the same bits
    # either way, and sums are not counted twice. Kernels below codegen.NEAR_MIN_SIZE
    # elements have the full kernels only (one loop to compile)
    def graph(shape):
        x = P.input(shape=shape, dtype=dtype)
        y = P.add(P.sin(P.add(x, x)), P.cos(x))
        return Graph([x], [y, P.reduce_sum(P.sin(x), axes=(0, 1)),
                           P.reduce_sum(P.cos(x), axes=(1,))])
    shape = (32, 64)
    assert 32 * 64 == codegen.NEAR_MIN_SIZE
    g = graph(shape)
    _, sources = _kernels(g)
    assert all("_near(" in src and "if far:" in src for src in sources), sources
    _, small = _kernels(graph((8, 16)))
    assert not any("_near(" in src or "if far:" in src for src in small), small
    assert all("sin" in src or "cos" in src for src in small), small
    a = np.random.default_rng(7).uniform(-20, 20, shape).astype(dtype)
    a[0, :5] = [0.0, -0.0, np.finfo(dtype).tiny / 4, -(2.0 ** 20 - 1), 1e6]
    b = a.copy()
    b[1:4, 5] = far
    outs = []
    for v in (a, b):
        got = runtime.evaluate(g, [v], "compiled")
        with np.errstate(all="ignore"):
            want = runtime.evaluate(g, [v], "interpret")
        for g_, w_ in zip(got, want):
            np.testing.assert_allclose(g_, w_, rtol=1e-5 if dtype == F32 else 1e-13,
                                       atol=1e-5 if dtype == F32 else 1e-13)
        outs.append(got[0])
    kept = np.ones(a.shape, bool)
    kept[1:4, 5] = False
    assert np.array_equal(outs[0][kept], outs[1][kept])         # bit for bit


def test_fusion_integer_division_by_zero_gives_zero():
    x, y = P.input(shape=(6,), dtype=np.dtype("i8")), P.input(shape=(6,), dtype=np.dtype("i8"))
    g = Graph([x, y], [P.floordiv(x, y), P.mod(x, y)])
    a, b = np.array([7, -7, 7, -7, 0, 5]), np.array([2, 2, -2, 0, 0, -3])
    got = runtime.evaluate(g, [a, b], "compiled")
    np.testing.assert_array_equal(got[0], [3, -4, -4, 0, 0, -2])
    np.testing.assert_array_equal(got[1], [1, 1, -1, 0, 0, -1])


def test_fusion_compiler_does_not_import_numba():
    code = ("import sys, compiler.codegen, compiler.fusion; "
            "sys.exit('numba' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_driver_deletes_temporaries_after_last_use():
    # an unrolled chain must not keep every step's array alive until the end
    import tracer as tt
    def chain(x):
        for _ in range(6):
            x = tt.matmul(x, x) * 0.5
        return tt.reduce_sum(x)
    f = tt.function(chain)
    x = tt.constant(np.eye(4, dtype=np.float32))
    f(x)
    source = f.explain(x)
    assert "    del t" in source
    a = np.eye(4)
    for _ in range(6):
        a = a @ a * 0.5
    np.testing.assert_allclose(f(x).numpy(), a.sum(), rtol=1e-6)
