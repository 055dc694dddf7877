"""Running block-VM segments (``compiler.vm``): the VM compiled once per float dtype (and
cached on disk like a kernel), each segment a callable the driver calls like a kernel."""
import threading

import numpy as np

from compiler import vm
from runtime import diskcache
from runtime.config import config

_lock = threading.Lock()
_vms = {}


SUPPORT = diskcache.module_digest("vmsupport.py")    # the VM inlines runtime.vmsupport


def machine(dtype):
    """The compiled VM for ``dtype`` (a Numba dispatcher; compiles on its first call)."""
    dtype = np.dtype(dtype)
    with _lock:
        fn = _vms.get(dtype)
        if fn is None:
            source = vm.vm_source(dtype) + f"\n# support {SUPPORT}\n"
            fn = _vms[dtype] = diskcache.load_kernel(source, config.cache_dir)[0]
    return fn


class Runner:
    """Calls the VM on one segment: ``runner(*args)`` returns the segment's results."""

    def __init__(self, program):
        self.program = program
        self.dispatcher = machine(program.dtype)
        self.dtype = np.dtype(program.dtype)
        self.shapes = program.results
        p = program
        self._tail = (p.sizes, p.arena, p.nregs, p.nacc)

    def __call__(self, *args):
        p, dt = self.program, self.dtype
        addrs = p.addrs.copy()
        keep = []
        for slot, a in zip(p.inputs, args):
            a = np.ascontiguousarray(a, dt)
            keep.append(a)
            addrs[slot] = a.ctypes.data
        outs = []
        for slot, (shape, dtype) in zip(p.outputs, self.shapes):
            o = np.empty(shape, dt)
            outs.append(o)
            addrs[slot] = o.ctypes.data
        self.dispatcher(p.code, p.consts, addrs, *self._tail)
        return tuple(_result(o, shape, dtype) for o, (shape, dtype) in zip(outs, self.shapes))


def _result(o, shape, dtype):
    if dtype != o.dtype:
        o = o.astype(dtype)
    return o[()] if shape == () else o
