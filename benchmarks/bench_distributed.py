"""Benchmark tt.distributed.value_and_grad on a LocalCluster (prints a table, never asserts).

Workload: the logistic-regression loss of ``examples/distributed_logistic.py`` (16 float32
features) over rows generated on the workers and persisted there. Reported:
- throughput (rows/s, median over steps after a warm-up step) of the single-process
  compiled ``tt.value_and_grad`` on the whole array, and of one step of
  ``tt.distributed.value_and_grad`` with 1 and 2 worker processes (1 thread each);
- the per-step overhead at small sizes: the median step time on a few hundred rows,
  where computing is negligible and what remains is Dask's scheduling and messaging.

    PYTHONPATH=. python benchmarks/bench_distributed.py [--rows 4000000] [--quick]

On a machine with fewer idle cores than workers the 2-worker figure cannot scale.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "examples"))

import tracer as tt  # noqa: E402
from distributed_logistic import FEATURES, loss, make_data  # noqa: E402


def _median_seconds(fn, steps):
    fn()                                    # warm-up: traces and compiles
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _params():
    return {"w": tt.constant(np.full(FEATURES, 0.01, np.float32)), "b": tt.constant(0.0)}


def single_process(X, y, steps):
    """Median seconds of the compiled gradient on the whole (in-memory) data."""
    vg, p = tt.value_and_grad(loss), _params()
    Xt, yt = tt.constant(X), tt.constant(y)
    return _median_seconds(lambda: vg(p, Xt, yt), steps)


def on_cluster(workers, sizes, steps):
    """Median step seconds for each (rows, chunk) in ``sizes`` on ``workers`` processes."""
    from distributed import Client, LocalCluster, wait
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0")
    client = Client(cluster)
    try:
        out = []
        for rows, chunk in sizes:
            X, y = make_data(rows, chunk)
            wait([X, y])
            g, p = tt.distributed.value_and_grad(loss), _params()
            out.append(_median_seconds(lambda: g(p, X, y, client=client), steps))
            del X, y
        return out
    finally:
        client.close()
        cluster.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--chunks", type=int, default=8, help="row chunks of the data")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows")
    args = parser.parse_args(argv)
    rows = args.rows // 10 if args.quick else args.rows
    chunk = -(-rows // args.chunks)
    small = [(400, 100), (4000, 1000)]
    sizes = [(rows, chunk)] + small

    X, y = make_data(rows, chunk)           # the same rows, generated here for the baseline
    import dask
    with dask.config.set(scheduler="synchronous"):
        X, y = dask.compute(X, y)
    base = single_process(X, y, args.steps)
    base_small = [single_process(X[:n], y[:n], args.steps) for n, _ in small]
    del X, y
    results = {w: on_cluster(w, sizes, args.steps) for w in (1, 2)}

    print(f"logistic regression, {FEATURES} float32 features, {rows:,} rows in "
          f"{args.chunks} chunks; median of {args.steps} steps after a warm-up")
    print(f"{'':28s}{'ms/step':>10s}{'M rows/s':>10s}{'vs 1 process':>14s}")
    print(f"{'single process (compiled)':28s}{base * 1e3:10.1f}{rows / base / 1e6:10.2f}"
          f"{1.0:14.2f}")
    for w, times in results.items():
        t = times[0]
        print(f"{f'distributed, {w} worker(s)':28s}{t * 1e3:10.1f}{rows / t / 1e6:10.2f}"
              f"{base / t:14.2f}")
    print("per-step overhead at small sizes (ms per step):")
    for (n, c), b, *per in zip(small, base_small, *[results[w][1:] for w in (1, 2)]):
        print(f"  {n:6d} rows in {n // c} chunks: single process {b * 1e3:7.2f}, "
              + ", ".join(f"{w} worker(s) {t * 1e3:7.1f}" for w, t in zip((1, 2), per)))


if __name__ == "__main__":
    main()
