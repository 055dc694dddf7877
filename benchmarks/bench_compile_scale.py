"""Compile cost at scale (prints a table, never asserts). Every number comes from a fresh
process.

1. A graph of 10^4 distinct random operations (sin, tanh, exp(-x^2), cos, sqrt(x^2+1),
   log(|x|+1), x*c+y, max(x, y*c), x-mean(x)) on 1000 float64 values, as ``tt.function``:
   trace and first (interpreted) call, time to native code with an empty and a warm disk
   cache, peak memory, and a native call next to an interpreted one. Graphs that would
   compile more than ``tt.config.vm_threshold`` new kernels run those on the block VM
   (compiled once per dtype, no compile per graph); ``--kernels N`` also compiles an
   N-operation graph the same way with kernels only, for the cost of that route.
2. The gradient of a 10^5-operation eager chain under a GradientTape, end to end
   (forward, gradient, values), with default settings and with the interpreter only.
3. With JAX installed: ``jax.jit`` of the same 10^4-operation graph (lower + compile,
   then a call).

    PYTHONPATH=. python benchmarks/bench_compile_scale.py [--quick] [--kernels 300]
        [--repeats N]

Targets (issue 10): the 10^4-operation graph native in under 60 s and 1 GB; the chain's
gradient never more than 2x the interpreter's time end to end.
"""
import json
import os
import resource
import statistics
import sys
import tempfile
import time

import numpy as np
from _timing import child_json, median_time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def random_program(m, n_ops, seed=0):
    """f(x) of ``n_ops`` random operations (each value feeds later ones), in namespace m."""
    rng = np.random.default_rng(seed)
    plan = [(int(rng.integers(0, 9)), int(rng.integers(0, 20)), int(rng.integers(0, 1 << 30)),
             float(rng.uniform(0.5, 1.5))) for _ in range(n_ops)]

    def f(x):
        vals = [x]
        for op, back, pick, c in plan:
            a = vals[max(0, len(vals) - 1 - back)]
            b = vals[pick % len(vals)]
            v = (m.sin(a) if op == 0 else m.tanh(a) if op == 1 else m.exp(-a * a)
                 if op == 2 else m.cos(a) if op == 3 else m.sqrt(a * a + 1.0) if op == 4
                 else m.log(m.abs(a) + 1.0) if op == 5 else a * c + b if op == 6
                 else m.maximum(a, b * c) if op == 7 else a - m.mean(a))
            vals.append(v)
        total = m.sum(vals[-1])
        for v in vals[1::10]:
            total = total + m.sum(v)
        return total
    return f


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_graph(n_ops, vm):
    import tracer as tt

    class M:
        sin, tanh, exp, cos, sqrt, log, abs, maximum = (
            tt.sin, tt.tanh, tt.exp, tt.cos, tt.sqrt, tt.log, tt.abs, tt.maximum)
        sum, mean = staticmethod(tt.reduce_sum), staticmethod(tt.reduce_mean)
    tt.config.compile_in_background = False
    if not vm:
        tt.config.vm_threshold = 1 << 30
    x = tt.constant(np.linspace(-1.0, 1.0, 1000))
    f = tt.function(random_program(M, n_ops))
    t0 = time.perf_counter()
    f(x)
    first = time.perf_counter() - t0
    exe = next(iter(f._entries.values())).exe
    arg = [np.asarray(x)]
    interp = median_time(lambda: exe.program(*arg), runs=3)
    t0, c0 = time.perf_counter(), time.process_time()
    exe.compile_now(arg)
    native, native_cpu = time.perf_counter() - t0, time.process_time() - c0
    steps = exe.native.lowered.steps
    return {"nodes": len(exe.graph.nodes), "first": first, "native": native,
            "native_cpu": native_cpu,
            "steady": median_time(lambda: exe.native.run(*arg), runs=5),
            "interp": interp, "peak_mb": _peak_mb(),
            "segments": sum(type(s).__name__ == "Segment" for s in steps),
            "kernels": len(exe.native.kernels)}


def child_chain(n_ops, mode):
    """[forward, gradient] wall seconds and [forward, gradient] process CPU seconds, for a
    first and a second (same structure) chain."""
    import tracer as tt
    if mode == "interpreter":
        tt.config.jit_threshold = 1 << 30
    x0 = tt.Variable(np.linspace(-1.0, 1.0, 100))
    out = {}
    for rep in ("first", "again"):
        t0, c0 = time.perf_counter(), time.process_time()
        with tt.GradientTape() as tape:
            x = x0 * 1.0
            for _ in range(n_ops // 3):
                x = tt.sin(x) * 0.5 + x
            y = tt.reduce_sum(x)
        t1, c1 = time.perf_counter(), time.process_time()
        tape.gradient(y, x0).numpy()
        t2, c2 = time.perf_counter(), time.process_time()
        out[rep] = [t1 - t0, t2 - t1]
        out[rep + "_cpu"] = [c1 - c0, c2 - c1]
    return out


def child_jax(n_ops):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)

    class M:
        sin, tanh, exp, cos, sqrt, log, abs, maximum, sum, mean = (
            jnp.sin, jnp.tanh, jnp.exp, jnp.cos, jnp.sqrt, jnp.log, jnp.abs, jnp.maximum,
            jnp.sum, jnp.mean)
    x = jnp.linspace(-1.0, 1.0, 1000)
    t0 = time.perf_counter()
    fn = jax.jit(random_program(M, n_ops)).lower(x).compile()
    fn(x).block_until_ready()
    native = time.perf_counter() - t0
    return {"native": native, "steady": median_time(lambda: fn(x).block_until_ready(), runs=5),
            "peak_mb": _peak_mb()}


