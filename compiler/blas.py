"""Small matrix products run on one BLAS thread.

OpenBLAS splits every product above a tiny size across all its threads. For a product of
a few million multiply-adds, waking and synchronising the threads costs more than the
arithmetic, and when the cores are busy with other processes a thread waiting for a
descheduled sibling spins for a whole time slice (measured on two shared cores: a float32
32x128 @ 128x128 product 380 us on two threads, 28 us on one; 256x784 @ 784x512 17 ms
against 8 ms; the threads' spinning after a call also slows whatever runs next, so
timing the call alone misleads: the MLP step of bench_latency at batch 256 took 16-21 ms
with its two 100M multiply-add products on threads, 6-8 ms with every product on one).
``matmul`` runs products of fewer than ``small_product`` multiply-adds
(``tt.config.blas_single_thread_below``, default 2^28, about 10 ms on one core) with
OpenBLAS limited to one thread for the call, and larger ones with the library's own
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

import numpy as np

small_product = 1 << 28        # multiply-adds; runtime.config keeps it in step

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


class single_thread:
    """Context: every OpenBLAS found in the process runs on one thread inside it
    (nestable, from several threads)."""

    def __enter__(self):
        self.limit = _limit("all")
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
    held = limit()
    if held is None:
        return np.matmul(a, b)
    held.enter()
    try:
        return np.matmul(a, b)
    finally:
        held.leave()
