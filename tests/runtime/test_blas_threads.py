"""Small matrix products run on one BLAS thread; the thread count always comes back."""
import threading

import numpy as np
import pytest

import tracer as tt
from compiler import blas


def _counts():
    blas.refresh()
    held = blas.limit()
    return None if held is None else [get() for _set, get in held.libs]


def test_small_and_large_products_match_numpy():
    rng = np.random.default_rng(0)
    for shape_a, shape_b in [((32, 128), (128, 128)), ((3, 4, 5), (3, 5, 2)),
                             ((300, 300), (300, 300))]:
        a = rng.normal(size=shape_a).astype(np.float32)
        b = rng.normal(size=shape_b).astype(np.float32)
        np.testing.assert_allclose(blas.matmul(a, b), np.matmul(a, b), rtol=1e-5, atol=1e-4)
    i = np.arange(6, dtype=np.int32).reshape(2, 3)
    np.testing.assert_array_equal(blas.matmul(i, i.T), i @ i.T)


def test_is_small_counts_multiply_adds_with_batch():
    saved = blas.small_product
    try:
        tt.config.blas_single_thread_below = 1000
        assert blas.small_product == 1000
        assert blas.is_small((9, 10), (10, 11))            # 990
        assert not blas.is_small((2, 9, 10), (2, 10, 11))  # 1980
        with pytest.raises(ValueError, match="blas_single_thread_below"):
            tt.config.blas_single_thread_below = -1
    finally:
        tt.config.blas_single_thread_below = saved


def test_one_thread_inside_and_counts_restored_from_many_threads():
    before = _counts()
    if before is None:
        pytest.skip("no OpenBLAS loaded in this process: products run unchanged")
    held = blas.limit()
    held.enter()
    try:
        assert [get() for _set, get in held.libs] == [1] * len(held.libs)
    finally:
        held.leave()
    assert _counts() == before
    a = np.ones((16, 16), np.float32)
    errors = []

    def work():
        try:
            for _ in range(200):
                assert blas.matmul(a, a)[0, 0] == 16.0
        except Exception as e:        # noqa: BLE001  (reported below)
            errors.append(e)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    assert _counts() == before


def test_compiled_small_products_hold_one_thread_and_restore():
    before = _counts()
    rng = np.random.default_rng(1)
    w = tt.constant(rng.normal(size=(8, 8)).astype(np.float32))
    h = tt.constant(rng.normal(size=(4, 8)).astype(np.float32))

    def f(w, h):
        for _ in range(3):
            h = tt.tanh(tt.matmul(h, w))
        return tt.reduce_sum(h)
    compiled = tt.function(tt.grad(f))
    with _setting("jit_threshold", 0):
        got = compiled(w, h)
    (entry,) = compiled._entries.values()
    assert entry.exe.native is not None      # the driver ran, holding one thread
    expected = tt.grad(f)(w, h)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    assert _counts() == before


class _setting:
    def __init__(self, name, value):
        self.name, self.value = name, value

    def __enter__(self):
        self.saved = getattr(tt.config, self.name)
        setattr(tt.config, self.name, self.value)

    def __exit__(self, *exc):
        setattr(tt.config, self.name, self.saved)
