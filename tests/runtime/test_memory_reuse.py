"""Freed array memory is reused by the next call (runtime.memory): repeated calls that
allocate megabyte arrays do not fault in fresh pages each time."""
import os
import resource
import subprocess
import sys

import numpy as np
import pytest

import runtime
import tracer as tt


def _faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@pytest.mark.skipif(not runtime.memory.tuned, reason="malloc settings need Linux with glibc")
def test_repeated_calls_reuse_freed_arrays_without_page_faults(tt_backend):
    # a Hessian of 300 unknowns: a dozen 0.7 MiB temporaries per call (with glibc's
    # defaults the heap top is trimmed after each call: ~220 faults per call)
    def f(x):
        return tt.reduce_sum(tt.sin(x) ** 2 * tt.exp(-x)) + \
            tt.reduce_sum(tt.tanh(x[1:] * x[:-1]))
    h = tt.jacrev(tt.grad(f))
    x = tt.constant(np.linspace(-1.0, 1.0, 300))
    for _ in range(4):
        y = h(x)
    runtime.wait_for_compiles()
    y = h(x)
    y = h(x)                    # (two results alive at once from here on)
    before = _faults()
    for _ in range(10):
        y = h(x)
    faults = _faults() - before
    assert y.shape == (300, 300)
    assert faults < 50, f"{faults} page faults in 10 calls"


def test_malloc_tuning_can_be_turned_off():
    code = "import runtime; print(runtime.memory.tuned)"
    env = dict(os.environ, TRACER_MALLOC_TUNING="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, cwd=os.path.dirname(runtime.__path__[0]))
    assert out.stdout.strip() == "False"
