"""Loops that stay compiled (prints, never asserts). Run: PYTHONPATH=. python benchmarks/bench_scan.py

(a) RNN h_t = tanh(h_{t-1} @ W + x_t @ U), batch 32, hidden 64, loss sum(h_T^2), gradient
    w.r.t. W via tt.grad: written with tt.scan, unrolled as a Python loop, and with JAX's
    lax.scan when JAX is installed. Per T: first-call seconds (trace + compile, in a fresh
    compile cache) and the steady-state median per gradient.
    Targets (issue 9): compile at T=2000 within 1.5x of T=10 and under 1.5 s; steady state
    at T=50 no slower than JAX lax.scan.
(b) fori_loop of 10^5 iterations: first-call seconds (target: under 2 s).
"""
import os
import sys
import tempfile
import time

import numpy as np

import runtime
import tracer as tt
from runtime import native

B, H = 32, 64
STEPS = (10, 50, 200, 2000)
UNROLLED = (10, 50)


def median_time(fn, reps=15):
    for _ in range(3):
        fn()
        runtime.wait_for_compiles()         # steady state: native code, not the VM
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def fresh_cache():
    runtime.config.cache_dir = tempfile.mkdtemp(prefix="tapejit-bench-")
    runtime.cache.clear()
    native.clear()


def data(T):
    rng = np.random.default_rng(0)
    return (rng.normal(size=(H, H)).astype(np.float32) * 0.1,
            rng.normal(size=(H, H)).astype(np.float32) * 0.1,
            rng.normal(size=(T, B, H)).astype(np.float32),
            np.zeros((B, H), np.float32))


def scan_loss(W, U, xs, h0):
    h, _ = tt.scan(lambda h, x: (tt.tanh(h @ W + x @ U), None), h0, xs)
    return tt.reduce_sum(h * h)


def unrolled_loss(W, U, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = tt.tanh(h @ W + xs[t] @ U)
    return tt.reduce_sum(h * h)


def run_tapejit(loss, T):
    fresh_cache()
    args = [tt.constant(a) for a in data(T)]
    g = tt.grad(loss)
    t = time.perf_counter()
    g(*args)
    first = time.perf_counter() - t
    return first, median_time(lambda: g(*args))


def run_jax(T):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None

    def loss(W, U, xs, h0):
        h, _ = jax.lax.scan(lambda h, x: (jnp.tanh(h @ W + x @ U), None), h0, xs)
        return jnp.sum(h * h)
    g = jax.jit(jax.grad(loss))
    args = [jnp.asarray(a) for a in data(T)]
    t = time.perf_counter()
    g(*args).block_until_ready()
    first = time.perf_counter() - t
    return first, median_time(lambda: g(*args).block_until_ready())


def rnn():
    print(f"\n(a) RNN gradient w.r.t. W, batch {B}, hidden {H}: first call s / steady ms")
    rows = {}
    for T in STEPS:
        rows[("tt.scan", T)] = run_tapejit(scan_loss, T)
        if T in UNROLLED:
            rows[("unrolled", T)] = run_tapejit(unrolled_loss, T)
        jx = run_jax(T)
        if jx is not None:
            rows[("jax lax.scan", T)] = jx
        for name in ("tt.scan", "unrolled", "jax lax.scan"):
            if (name, T) in rows:
                first, steady = rows[(name, T)]
                print(f"  T={T:5d} {name:14s} first {first:7.3f} s  steady {steady * 1e3:9.3f} ms",
                      flush=True)
    c10, c2000 = rows[("tt.scan", 10)][0], rows[("tt.scan", 2000)][0]
    print(f"  compile T=2000 / T=10: {c2000 / c10:.2f}x (target <= 1.5x), T=2000 {c2000:.2f} s "
          f"(target < 1.5 s)")
    if ("jax lax.scan", 50) in rows:
        ratio = rows[("tt.scan", 50)][1] / rows[("jax lax.scan", 50)][1]
        print(f"  steady T=50 tt.scan / jax lax.scan: {ratio:.2f}x (target <= 1.0x)")


def fori():
    fresh_cache()
    f = tt.function(lambda x: tt.fori_loop(0, 100_000, lambda i, v: v * 0.99999 + 1e-5, x))
    t = time.perf_counter()
    out = f(tt.ones((16,)))
    first = time.perf_counter() - t
    steady = median_time(lambda: f(tt.ones((16,))), reps=3)
    print(f"\n(b) fori_loop of 10^5 iterations: first call {first:.3f} s (target < 2 s), "
          f"steady {steady * 1e3:.1f} ms, value {float(out[0]):.6f}")


if __name__ == "__main__":
    which = sys.argv[1:] or ["rnn", "fori"]
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    if "rnn" in which:
        rnn()
    if "fori" in which:
        fori()
