"""Time to first gradient: first calls, time until native code serves calls, steady state
(prints a table, never asserts).

Workloads (``tt.grad`` of each, as JAX ``jit(grad)``): scalar sin^2, an elementwise chain
on 10^6 points, an MLP 784-512-10 at batch 256, the third derivative of sin^2, a
Rosenbrock Hessian-vector product in 10^5 dimensions, a 50-step RNN; then the MLP at three
new batch sizes once batch 256 is compiled, and the RNN's steady state at 50, 100 and 200
steps (it should grow linearly). Every number comes from a fresh process:

- first call, empty cache / warm cache: import excluded, trace + (interpret or compile);
- native after: seconds from the first call until native code serves the calls (with
  background compilation the calls keep running on the NumPy tier meanwhile);
- steady: median per call once native;
- new batch: first call at a new batch size, seconds until native serves it, and how
  many kernels that compiled (shape-generic kernels: none).

    PYTHONPATH=. python benchmarks/bench_latency.py [--quick]

Targets (issue 10): empty-cache first call no slower than JAX's; warm-cache first call
under 0.3 s; a new batch size served natively in under 5 ms without compiling; steady
state no slower than JAX.
"""
import json
import os
import sys
import tempfile
import time

import numpy as np
from _timing import child_json, median_time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

CASES = [("scalar", "scalar sin^2"), ("chain", "elementwise chain, 10^6"),
         ("mlp", "MLP 784-512-10, batch 256"), ("d3", "d3/dx3 sin^2, 100 points"),
         ("hvp", "Rosenbrock HVP, n=1e5"), ("rnn", "RNN 50 steps (32x128)")]
NEW_BATCHES = (64, 100, 512)
RNN_STEPS = (50, 100, 200)


def _data(case, batch=256, steps=50):
    rng = np.random.default_rng(0)
    f32 = np.float32
    if case == "scalar":
        return (np.float32(0.3),)
    if case == "chain":
        return (rng.normal(size=1_000_000).astype(f32),)
    if case == "mlp":
        params = [rng.normal(0, 0.05, (784, 512)).astype(f32), np.zeros(512, f32),
                  rng.normal(0, 0.05, (512, 10)).astype(f32), np.zeros(10, f32)]
        x = rng.normal(size=(batch, 784)).astype(f32)
        y = np.eye(10, dtype=f32)[rng.integers(0, 10, batch)]
        return params, x, y
    if case == "d3":
        return (np.linspace(-3, 3, 100).astype(f32),)
    if case == "hvp":
        return (rng.normal(size=100_000).astype(f32), rng.normal(size=100_000).astype(f32))
    return (rng.normal(0, 0.1, (128, 128)).astype(f32), np.zeros((32, 128), f32),
            rng.normal(size=(steps, 32, 128)).astype(f32))


def _functions(m, grad, nn):
    """The six gradients written once for a namespace (tracer or jax.numpy)."""
    def mlp(p, x, y):
        h = nn["relu"](m.matmul(x, p[0]) + p[1])
        return m.mean(-m.sum(y * nn["log_softmax"](m.matmul(h, p[2]) + p[3]), axis=-1))

    def rosen(x):
        return m.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    def rnn(w, h, xs):
        for t in range(xs.shape[0]):
            h = m.tanh(m.matmul(h, w) + xs[t])
        return m.sum(h)
    d1 = grad(lambda x: m.sum(m.sin(x) ** 2))
    d2 = grad(lambda x: m.sum(d1(x)))
    g = grad(rosen)
    return {"scalar": grad(lambda x: m.sin(x) ** 2),
            "chain": grad(lambda x: m.sum(m.tanh(m.exp(-x * x) * m.sin(3.0 * x) + x))),
            "mlp": grad(mlp), "d3": grad(lambda x: m.sum(d2(x))),
            "hvp": grad(lambda x, v: m.sum(g(x) * v)), "rnn": grad(rnn)}


def _tt():
    import tracer as tt

    class M:
        matmul, tanh, sin, exp = tt.matmul, tt.tanh, tt.sin, tt.exp
        sum = staticmethod(lambda x, axis=None: tt.reduce_sum(x, axis=axis))
        mean = staticmethod(tt.reduce_mean)
    nn = {"relu": tt.relu, "log_softmax": lambda z: tt.nn.log_softmax(z, axis=-1)}
    return _functions(M, tt.grad, nn), \
        lambda a: tt.constant(a) if not isinstance(a, list) else [tt.constant(p) for p in a]


def _jax():
    import jax
    import jax.numpy as jnp

    class M:
        matmul, tanh, sin, exp, sum, mean = jnp.matmul, jnp.tanh, jnp.sin, jnp.exp, \
            jnp.sum, jnp.mean
    nn = {"relu": jax.nn.relu, "log_softmax": jax.nn.log_softmax}
    fns = {k: jax.jit(f) for k, f in _functions(M, jax.grad, nn).items()}
    conv = (lambda a: jnp.asarray(a) if not isinstance(a, list) else
            [jnp.asarray(p) for p in a])
    return fns, conv


def _native(fn):
    entries = list(fn._entries.values())
    return bool(entries) and all(e.exe is not None and e.exe.native is not None
                                 for e in entries)


def _until_native(call, fn, limit=120.0):
    """Seconds of calling until native code serves them (nan after ``limit``)."""
    t0 = time.perf_counter()
    while not _native(fn):
        call()
        if time.perf_counter() - t0 > limit:
            return float("nan")
    return time.perf_counter() - t0