def _spawn(args, cache_dir):
    env = dict(os.environ, TRACER_CACHE_DIR=cache_dir, PYTHONPATH=ROOT)
    return child_json([os.path.abspath(__file__), "--child"] + args, env, 3600)


def _fmt(s):
    if s is None:
        return "n/a"
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.1f} s"


def _stat(vals, fmt=_fmt):
    vals = [v for v in vals if v is not None]
    if len(vals) < 2:
        return fmt(vals[0] if vals else None)
    return f"{fmt(statistics.median(vals))} [{fmt(min(vals))}-{fmt(max(vals))}]"


def _mb(v):
    return "n/a" if v is None else f"{v:.0f} MB"


def main(quick, kernels, repeats):
    """Each figure from ``repeats`` fresh processes: median [min-max] when repeated."""
    n_graph, n_chain = (2000, 20000) if quick else (10000, 100000)
    print(f"{n_graph}-operation random graph on 1000 float64 values (tt.function), "
          f"{repeats} fresh process(es) per cache state:")
    graphs = {"empty cache": [], "warm cache": []}
    for _ in range(repeats):
        cache_dir = tempfile.mkdtemp(prefix="tapejit-scale-")
        for label in graphs:
            graphs[label].append(_spawn(["graph", str(n_graph), "vm"], cache_dir))
    for label, rs in graphs.items():
        r = rs[0]
        print(f"  {label}: {r.get('nodes')} nodes; trace + first call "
              f"{_stat([x.get('first') for x in rs])}; native after "
              f"{_stat([x.get('native') for x in rs])} (process CPU "
              f"{_stat([x.get('native_cpu') for x in rs])}; {r.get('segments')} VM segments, "
              f"{r.get('kernels')} steps); peak {_stat([x.get('peak_mb') for x in rs], _mb)}; "
              f"call: native {_stat([x.get('steady') for x in rs])}, interpreted "
              f"{_stat([x.get('interp') for x in rs])}", flush=True)
    if kernels:
        r = _spawn(["graph", str(kernels), "kernels"], tempfile.mkdtemp(prefix="tapejit-k-"))
        print(f"  kernels only, {kernels} operations ({r.get('nodes')} nodes), empty cache: "
              f"native after {_fmt(r.get('native'))} ({r.get('kernels')} kernels); peak "
              f"{r.get('peak_mb', 0):.0f} MB; call {_fmt(r.get('steady'))}", flush=True)
    try:
        import jax  # noqa: F401
        r = _spawn(["jax", str(n_graph)], tempfile.mkdtemp(prefix="tapejit-scale-"))
        print(f"  jax.jit: lower + compile + first call {_fmt(r.get('native'))}; call "
              f"{_fmt(r.get('steady'))}; peak {r.get('peak_mb', 0):.0f} MB", flush=True)
    except ImportError:
        pass
    print(f"\nGradient of a {n_chain}-operation eager chain (forward + gradient, fresh "
          f"process each, default and interpreter-only interleaved), seconds:")
    res = {"default": [], "interpreter": []}
    for _ in range(repeats):
        for m in res:
            res[m].append(_spawn(["chain", str(n_chain), m],
                                 tempfile.mkdtemp(prefix="tapejit-chain-")))
    for m, rs in res.items():
        for r in rs:
            print(f"  {m}: " + "; ".join(
                f"{k}: forward {r[k][0]:.2f} + gradient {r[k][1]:.2f} (cpu "
                f"{r[k + '_cpu'][0]:.2f} + {r[k + '_cpu'][1]:.2f})"
                for k in ("first", "again") if k in r), flush=True)
    ratios = {}
    for key, label in (("first", "wall"), ("first_cpu", "process CPU")):
        d = [sum(r[key]) for r in res["default"] if key in r]
        i = [sum(r[key]) for r in res["interpreter"] if key in r]
        if d and i:
            ratios[label] = statistics.median(d) / statistics.median(i)
            print(f"  default / interpreter, end to end (first), {label}: medians "
                  f"{statistics.median(d):.2f} / {statistics.median(i):.2f} s = "
                  f"{ratios[label]:.2f}")
    native = [x.get("native") for x in graphs["empty cache"] if x.get("native")]
    cpu = [x.get("native_cpu") for x in graphs["empty cache"] if x.get("native_cpu")]
    peak = [x.get("peak_mb") for x in graphs["empty cache"] if x.get("peak_mb")]
    print("targets (medians):")
    if native and peak:
        ok = statistics.median(native) < 60 and statistics.median(peak) < 1024
        print(f"  {n_graph}-operation graph native < 60 s and peak < 1 GB, empty cache: "
              f"{_fmt(statistics.median(native))} (process CPU "
              f"{_fmt(statistics.median(cpu) if cpu else None)}), "
              f"{statistics.median(peak):.0f} MB: "
              f"{'met' if ok else 'NOT MET'}")
    for label, q in ratios.items():
        print(f"  chain gradient <= 2x the interpreter end to end ({label}): {q:.2f}: "
              f"{'met' if q <= 2 else 'NOT MET'}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        kind, rest = sys.argv[2], sys.argv[3:]
        if kind == "graph":
            out = child_graph(int(rest[0]), rest[1] == "vm")
        elif kind == "chain":
            out = child_chain(int(rest[0]), rest[1])
        else:
            out = child_jax(int(rest[0]))
        print(json.dumps(out))
    else:
        k = sys.argv[sys.argv.index("--kernels") + 1] if "--kernels" in sys.argv else 0
        n = sys.argv[sys.argv.index("--repeats") + 1] if "--repeats" in sys.argv else 1
        main("--quick" in sys.argv, int(k), int(n))
