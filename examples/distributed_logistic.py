"""Logistic regression on 10^7 synthetic rows held by Dask workers, trained data-parallel.

The rows are generated on the workers and persisted there (they never pass through this
process); each step sends the parameters out, every worker computes the loss and
gradient of the chunks it holds with a compiled ``tt.value_and_grad``, the partial sums
are added on the workers and one gradient comes back for a plain gradient-descent update.

    python examples/distributed_logistic.py                        # LocalCluster, 2 workers
    python examples/distributed_logistic.py --rows 100000 --steps 5
    python examples/distributed_logistic.py --scheduler tcp://scheduler:8786

Needs the `distributed` extra: pip install -e '.[distributed]'.
"""
import argparse
import time

import numpy as np

import tracer as tt

FEATURES = 16


def loss(p, X, y):
    """Logistic loss summed over the rows of one chunk."""
    z = tt.tensordot(X, p["w"], 1) + p["b"]
    return tt.reduce_sum(tt.softplus(z) - y * z)


def true_weights():
    return np.linspace(-1.0, 1.0, FEATURES).astype(np.float32), np.float32(0.5)


def make_data(rows, chunk, seed=0):
    """X (rows x FEATURES) and labels y drawn from a known logistic model, persisted on
    the workers in row chunks of ``chunk``."""
    import dask.array as da
    rng = da.random.default_rng(seed)
    X = rng.standard_normal((rows, FEATURES), chunks=(chunk, FEATURES), dtype=np.float32)
    w, b = true_weights()
    prob = 1 / (1 + np.exp(-(X @ w + b)))
    y = (rng.random(rows, chunks=chunk, dtype=np.float32) < prob).astype(np.float32)
    return X.persist(), y.persist()


def train(client, rows, chunk, steps, lr=2.0, log=print):
    """Gradient descent on the mean loss; returns the parameters and rows/s per step."""
    t = time.perf_counter()
    X, y = make_data(rows, chunk)
    from distributed import wait
    wait([X, y])
    log(f"{rows:,} rows x {FEATURES} features in {len(X.chunks[0])} chunks on "
        f"{len(client.scheduler_info()['workers'])} workers "
        f"(generated in {time.perf_counter() - t:.1f} s)")
    step = tt.distributed.value_and_grad(loss)
    p = {"w": tt.zeros((FEATURES,)), "b": tt.constant(0.0)}
    rates = []
    for i in range(steps):
        t = time.perf_counter()
        value, grad = step(p, X, y, client=client)
        p = {k: p[k] - (lr / rows) * grad[k] for k in p}
        seconds = time.perf_counter() - t
        rates.append(rows / seconds)
        note = " (includes tracing and compiling on the workers)" if i == 0 else ""
        log(f"step {i:3d}  mean loss {float(value) / rows:.5f}  {seconds * 1e3:8.1f} ms  "
            f"{rates[-1] / 1e6:7.2f} M rows/s{note}")
    return p, rates


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--chunk", type=int, default=1_000_000, help="rows per chunk")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster workers")
    parser.add_argument("--scheduler", help="address of an existing Dask scheduler")
    args = parser.parse_args(argv)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SystemExit("this example needs Dask: pip install -e '.[distributed]'")
    if args.scheduler:
        client, cluster = Client(args.scheduler), None
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1)
        client = Client(cluster)
    try:
        p, rates = train(client, args.rows, args.chunk, args.steps)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    w, b = true_weights()
    err = np.abs(np.append(p["w"].numpy() - w, float(p["b"]) - b)).max()
    if len(rates) > 1:
        print(f"median throughput after the first step: {np.median(rates[1:]) / 1e6:.2f} "
              f"M rows/s")
    print(f"max |fitted - true| weight: {err:.3f}")


if __name__ == "__main__":
    main()
