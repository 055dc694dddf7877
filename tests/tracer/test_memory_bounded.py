"""Memory stays bounded: new shapes reuse compiled kernels, and what the caches evict
(signatures, executables, kernel modules) is freed."""
import gc
import os
import sys
import weakref

import numpy as np

import runtime
import tracer as tt


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def test_new_shapes_reuse_kernels_and_memory_stays_flat(tt_backend):
    @tt.function
    def f(x):
        return tt.reduce_sum(tt.tanh(x) * x + 1.0)

    for n in (3, 4):
        f(tt.constant(np.ones(n)))
        f(tt.constant(np.ones(n)))
    compiles, base = runtime.cache_stats()["compiles"], _rss_mb()
    for n in range(5, 305):
        x = np.linspace(-1, 1, n)
        for _ in range(2):
            got = float(f(tt.constant(x)))
        assert abs(got - float(np.sum(np.tanh(x) * x + 1.0))) < 1e-9
    gc.collect()
    assert runtime.cache_stats()["compiles"] == compiles      # kernels serve every n
    assert len(f._entries) <= runtime.config.cache_size
    assert _rss_mb() - base < 100


def test_cache_size_evicts_and_frees_executables():
    saved = runtime.config.cache_size
    runtime.config.cache_size = 4
    try:
        f = tt.function(lambda x: tt.reduce_sum(tt.exp(x)))
        f(tt.constant(np.ones(2)))
        f(tt.constant(np.ones(2)))
        first = weakref.ref(next(iter(f._entries.values())).exe)
        for n in range(3, 40):
            f(tt.constant(np.ones(n)))
            f(tt.constant(np.ones(n)))
        gc.collect()
        assert len(f._entries) <= 4 and len(runtime.cache.entries) <= 4
        assert first() is None
    finally:
        runtime.config.cache_size = saved


def test_evicted_kernel_modules_leave_sys_modules(tt_fresh_cache):
    from runtime import native
    native.clear()
    before = {m for m in sys.modules if m.startswith("tapejit_k_")}   # e.g. loop modules
    f = tt.function(lambda x: tt.reduce_sum(tt.sin(x) * 2.0))
    f(tt.constant(np.ones(5)))
    f(tt.constant(np.ones(5)))
    mods = [m for m in sys.modules if m.startswith("tapejit_k_") and m not in before]
    assert mods
    native.clear()
    assert not any(m in sys.modules for m in mods)
