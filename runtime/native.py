"""The native tier: a graph becomes a plain-Python driver over compiled Numba kernels.

``compiler.fusion`` partitions the graph, ``compiler.codegen`` writes each kernel's source
and the driver; this module compiles and remembers the kernels. Kernels are shared by
every graph that contains the same structure at the same shapes (keyed by their source),
so an unrolled loop of identical steps, or a training loop, compiles each kernel once.
Nodes without a loop pattern (matmul: one BLAS call; gather, transpose, ...) run their
NumPy implementation from the driver, between kernels.
"""
import functools
import threading
import time
from collections import OrderedDict

import numpy as np

from compiler import codegen, driver, fusion
from runtime import diskcache
from runtime.config import config, stats

_MAX_KERNELS = 4096
_kernels = OrderedDict()
_lock = threading.RLock()


def kernel_function(kernel):
    """(compiled function, args) for a fusion Kernel; shared across graphs."""
    thr = config.parallel_threshold
    source, args = codegen.kernel_source(kernel, thr)
    key = codegen.source_key(source)
    with _lock:
        fn = _kernels.get(key)
        if fn is None:
            memory = codegen.kernel_source(kernel, thr, cache=False)[0]
            fn = diskcache.load_kernel(source, config.cache_dir, memory)
            _kernels[key] = fn
            while len(_kernels) > _MAX_KERNELS:
                _kernels.popitem(last=False)
        else:
            _kernels.move_to_end(key)
    return fn, args


def _bind_call(node):
    params = node.params
    return functools.partial(node.prim.impl, **params) if params else node.prim.impl


class NativeProgram:
    """A compiled graph: ``run(*inputs)`` returns the list of outputs. Kernels compile
    lazily on the first ``run``; ``first_run`` does that and accounts for it."""

    def __init__(self, graph):
        graph = fusion.rematerialize(graph)
        steps = fusion.partition(graph)
        env = {"np": np}
        kernel_args, self.kernels = [], []
        for st in steps:
            if isinstance(st, fusion.Kernel):
                fn, args = kernel_function(st)
                env[f"K{len(self.kernels)}"] = fn
                self.kernels.append(fn)
                kernel_args.append(args)
        calls = [st for st in steps if isinstance(st, fusion.Call)]
        for j, st in enumerate(calls):
            env[f"C{j}"] = _bind_call(st.node)
        self.source = driver.driver_source(graph, steps, kernel_args)
        exec(compile(self.source, "<tapejit driver>", "exec"), env)
        self.run = env["run"]
        self.n_calls = len(calls)
        self.summary = (f"{len(graph.inputs)} inputs -> {len(graph.outputs)} outputs, "
                        f"{len(graph.nodes)} nodes")

    def first_run(self, args):
        """Run once, compiling (or loading from disk) what the kernels need."""
        before = [(len(k.overloads), _hits(k)) for k in self.kernels]
        t0 = time.perf_counter()
        outs = self.run(*args)
        seconds = time.perf_counter() - t0
        compiled = loaded = 0
        for k, (n, h) in zip(self.kernels, before):
            new, hits = len(k.overloads) - n, _hits(k) - h
            loaded += hits
            compiled += max(new - hits, 0)
        if compiled:
            stats.add("compiles", compiled)
            stats.add("compile_seconds", seconds)
        if config.log_compiles and (compiled or loaded):
            print(f"tapejit: compiled {self.summary}: {len(self.kernels)} kernels "
                  f"({compiled} compiled, {loaded} from disk), {self.n_calls} calls, "
                  f"{seconds:.3f} s", flush=True)
        return outs


def _hits(fn):
    return sum(fn.stats.cache_hits.values())


def clear():
    """Forget compiled kernels (the disk cache stays)."""
    with _lock:
        _kernels.clear()
