"""Steady-state native speed of transcendental kernels that write arrays (prints, never
asserts). Run: PYTHONPATH=. python benchmarks/bench_trig.py [n]

Workloads at n elements (default 1e6), tt.function against NumPy and jax.jit (when
installed): sin(3x) in float32, sin(x) + cos(x) in float64, and the float32 gradient of
sum(tanh(exp(-x^2) sin(3x) + x)). Each cell: the median CPU time of this process per call
(all its threads; on a shared machine wall time includes time slices spent waiting for a
core), over interleaved batches so every library sees the same load; the ratio is
tapejit's time over the peer's.
"""
import sys
import time

import numpy as np

import tracer as tt
from _timing import settle


def _cpu_per_call(fn, batch=5):
    c = time.process_time()
    for _ in range(batch):
        fn()
    return (time.process_time() - c) / batch


def _workloads(n):
    rng = np.random.default_rng(0)
    x32 = rng.uniform(-4, 4, n).astype(np.float32)
    x64 = rng.uniform(-4, 4, n)

    def chain(total, exp, sin, tanh):
        return lambda v: total(tanh(exp(-v * v) * sin(3.0 * v) + v))

    def np_chain_grad(v):                       # hand-written derivative
        e, s, c = np.exp(-v * v), np.sin(3 * v), np.cos(3 * v)
        t = np.tanh(e * s + v)
        return (1 - t * t) * (e * (3 * c - 2 * v * s) + 1)
    return [("sin(3x) float32", x32, lambda v: tt.sin(3.0 * v), lambda v: np.sin(3 * v),
             lambda jnp, jax: lambda v: jnp.sin(3.0 * v)),
            ("sin+cos float64", x64, lambda v: tt.sin(v) + tt.cos(v),
             lambda v: np.sin(v) + np.cos(v), lambda jnp, jax: lambda v: jnp.sin(v) + jnp.cos(v)),
            ("chain grad float32", x32, tt.grad(chain(tt.reduce_sum, tt.exp, tt.sin, tt.tanh)), np_chain_grad,
             lambda jnp, jax: jax.grad(chain(jnp.sum, jnp.exp, jnp.sin, jnp.tanh)))]


def main(n=10 ** 6, rounds=7):
    try:
        import jax
        import jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)   # float32 inputs stay float32
    except ImportError:
        jax = jnp = None
    print(f"n={n:.0e}: median CPU ms per call (tt.function / numpy / jax.jit)")
    for name, x, f, np_f, jax_f in _workloads(n):
        fn = tt.function(f)
        calls = {"tapejit": lambda fn=fn, x=x: fn(x), "numpy": lambda np_f=np_f, x=x: np_f(x)}
        if jax is not None:
            j, xj = jax.jit(jax_f(jnp, jax)), jnp.asarray(x)
            calls["jax"] = lambda j=j, xj=xj: j(xj).block_until_ready()
        for call in calls.values():
            settle(call)                         # steady state: native code, compiles done
        times = {k: [] for k in calls}
        for _ in range(rounds):                 # interleaved: same minutes, same load
            for k, call in calls.items():
                times[k].append(_cpu_per_call(call))
        med = {k: float(np.median(v)) for k, v in times.items()}
        cells = [f"{k} {t * 1e3:7.2f}" + ("" if k == "tapejit" else
                                          f" ({med['tapejit'] / t:4.2f}x)")
                 for k, t in med.items()]
        print(f"  {name:20s} " + "   ".join(cells))


if __name__ == "__main__":
    main(int(float(sys.argv[1])) if len(sys.argv) > 1 else 10 ** 6)
