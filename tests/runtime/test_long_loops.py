"""Tiering of loops: a call expected to interpret for longer than its loop takes to
compile compiles first (a fori_loop of many steps), a while loop whose first call
interpreted that long compiles at its second, and a jit_threshold meaning "never" still
never compiles."""
import numpy as np
import pytest

import runtime
import runtime.executor as executor
import tracer as tt

STEPS = 3000


@pytest.fixture
def cheap_loops(monkeypatch):
    """Default tiering (jit_threshold 2, background compiles), with a loop's compile
    estimate and the typical call small enough that a few thousand interpreted steps
    outweigh them on any machine (3000 steps interpret in ~17 ms on a fast one, under the
    default TYPICAL_CALL * jit_threshold = 20 ms)."""
    monkeypatch.setattr(executor, "SECONDS_PER_LOOP", 0.005)
    monkeypatch.setattr(executor, "TYPICAL_CALL", 0.001)
    saved = runtime.config.jit_threshold, runtime.config.compile_in_background
    runtime.config.update(jit_threshold=2, compile_in_background=True)
    runtime.cache.clear()               # every test starts from a cold executable
    try:
        yield
    finally:
        assert runtime.wait_for_compiles(timeout=300)
        runtime.config.update(jit_threshold=saved[0], compile_in_background=saved[1])


def _fori(x):
    return tt.fori_loop(0, STEPS, lambda i, v: v * 0.999 + 0.001, x)


def _while(x):
    return tt.while_loop(lambda i, v: i < STEPS, lambda i, v: (i + 1, v * 0.999 + 0.001),
                         (tt.constant(0), x))[1]


def _exe(fn):
    return next(iter(fn._entries.values())).exe


def _expected(x0):
    v = np.float64(x0)
    for _ in range(STEPS):
        v = v * 0.999 + 0.001
    return v


def test_long_fori_loop_compiles_at_its_first_call(cheap_loops):
    f = tt.function(_fori)
    out = f(tt.constant(np.float64(2.0)))
    exe = _exe(f)
    assert exe.interpret_estimate() > 0.01 and exe.interpret_estimate() < 1.0
    assert exe.native is not None and exe.interpreted_seconds == 0.0
    np.testing.assert_allclose(out.numpy(), _expected(2.0), rtol=1e-12)


def test_short_loop_first_call_stays_interpreted(cheap_loops, monkeypatch):
    monkeypatch.setattr(executor, "SECONDS_PER_LOOP", 30.0)
    f = tt.function(_fori)
    out = f(tt.constant(np.float64(2.0)))
    exe = _exe(f)
    assert exe.native is None and exe.interpreted_seconds > 0.0
    np.testing.assert_allclose(out.numpy(), _expected(2.0), rtol=1e-12)


def test_while_loop_compiles_at_its_second_call_after_a_long_first(cheap_loops):
    f = tt.function(_while)
    x = tt.constant(np.float64(0.5))
    first = f(x)                        # trip count unknown: interpreted, and timed
    exe = _exe(f)
    assert exe.native is None and exe.interpreted_seconds > 0.0
    second = f(x)
    assert exe.native is not None       # compiled (and waited for) by the second call
    np.testing.assert_allclose(first.numpy(), _expected(0.5), rtol=1e-12)
    np.testing.assert_allclose(second.numpy(), first.numpy(), rtol=1e-12)


def test_never_compiling_threshold_keeps_long_loops_interpreted(cheap_loops):
    runtime.config.update(jit_threshold=1 << 30)
    f = tt.function(_fori)
    for _ in range(2):
        out = f(tt.constant(np.float64(2.0)))
    assert _exe(f).native is None
    np.testing.assert_allclose(out.numpy(), _expected(2.0), rtol=1e-12)
