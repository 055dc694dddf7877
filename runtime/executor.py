"""Executables: a graph that runs, interpreted while cold and native once hot.

``executable(graph)`` returns the cached ``Executable`` for the graph's structural key
(which includes every shape and dtype). ``compile=True`` compiles from the first call;
``None`` once the executable has been called ``config.jit_threshold`` times (0 or 1: at
once); ``False`` never compiles. A graph whose estimated compile time is large compiles
only once the time spent interpreting it has reached that estimate (a huge graph run once
stays interpreted, and a long-lived one pays at most twice the better tier's cost).

With ``config.compile_in_background`` (the default) native code is compiled by a worker
thread while calls keep running on the interpreter tier; it takes over when ready, so no
call waits for a compile. Otherwise the call that decides to compile waits for it.
After compiling, a call is the generated driver plus the kernels: no per-call dict
building or argument re-packing. ``config.debug_nans`` runs the interpreter tier, which
checks every operation.
"""
import threading
import time
import warnings
from collections import OrderedDict

import numpy as np

from compiler import pipeline
from compiler.ir import dtype_str, slots
from runtime import background
from runtime.config import config, stats
from runtime.interpreter import Program

_settings = object.__getattribute__(config, "_values")   # read on the hot path

# Compile cost model: graphs up to SMALL_GRAPH nodes follow jit_threshold alone. Larger
# ones cost SECONDS_PER_SHAPE per distinct loop node (primitive, attrs, shape, dtype)
# (kernels are shared by identical structure: an unrolled loop compiles one step's
# kernels) plus SECONDS_PER_NODE for partitioning, code generation and the driver.
SMALL_GRAPH = 2000
SECONDS_PER_SHAPE = 0.01
SECONDS_PER_NODE = 0.0005
# A program whose kernels run on the block VM (runtime.vm) gets them compiled once the
# time spent running it there reaches about a second per distinct kernel (what compiling
# one costs): a long-lived program ends up specialised, paying at most twice the better
# of the two routes.
SECONDS_PER_KERNEL = 1.0
# Loops: the interpreter runs a loop body step by step in Python, so a long loop (a
# fori_loop of 10^5 steps) interprets for seconds where its compiled loop takes about
# SECONDS_PER_LOOP to build. A call expected to interpret for longer than compiling takes
# compiles first (and waits for it) instead; it counts as jit_threshold calls only past
# TYPICAL_CALL seconds each, so a jit_threshold that means "never" still means never.
# Interpretation costs about INTERPRET_PER_NODE per primitive run (per loop step inside a
# body) plus INTERPRET_PER_ELEMENT per element it writes, and a loop INTERPRET_PER_STEP
# per step (binding the body's inputs and typing its outputs).
SECONDS_PER_LOOP = 0.5
TYPICAL_CALL = 0.01
INTERPRET_PER_NODE = 4e-6
INTERPRET_PER_ELEMENT = 1e-9
INTERPRET_PER_STEP = 5e-6


class CompileWarning(UserWarning):
    """The native tier could not compile a graph; it runs interpreted instead."""


