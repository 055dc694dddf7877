"""The benchmarks' shared timer (benchmarks run as scripts, so this directory is on the path)."""
import statistics
import time


def median_time(fn, runs=7, min_seconds=0.05):
    """Median seconds per call of ``fn`` over ``runs`` batches, each batch sized to last about
    ``min_seconds`` (after two warm-up calls, the second of which sizes the batches)."""
    fn()
    t0 = time.perf_counter()
    fn()
    n = max(1, int(min_seconds / max(time.perf_counter() - t0, 1e-7)))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n)
    return statistics.median(times)
