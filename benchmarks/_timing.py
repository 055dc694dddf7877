"""The benchmarks' shared timer and child-process runner (benchmarks run as scripts, so
this directory is on the path)."""
import json
import statistics
import subprocess
import sys
import time


def settle(fn, calls=3):
    """Call ``fn`` until tapejit's background compiles are done: steady state is native
    code, not the interpreter or block VM that serve calls while kernels compile (each
    tier may queue the next compile, so wait after every call). A no-op wait for peers."""
    for _ in range(calls):
        fn()
        wait = getattr(sys.modules.get("runtime"), "wait_for_compiles", None)
        if wait is not None:
            wait()


def median_time(fn, runs=7, min_seconds=0.05, clock=time.perf_counter):
    """Median seconds per call of ``fn`` over ``runs`` batches, each batch sized to last about
    ``min_seconds`` (after settling, see ``settle``, and a warm-up call that sizes the
    batches). ``clock`` is wall time by default; ``time.process_time`` gives the process's
    CPU time per call (all its threads), less sensitive to other processes on busy cores."""
    settle(fn)
    t0 = time.perf_counter()
    fn()
    n = max(1, int(min_seconds / max(time.perf_counter() - t0, 1e-7)))
    times = []
    for _ in range(runs):
        t0 = clock()
        for _ in range(n):
            fn()
        times.append((clock() - t0) / n)
    return statistics.median(times)


def child_json(argv, env, timeout):
    """Run ``python argv...`` in a fresh process and return the JSON object its last line
    of output holds ({} when it printed none, after echoing the tail of its stderr)."""
    p = subprocess.run([sys.executable] + list(argv), env=env, capture_output=True,
                       text=True, timeout=timeout)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        sys.stderr.write(p.stderr[-2000:])
        return {}