class Executable:
    """A graph ready to run: ``ex(*inputs)`` returns the list of output values."""

    def __init__(self, graph, compile=None):
        self.graph = graph
        self.calls = 0
        self.compile = compile
        self.native = None
        self.interpreted_seconds = 0.0
        self._estimate = None
        self._program = None
        self._lock = threading.Lock()
        self._pending = False
        self._failure = None
        self.vm_seconds = 0.0            # time spent running block-VM segments
        self._upgrading = False
        self._loops = None               # the graph's loop regions (see _long_call)
        self._last_seconds = 0.0         # the last interpreted call's duration
        # the callable serving calls now (compile decision, interpreter or native driver),
        # without __call__'s debug_nans check: hot callers check settings["debug_nans"]
        self.run_tier = self._cold
        self.settings = _settings

    @property
    def program(self):
        """The interpreter-tier program (built on first use)."""
        if self._program is None:
            self._program = Program(self.graph)
        return self._program

    def __call__(self, *args):
        if _settings["debug_nans"]:
            return self.program(*args, debug_nans=True)
        return self.run_tier(*args)


    def _cold(self, *args):
        self.calls += 1
        if self._failure is not None:
            return self._fail(args)
        if self.calls == 1 and self.compile is not False and self._instant():
            outs = self.native.first_run(args)
            self.run_tier = self.native.run     # first_run may bind a faster driver
            return outs
        if self._pending:
            return self._interpret(args)
        long = self._long_call()
        if not long and not self._wants_native():
            return self._interpret(args)
        if _settings["compile_in_background"] and not long:
            self._start_background(args)
            return self._interpret(args)
        try:                             # on copies of donated inputs: a failed compile
            return self.compile_now(self.spare(args))   # reruns on the originals
        except Exception as e:           # the interpreter always works: degrade to it
            self._failure = f"{type(e).__name__}: {e}"
            return self._fail(args)

    def _wants_native(self):
        if self.compile is False:
            return False
        if self.compile is None and self.calls < _settings["jit_threshold"]:
            return False
        return (len(self.graph.nodes) <= SMALL_GRAPH or
                self.interpreted_seconds >= self.compile_estimate())

    def _instant(self):
        """Go native at the first call when that compiles nothing: a graph of the same
        structure at other shapes was called ``jit_threshold`` times and runs natively,
        and every kernel this one needs is already compiled (a new batch size of a
        compiled function)."""
        if len(self.graph.nodes) > SMALL_GRAPH:
            return False
        skey = structure_key(self.graph)
        hot = _native.get(skey)                         # calls it had when it compiled
        if hot is None or (self.compile is None and hot < _settings["jit_threshold"]):
            return False
        from runtime.native import instant
        program = instant(self.graph, skey)
        if program is None:
            return False
        with self._lock:
            if self.native is None:
                self.native = program
                self.run_tier = self.native.run
        return True

    def compile_estimate(self):
        """Estimated seconds to compile this graph from nothing."""
        if self._estimate is None:
            nodes = self.graph.nodes
            loops = {n.sig for n in nodes if n.prim.kind in ("elementwise", "reduce")}
            regions = sum(bool(n.prim.regions) for n in nodes)
            self._estimate = (SECONDS_PER_SHAPE * len(loops) +
                              SECONDS_PER_NODE * len(nodes) + SECONDS_PER_LOOP * regions)
        return self._estimate

    def _long_call(self):
        """Whether this call, interpreted, is expected to take longer than compiling the
        graph: only graphs with loop regions, estimated from their trip counts at the
        first call (``interpret_estimate``) and from the last interpreted call after."""
        if self.compile is False:
            return False
        if self._loops is None:
            self._loops = any(n.prim.regions and n.prim.name != "cond"
                              for n in self.graph.nodes)
        if not self._loops:
            return False
        expected = self._last_seconds if self.calls > 1 else self.interpret_estimate()
        if self.compile is None and expected < TYPICAL_CALL * _settings["jit_threshold"]:
            return False
        return expected >= self.compile_estimate()

    def interpret_estimate(self):
        """Estimated seconds of one interpreted call: per primitive run and element
        written, loop bodies times their trip count (a while loop without
        ``maximum_iterations`` counts one step: its trip count is known only by running)."""
        total, stack = 0.0, [(self.graph, 1)]
        while stack:
            graph, times = stack.pop()
            for n in graph.nodes:
                if not n.inputs:
                    continue
                total += times * (INTERPRET_PER_NODE + INTERPRET_PER_ELEMENT * n.size)
                steps = _trip_count(n) if n.prim.regions else 0
                if n.prim.name != "cond":
                    total += times * steps * INTERPRET_PER_STEP
                for attr in n.prim.regions:
                    bodies = n.params[attr]
                    for body in bodies if isinstance(bodies, tuple) else (bodies,):
                        stack.append((body.graph, times * steps))
        return total

    def _interpret(self, args):
        t0 = time.perf_counter()
        outs = self.program(*args)
        self._last_seconds = time.perf_counter() - t0
        self.interpreted_seconds += self._last_seconds
        return outs

    def _fail(self, args):
        warnings.warn(f"tapejit: could not compile a graph of {len(self.graph.nodes)} "
                      f"nodes ({self._failure}); running it interpreted",
                      CompileWarning, stacklevel=4)
        self.run_tier = self._interpreted
        return self.program(*args)

    def _interpreted(self, *args):
        return self.program(*args)

    def _start_background(self, args):
        with self._lock:
            if self._pending or self.native is not None:
                return
            self._pending = True
        args = self.spare(args)
        if not background.submit(lambda: self._compile_job(args)):
            self._pending = False

    def spare(self, args):
        """``args`` with the inputs the graph donates (``compiler.donation``) copied
        (C-contiguous, as donation needs): for runs whose results nobody takes (a
        background compile's first run) or whose inputs something else holds (a tape)."""
        if not getattr(self.graph, "donate", ()):
            return args
        args = list(args)
        for _, j in self.graph.donate:
            args[j] = np.array(args[j], order="C")
        return args

    def _compile_job(self, args):
        try:
            self.compile_now(args)
        except Exception as e:           # reported by the next call, in the caller's thread
            self._failure = f"{type(e).__name__}: {e}"
        finally:
            self._pending = False

    def compile_now(self, args):
        """Compile (or load) the native program and run it once on ``args``."""
        from runtime.native import NativeProgram, remember
        with self._lock:
            if self.native is None:
                native = NativeProgram(self.graph)
                outs = native.first_run(args)
                self.native = native
                self.run_tier = self._on_vm if native.vm_kernels else native.run
                key = structure_key(self.graph)
                _native[key] = max(_native.get(key, 0), self.calls)
                remember(key, native)
                return outs
        return self.native.run(*args)


    def _on_vm(self, *args):
        """A call of a program with block-VM segments: timed, so that its kernels get
        compiled once they have cost as much time as compiling them would."""
        native = self.native
        t0 = time.perf_counter()
        outs = native.run(*args)
        self.vm_seconds += time.perf_counter() - t0
        if (self.vm_seconds >= SECONDS_PER_KERNEL * native.vm_kernels and
                not self._upgrading and native is self.native):
            self._upgrading = True
            args = self.spare(args)
            if not _settings["compile_in_background"] or not background.submit(
                    lambda: self._specialise(args)):
                self._specialise(args)
        return outs

    def _specialise(self, args):
        """Replace the VM-based program by one whose kernels are all compiled."""
        from runtime.native import NativeProgram, remember
        try:
            native = NativeProgram(self.graph, pipeline.lower(self.graph,
                                                              _settings["parallel_threshold"]))
            native.first_run(args)
        except Exception:                # noqa: BLE001  (the VM program keeps serving)
            return
        with self._lock:
            self.native = native
            self.run_tier = native.run
        remember(structure_key(self.graph), native)    # other shapes may now reuse it


