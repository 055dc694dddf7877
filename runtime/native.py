"""The native tier: a graph becomes a plain-Python driver over compiled Numba kernels.

``compiler.pipeline.lower`` writes each kernel's source and the driver; this module only
compiles, remembers and runs them. Kernels are shared by
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

from compiler import blas, pipeline
from runtime import diskcache, loops, numbacache
from runtime.config import config, stats
from runtime.interpreter import owned

_MAX_KERNELS = 4096
_kernels = OrderedDict()
_lock = threading.RLock()


def kernel_function(ks):
    """The compiled ``kernel`` function of a ``pipeline.KernelSource``; shared across
    graphs, and across shapes of the same structure, rank and layout."""
    key = ks.key
    with _lock:
        held = _kernels.get(key)
        if held is None:
            held = _kernels[key] = diskcache.load_kernel(ks.source, config.cache_dir)
            while len(_kernels) > _MAX_KERNELS:
                diskcache.release(_kernels.popitem(last=False)[1][1])
        else:
            _kernels.move_to_end(key)
    return held[0]


def _bind_call(node, single):
    loop = loops.runner(node)           # a region: its bodies run natively too
    if loop is not None:
        return loop
    if single and node.prim.name == "matmul":
        return np.matmul                # the driver holds BLAS at one thread
    params = node.params
    return functools.partial(node.prim.impl, **params) if params else node.prim.impl


def _all_products_small(calls):
    """Whether the driver calls matrix products and all of them are small: then the
    whole run holds BLAS at one thread (one switch per run, not two per product)."""
    sizes = [blas.is_small(st.node.inputs[0].shape, st.node.inputs[1].shape)
             for st in calls if st.node.prim.name == "matmul"]
    return bool(sizes) and all(sizes)


def _single_threaded(run):
    def run_single(*args):
        limit = blas.limit()
        if limit is None:
            return run(*args)
        limit.enter()
        try:
            return run(*args)
        finally:
            limit.leave()
    return run_single


class NativeProgram:
    """A compiled graph: ``run(*inputs)`` returns the list of outputs. Kernels compile
    lazily on the first ``run``; ``first_run`` does that and accounts for it."""

    def __init__(self, graph, lowered=None):
        if lowered is None:
            lowered = pipeline.lower(graph, config.parallel_threshold)
        self.lowered = lowered
        env = {"np": np, "OWN": owned}
        self.kernels = [kernel_function(ks) for ks in lowered.kernels]
        env.update((f"K{j}", fn) for j, fn in enumerate(self.kernels))
        calls = lowered.calls
        single = _all_products_small(calls)
        self.calls = [_bind_call(st.node, single) for st in calls]
        env.update((f"C{j}", fn) for j, fn in enumerate(self.calls))
        self.source = lowered.driver
        exec(compile(self.source, "<tapejit driver>", "exec"), env)
        self.run = _single_threaded(env["run"]) if single else env["run"]
        self.n_calls = len(calls)
        g = lowered.graph
        self.summary = f"{len(g.inputs)} inputs -> {len(g.outputs)} outputs, {len(g.nodes)} nodes"

    def text(self):
        """Every kernel, the driver, and the native loops the driver calls, as one text."""
        parts = [self.lowered.source()]
        for j, (fn, st) in enumerate(zip(self.calls, self.lowered.calls)):
            if st.node.prim.name not in loops.RUNNERS:
                continue
            src = getattr(fn, "source", None)
            parts.append(f"# C{j}: the {st.node.prim.name} loop, one native function\n{src}"
                         if src else f"# C{j}: the {st.node.prim.name} runs its bodies' "
                         f"compiled code from a Python loop")
        return "\n\n".join(parts)

    def first_run(self, args):
        """Run once, compiling (or loading from disk) what the kernels need."""
        before = [(len(k.overloads), _hits(k)) for k in self.kernels]
        t0 = time.perf_counter()
        outs = self.run(*args)
        seconds = time.perf_counter() - t0
        compiled = loaded = saved = 0
        for k, (n, h) in zip(self.kernels, before):
            new, hits = len(k.overloads) - n, _hits(k) - h
            loaded += hits
            compiled += max(new - hits, 0)
            saved += max(new - hits, 0) * isinstance(k._cache, numbacache.SignedCache)
        if saved:
            stats.add("disk_entries", saved)
        if loaded:
            stats.add("disk_hits", loaded)
        if compiled:
            stats.add("compiles", compiled)
            stats.add("compile_seconds", seconds)
        if config.log_compiles and (compiled or loaded):
            print(f"tapejit: compiled {self.summary}: {len(self.kernels)} kernels "
                  f"({compiled} compiled, {loaded} from disk), {self.n_calls} calls, "
                  f"{seconds:.3f} s", flush=True)
        return outs


def ready(graph):
    """``graph`` lowered, when running it natively compiles nothing: every kernel's
    source is already compiled in this process (at any shape) and no step is a region
    (whose loops compile on first use); else None."""
    lowered = pipeline.lower(graph, config.parallel_threshold)
    if any(loops.RUNNERS.get(st.node.prim.name) for st in lowered.calls):
        return None
    with _lock:
        for ks in lowered.kernels:
            held = _kernels.get(ks.key)
            if held is None or not held[0].overloads:
                return None
    return lowered


def _hits(fn):
    return sum(fn.stats.cache_hits.values())


def clear():
    """Forget compiled kernels (the disk cache stays)."""
    with _lock:
        for _fn, modname in _kernels.values():
            diskcache.release(modname)
        _kernels.clear()
