"""float32 sums in parallel compiled loops keep NumPy's accuracy (each thread's share used
to be added one float32 at a time)."""
import numpy as np

import runtime
import tracer as tt


def test_parallel_float32_sums_are_as_accurate_as_numpy(monkeypatch):
    monkeypatch.setattr(runtime.config, "parallel_threshold", 1 << 10)
    monkeypatch.setattr(runtime.config, "jit_threshold", 0)
    monkeypatch.setattr(runtime.config, "compile_in_background", False)
    x = np.random.default_rng(0).uniform(0, 1, 1 << 18).astype(np.float32)
    exact = x.astype(np.float64)
    fn = tt.function(lambda x: (tt.reduce_sum(x), tt.reduce_variance(x)))
    total, var = fn(x)
    assert fn._entries and total.dtype == var.dtype == np.float32
    np.testing.assert_allclose(total.numpy(), exact.sum(), rtol=2e-7)
    np.testing.assert_allclose(var.numpy(), exact.var(), rtol=2e-7)
