"""Small matrix products run on one BLAS thread while the cores are busy.

OpenBLAS splits every product above a tiny size across all its threads. On cores that
other processes keep busy, a thread waiting for a descheduled sibling spins for a whole
time slice (measured on two shared cores at load 5-9: a float32 32x128 @ 128x128 product
380 us on two threads, 28 us on one; 256x784 @ 784x512 17 ms against 8 ms; the threads'
spinning after a call also slows whatever runs next, so timing the call alone misleads:
the MLP step of bench_latency at batch 256 took 16-21 ms with its two 100M multiply-add
products on threads, 6-8 ms with every product on one). On idle cores the threads pay:
the same MLP step takes 3.8-4.4 ms on two threads against 7.4-7.6 ms on one, and every
product from about half a million multiply-adds up runs 1.5-1.9x faster on two.

So ``matmul`` (and compiled programs, once per run) hold OpenBLAS at one thread for
products of fewer than ``small_product`` multiply-adds
(``tt.config.blas_single_thread_below``, default 2^28, about 10 ms on one core) when
``hold`` says so (``tt.config.blas_single_thread``): ``"when_busy"`` (the default) while
other processes use all but about one and a half of the machine's cores (``busy``:
their share of the CPU time over the last half second or more, from ``/proc/stat``),
``"always"``, or ``"never"``. Larger products always run with the library's own
threading, where splitting the work pays for the synchronisation even on shared cores.

The limit is set through the OpenBLAS libraries loaded in this process (NumPy's, and
SciPy's once Numba's ``np.dot`` has loaded it), found in ``/proc/self/maps``; where there
are none (another BLAS, another OS) products run unchanged. The thread count is process
wide: a large product running in another thread at the same moment also runs on one
thread until the small one returns.
"""
import ctypes
import os
import threading
import time

import numpy as np

small_product = 1 << 28        # multiply-adds; runtime.config keeps it in step
hold = "when_busy"             # "when_busy" | "always" | "never"; runtime.config too
HOLDS = ("when_busy", "always", "never")

_SETTERS = ("openblas_set_num_threads", "openblas_set_num_threads64_",
            "scipy_openblas_set_num_threads", "scipy_openblas_set_num_threads64_")


class _Limit:
    """One thread for the OpenBLAS libraries in ``libs`` while at least one caller (of any
    thread) is inside ``enter``/``leave``; their previous counts come back after."""

    def __init__(self, libs):
        self.libs = libs            # [(set_num_threads, get_num_threads)]
        self.lock = threading.Lock()
        self.depth = 0
        self.saved = []

    def enter(self):
        with self.lock:
            if self.depth == 0:
                self.saved = [get() for _set, get in self.libs]
                for (set_, _get), n in zip(self.libs, self.saved):
                    if n != 1:
                        set_(1)
            self.depth += 1

    def leave(self):
        with self.lock:
            self.depth -= 1
            if self.depth == 0:
                for (set_, _get), n in zip(self.libs, self.saved):
                    if n != 1:
                        set_(n)


_found = None                   # {"numpy": _Limit or None, "all": _Limit or None}


def _maps():
    try:
        with open("/proc/self/maps") as f:
            return sorted({line.split()[-1] for line in f
                           if "openblas" in line.rsplit("/", 1)[-1].lower()})
    except OSError:
        return []


def _library(path):
    try:
        lib = ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 0) | ctypes.RTLD_LOCAL)
    except OSError:
        return None
    for name in _SETTERS:
        setter = getattr(lib, name, None)
        getter = getattr(lib, name.replace("set_", "get_"), None)
        if setter is not None and getter is not None:
            setter.argtypes, setter.restype = [ctypes.c_int], None
            getter.argtypes, getter.restype = [], ctypes.c_int
            return setter, getter
    return None


