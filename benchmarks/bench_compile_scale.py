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

Targets (issue 10): the 10^4-operation graph native in under 60 s and 1 GB; the chain's
gradient never more than 2x the interpreter's time end to end.
"""
import json
import os
import resource
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
    t0 = time.perf_counter()
    exe.compile_now(arg)
    native = time.perf_counter() - t0
    steps = exe.native.lowered.steps
    return {"nodes": len(exe.graph.nodes), "first": first, "native": native,
            "steady": median_time(lambda: exe.native.run(*arg), runs=5),
            "interp": interp, "peak_mb": _peak_mb(),
            "segments": sum(type(s).__name__ == "Segment" for s in steps),
            "kernels": len(exe.native.kernels)}


def child_chain(n_ops, mode):
    import tracer as tt
    if mode == "interpreter":
        tt.config.jit_threshold = 1 << 30
    x0 = tt.Variable(np.linspace(-1.0, 1.0, 100))
    out = {}
    for rep in ("first", "again"):
        t0 = time.perf_counter()
        with tt.GradientTape() as tape:
            x = x0 * 1.0
            for _ in range(n_ops // 3):
                x = tt.sin(x) * 0.5 + x
            y = tt.reduce_sum(x)
        t1 = time.perf_counter()
        tape.gradient(y, x0).numpy()
        out[rep] = [t1 - t0, time.perf_counter() - t1]
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


def main(quick, kernels):
    n_graph, n_chain = (2000, 20000) if quick else (10000, 100000)
    cache_dir = tempfile.mkdtemp(prefix="tapejit-scale-")
    print(f"{n_graph}-operation random graph on 1000 float64 values (tt.function):")
    for label in ("empty cache", "warm cache"):
        r = _spawn(["graph", str(n_graph), "vm"], cache_dir)
        print(f"  {label}: {r.get('nodes')} nodes; trace + first call {_fmt(r.get('first'))}; "
              f"native after {_fmt(r.get('native'))} ({r.get('segments')} VM segments, "
              f"{r.get('kernels')} steps); peak {r.get('peak_mb', 0):.0f} MB; call: native "
              f"{_fmt(r.get('steady'))}, interpreted {_fmt(r.get('interp'))}", flush=True)
    if kernels:
        r = _spawn(["graph", str(kernels), "kernels"], tempfile.mkdtemp(prefix="tapejit-k-"))
        print(f"  kernels only, {kernels} operations ({r.get('nodes')} nodes), empty cache: "
              f"native after {_fmt(r.get('native'))} ({r.get('kernels')} kernels); peak "
              f"{r.get('peak_mb', 0):.0f} MB; call {_fmt(r.get('steady'))}", flush=True)
    try:
        import jax  # noqa: F401
        r = _spawn(["jax", str(n_graph)], cache_dir)
        print(f"  jax.jit: lower + compile + first call {_fmt(r.get('native'))}; call "
              f"{_fmt(r.get('steady'))}; peak {r.get('peak_mb', 0):.0f} MB", flush=True)
    except ImportError:
        pass
    print(f"\nGradient of a {n_chain}-operation eager chain (forward + gradient), seconds:")
    res = {m: _spawn(["chain", str(n_chain), m], cache_dir)
           for m in ("default", "interpreter")}
    for m, r in res.items():
        print(f"  {m}: " + "; ".join(f"{k}: forward {v[0]:.2f} + gradient {v[1]:.2f}"
                                     for k, v in r.items()), flush=True)
    d, i = res["default"].get("first"), res["interpreter"].get("first")
    if d and i:
        print(f"  default / interpreter, end to end (first): {sum(d) / sum(i):.2f}")
    print("targets: native after < 60 s and peak < 1 GB; chain ratio <= 2")


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
        main("--quick" in sys.argv, int(k))
