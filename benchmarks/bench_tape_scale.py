"""Eager tapes at scale: the cost of recording an op, and of a long chain's first gradient.

1. Per-op cost under a recording ``tt.GradientTape`` on a 100-element float64 Variable:
   ``tt.sin(x)``, ``x * x`` and ``x * 0.5`` (a Python scalar: a literal operand), each a
   loop ``x = op(x)`` of ``--ops`` steps; microseconds per op, wall and process time, and
   the share of it the cyclic garbage collector took (``gc.callbacks``).
2. A chain ``x = tt.sin(x) * 0.5 + x`` of n ops (10^4, 5*10^4, 10^5 by default) recorded
   on a tape, then its first ``tape.gradient`` (graph building, optimisation, running it)
   and a second one of the same structure (the cached plan); each size in a fresh process.

    PYTHONPATH=. python benchmarks/bench_tape_scale.py [--ops 3000] [--repeats 5]
        [--chains 10000 50000 100000]

NumPy's own cost of the same loop is printed next to the per-op figures. Medians over
``--repeats`` (per-op) or one run per size (chains: the first gradient happens once).
"""
import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


class GcClock:
    """Seconds spent in the cyclic garbage collector while active."""

    def __init__(self):
        self.seconds, self._start = 0.0, None

    def __call__(self, phase, info):
        if phase == "start":
            self._start = time.perf_counter()
        elif self._start is not None:
            self.seconds += time.perf_counter() - self._start

    def __enter__(self):
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self)
        return False


def per_op(tt, body, ops):
    """(wall us, cpu us, gc us) per op of ``ops`` calls of body under a recording tape."""
    v = tt.Variable(np.linspace(-1.0, 1.0, 100))
    with tt.GradientTape(), GcClock() as clock:
        x = v * 1.0
        w, c = time.perf_counter(), time.process_time()
        for _ in range(ops):
            x = body(x)
        w, c = time.perf_counter() - w, time.process_time() - c
    return w / ops * 1e6, c / ops * 1e6, clock.seconds / ops * 1e6


def numpy_per_op(body, ops):
    x = np.linspace(-1.0, 1.0, 100)
    kept = []
    t = time.perf_counter()
    for _ in range(ops):
        x = body(x)
        kept.append(x)
    return (time.perf_counter() - t) / ops * 1e6


def report_per_op(ops, repeats):
    import tracer as tt
    bodies = {"tt.sin(x)": (lambda x: tt.sin(x), np.sin),
              "x * x": (lambda x: x * x, lambda x: x * x),
              "x * 0.5": (lambda x: x * 0.5, lambda x: x * 0.5)}
    print(f"per op under a recording tape (100 float64 values, {ops} ops, median of "
          f"{repeats}):")
    for name, (ours, theirs) in bodies.items():
        per_op(tt, ours, 50)
        runs = [per_op(tt, ours, ops) for _ in range(repeats)]
        med = [statistics.median(r[k] for r in runs) for k in range(3)]
        base = statistics.median(numpy_per_op(theirs, ops) for _ in range(repeats))
        print(f"  {name:10s} {med[0]:6.1f} us wall, {med[1]:6.1f} us cpu, of which gc "
              f"{med[2]:5.1f} us; NumPy alone {base:5.2f} us", flush=True)


def child_chain(n_ops):
    """Forward and first/second gradient seconds (wall and cpu) of an n-op chain."""
    import tracer as tt
    x0 = tt.Variable(np.linspace(-1.0, 1.0, 100))
    out = {}
    for rep in ("first", "again"):
        with GcClock() as clock:
            w0, c0 = time.perf_counter(), time.process_time()
            with tt.GradientTape() as tape:
                x = x0 * 1.0
                for _ in range(n_ops // 3):
                    x = tt.sin(x) * 0.5 + x
                y = tt.reduce_sum(x)
            w1, c1 = time.perf_counter(), time.process_time()
            fwd_gc = clock.seconds
            tape.gradient(y, x0).numpy()
            w2, c2 = time.perf_counter(), time.process_time()
        out[rep] = {"forward": [w1 - w0, c1 - c0, fwd_gc],
                    "gradient": [w2 - w1, c2 - c1, clock.seconds - fwd_gc]}
    return out


def report_chains(sizes):
    print("chain x = sin(x) * 0.5 + x under a tape (fresh process per size; seconds "
          "wall / cpu / gc):")
    for n in sizes:
        proc = subprocess.run([sys.executable, __file__, "--child", str(n)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"  {n} ops: failed\n{proc.stderr[-2000:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        f, g, a = r["first"]["forward"], r["first"]["gradient"], r["again"]["gradient"]
        print(f"  {n:>7} ops: forward {f[0]:6.2f} / {f[1]:6.2f} / {f[2]:5.2f}; first "
              f"gradient {g[0]:6.2f} / {g[1]:6.2f} / {g[2]:5.2f}; again {a[0]:5.2f} s",
              flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--chains", type=int, nargs="*", default=[10000, 50000, 100000])
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child_chain(args.child)))
        return
    report_per_op(args.ops, args.repeats)
    report_chains(args.chains)


if __name__ == "__main__":
    main()
