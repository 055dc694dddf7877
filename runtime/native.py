"""The native tier: a graph becomes a plain-Python driver over compiled Numba kernels.

``compiler.pipeline.lower`` writes each kernel's source and the driver; this module only
compiles, remembers and runs them. Kernels are shared by
every graph that contains the same structure at the same shapes (keyed by their source),
so an unrolled loop of identical steps, or a training loop, compiles each kernel once.
Nodes without a loop pattern (matmul: one BLAS call; gather, transpose, ...) run their
NumPy implementation from the driver, between kernels.
"""
import functools
import operator
import threading
import time
from collections import OrderedDict

import numpy as np
from numba.core import types as numba_types

from compiler import blas, pipeline
from compiler import vm as cvm
from runtime import calls, diskcache, loops, numbacache, templates, vm
from runtime.config import config, stats
from runtime.interpreter import owned

_MAX_KERNELS = 4096
_SCALAR_TYPES = (numba_types.Number, numba_types.Boolean)
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


def _bind_call(node, single, copied=frozenset()):
    loop = loops.runner(node)           # a region: its bodies run natively too
    if loop is not None:
        return loop
    if single and node.prim.name == "matmul":
        return np.matmul                # the driver holds BLAS at one thread
    if id(node) in copied:
        return functools.partial(_transposed_copy, perm=node.params["perm"])
    if node.prim.name == "slice":       # the index built once: 0.2 us a call, not 1 us
        p = node.params
        return operator.itemgetter(tuple(slice(a, b, s) for a, b, s in
                                         zip(p["starts"], p["stops"], p["steps"])))
    params = node.params
    impl = calls.NATIVE.get(node.prim.name, node.prim.impl)
    return functools.partial(impl, **params) if params else impl


def _all_products_small(nodes):
    """Whether the driver calls matrix products and all of them are small: then the
    whole run holds BLAS at one thread (one switch per run, not two per product)."""
    sizes = [blas.is_small(n.inputs[0].shape, n.inputs[1].shape)
             for n in nodes if n.prim.name == "matmul"]
    return bool(sizes) and all(sizes)


# A transpose read by this many matrix products or more is copied once per run into a
# contiguous array: OpenBLAS multiplies by a transposed (strided) operand 1.1-2.2x slower
# than by a contiguous one (float32, one thread: 32x128 @ (128x128)^T 19 us, 9 us
# contiguous; a 128x128 copy costs about 10 us), so an unrolled loop's backward pass, which
# multiplies by the same transposed weight at every step, pays the copy once.
COPY_TRANSPOSE_READERS = 4


def _transposed_copy(x, *, perm):
    return np.ascontiguousarray(x.transpose(perm))


def _copied_transposes(nodes):
    """ids of the transpose calls that at least ``COPY_TRANSPOSE_READERS`` of the calls'
    matrix products read."""
    readers = {}
    for n in nodes:
        if n.prim.name == "matmul":
            for x in n.inputs:
                if x.prim.name == "transpose":
                    readers[id(x)] = readers.get(id(x), 0) + 1
    return {k for k, c in readers.items() if c >= COPY_TRANSPOSE_READERS}


_codes = OrderedDict()              # driver source -> code object (shape-free text)


def _driver_code(source):
    with _lock:
        code = _codes.get(source)
        if code is not None:
            _codes.move_to_end(source)
            return code
    code = compile(source, "<tapejit driver>", "exec")
    with _lock:
        _codes[source] = code
        while len(_codes) > _MAX_KERNELS:
            _codes.popitem(last=False)
    return code