def _trip_count(node):
    """Steps a region node runs its bodies (an upper bound where known)."""
    params = dict(node.attrs)
    if "length" in params:
        return max(int(params["length"]), 1)
    steps = params.get("max_iter", -1)
    return steps if steps is not None and steps > 0 else 1


_native = {}            # structure_key of graphs run natively -> calls when compiled


def structure_key(graph):
    """The graph's wiring, primitives, ranks and dtypes (not its extents): graphs equal
    here are one program at other shapes (a new batch size, a longer sequence). Input
    nodes carry their argument position: graphs reading different arguments differ."""
    key = getattr(graph, "_structure_key", None)
    if key is None:
        index, rows = {}, []
        arg = {n: k for k, n in enumerate(graph.inputs)}      # nodes hash by identity
        get, append = arg.get, rows.append
        for i, n in enumerate(graph.nodes):
            index[n] = i
            ins = n.inputs
            if ins:
                try:
                    ins = slots(index, ins)
                except KeyError:    # a bound input's own inputs are outside the graph
                    ins = tuple([index.get(x, -1) for x in ins])
            append((n.prim.name, len(n.shape), dtype_str(n.dtype), ins, get(n)))
        key = (tuple(rows), tuple([index[o] for o in graph.outputs]), len(graph.inputs),
               getattr(graph, "donate", ()))
        try:
            graph._structure_key = key
        except AttributeError:
            pass
    return key


class _Cache:
    def __init__(self):
        self.lock = threading.Lock()
        self.entries = OrderedDict()

    def get(self, key, build):
        with self.lock:
            ex = self.entries.get(key)
            if ex is not None:
                self.entries.move_to_end(key)
                stats.add("hits")
                return ex
        stats.add("misses")
        ex = build()
        with self.lock:
            self.entries[key] = ex
            while len(self.entries) > max(_settings["cache_size"], 1):
                self.entries.popitem(last=False)
        return ex

    def clear(self):
        with self.lock:
            self.entries.clear()


cache = _Cache()


def executable(graph, compile=None):
    """The cached executable for ``graph`` (keyed by structure, shapes and dtypes)."""
    return cache.get((graph.key, compile), lambda: Executable(graph, compile))


def evaluate(graph, args, tier="interpret"):
    """Run ``graph`` once on ``args`` in the given tier ("interpret" or "compiled");
    the test oracle entry point. The compiled tier raises if it cannot compile."""
    if tier == "interpret":
        return Program(graph)(*args, debug_nans=config.debug_nans)
    if tier == "compiled":
        ex = executable(graph, compile=True)
        return ex.compile_now(args)
    raise ValueError(f"evaluate: unknown tier {tier!r}; valid tiers are 'interpret', "
                     f"'compiled'")
