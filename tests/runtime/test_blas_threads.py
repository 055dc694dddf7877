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


def test_busy_counts_other_processes_cpu_time_only(monkeypatch):
    """Busy when other processes use more than all but 1.5 of the cores over the window
    (this process's own threads never count), re-sampled only after ``WINDOW``."""
    load = blas._Load()
    load.cpus = 2
    samples = iter([(10.0, 100.0, 5.0), (11.0, 101.9, 6.9), (12.0, 103.0, 7.0)])
    now = iter([11.0, 12.0, 12.1, 20.0])
    monkeypatch.setattr(load, "_sample", lambda: next(samples))
    monkeypatch.setattr(load, "clock", lambda: next(now))
    load.last = load._sample()
    assert load() is False          # 1.9 s busy, all of it ours
    assert load() is True           # 1.1 s busy, 0.1 ours: others 1.0 core > 0.5
    assert load() is True           # 0.1 s later: the last answer, no new sample
    assert load.last[0] == 12.0
    monkeypatch.setattr(load, "_sample", lambda: (20.0, None, 8.0))
    monkeypatch.setattr(load, "_guess", lambda: False)
    assert load() is False          # no /proc/stat: the load-average guess
    t, cpu, own = blas._Load()._sample()  # the real sample: numbers where /proc/stat is
    assert t > 0 and own >= 0 and (cpu is None or cpu > 0)


def test_hold_setting_chooses_when_small_products_take_one_thread(monkeypatch):
    saved = tt.config.blas_single_thread
    try:
        monkeypatch.setattr(blas, "busy", lambda: True)
        tt.config.blas_single_thread = "never"
        assert blas.hold == "never" and not blas.holding() and blas.held() is None
        tt.config.blas_single_thread = "when_busy"
        assert blas.holding()
        monkeypatch.setattr(blas, "busy", lambda: False)
        assert not blas.holding() and blas.held() is None
        tt.config.blas_single_thread = "always"
        assert blas.holding() and blas.held() is blas.limit()
        with pytest.raises(ValueError, match="blas_single_thread must be one of"):
            tt.config.blas_single_thread = "sometimes"
        assert tt.config.blas_single_thread == "always"
    finally:
        tt.config.blas_single_thread = saved


@pytest.mark.parametrize("hold", ["always", "never"])
def test_compiled_small_products_hold_one_thread_and_restore(hold, monkeypatch):
    monkeypatch.setattr(tt.config, "blas_single_thread", hold)
    seen = []
    held = blas.limit()
    if held is not None:
        monkeypatch.setattr(held, "enter", lambda _e=held.enter: (seen.append(1), _e())[1])
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
    if held is not None:
        assert bool(seen) == (hold == "always")


class _setting:
    def __init__(self, name, value):
        self.name, self.value = name, value

    def __enter__(self):
        self.saved = getattr(tt.config, self.name)
        setattr(tt.config, self.name, self.value)

    def __exit__(self, *exc):
        setattr(tt.config, self.name, self.saved)
