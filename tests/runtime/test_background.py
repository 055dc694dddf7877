"""Background compilation: calls never wait for a compile, results are the same before
and after native code takes over, and nothing deadlocks (threads, processes, failures)."""
import os
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

import runtime
import tracer as tt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def in_background(tt_fresh_cache):
    saved = runtime.config.compile_in_background, runtime.config.jit_threshold
    runtime.config.update(compile_in_background=True, jit_threshold=1)
    try:
        yield
    finally:
        assert runtime.wait_for_compiles(timeout=300)
        runtime.config.update(compile_in_background=saved[0], jit_threshold=saved[1])


def _loss(x, w):
    return tt.reduce_sum(tt.tanh(tt.matmul(x, w)) ** 2 + tt.sin(x[:, :1]))


def test_background_results_identical_before_and_after_native(in_background):
    rng = np.random.default_rng(0)
    x, w = tt.constant(rng.standard_normal((5, 3))), tt.constant(rng.standard_normal((3, 2)))
    g = tt.grad(_loss, argnums=(0, 1))
    first = [t.numpy() for t in g(x, w)]      # interpreted; the compile runs meanwhile
    exe = next(iter(g._entries.values())).exe
    assert runtime.wait_for_compiles(timeout=300)
    assert exe.native is not None
    later = [t.numpy() for t in g(x, w)]      # native
    for a, b in zip(first, later):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_background_eager_tape_gradients_agree(in_background):
    x = tt.Variable(np.linspace(-1, 1, 9))
    out = []
    for _ in range(6):
        with tt.GradientTape() as tape:
            y = tt.reduce_sum(tt.exp(x) * tt.cos(x))
        out.append(tape.gradient(y, x).numpy())
    runtime.wait_for_compiles(timeout=300)
    with tt.GradientTape() as tape:
        y = tt.reduce_sum(tt.exp(x) * tt.cos(x))
    out.append(tape.gradient(y, x).numpy())
    v = np.linspace(-1, 1, 9)
    for o in out:
        np.testing.assert_allclose(o, np.exp(v) * (np.cos(v) - np.sin(v)), rtol=1e-9)


def test_background_threads_never_deadlock(in_background):
    f = tt.function(lambda x: tt.reduce_sum(tt.sigmoid(x) * x))
    xs = [np.linspace(0, 1, 10 + i % 3) for i in range(4)]
    errors, results = [], {}

    def work(i):
        try:
            for k in range(40):
                results[(i, k)] = float(f(tt.constant(xs[i])))
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    assert not errors, errors
    for (i, _), v in results.items():
        want = float(np.sum(xs[i] / (1 + np.exp(-xs[i]))))
        assert abs(v - want) < 1e-9


def test_background_failure_warns_in_caller_and_keeps_interpreting(in_background,
                                                                     monkeypatch):
    from runtime import native

    def broken(graph):
        raise RuntimeError("no native code today")
    monkeypatch.setattr(native, "NativeProgram", broken)
    f = tt.function(lambda x: tt.reduce_sum(x * 3.0))
    x = tt.constant(np.arange(4.0))
    assert float(f(x)) == 18.0
    runtime.wait_for_compiles(timeout=300)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert float(f(x)) == 18.0
    assert any("interpreted" in str(w.message) for w in caught)
    assert float(f(x)) == 18.0


_SCRIPT = """
import numpy as np, runtime, tracer as tt
tt.config.update(compile_in_background=True, jit_threshold=1)
g = tt.grad(lambda x: tt.reduce_sum(tt.tanh(x) * tt.exp(-x * x)))
x = tt.constant(np.linspace(-2, 2, 17))
v = np.linspace(-2, 2, 17)
want = (1 - np.tanh(v) ** 2) * np.exp(-v * v) - 2 * v * np.tanh(v) * np.exp(-v * v)
for _ in range(30):
    np.testing.assert_allclose(g(x).numpy(), want, rtol=1e-9)
assert runtime.wait_for_compiles(timeout=300)
np.testing.assert_allclose(g(x).numpy(), want, rtol=1e-9)
s = runtime.cache_stats()
print("ok", s["compiles"], s["disk_hits"])
"""


@pytest.mark.slow
def test_background_several_processes_share_one_cache(tmp_path):
    env = dict(os.environ, TRACER_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=ROOT)
    procs = [subprocess.Popen([sys.executable, "-c", _SCRIPT], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(3)]
    counts = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        ok, compiles, disk_hits = out.split()
        assert p.returncode == 0 and ok == "ok", err
        counts.append((int(compiles), int(disk_hits)))
    # each kernel compiled once in all: a process that wants one another process is
    # compiling waits for it and loads it from the disk cache
    needed = {c + h for c, h in counts}
    assert len(needed) == 1 and sum(c for c, _ in counts) == needed.pop(), counts


def test_tt_backend_interpreted_pass_interprets_functions_and_transforms(tt_backend):
    f = tt.function(lambda x: tt.reduce_sum(x * x))
    g = tt.grad(lambda x: tt.reduce_sum(tt.sin(x)))
    x = tt.constant(np.arange(3.0))
    for _ in range(3):
        assert float(f(x)) == 5.0
        np.testing.assert_allclose(g(x).numpy(), np.cos(np.arange(3.0)), rtol=1e-12)
    for fn in (f, g):
        exe = next(iter(fn._entries.values())).exe
        assert (exe.native is not None) == (tt_backend == "compiled"), tt_backend