def _single_threaded(run):
    def run_single(*args):
        limit = blas.held()
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
    lazily on the first ``run``; ``first_run`` does that and accounts for it.

    Built from ``lowered`` (lowered here when None), or from a ``templates.Template`` of
    the same structure and ``instance`` (its ``instantiate(graph)``): the template's
    kernels and driver code with this graph's calls, extents and literal values."""

    def __init__(self, graph, lowered=None, template=None, instance=None):
        self.graph = graph
        if template is None:
            if lowered is None:
                lowered = _with_vm(pipeline.lower(graph, config.parallel_threshold))
            shared, nodes, values = lowered, [st.node for st in lowered.calls], \
                lowered.driver_values
            g = lowered.graph
        else:
            shared = template.lowered
            g, nodes, values = instance
        self._lowered = lowered
        env = {"np": np, "OWN": owned}
        env.update(values)
        self.kernels = [kernel_function(ks) if isinstance(ks, pipeline.KernelSource)
                        else vm.Runner(ks) for ks in shared.kernels]
        # distinct kernels run on the block VM instead of compiled (the executor compiles
        # them once the program has run long enough)
        self.vm_kernels = len({key for st in shared.steps if isinstance(st, cvm.Segment)
                               for key in st.keys})
        env.update((f"K{j}", fn) for j, fn in enumerate(self.kernels))
        single = _all_products_small(nodes)
        copied = _copied_transposes(nodes)
        self.calls = [_bind_call(n, single, copied) for n in nodes]
        env.update((f"C{j}", fn) for j, fn in enumerate(self.calls))
        self.source = shared.driver
        self._env, self._single = env, single
        exec(_driver_code(self.source), env)
        self.run = _single_threaded(env["run"]) if single else env["run"]
        self.n_calls = len(nodes)
        self.summary = f"{len(g.inputs)} inputs -> {len(g.outputs)} outputs, {len(g.nodes)} nodes"

    @property
    def lowered(self):
        """The graph's ``pipeline.Lowered`` (lowered on first use for a program built
        from a template)."""
        if self._lowered is None:
            self._lowered = pipeline.lower(self.graph, config.parallel_threshold)
        return self._lowered

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
        fns = list({id(f): f for f in (getattr(k, "dispatcher", k)
                                       for k in self.kernels)}.values())
        before = [_counts(k) for k in fns]
        t0 = time.perf_counter()
        outs = self.run(*args)
        seconds = time.perf_counter() - t0
        compiled = loaded = saved = 0
        for k, (n, h) in zip(fns, before):
            n2, h2 = _counts(k)
            new, hits = n2 - n, h2 - h
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
        self._bind_entry_points()
        return outs

    def _bind_entry_points(self):
        """When every kernel has one compiled signature and it takes scalars only (a
        scalar function and its derivatives), the driver calls the compiled entry points
        directly, skipping Numba's per-call type dispatch. Scalars are converted by
        value, so a 0-d array where a NumPy scalar was compiled still computes the same;
        arrays (whose layout selects the compiled code) always go through dispatch."""
        if any(n.shape for n in self.graph.inputs):
            return                      # an array input: array kernels, bound by dispatch
        entries = []
        for k in self.kernels:
            if isinstance(k, vm.Runner) or len(k.overloads) != 1:
                return
            (sig, cres), = k.overloads.items()
            if not all(isinstance(t, _SCALAR_TYPES) for t in sig):
                return
            entries.append(cres.entry_point)
        if not entries:
            return
        env = dict(self._env)
        env.update((f"K{j}", fn) for j, fn in enumerate(entries))
        exec(_driver_code(self.source), env)
        self.run = _single_threaded(env["run"]) if self._single else env["run"]


def _with_vm(lowered):
    """``lowered``, or, when it would compile more than ``config.vm_threshold`` kernels
    (not compiled in this process nor on disk), with the kernels the block VM can run
    turned into VM segments: compile cost stays bounded however large the graph."""
    new = set()
    with _lock:
        for ks in lowered.kernels:
            held = _kernels.get(ks.key)
            if (held is None or not held[0].overloads) and not diskcache.on_disk(
                    ks.source, config.cache_dir):
                new.add(ks.key)
    if len(new) <= config.vm_threshold:
        return lowered
    # every kernel the VM can run goes there, compiled ones too: one native call per run
    # of kernels instead of a Python call per kernel
    return pipeline.on_vm(lowered, lambda ks: True, config.parallel_threshold)


def ready(graph):
    """``graph`` lowered, when running it natively compiles nothing: every kernel's
    source is already compiled in this process (at any shape) and no step is a region
    (whose loops compile on first use); else None."""
    lowered = pipeline.lower(graph, config.parallel_threshold)
    if _has_loops(lowered) or not _compiled(lowered.kernels):
        return None
    return lowered


def _has_loops(lowered):
    return any(loops.RUNNERS.get(st.node.prim.name) for st in lowered.calls)


def _compiled(kernel_sources):
    with _lock:
        for ks in kernel_sources:
            held = _kernels.get(ks.key)
            if held is None or not held[0].overloads:
                return False
    return True


def instant(graph, key):
    """A NativeProgram for ``graph`` when running it compiles nothing (see ``ready``),
    else None. A graph of a structure (``key``) lowered before at shapes of the same
    class reuses that lowering and its driver code (``templates``): no lowering."""
    threshold = config.parallel_threshold
    found = templates.find(key, graph, threshold)
    if found is not None and _compiled(found[0].lowered.kernels):
        return NativeProgram(graph, template=found[0], instance=found[1])
    lowered = ready(graph)
    if lowered is None:
        return None
    templates.remember(key, graph, lowered, threshold)
    return NativeProgram(graph, lowered)


def remember(key, program):
    """Keep a freshly lowered program as the template of its structure ``key``."""
    low = program._lowered
    if low is not None and not _has_loops(low) and not _on_vm(low):
        templates.remember(key, program.graph, low, config.parallel_threshold)


def _on_vm(lowered):
    """Whether some step runs on the block VM (whose programs are shape-specific)."""
    return any(not isinstance(ks, pipeline.KernelSource) for ks in lowered.kernels)


_counted = {}       # dispatcher -> (overloads, disk cache hits) when last counted


def _counts(fn):
    """(compiled signatures, disk cache hits) of a kernel's dispatcher. Hits change only
    when a signature is added (loaded from disk), so they are summed again only then
    (summing Numba's counters costs a few us per kernel, at every first run)."""
    n = len(fn.overloads)
    got = _counted.get(fn)
    if got is None or got[0] != n:
        got = _counted[fn] = (n, sum(fn.stats.cache_hits.values()))
    return got


def clear():
    """Forget compiled kernels (the disk cache stays)."""
    _counted.clear()
    with _lock:
        for _fn, modname in _kernels.values():
            diskcache.release(modname)
        _kernels.clear()
        _codes.clear()
    templates.clear()