def refresh():
    """Look again for loaded OpenBLAS libraries (Numba's ``np.dot`` loads SciPy's)."""
    global _found
    paths = _maps()
    if _found is not None and _found["paths"] == paths:
        return
    libs = [(p, lib) for p, lib in ((p, _library(p)) for p in paths) if lib is not None]
    mine = [lib for p, lib in libs if "numpy" in p] or [lib for _p, lib in libs]
    _found = {"paths": paths, "numpy": _Limit(mine) if mine else None,
              "all": _Limit([lib for _p, lib in libs]) if libs else None}


def _limit(which):
    if _found is None:
        refresh()
    return _found[which]


def limit():
    """The ``_Limit`` of NumPy's OpenBLAS (None when there is none to limit):
    ``enter()`` before small products, ``leave()`` after."""
    return _found["numpy"] if _found is not None else _limit("numpy")


class _Load:
    """Whether other processes keep the cores busy: their CPU time (every CPU's busy time
    in ``/proc/stat`` less this process's own) over the window since the last sample,
    re-sampled when a call comes at least ``WINDOW`` seconds later. Where ``/proc/stat``
    is missing, the one-minute load average stands in (it counts this process too)."""
    WINDOW = 0.5
    clock = staticmethod(time.monotonic)

    def __init__(self):
        self.lock = threading.Lock()
        self.cpus = os.cpu_count() or 1
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.last = self._sample()
        self.busy = self._guess()

    def _sample(self):
        """(monotonic seconds, every CPU's busy seconds or None, own CPU seconds)."""
        t, own = self.clock(), time.process_time()
        try:
            with open("/proc/stat", "rb") as f:
                head = f.readline().split()
            # user nice system idle iowait irq softirq steal: all but idle and iowait
            ticks = [int(v) for v in head[1:9]]
            return t, (sum(ticks) - ticks[3] - ticks[4]) / self.tick, own
        except (OSError, ValueError, IndexError):
            return t, None, own

    def _guess(self):
        try:
            return os.getloadavg()[0] >= self.cpus
        except (AttributeError, OSError):
            return True

    def __call__(self):
        if self.clock() - self.last[0] < self.WINDOW:
            return self.busy
        with self.lock:
            now = self._sample()
            t0, all0, own0 = self.last
            if now[1] is None or all0 is None:
                self.busy = self._guess()
            else:
                others = (now[1] - all0 - (now[2] - own0)) / (now[0] - t0)
                self.busy = others > self.cpus - 1.5
            self.last = now
        return self.busy


busy = _Load()


def holding():
    """Whether small products are held at one thread now (``hold`` and ``busy``)."""
    return hold == "always" or hold == "when_busy" and busy()


def held():
    """``limit()`` when small products are held at one thread now, else None."""
    return limit() if holding() else None


class single_thread:
    """Context: every OpenBLAS found in the process runs on one thread inside it
    (nestable, from several threads) while ``holding()``; with ``loop``, unless ``hold`` is
    ``"never"``: a native loop calls its small products once per step, and waking the
    threads at every step costs more than they save even on idle cores (an RNN gradient
    scan, 32x256 @ 256x256 per step, 100 steps: 42 ms on one thread, 103-124 ms on two)."""

    def __init__(self, loop=False):
        self.loop = loop

    def __enter__(self):
        held = holding() or (self.loop and hold != "never")
        self.limit = _limit("all") if held else None
        if self.limit is not None:
            self.limit.enter()
        return self

    def __exit__(self, *exc):
        if self.limit is not None:
            self.limit.leave()
        return False


def is_small(a_shape, b_shape):
    """Whether ``a @ b`` (rank >= 2 operands) counts as a small product."""
    m, k = a_shape[-2], a_shape[-1]
    batch = 1
    for d in a_shape[:-2]:
        batch *= d
    return batch * m * k * b_shape[-1] < small_product


def matmul(a, b):
    """``np.matmul``; a small product runs on one BLAS thread."""
    if np.ndim(a) < 2 or np.ndim(b) < 2 or not is_small(np.shape(a), np.shape(b)):
        return np.matmul(a, b)
    one = held()
    if one is None:
        return np.matmul(a, b)
    one.enter()
    try:
        return np.matmul(a, b)
    finally:
        one.leave()
