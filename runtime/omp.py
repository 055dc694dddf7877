"""Idle OpenMP threads sleep instead of spinning.

Kernels above ``config.parallel_threshold`` run their loops on Numba's OpenMP threading
layer (libgomp). By default libgomp's idle threads spin for a while at the end of each
parallel region before they sleep, and the thread that finishes its share first spins
until its partner does. On cores other processes keep busy the partner is often
descheduled, and the spinning is paid for in full: measured on two busy cores, the
compiled gradient of logsumexp over 1024 x 1024 float32 rows (three parallel regions
per call) took 16-24 ms of process CPU and 36 ms wall (median) with spinning threads,
1.5-1.9 ms CPU and 2.3-5 ms wall with sleeping ones (a sequential lowering: 1.4-1.6 ms).
A sleeping thread costs a wake-up instead, measured at 10-40 us per region (a region of
64 Ki elements: 20-30 us median back to back against 8-10 us with spinning threads, when
those get the cores).

``tune()`` (run once when ``runtime`` is imported) sets ``OMP_WAIT_POLICY=PASSIVE``
unless it is already set; it must run before the OpenMP runtime is loaded, which Numba
does at the first parallel kernel launch. Set ``TRACER_OMP_TUNING=0`` to leave the
environment as it is; an ``OMP_WAIT_POLICY`` you set yourself always wins.
"""
import os


def tune(environ=os.environ):
    """Set the OpenMP wait policy above unless told not to; True when it is PASSIVE."""
    if environ.get("TRACER_OMP_TUNING", "1") != "0":
        environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"
