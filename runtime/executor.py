"""Executables: a graph that runs, interpreted while cold and native once hot.

``executable(graph)`` returns the cached ``Executable`` for the graph's structural key
(which includes every shape and dtype). ``compile=True`` compiles on the first call;
``None`` compiles once the executable has been called ``config.jit_threshold`` times
(0 or 1: at once); ``False`` never compiles. After compiling, a call is the generated
driver plus the kernels: no per-call dict building or argument re-packing.
``config.debug_nans`` runs the interpreter tier, which checks every operation.
"""
import threading
import warnings
from collections import OrderedDict

from runtime.config import config, stats
from runtime.interpreter import Program

_MAX_ENTRIES = 4096
_settings = object.__getattribute__(config, "_values")   # read on the hot path


class CompileWarning(UserWarning):
    """The native tier could not compile a graph; it runs interpreted instead."""


class Executable:
    """A graph ready to run: ``ex(*inputs)`` returns the list of output values."""

    def __init__(self, graph, compile=None):
        self.graph = graph
        self.calls = 0
        self.compile = compile
        self.native = None
        self._program = None
        self._lock = threading.Lock()
        self._run = self._cold

    @property
    def program(self):
        """The interpreter-tier program (built on first use)."""
        if self._program is None:
            self._program = Program(self.graph)
        return self._program

    def __call__(self, *args):
        if _settings["debug_nans"]:
            return self.program(*args, debug_nans=True)
        return self._run(*args)

    def _cold(self, *args):
        self.calls += 1
        if self.compile is False or (
                self.compile is None and self.calls < _settings["jit_threshold"]):
            return self.program(*args)
        try:
            return self.compile_now(args)
        except Exception as e:           # the interpreter always works: degrade to it
            warnings.warn(f"tapejit: could not compile a graph of {len(self.graph.nodes)} "
                          f"nodes ({type(e).__name__}: {e}); running it interpreted",
                          CompileWarning, stacklevel=3)
            self._run = self._interpreted
            return self.program(*args)

    def _interpreted(self, *args):
        return self.program(*args)

    def compile_now(self, args):
        """Compile (or load) the native program and run it once on ``args``."""
        from runtime.native import NativeProgram
        with self._lock:
            if self.native is None:
                native = NativeProgram(self.graph)
                outs = native.first_run(args)
                self.native = native
                self._run = native.run
                return outs
        return self.native.run(*args)


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
            while len(self.entries) > _MAX_ENTRIES:
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
        if ex.native is None:
            return ex.compile_now(args)
        return ex(*args)
    raise ValueError(f"evaluate: unknown tier {tier!r}; valid tiers are 'interpret', "
                     f"'compiled'")
