"""Freed array memory stays in the process for the next call.

Every run of a compiled graph allocates its intermediate and output arrays afresh, and a
training loop or a Hessian frees and allocates the same sizes at every call. glibc's
``malloc`` serves arrays above its mmap threshold (128 KiB at start, raised only as such
blocks are freed) with fresh ``mmap`` pages and returns the top of the heap to the system
once more than its trim threshold is free there. Either way the next call touches new
pages, and a page fault costs microseconds (several on virtual machines): measured here, a
500 x 500 float64 Hessian spent 21 of its 23 ms per call faulting in memory it had just
freed (6.8 ms with the settings below, against 5.7 ms for JAX, whose allocator keeps
its buffers).

``tune()`` (run once when ``runtime`` is imported, on Linux with glibc) serves blocks up to
32 MiB from the heap and keeps up to 512 MiB of freed memory for reuse, as a caching
allocator would. The peak memory of a program does not change; what changes is that
memory freed after the peak is kept for the next call rather than returned. Set
``TRACER_MALLOC_TUNING=0`` to leave ``malloc`` as it is; glibc's own settings
(``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, ``GLIBC_TUNABLES``) win when given.
"""
import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20          # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 512 << 20

_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")

tuned = False


def tune():
    """Apply the settings above once; True when they are in effect."""
    global tuned
    if tuned:
        return True
    if os.environ.get("TRACER_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith(
            "linux") or any(k in os.environ for k in _ENV):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version          # glibc only (musl has no mallopt)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    tuned = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return tuned
