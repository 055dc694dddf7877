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

    PYTHONPATH=. python benchmarks/bench_latency.py [--quick] [--repeats N]

With ``--repeats N`` every process is run N times (tapejit empty cache, warm cache and JAX
interleaved): medians with [min-max]; the first call's process CPU time is printed too.
The last lines name each target with its measured median and met / NOT MET.

Targets (issue 10): empty-cache first call no slower than JAX's; warm-cache first call
under 0.3 s; a new batch size served natively in under 5 ms without compiling; steady
state no slower than JAX.
"""
import json
import os
import statistics
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


def _first(call):
    """Wall and process CPU seconds of one call."""
    t0, c0 = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - t0, time.process_time() - c0


def _steady(call, runs):
    return {"steady": median_time(call, runs),
            "steady_cpu": median_time(call, runs, clock=time.process_time)}


def child_tt(case, runs):
    import runtime
    fns, conv = _tt()
    fn = fns[case]
    args = [conv(a) for a in _data(case)]
    call = lambda: fn(*args)                  # noqa: E731
    out = dict(zip(("first", "first_cpu"), _first(call)))
    out["native"] = out["first"] + _until_native(call, fn)
    out.update(_steady(call, runs))
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
    out = dict(zip(("first", "first_cpu"), _first(call)))
    out.update(_steady(call, runs))
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


def _values(outs, key, index=None):
    vals = [o.get(key) for o in outs]
    if index is not None:
        vals = [v[index] if v else None for v in vals]
    return [v for v in vals if v is not None and v == v]


def _med(outs, key, index=None):
    vals = _values(outs, key, index)
    return statistics.median(vals) if vals else None


def _stat(outs, key, index=None):
    """'median' or 'median [min-max]' of one figure over the repeated processes."""
    vals = _values(outs, key, index)
    if len(vals) < 2:
        return _fmt(vals[0] if vals else None)
    return f"{_fmt(statistics.median(vals))} [{_fmt(min(vals))}-{_fmt(max(vals))}]"


def _has_jax():
    try:
        import jax  # noqa: F401
        return True
    except ImportError:
        return False


def _verdict(ok):
    return "n/a" if ok is None else "met" if ok else "NOT MET"


def _new_batches(tt_outs, jax_outs):
    for b in NEW_BATCHES:
        key = f"batch{b}"
        line = (f"  batch {b}: first call {_stat(tt_outs, key, 0)}, native after "
                f"{_stat(tt_outs, key, 1)}, steady {_stat(tt_outs, key, 2)}")
        if jax_outs:
            line += (f"; jax first call {_stat(jax_outs, key, 0)}, steady "
                     f"{_stat(jax_outs, key, 2)}")
        print(line)
    print("  kernels compiled for the new batch sizes: "
          f"{[o.get('batch_compiles', 'n/a') for o in tt_outs]}")


def main(quick, repeats):
    """Each figure from ``repeats`` fresh processes per case (the tapejit empty-cache,
    warm-cache and JAX processes interleaved, so load on the machine hits all three alike):
    medians, with [min-max] when repeated."""
    runs = 3 if quick else 7
    jax = _has_jax()
    head = ["case", "1st (empty)", "1st (warm)", "native after", "steady"]
    head += ["jax 1st", "jax steady"] if jax else []
    rows, res = [head], {}
    for case, title in CASES:
        cold, warm, jx = [], [], []
        for _ in range(repeats):
            cache_dir = tempfile.mkdtemp(prefix="tapejit-latency-")
            cold.append(_spawn("tt", case, cache_dir, runs))
            warm.append(_spawn("tt", case, cache_dir, runs))
            if jax:
                jx.append(_spawn("jax", case, cache_dir, runs))
        res[case] = cold, warm, jx
        row = [title, _stat(cold, "first"), _stat(warm, "first"), _stat(cold, "native"),
               _stat(warm, "steady")]
        if jax:
            row += [_stat(jx, "first"), _stat(jx, "steady")]
        rows.append(row)
        print(" | ".join(row), flush=True)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    print(f"\nwall seconds, median [min-max] of {repeats} fresh processes per cell:")
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print("\nfirst call, process CPU seconds (all threads): tt empty / tt warm / jax")
    for case, title in CASES:
        cold, warm, jx = res[case]
        print(f"  {title}: {_stat(cold, 'first_cpu')} / {_stat(warm, 'first_cpu')} / "
              f"{_stat(jx, 'first_cpu')}")
    print("\nMLP at new batch sizes (batch 256 already compiled, warm cache; the first call "
          "includes its own run, steady is a later call at that batch):")
    _new_batches(res["mlp"][1], res["mlp"][2])
    tt_steps, jax_steps = [], []
    for _ in range(repeats):
        cache_dir = tempfile.mkdtemp(prefix="tapejit-latency-")
        tt_steps.append(_spawn("tt", "steps", cache_dir, runs))
        if jax:
            jax_steps.append(_spawn("jax", "steps", cache_dir, runs))
    print("\nRNN gradient, steady state by number of steps (native):")
    for steps in RNN_STEPS:
        t, j = _med(tt_steps, str(steps)), _med(jax_steps, str(steps))
        ratio = f", ratio {t / j:.2f}" if t and j else ""
        print(f"  T={steps}: tt {_stat(tt_steps, str(steps))}, jax "
              f"{_stat(jax_steps, str(steps))}{ratio}")
    _targets(res, tt_steps, jax_steps)


def _targets(res, tt_steps, jax_steps):
    """One line per target of issue 10, from the medians above."""
    print("\ntargets (medians):")
    for case, title in CASES:
        cold, warm, jx = res[case]
        t, j = _med(cold, "first"), _med(jx, "first")
        print(f"  1st call, empty cache <= jax 1st, {title}: {_fmt(t)} vs {_fmt(j)}: "
              f"{_verdict(None if t is None or j is None else t <= j)}")
    worst = max((_med(res[c][1], "first") or 0.0 for c, _ in CASES), default=None)
    print(f"  1st call, warm cache < 0.3 s (slowest case's median): {_fmt(worst)}: "
          f"{_verdict(worst < 0.3)}")
    s = _med(res["scalar"][1], "steady_cpu")
    print(f"  cached scalar tt.grad call < 1.5 us (CPU): {_fmt(s)}: "
          f"{_verdict(None if s is None else s < 1.5e-6)}")
    warm = res["mlp"][1]
    native = [_med(warm, f"batch{b}", 1) for b in NEW_BATCHES]
    extra = [statistics.median(o[f"batch{b}"][1] - o[f"batch{b}"][2] for o in warm)
             if all(o.get(f"batch{b}") for o in warm) else None for b in NEW_BATCHES]
    compiled = [o.get("batch_compiles") for o in warm]
    ok = None if None in extra else max(extra) < 5e-3 and not any(compiled)
    print("  new batch size native < 5 ms without compiling: native after (the first call "
          "at that batch included) " + ", ".join(f"{b}: {_fmt(t)}" for b, t in
                                                zip(NEW_BATCHES, native)) +
          "; minus a steady call at that batch " + ", ".join(
              f"{b}: {_fmt(t)}" for b, t in zip(NEW_BATCHES, extra)) +
          f"; compiles {compiled}: {_verdict(ok)} (judged on the latter)")
    t, j = _med(res["rnn"][1], "steady"), _med(res["rnn"][2], "steady")
    print(f"  RNN 50 steps steady <= jax (rows above): {_fmt(t)} vs {_fmt(j)}: "
          f"{_verdict(None if t is None or j is None else t <= j)}")
    t, j = _med(res["rnn"][1], "steady_cpu"), _med(res["rnn"][2], "steady_cpu")
    print(f"  RNN 50 steps steady <= jax (rows above, process CPU): {_fmt(t)} vs {_fmt(j)}: "
          f"{_verdict(None if t is None or j is None else t <= j)}")
    t, j = _med(tt_steps, "50"), _med(jax_steps, "50")
    print(f"  RNN 50 steps steady <= jax (steps runs): {_fmt(t)} vs {_fmt(j)}: "
          f"{_verdict(None if t is None or j is None else t <= j)}")
    a, b = _med(tt_steps, "50"), _med(tt_steps, "200")
    if a and b:
        print(f"  RNN steady linear in steps: T=200 / T=50 = {b / a:.2f} (4 is linear; "
              f"met within 25%): {_verdict(b / a <= 5.0)}")


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
        n = sys.argv[sys.argv.index("--repeats") + 1] if "--repeats" in sys.argv else 1
        main("--quick" in sys.argv, int(n))
