"""Compiled functions and the executable cache shared by several threads."""
import threading

import numpy as np
import pytest

import tracer as tt
from tracer.random_ops import DRAWS


def _run_in_threads(fn, n=4):
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def work(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as e:  # surfaced below with the thread's traceback
            errors.append(e)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_function_called_from_threads_traces_once():
    @tt.function
    def f(x):
        return tt.reduce_sum(tt.sin(x) * tt.cos(x))

    x = np.linspace(0, 1, 37)
    out = _run_in_threads(lambda i: float(f(tt.constant(x))))
    expected = float(np.sum(np.sin(x) * np.cos(x)))
    assert all(abs(o - expected) < 1e-5 for o in out)
    assert f.trace_count == 1


def test_grad_from_threads_agrees():
    g = tt.grad(lambda x: tt.reduce_sum(tt.exp(x) * x))
    x = np.linspace(-1, 1, 23)
    out = _run_in_threads(lambda i: g(tt.constant(x * (i + 1))).numpy())
    for i, o in enumerate(out):
        xi = x * (i + 1)
        np.testing.assert_allclose(o, np.exp(xi) * (xi + 1), rtol=1e-5)
    assert g.trace_count == 1


def test_eager_tapes_in_threads_compile_shared_gradient(tt_backend):
    def step(i):
        x = tt.constant(np.full(8, 0.1 * (i + 1)))
        for _ in range(3):
            with tt.GradientTape() as tape:
                tape.watch(x)
                y = tt.reduce_sum(tt.tanh(x) ** 2)
            g = tape.gradient(y, x)
        return g.numpy()
    out = _run_in_threads(step)
    for i, o in enumerate(out):
        t = np.tanh(0.1 * (i + 1))
        np.testing.assert_allclose(o, 2 * t * (1 - t * t), rtol=1e-5)


@pytest.mark.parametrize("seed", [None, 3])
def test_traced_draws_from_threads_never_collide(seed):
    # no global seed: the shared DRAWS counter; after set_seed: the op's own counter
    tt.random.set_seed(seed)
    f = tt.function(lambda: tt.random.uniform((4,), dtype=tt.float64))
    f()
    n, calls = 4, 40
    start = int(DRAWS.numpy())
    out = _run_in_threads(lambda i: [f().numpy() for _ in range(calls)], n)
    rows = {tuple(r) for rows in out for r in rows}
    assert len(rows) == n * calls                    # every call drew its own numbers
    if seed is None:
        assert int(DRAWS.numpy()) == start + n * calls     # and advanced the counter once