def child_tt(case, runs):
    import runtime
    fns, conv = _tt()
    fn = fns[case]
    args = [conv(a) for a in _data(case)]
    call = lambda: fn(*args)                  # noqa: E731
    t0 = time.perf_counter()
    call()
    out = {"first": time.perf_counter() - t0}
    out["native"] = out["first"] + _until_native(call, fn)
    out["steady"] = median_time(call, runs)
    if case == "mlp":
        before = runtime.cache_stats()["compiles"]
        for b in NEW_BATCHES:
            bargs = [conv(a) for a in _data("mlp", b)]
            bcall = lambda: fn(*bargs)        # noqa: E731
            t0 = time.perf_counter()
            bcall()
            first = time.perf_counter() - t0
            out[f"batch{b}"] = [first, first + _until_native(bcall, fn),
                                median_time(bcall, runs)]
        out["batch_compiles"] = runtime.cache_stats()["compiles"] - before
    return out


def child_steps(kind, runs):
    """The RNN gradient's steady state at each of ``RNN_STEPS`` (linear in the steps?)."""
    if kind == "tt":
        import tracer as tt
        tt.config.compile_in_background = False
        fns, conv = _tt()
        fn = fns["rnn"]
        block = lambda r: r                   # noqa: E731
    else:
        import jax
        fns, conv = _jax()
        fn, block = fns["rnn"], jax.block_until_ready
    out = {}
    for steps in RNN_STEPS:
        args = [conv(a) for a in _data("rnn", steps=steps)]
        call = lambda: block(fn(*args))       # noqa: E731
        call()
        if kind == "tt":
            _until_native(call, fn)
        out[str(steps)] = median_time(call, runs)
    return out


def child_jax(case, runs):
    fns, conv = _jax()
    args = [conv(a) for a in _data(case)]
    import jax
    call = lambda: jax.block_until_ready(fns[case](*args))   # noqa: E731
    t0 = time.perf_counter()
    call()
    out = {"first": time.perf_counter() - t0, "steady": median_time(call, runs)}
    for b in NEW_BATCHES if case == "mlp" else ():
        bargs = [conv(a) for a in _data("mlp", b)]
        bcall = lambda: jax.block_until_ready(fns[case](*bargs))   # noqa: E731
        t0 = time.perf_counter()
        bcall()
        out[f"batch{b}"] = [time.perf_counter() - t0, None, median_time(bcall, runs)]
    return out


def _spawn(kind, case, cache_dir, runs):
    env = dict(os.environ, TRACER_CACHE_DIR=cache_dir, PYTHONPATH=ROOT)
    return child_json([__file__, "--child", kind, case, str(runs)], env, 1800)


def _fmt(s):
    if s is None or s != s:
        return "n/a"
    return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"


def _has_jax():
    try:
        import jax  # noqa: F401
        return True
    except ImportError:
        return False


def _new_batches(tt_out, jax_out):
    for b in NEW_BATCHES:
        first, native, steady = tt_out.get(f"batch{b}", [None, None, None])
        line = (f"  batch {b}: first call {_fmt(first)}, native after {_fmt(native)}, "
                f"steady {_fmt(steady)}")
        if jax_out:
            jfirst, _, jsteady = jax_out.get(f"batch{b}", [None, None, None])
            line += f"; jax first call {_fmt(jfirst)}, steady {_fmt(jsteady)}"
        print(line)
    print(f"  kernels compiled for the new batch sizes: {tt_out.get('batch_compiles', 'n/a')}")


def main(quick):
    runs = 3 if quick else 7
    jax = _has_jax()
    head = ["case", "1st (empty)", "1st (warm)", "native after", "steady"]
    head += ["jax 1st", "jax steady"] if jax else []
    rows, mlp = [head], {}
    for case, title in CASES:
        cache_dir = tempfile.mkdtemp(prefix="tapejit-latency-")
        cold = _spawn("tt", case, cache_dir, runs)
        warm = _spawn("tt", case, cache_dir, runs)
        row = [title, _fmt(cold.get("first")), _fmt(warm.get("first")),
               _fmt(cold.get("native")), _fmt(warm.get("steady"))]
        if jax:
            j = _spawn("jax", case, cache_dir, runs)
            row += [_fmt(j.get("first")), _fmt(j.get("steady"))]
        rows.append(row)
        print(" | ".join(row), flush=True)
        if case == "mlp":
            mlp = (warm, j if jax else {})
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    print()
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print("\nMLP at new batch sizes (batch 256 already compiled, warm cache; the first call "
          "includes its own run, steady is a later call at that batch):")
    _new_batches(*(mlp or ({}, {})))
    cache_dir = tempfile.mkdtemp(prefix="tapejit-latency-")
    tt_steps = _spawn("tt", "steps", cache_dir, runs)
    jax_steps = _spawn("jax", "steps", cache_dir, runs) if jax else {}
    print("\nRNN gradient, steady state by number of steps (native):")
    for steps in RNN_STEPS:
        t, j = tt_steps.get(str(steps)), jax_steps.get(str(steps))
        ratio = f", ratio {t / j:.2f}" if t and j else ""
        print(f"  T={steps}: tt {_fmt(t)}, jax {_fmt(j)}{ratio}")
    print("targets: 1st (empty) <= jax 1st; 1st (warm) < 0.3 s; new batch native < 5 ms "
          "without compiling; steady <= jax steady")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        kind, case, runs = sys.argv[2], sys.argv[3], int(sys.argv[4])
        if kind == "tt":
            import tracer  # noqa: F401  (import time is not part of the first call)
            import runtime.native  # noqa: F401
        else:
            import jax  # noqa: F401
        if case == "steps":
            print(json.dumps(child_steps(kind, runs)))
        else:
            print(json.dumps((child_tt if kind == "tt" else child_jax)(case, runs)))
    else:
        main("--quick" in sys.argv)
