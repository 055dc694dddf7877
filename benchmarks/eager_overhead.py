"""Eager overhead: microseconds per op for tapejit next to NumPy's own cost.

Times `x * y` and `tt.sin(x)` on a scalar and on a 1,000-element float32 vector, outside
any tape and under a recording tape that watches x, each against the same NumPy call on
the same values (under a tape: NumPy keeping every result alive, as the tape must). Each
figure is the median over repeats of a loop of many calls; the overhead is ours minus
NumPy's. Targets: <= 3 us per op outside a tape, <= 6 us under one.

Run: python benchmarks/eager_overhead.py [--repeats 7] [--number 2000] [--profile]
"""
import argparse
import cProfile
import pstats
import statistics
import time

import numpy as np

import tracer as tt

TARGETS = {"eager": 3.0, "taped": 6.0}


def loop_time(body, x, y, number):
    """Seconds for `number` calls of body(x, y) (a fresh loop, no per-call timer)."""
    start = time.perf_counter()
    for _ in range(number):
        body(x, y)
    return time.perf_counter() - start


def kept_time(body, x, y, number):
    """As loop_time, keeping every result alive (what a recording tape must do)."""
    kept = []
    start = time.perf_counter()
    for _ in range(number):
        kept.append(body(x, y))
    return time.perf_counter() - start


def taped_time(body, x, y, number):
    """As loop_time, under a recording tape watching x (one tape per loop, so what it
    records stays bounded; its open/close cost is spread over `number` calls)."""
    start = time.perf_counter()
    with tt.GradientTape() as tape:
        tape.watch(x)
        for _ in range(number):
            body(x, y)
    return time.perf_counter() - start


def median_us(timer, body, x, y, number, repeats):
    times = [timer(body, x, y, number) for _ in range(repeats)]
    return statistics.median(times) / number * 1e6


OPS = {
    "x * y": (lambda x, y: x * y, lambda x, y: x * y),
    "sin(x)": (lambda x, y: tt.sin(x), lambda x, y: np.sin(x)),
}


def operands(size):
    rng = np.random.default_rng(0)
    if size == 1:
        a, b = np.float32(0.5), np.float32(1.5)
    else:
        a, b = rng.random(size, np.float32), rng.random(size, np.float32)
    return a, b, tt.constant(a), tt.constant(b)


def measure(number, repeats):
    rows = []
    for size in (1, 1000):
        a, b, x, y = operands(size)
        for name, (ours, theirs) in OPS.items():
            for mode, timer, base_timer in (("eager", loop_time, loop_time),
                                            ("taped", taped_time, kept_time)):
                base = median_us(base_timer, theirs, a, b, number, repeats)
                t = median_us(timer, ours, x, y, number, repeats)
                rows.append((name, size, mode, t, base, t - base))
    return rows


def report(rows):
    print(f"{'op':<8} {'size':>5} {'mode':<6} {'tapejit us':>10} {'numpy us':>9} "
          f"{'overhead':>9} {'target':>7}")
    for name, size, mode, t, base, over in rows:
        ok = "ok" if over <= TARGETS[mode] else "MISS"
        print(f"{name:<8} {size:>5} {mode:<6} {t:>10.2f} {base:>9.2f} {over:>9.2f} "
              f"{TARGETS[mode]:>5.1f} {ok}")
    print("(taped rows compare with NumPy keeping every result alive, as a tape must)")


def profile(number):
    """Where the time goes for scalar x * y, outside and under a tape."""
    a, b, x, y = operands(1)
    for mode, timer in (("eager", loop_time), ("taped", taped_time)):
        prof = cProfile.Profile()
        prof.runcall(timer, OPS["x * y"][0], x, y, number * 10)
        print(f"\n-- cProfile, scalar x * y, {mode} --")
        pstats.Stats(prof).sort_stats("tottime").print_stats(8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--profile", action="store_true", help="also print cProfile tables")
    args = parser.parse_args()
    report(measure(args.number, args.repeats))
    if args.profile:
        profile(args.number)


if __name__ == "__main__":
    main()
