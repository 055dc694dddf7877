"""Compiled float powers whose exponent is an integer converted to float (Adam's
beta ** step) run and match NumPy. (Fast-math kernels once turned them into llvm.powi,
whose runtime helpers the JIT lacks; kernels carry no fast-math flags now.)"""
import numpy as np

import tracer as tt


def test_pow_of_integer_exponent_compiles_and_matches_numpy():
    f = tt.function(lambda b, n: tt.pow(b, tt.cast(n + 1, b.dtype)))
    for dt in (np.float32, np.float64):
        b = np.array([0.9, 0.999, 2.0], dt)
        n = np.array([0, 4, 9], np.int32)
        np.testing.assert_allclose(f(b, n).numpy(), b ** (n + 1).astype(dt), rtol=1e-6)
