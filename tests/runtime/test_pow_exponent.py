"""A pow's literal exponent is written into the kernel (LLVM turns pow(x, 2.0) into an
exact x * x only when it sees the value); other literals stay run-time parameters."""
import numpy as np

import tracer as tt


def test_pow_exponent_in_source_other_literals_passed():
    f = tt.function(lambda x: tt.reduce_sum(x ** 2.0 * 3.0 + x ** 0.5))
    x = np.linspace(0.0, 2.0, 7).astype(np.float32)
    text = f.explain(tt.constant(x))
    assert "** np.float32(float('2.0'))" in text and "** np.float32(float('0.5'))" in text
    assert "float('3.0')" not in text                   # 3.0 is the parameter c0
    expected = np.sum(x.astype(np.float64) ** 2 * 3 + np.sqrt(x.astype(np.float64)))
    np.testing.assert_allclose(float(f(tt.constant(x))), expected, rtol=1e-5)
    y = np.array([-0.0, -np.inf, 4.0], np.float32)      # IEEE pow at -0.0 and -inf
    g = tt.function(lambda x: x ** 0.5)
    g.explain(tt.constant(y))                           # compiled now
    (entry,) = g._entries.values()
    assert entry.exe.native is not None
    np.testing.assert_array_equal(g(tt.constant(y)).numpy(),
                                  np.array([0.0, np.inf, 2.0], np.float32))
