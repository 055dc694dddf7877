"""Float max/min reductions in vector lanes (compiler.lanes, runtime.vecmax): the compiled
value is the sequential one (``max_nan``/``min_nan`` element after element) bit for bit,
signs of zeros included, on rows of NaN, infinities and zeros of both signs, serial and
in parallel kernels; the rows where the lane form would differ rerun exactly."""
import numpy as np
import pytest

import runtime
from compiler import Graph
from compiler import primitives as P
from runtime import diskcache

VALUES = np.array([0.0, -0.0, -1.0, 1.0, np.nan, -np.inf, np.inf, 2.0])
WEIGHTS = [0.3, 0.3, 0.1, 0.1, 0.04, 0.06, 0.04, 0.06]


def sequential(x, axes, op):
    """The reduction one element at a time in row-major order, as ``max_nan`` does."""
    keep = [d for d in range(x.ndim) if d not in axes]
    rows = np.transpose(x, keep + list(axes)).reshape([x.shape[d] for d in keep] + [-1])
    out = np.empty(rows.shape[:-1], x.dtype)
    for i in np.ndindex(out.shape):
        r = x.dtype.type(-np.inf if op == "reduce_max" else np.inf)
        for v in rows[i]:
            beats = r > v if op == "reduce_max" else r < v
            r = r if beats or r != r else v
        out[i] = r
    return out


def _same_bits(got, want):
    got = np.asarray(got)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.signbit(got) & ~np.isnan(got),
                                  np.signbit(want) & ~np.isnan(want))
    np.testing.assert_array_equal(np.nan_to_num(got), np.nan_to_num(want))


def _compiled(x, axes, op):
    node = P.input(shape=x.shape, dtype=x.dtype)
    graph = Graph([node], [getattr(P, op)(node, axes=axes)])
    ex = runtime.executable(graph, compile=True)
    return ex.compile_now([x])[0], ex.native.text()


@pytest.mark.parametrize("op", ["reduce_max", "reduce_min"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lane_reductions_give_the_sequential_values(op, dtype):
    rng = np.random.default_rng(21)
    for axes in ((1,), (0, 1)):
        for trial in range(6):
            shape = (int(rng.integers(1, 9)), int(rng.integers(1, 40)))
            x = rng.choice(VALUES, size=shape, p=WEIGHTS).astype(dtype)
            if trial == 0:              # a row of both zeros, extremum zero: the rerun
                x[0] = [0.0, -0.0] * (shape[1] // 2) + [-0.0] * (shape[1] % 2)
            got, text = _compiled(x, axes, op)
            _same_bits(got, sequential(x, axes, op))
            assert ("acc_max" if op == "reduce_max" else "acc_min") in text


@pytest.mark.parametrize("op", ["reduce_max", "reduce_min"])
def test_lane_reductions_in_parallel_rows(op):
    rng = np.random.default_rng(22)
    old = runtime.config.parallel_threshold
    runtime.config.parallel_threshold = 64
    try:
        for trial in range(4):
            x = rng.choice(VALUES, size=(33, int(rng.integers(2, 30))), p=WEIGHTS)
            x = x.astype(np.float32)
            x[trial] = -0.0
            x[trial, -1] = 0.0
            got, text = _compiled(x, (1,), op)
            assert "prange" in text
            _same_bits(got, sequential(x, (1,), op))
    finally:
        runtime.config.parallel_threshold = old


def test_only_kernels_naming_an_optional_helper_carry_its_digest():
    plain = "def kernel(a0):\n    return a0\n"
    lane = "from runtime.vecmax import acc_max, acc_min\n" + plain
    saved = dict(diskcache.OPTIONAL_HELPERS)
    before = diskcache.entry_name(plain), diskcache.entry_name(lane)
    try:
        diskcache.OPTIONAL_HELPERS["runtime.vecmax"] = "0" * 16
        assert diskcache.entry_name(plain) == before[0]
        assert diskcache.entry_name(lane) != before[1]
    finally:
        diskcache.OPTIONAL_HELPERS.update(saved)
