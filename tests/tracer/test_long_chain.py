"""Nothing quadratic: a 10^5-op eager chain records and differentiates in time linear in
its length, in both tiers (the compiled tier's tiering keeps a huge graph run once on the
interpreter instead of compiling it)."""
import time

import numpy as np
import pytest

import tracer as tt

N_OPS = 100_000
BUDGET_SECONDS = 240      # generous for a loaded machine; a quadratic pass takes hours


@pytest.mark.slow
def test_long_eager_chain_records_and_differentiates(tt_backend):
    x = tt.Variable(np.float64(0.3))
    start = time.process_time()      # CPU time of this process: immune to machine load
    with tt.GradientTape() as tape:
        y = x
        for _ in range(N_OPS // 2):
            y = tt.sin(y) * 1.0001
    g = tape.gradient(y, x)
    elapsed = time.process_time() - start
    v, d = 0.3, 1.0
    for _ in range(N_OPS // 2):
        d *= np.cos(v) * 1.0001
        v = np.sin(v) * 1.0001
    np.testing.assert_allclose(float(y), v, rtol=1e-9)
    np.testing.assert_allclose(float(g), d, rtol=1e-6)
    assert elapsed < BUDGET_SECONDS, f"{N_OPS} ops took {elapsed:.0f} s ({tt_backend})"
